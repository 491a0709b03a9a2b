//! Client-side memory per open WebSocket: opens N sessions (default 10,000) with the load
//! generator's own client (`dobench_loadgen::client::ws::connect`) to chat rooms of 1,000
//! members on a running target, holds them, and prints this process's RSS per session
//! (after − before, KiB). `--tcp` holds plain TCP connections instead (the floor under it).
//! Measures only.
//!
//! Run: `cargo run --release -p dobench-benches --example ws_hold -- URL [N] [--tcp]`

use std::time::Duration;

use dobench_benches::rss_kib;
use futures_util::stream::{self, StreamExt};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(base) = args.first() else {
        eprintln!("usage: ws_hold URL [N] [--tcp]");
        std::process::exit(2);
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let tcp = args.iter().any(|a| a == "--tcp");
    let ws_base = base.replacen("http://", "ws://", 1);
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let pid = std::process::id();
    let before = rss_kib(pid);
    let held: Vec<_> = stream::iter(0..n)
        .map(|i| {
            let (ws_base, addr) = (ws_base.clone(), addr.clone());
            async move {
                if tcp {
                    let s = tokio::net::TcpStream::connect(&addr)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok::<_, String>((Some(s), None));
                }
                let url = format!("{ws_base}/chat/hold-{}/ws?user=h{i}", i / 1000);
                let (tx, rx, _) =
                    dobench_loadgen::client::ws::connect(&url, Duration::from_secs(10))
                        .await
                        .map_err(|e| e.to_string())?;
                Ok((None, Some((tx, rx))))
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let ok = held.iter().filter(|r| r.is_ok()).count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    println!(
        "{ok} of {n} {} held; RSS {before} -> {after} KiB: {:.2} KiB each",
        if tcp {
            "TCP connections"
        } else {
            "WebSocket sessions"
        },
        (after - before) as f64 / ok.max(1) as f64
    );
    drop(held);
}
