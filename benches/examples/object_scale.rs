//! Memory per object at scale, and the stats scrape at that scale. Starts `dobench serve` as
//! a child process (`DOBENCH_BIN`, default target/release/dobench; data in a temporary
//! directory under `DATA_ROOT`, default /dev/shm) and touches N distinct counter objects
//! (default 100,000) over 64 keep-alive connections, in two runs:
//!
//! 1. **in memory**: a budget large enough that every object stays in memory; prints RSS per
//!    live object ((RSS after − RSS before) / N) and how many databases were open.
//! 2. **left memory**: `--memory-budget 16MiB`, so all but a few thousand objects leave
//!    memory as the run goes; prints RSS per object that has left memory ((RSS after − RSS
//!    before − what the objects still in memory take by the live figure of run 1) / N).
//!
//! After each run it times one `/_dobench/stats` and one `/_dobench/metrics` scrape and
//! prints their size. Rates printed here come from this example's own client (reqwest), so
//! they are not the activation benchmark (`benches/activation.sh`).
//!
//! Run: `cargo build --release && cargo run --release -p dobench-benches --example object_scale -- [N]`

use dobench_benches::rss_kib;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, budget: &str) -> Server {
    let root = std::env::var("DATA_ROOT").unwrap_or_else(|_| "/dev/shm".into());
    let dir = tempfile::tempdir_in(&root).unwrap_or_else(|_| tempfile::tempdir().unwrap());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--ceiling", "off"])
        .args(["--idle-timeout", "600s", "--memory-budget", budget])
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server {
        child,
        base,
        _dir: dir,
    }
}

async fn touch_all(c: &reqwest::Client, base: &str, n: usize) -> f64 {
    let t0 = Instant::now();
    let failures: Vec<String> = stream::iter(0..n)
        .map(|i| {
            let url = format!("{base}/counter/obj-{i}/increment");
            async move {
                match c.post(url).send().await {
                    Ok(r) if r.status() == 200 => None,
                    Ok(r) => Some(format!(
                        "{} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => Some(format!("{e:?}")),
                }
            }
        })
        .buffer_unordered(64)
        .filter_map(std::future::ready)
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "every request must answer 200: {} did not, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    n as f64 / t0.elapsed().as_secs_f64()
}

async fn scrape(c: &reqwest::Client, base: &str, path: &str) -> (f64, usize, String) {
    let t0 = Instant::now();
    let body = c
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (t0.elapsed().as_secs_f64() * 1000.0, body.len(), body)
}

/// Five scrapes of each endpoint, one after another: prints the median and the slowest.
async fn report_scrapes(c: &reqwest::Client, base: &str) -> serde_json::Value {
    const ROUNDS: usize = 5;
    let mut stats_ms = Vec::new();
    let mut metrics_ms = Vec::new();
    let (mut body, mut bytes, mut mbytes) = (String::new(), 0, 0);
    for _ in 0..ROUNDS {
        let (ms, b, text) = scrape(c, base, "/_dobench/stats").await;
        stats_ms.push(ms);
        (bytes, body) = (b, text);
        let (mms, mb, _) = scrape(c, base, "/_dobench/metrics").await;
        metrics_ms.push(mms);
        mbytes = mb;
    }
    let med_max = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (sm, sx) = med_max(&mut stats_ms);
    let (mm, mx) = med_max(&mut metrics_ms);
    println!(
        "  stats scrape: median {sm:.1} ms (slowest {sx:.1}), {bytes} bytes; metrics scrape: median {mm:.1} ms (slowest {mx:.1}), {mbytes} bytes ({ROUNDS} each)"
    );
    serde_json::from_str(&body).unwrap()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let bin = std::env::var("DOBENCH_BIN").unwrap_or_else(|_| "target/release/dobench".into());
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // Without run 1, run 2 takes the per-live-object figure from LIVE_KIB (default 12).
    let mut live_bytes = std::env::var("LIVE_KIB")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(12.0)
        * 1024.0;
    if std::env::var("SKIP_RUN1").is_err() {
        live_bytes = run_in_memory(&bin, &c, n).await;
    }
    run_left_memory(&bin, &c, n, live_bytes).await;
}

/// One run's figures: the server (still up), objects/s, RSS before and after (KiB), and
/// the stats document after it.
struct Measured {
    server: Server,
    rate: f64,
    before: u64,
    after: u64,
    stats: serde_json::Value,
}

/// Starts a server with `budget`, touches `n` new objects and scrapes it.
async fn measure(bin: &str, c: &reqwest::Client, n: usize, budget: &str) -> Measured {
    let server = start(bin, budget);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(server.child.id());
    let rate = touch_all(c, &server.base, n).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(server.child.id());
    let stats = report_scrapes(c, &server.base).await;
    Measured {
        server,
        rate,
        before,
        after,
        stats,
    }
}

/// Run 1; returns the bytes per live object.
async fn run_in_memory(bin: &str, c: &reqwest::Client, n: usize) -> f64 {
    println!("run 1: {n} objects, all in memory");
    let Measured {
        rate,
        before,
        after,
        stats: st,
        ..
    } = measure(bin, c, n, "64GiB").await;
    let live_bytes = after.saturating_sub(before) as f64 * 1024.0 / n as f64;
    println!(
        "  {rate:.0} objects/s; live {} open databases {}; RSS {before} → {after} KiB: {:.1} KiB per live object",
        st["live_objects"],
        st["open_databases"],
        live_bytes / 1024.0
    );
    live_bytes
}

/// Run 2.
async fn run_left_memory(bin: &str, c: &reqwest::Client, n: usize, live_bytes: f64) {
    println!("run 2: {n} objects, memory budget 16MiB");
    let Measured {
        server: s,
        rate,
        before,
        after,
        stats: st,
    } = measure(bin, c, n, "16MiB").await;
    let live = st["live_objects"].as_u64().unwrap_or(0) as f64;
    let left = n as f64 - live;
    // What the objects still in memory take: the larger of the runtime's own estimate (open
    // databases included) and the per-live figure of run 1.
    let live_set = st["memory_estimate_bytes"]
        .as_f64()
        .unwrap_or(0.0)
        .max(live * live_bytes);
    let per_left = (after.saturating_sub(before) as f64 * 1024.0 - live_set).max(0.0) / left;
    println!(
        "  {rate:.0} objects/s; live {live} (the rest left memory); RSS {before} → {after} KiB: {per_left:.0} bytes per object that left memory"
    );
    let rate = touch_all(c, &s.base, n).await;
    println!("  touched again (re-activated from storage): {rate:.0} objects/s");
}
