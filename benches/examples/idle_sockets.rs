//! Idle memory per hibernated WebSocket: starts `dobench serve` as a child process
//! (`DOBENCH_BIN`, default target/release/dobench) with `--hibernate-after 1s`, reads its RSS,
//! opens N sockets (default 10,000) across rooms of 100 members, waits until every room has
//! hibernated, reads the RSS again and prints (delta / N).
//!
//! Run: `cargo build --release && cargo run --release -p dobench-benches --example idle_sockets -- [N]`

use dobench_benches::rss_kib;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let bin = std::env::var("DOBENCH_BIN").unwrap_or_else(|_| "target/release/dobench".into());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--ceiling",
            "off",
            "--hibernate-after",
            "1s",
            "--data",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (build it with cargo build --release)")
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_string();
    // Warm the server up with one room so allocator arenas and thread stacks exist.
    let (warm, _) = tokio_tungstenite::connect_async(format!("ws://{base}/chat/warm/ws?user=w"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_kib(child.id());
    let sockets: Vec<_> = stream::iter(0..n)
        .map(|i| {
            let base = base.clone();
            async move {
                let url = format!("ws://{base}/chat/room{}/ws?user=u{i}", i / 100);
                tokio_tungstenite::connect_async(url).await.unwrap().0
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let stats = || async {
        let v: serde_json::Value = reqwest::get(format!("http://{base}/_dobench/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v
    };
    // Wait until every room has hibernated.
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = stats().await;
        if s["hibernation"]["sockets_hibernated"].as_u64().unwrap_or(0) >= n as u64 {
            break;
        }
    }
    let s = stats().await;
    let after = rss_kib(child.id());
    println!(
        "sockets={} hibernated={} rss_before_kib={before} rss_after_kib={after} kib_per_socket={:.2}",
        sockets.len(),
        s["hibernation"]["sockets_hibernated"],
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(sockets);
    drop(warm);
    let _ = child.kill();
    let _ = child.wait();
}
