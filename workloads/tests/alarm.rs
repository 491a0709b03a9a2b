//! Alarms through the real runtime over HTTP: a storm of 1,000 alarms due at one instant,
//! retries with the production backoff, giving up after 7 attempts, replacement.

mod common;

use std::time::Duration;

use common::{client, config, json, stats, Server};
use dobench_runtime::{epoch_ms, Ceiling};
use futures_util::StreamExt;

async fn fired(c: &reqwest::Client, s: &Server, name: &str) -> Vec<serde_json::Value> {
    let (status, v) = json(
        c.get(s.url(&format!("/alarm/{name}/fired")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["fired"].as_array().unwrap().clone()
}

async fn wait_for_fired(c: &reqwest::Client, s: &Server, total: u64, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let st = stats(c, s).await;
        if st["alarms"]["fired"].as_u64().unwrap() >= total {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alarms fired: {}",
            st["alarms"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the requests 64 at a time (as a client with a connection pool would), in order.
async fn all_of<F: std::future::Future<Output = u16>>(reqs: impl Iterator<Item = F>) -> Vec<u16> {
    futures_util::stream::iter(reqs)
        .buffered(64)
        .collect()
        .await
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_alarms_due_at_one_instant_all_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    // Construct the 1,000 objects first (each creates its database), so that scheduling
    // itself fits well inside the lead time even in a debug build.
    let warm = (0..1000).map(|i| {
        let url = s.url(&format!("/alarm/storm{i}/fired"));
        let c = c.clone();
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    });
    let warm_started = std::time::Instant::now();
    let warmed = all_of(warm).await;
    assert!(warmed.iter().all(|s| *s == 200), "{warmed:?}");
    // Scheduling costs about what warming did: the lead time is 2 s or three times that,
    // whichever is longer, so a loaded machine cannot make the alarms due mid-scheduling.
    let lead = Duration::from_secs(2).max(warm_started.elapsed() * 3);
    let at = epoch_ms() + lead.as_millis() as i64;
    let sets = (0..1000).map(|i| {
        let url = s.url(&format!("/alarm/storm{i}/schedule?at_ms={at}"));
        let c = c.clone();
        async move { c.post(url).send().await.unwrap().status().as_u16() }
    });
    let set = all_of(sets).await;
    assert!(set.iter().all(|s| *s == 200), "{set:?}");
    assert!(epoch_ms() < at, "scheduling took longer than the lead time");
    wait_for_fired(&c, &s, 1000, lead + Duration::from_secs(20)).await;
    let mut lags = Vec::new();
    let mut duplicates = 0;
    for i in 0..1000 {
        let f = fired(&c, &s, &format!("storm{i}")).await;
        assert!(!f.is_empty(), "storm{i} never fired");
        duplicates += f.len() - 1;
        let first = f[0]["fired_ms"].as_i64().unwrap();
        assert!(first >= at, "storm{i} fired early: {first} < {at}");
        lags.push(first - at);
    }
    lags.sort_unstable();
    eprintln!(
        "1000 alarms: lag p50 {} ms, p99 {} ms, max {} ms, duplicates {duplicates}",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1]
    );
    assert_eq!(duplicates, 0);
    let st = stats(&c, &s).await;
    assert_eq!(st["alarms"]["pending"], 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_twice_retries_after_2s_then_4s_and_succeeds_on_attempt_3() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let at = epoch_ms() + 100;
    let r = c
        .post(s.url(&format!("/alarm/flaky/schedule?at_ms={at}&fail_times=2")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for_fired(&c, &s, 3, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let f = fired(&c, &s, "flaky").await;
    let attempts: Vec<i64> = f.iter().map(|r| r["attempt"].as_i64().unwrap()).collect();
    assert_eq!(attempts, [0, 1, 2]);
    let t: Vec<i64> = f.iter().map(|r| r["fired_ms"].as_i64().unwrap()).collect();
    let (gap1, gap2) = (t[1] - t[0], t[2] - t[1]);
    eprintln!("retry gaps: {gap1} ms, {gap2} ms");
    // 2 s and 4 s plus 0–25 % jitter, plus scheduling slack on a noisy machine.
    assert!((2000..=2500 + 300).contains(&gap1), "first gap {gap1} ms");
    assert!((4000..=5000 + 300).contains(&gap2), "second gap {gap2} ms");
    let st = stats(&c, &s).await;
    assert_eq!(st["alarms"]["retried"], 2);
    assert_eq!(st["alarms"]["pending"], 0);
    s.stop().await;
}

/// Always failing: 7 attempts (retry_count 0..=6), then given up and gone. Runs with the
/// test-only time scale (0.01: backoffs of 20 ms ... 640 ms); the schedule is production's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_failing_is_attempted_exactly_7_times_then_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.alarm_time_scale = 0.01;
    cfg.ceiling = Ceiling::Off;
    let s = Server::start(cfg).await;
    let c = client();
    let at = epoch_ms();
    c.post(s.url(&format!(
        "/alarm/doomed/schedule?at_ms={at}&fail_times=1000"
    )))
    .send()
    .await
    .unwrap();
    wait_for_fired(&c, &s, 7, Duration::from_secs(10)).await;
    // Longer than the whole scaled schedule would need for an 8th attempt.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let f = fired(&c, &s, "doomed").await;
    let attempts: Vec<i64> = f.iter().map(|r| r["attempt"].as_i64().unwrap()).collect();
    assert_eq!(attempts, [0, 1, 2, 3, 4, 5, 6]);
    let st = stats(&c, &s).await;
    assert_eq!(st["alarms"]["given_up"], 1, "{}", st["alarms"]);
    assert_eq!(st["alarms"]["pending"], 0);
    let (_, v) = json(c.get(s.url("/alarm/doomed/fired")).send().await.unwrap()).await;
    assert!(v["pending_ms"].is_null(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_again_replaces_and_past_times_fire_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let far = epoch_ms() + 60_000;
    c.post(s.url(&format!("/alarm/moved/schedule?at_ms={far}")))
        .send()
        .await
        .unwrap();
    let (_, v) = json(c.get(s.url("/alarm/moved/fired")).send().await.unwrap()).await;
    assert_eq!(v["pending_ms"], far);
    let past = epoch_ms() - 5_000;
    let t0 = epoch_ms();
    c.post(s.url(&format!("/alarm/moved/schedule?at_ms={past}")))
        .send()
        .await
        .unwrap();
    wait_for_fired(&c, &s, 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let f = fired(&c, &s, "moved").await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0]["fired_ms"].as_i64().unwrap() - t0 < 1000);
    let st = stats(&c, &s).await;
    assert_eq!(
        st["alarms"]["pending"], 0,
        "the replaced alarm must not fire later"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedule_parameters_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    for (q, needle) in [
        ("", "`at_ms`"),
        ("at_ms=soon", "`at_ms`"),
        ("at_ms=1&fail_times=-1", "`fail_times`"),
    ] {
        let (status, v) = json(
            c.post(s.url(&format!("/alarm/x/schedule?{q}")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{q}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{q}: {v}");
    }
    s.stop().await;
}
