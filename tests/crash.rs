//! Crash safety of `dobench serve`: a real child process is SIGKILLed while increments stream
//! in, then restarted on the same data directory. No acknowledged write may be lost
//! (stored ≥ 200s received) and nothing unsent may appear (stored ≤ requests sent).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn start(dir: &std::path::Path) -> (Child, String) {
    start_with(dir, &[])
}

fn start_with(dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--ceiling",
            "off",
            "--data",
        ])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dobench serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_stream_loses_no_acknowledged_increment() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    for round in 0..5u64 {
        let (mut child, base) = start(dir.path());
        let name = format!("crash{round}");
        let sent = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (client, url) = (client.clone(), format!("{base}/counter/{name}/increment"));
            let (sent, acked, stop) = (sent.clone(), acked.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                // Bounded: stops at the kill, or after 100,000 requests at most.
                for _ in 0..100_000 {
                    if stop.load(SeqCst) {
                        break;
                    }
                    sent.fetch_add(1, SeqCst);
                    match client.post(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            acked.fetch_add(1, SeqCst);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break,
                    }
                }
            }));
        }
        // Kill mid-stream: once increments are being acknowledged (bounded wait), after a
        // round-dependent extra delay so the kill lands at different points of a batch.
        let waiting_since = std::time::Instant::now();
        while acked.load(SeqCst) < 50 && waiting_since.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(37 * round)).await;
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        stop.store(true, SeqCst);
        for t in tasks {
            t.await.unwrap();
        }
        let (sent, acked) = (sent.load(SeqCst), acked.load(SeqCst));
        assert!(
            acked > 0,
            "round {round}: nothing was acknowledged before the kill"
        );

        let (mut child, base) = start(dir.path());
        let v: serde_json::Value = get_json(&client, &format!("{base}/counter/{name}")).await;
        let stored = v["value"].as_u64().unwrap();
        eprintln!("round {round}: sent {sent}, acknowledged {acked}, stored {stored}");
        assert!(
            stored >= acked,
            "round {round}: lost acknowledged writes: {stored} < {acked}"
        );
        assert!(
            stored <= sent,
            "round {round}: stored {stored} > sent {sent}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// SIGKILL with 500 alarms pending, restart: every one fires, once, at once (they came due
/// while the process was dead), found through the runtime-wide alarm index.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_with_500_alarms_pending_then_restart_fires_all() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut child, base) = start(dir.path());
    // Construct the 500 objects first; scheduling a live object is much cheaper, so a lead
    // of twice the construction time (at least 3 s) keeps every alarm pending until the kill
    // even on a busy machine.
    let warm_start = std::time::Instant::now();
    let mut warm = Vec::new();
    for i in 0..500 {
        let (client, url) = (client.clone(), format!("{base}/alarm/due{i}/fired"));
        warm.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status()
        }));
    }
    for w in warm {
        assert_eq!(w.await.unwrap(), 200);
    }
    let lead = (2 * warm_start.elapsed().as_millis() as i64).max(3_000);
    let at = epoch_ms() + lead;
    let mut ats = Vec::new();
    let mut sets = Vec::new();
    for i in 0..500 {
        ats.push(at);
        let (client, url) = (
            client.clone(),
            format!("{base}/alarm/due{i}/schedule?at_ms={at}"),
        );
        sets.push(tokio::spawn(async move {
            client.post(url).send().await.unwrap().status()
        }));
    }
    for s in sets {
        assert_eq!(s.await.unwrap(), 200);
    }
    let stats: serde_json::Value = get_json(&client, &format!("{base}/_dobench/stats")).await;
    assert_eq!(stats["alarms"]["pending"], 500, "{}", stats["alarms"]);
    assert_eq!(
        stats["alarms"]["fired"], 0,
        "fired before the kill: {}",
        stats["alarms"]
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let latest = *ats.iter().max().unwrap();
    let wait = (latest - epoch_ms() + 200).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    let (mut child, base) = start(dir.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats: serde_json::Value = get_json(&client, &format!("{base}/_dobench/stats")).await;
        if stats["alarms"]["fired"].as_u64().unwrap() >= 500 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", stats["alarms"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..500 {
        let v: serde_json::Value = get_json(&client, &format!("{base}/alarm/due{i}/fired")).await;
        let fired = v["fired"].as_array().unwrap();
        assert_eq!(fired.len(), 1, "due{i}: {v}");
        assert_eq!(fired[0]["attempt"], 0);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SIGKILL at 100,000 objects: one increment each, 64 in flight, most objects already out
/// of memory (a 32 MiB budget) and their databases closed, the kill landing mid-stream.
/// Every acknowledged object holds its write in its own file (read directly, without the
/// runtime); nothing unsent was stored; the restarted server serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_100k_objects_loses_no_acknowledged_write() {
    use futures_util::stream::{self, StreamExt};
    let n: usize = std::env::var("DOBENCH_CRASH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let (mut child, base) = start_with(&data, &["--memory-budget", "32MiB"]);
    // 0 = not sent, 1 = sent, 2 = acknowledged.
    let state: Arc<Vec<std::sync::atomic::AtomicU8>> =
        Arc::new((0..n).map(|_| Default::default()).collect());
    let acked = Arc::new(AtomicU64::new(0));
    let kill_at = (n as u64) * 9 / 10;
    let driver = {
        let (client, base, state, acked) =
            (client.clone(), base.clone(), state.clone(), acked.clone());
        tokio::spawn(async move {
            stream::iter(0..n)
                .map(|i| {
                    let (client, state, acked) = (&client, &state, &acked);
                    let url = format!("{base}/counter/k{i}/increment");
                    async move {
                        state[i].store(1, SeqCst);
                        if let Ok(r) = client.post(url).send().await {
                            if r.status() == 200 {
                                state[i].store(2, SeqCst);
                                acked.fetch_add(1, SeqCst);
                            }
                        }
                    }
                })
                .buffer_unordered(64)
                .for_each(|()| async {})
                .await;
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while acked.load(SeqCst) < kill_at {
        assert!(
            std::time::Instant::now() < deadline,
            "too slow: {} acknowledged",
            acked.load(SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL, with requests in flight
    child.wait().unwrap();
    driver.await.unwrap();

    // Read every object's own file as it was left.
    let secret = std::fs::read_to_string(data.join("namespace.key")).unwrap();
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&secret.trim()[2 * i..2 * i + 2], 16).unwrap();
    }
    let ids = dobench_runtime::IdSpace::new(key);
    let (mut acknowledged, mut stored_unacked) = (0, 0);
    for (i, st) in state.iter().enumerate() {
        let st = st.load(SeqCst);
        let path =
            dobench_runtime::object_db_path(&data, &ids.id_from_name("counter", &format!("k{i}")));
        let stored = stored_value(&path);
        match st {
            2 => {
                acknowledged += 1;
                assert_eq!(
                    stored,
                    Some(1),
                    "k{i} was acknowledged but its file holds {stored:?}"
                );
            }
            1 => stored_unacked += u64::from(stored == Some(1)),
            _ => assert_eq!(stored, None, "k{i} was never sent but holds {stored:?}"),
        }
    }
    eprintln!(
        "{n} objects: {acknowledged} acknowledged, {stored_unacked} stored without an answer"
    );
    assert!(acknowledged as u64 >= kill_at);

    // The restarted runtime serves what the files hold.
    let (mut child, base) = start(&data);
    for i in (0..n).step_by((n / 500).max(1)) {
        let v = get_json(&client, &format!("{base}/counter/k{i}")).await;
        if state[i].load(SeqCst) == 2 {
            assert_eq!(v["value"], 1, "k{i}: {v}");
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The counter's value as stored in its database file, read without the runtime (no locks:
/// the runtime is dead; read-only, so nothing is checkpointed or created).
fn stored_value(path: &std::path::Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open_with_flags_and_vfs(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        c"unix-none",
    )
    .unwrap();
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .unwrap();
    let v: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM _dobench_kv WHERE key = CAST('value' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .ok();
    v.map(|b| u64::from_le_bytes(b.try_into().unwrap()))
}
