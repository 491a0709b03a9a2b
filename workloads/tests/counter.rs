//! The counter through the real runtime over HTTP: exact sums under concurrency, one
//! instance per name, the output gate, overload under the ceiling, restart, eviction.

mod common;

use std::time::Duration;

use common::{client, config, counter_value, json, object_stats, stats, Server};
use dobench_runtime::Ceiling;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_increments_to_one_name_sum_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, url) = (c.clone(), s.url("/counter/hot/increment"));
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let r = c.post(&url).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(counter_value(&c, &s, "hot").await, 1000);
    // Same name, same object: constructed once while it stayed live.
    let st = stats(&c, &s).await;
    let o = object_stats(&st, "counter", "hot");
    assert_eq!(o["constructions"], 1, "{o}");
    assert_eq!(o["requests"], 1001, "{o}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_increments_over_hundred_names_sum_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let mut tasks = Vec::new();
    for t in 0..50 {
        let (c, base) = (c.clone(), s.base.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let name = format!("n{}", (t * 20 + i) % 100);
                let r = c
                    .post(format!("{base}/counter/{name}/increment"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut sum = 0;
    for n in 0..100 {
        sum += counter_value(&c, &s, &format!("n{n}")).await;
    }
    assert_eq!(sum, 1000);
    let st = stats(&c, &s).await;
    // Totals cover every object; the listing is the 64 hottest (the default `top`).
    assert_eq!(st["objects_total"], 100);
    assert_eq!(st["objects"].as_array().unwrap().len(), 64);
    s.stop().await;
}

/// The output gate: once a 200 arrives, a separate SQLite connection on the object's file
/// already sees the value it reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_200_means_the_write_is_already_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.ceiling = Ceiling::Off;
    let s = Server::start(cfg).await;
    let id = s.runtime.object_by_name("counter", "gated").unwrap().id();
    let file = dobench_runtime::object_db_path(dir.path(), &id);
    let c = client();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, url, file) = (
            c.clone(),
            s.url("/counter/gated/increment?by=3"),
            file.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                let (status, v) = json(c.post(&url).send().await.unwrap()).await;
                assert_eq!(status, 200);
                let acked = v["value"].as_u64().unwrap();
                // Read the files as they are, without locks (the runtime holds none: it owns the
                // directory) and without writing anything (no checkpoint, no -shm).
                let conn = rusqlite::Connection::open_with_flags_and_vfs(
                    &file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                    c"unix-none",
                )
                .unwrap();
                conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
                    .unwrap();
                let stored: Vec<u8> = conn
                    .query_row(
                        "SELECT value FROM _dobench_kv WHERE key = x'76616c7565'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                let stored = u64::from_le_bytes(stored.try_into().unwrap());
                assert!(
                    stored >= acked,
                    "acknowledged {acked} but the file holds {stored}"
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(counter_value(&c, &s, "gated").await, 8 * 50 * 3);
    // Group commit happened: fewer commits than turns under concurrency.
    let st = stats(&c, &s).await;
    let o = object_stats(&st, "counter", "gated");
    assert!(
        o["commits"].as_u64().unwrap() <= o["turns"].as_u64().unwrap(),
        "{o}"
    );
    s.stop().await;
}

/// Ceiling 100/s, mailbox 64, 1,000 requests at once: the excess is refused with 503
/// overloaded, nothing else fails, and the stored value equals the number of 200s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn burst_past_the_mailbox_is_refused_and_nothing_else_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.ceiling = "100".parse().unwrap();
    cfg.mailbox = 64;
    let s = Server::start(cfg).await;
    let c = client();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(1000));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (c, url, b) = (
            c.clone(),
            s.url("/counter/pinned/increment"),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            json(c.post(&url).send().await.unwrap()).await
        }));
    }
    let (mut ok, mut overloaded) = (0u64, 0u64);
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            200 => ok += 1,
            503 => {
                assert_eq!(v["error"], "overloaded", "{v}");
                assert_eq!(v["overloaded"], true, "{v}");
                overloaded += 1;
            }
            other => panic!("unexpected status {other}: {v}"),
        }
    }
    assert!(overloaded > 0, "no request was refused");
    assert!(ok >= 64, "only {ok} admitted");
    assert_eq!(ok + overloaded, 1000);
    assert_eq!(counter_value(&c, &s, "pinned").await, ok);
    let st = stats(&c, &s).await;
    let pinned = object_stats(&st, "counter", "pinned");
    assert_eq!(pinned["overloaded"], overloaded);
    // Refused requests are not billed: the admitted ones and the read above (`counter_value`).
    assert_eq!(
        pinned["billable_requests"].as_f64(),
        Some((ok + 1) as f64),
        "{pinned}"
    );
    assert_eq!(
        st["hibernation"]["billable_requests"].as_f64(),
        Some((ok + 1) as f64),
        "{}",
        st["hibernation"]
    );
    assert_eq!(
        st["hibernation"]["rows_written"], ok,
        "{}",
        st["hibernation"]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_data_dir_keeps_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let s = Server::start(config(dir.path())).await;
    for n in 0..20u64 {
        let r = c
            .post(s.url(&format!("/counter/k{n}/increment?by={}", n + 1)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    s.stop().await;
    let s = Server::start(config(dir.path())).await;
    for n in 0..20u64 {
        assert_eq!(counter_value(&c, &s, &format!("k{n}")).await, n + 1);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_objects_are_evicted_and_rebuilt_from_storage() {
    for data in ["file", "memory"] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        if data == "memory" {
            cfg.data = dobench_runtime::DataDir::Memory;
        }
        cfg.idle_timeout = Duration::from_millis(200);
        let s = Server::start(cfg).await;
        let c = client();
        c.post(s.url("/counter/sleepy/increment?by=5"))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let st = stats(&c, &s).await;
        let o = object_stats(&st, "counter", "sleepy");
        assert_eq!(o["live"], false, "{data}: {o}");
        assert_eq!(o["evictions"], 1, "{data}: {o}");
        assert_eq!(st["live_objects"], 0);
        assert_eq!(counter_value(&c, &s, "sleepy").await, 5, "{data}");
        let st = stats(&c, &s).await;
        assert_eq!(
            object_stats(&st, "counter", "sleepy")["constructions"],
            2,
            "{data}"
        );
        s.stop().await;
    }
}

/// Shutdown lets queued turns finish and commit: requests already accepted get their 200 and
/// their writes survive the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_queued_turns() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let s = Server::start(config(dir.path())).await;
    // Hold the object's next turn so requests pile up in its mailbox.
    let r = s
        .admin(&c, "/_dobench/stall?class=counter&object=draining&ms=300")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (c, url) = (c.clone(), s.url("/counter/draining/increment"));
        tasks.push(tokio::spawn(async move {
            c.post(&url).send().await.unwrap().status()
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.stop().await;
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let s = Server::start(config(dir.path())).await;
    assert_eq!(counter_value(&c, &s, "draining").await, 20);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_holds_the_next_turn() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    s.admin(&c, "/_dobench/stall?class=counter&object=slow&ms=250")
        .send()
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let r = c
        .post(s.url("/counter/slow/increment"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(250));
    // Only the next turn: the one after is not held.
    let t1 = std::time::Instant::now();
    c.post(s.url("/counter/slow/increment"))
        .send()
        .await
        .unwrap();
    assert!(t1.elapsed() < Duration::from_millis(250));
    s.stop().await;
}

/// Rows are counted as production bills them and the ceiling's clock charges them: an
/// increment with `rows=20` writes 21 rows, and its turns cost more virtual time than plain
/// increments (the write-heavy handler of the ceiling calibration).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_are_counted_and_charged_to_the_ceiling_clock() {
    let dir = tempfile::tempdir().unwrap();
    // Rows only: with CPU time charged too, a turn's CPU on a loaded machine (tests run in
    // parallel) moves either object's figure by more than the margin this test checks.
    let mut cfg = config(dir.path());
    cfg.costs = dobench_runtime::TurnCosts {
        cpu_factor: 0.0,
        ..dobench_runtime::TurnCosts::DEFAULT
    };
    let s = Server::start(cfg).await;
    let c = client();
    for _ in 0..5 {
        let (status, _) = json(
            c.post(s.url("/counter/plain/increment"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        let (status, v) = json(
            c.post(s.url("/counter/heavy/increment?rows=20"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = json(
        c.post(s.url("/counter/heavy/increment?rows=1001"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let st = stats(&c, &s).await;
    let plain = object_stats(&st, "counter", "plain");
    let heavy = object_stats(&st, "counter", "heavy");
    assert_eq!(plain["rows_written"], 5, "{plain}");
    assert_eq!(heavy["rows_written"], 5 * 21, "{heavy}");
    let per_turn = |o: &serde_json::Value| o["service_ms_per_turn"].as_f64().unwrap();
    // Base 1 ms a turn at the default ceiling, plus the default price per row written (rows
    // read cost 1 µs each: a few, inside the tolerance). The refused `rows=1001` request was
    // a turn that wrote nothing.
    let row_ms = dobench_runtime::TurnCosts::DEFAULT
        .per_row_written
        .as_secs_f64()
        * 1000.0;
    let close = |actual: f64, expected: f64| (actual - expected).abs() <= 0.02 * expected;
    assert!(close(per_turn(plain), 1.0 + row_ms), "{plain}");
    let heavy_turns = heavy["turns"].as_f64().unwrap();
    assert_eq!(heavy_turns, 6.0, "{heavy}");
    let heavy_expected = (5.0 * (1.0 + 21.0 * row_ms) + 1.0) / heavy_turns;
    assert!(
        close(per_turn(heavy), heavy_expected),
        "{} ms a turn, expected {heavy_expected}: {heavy}",
        per_turn(heavy)
    );
    s.stop().await;
}
