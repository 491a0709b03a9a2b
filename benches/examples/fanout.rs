//! Fan-out benchmark: one chat room with M members (default 1,000) on loopback, the client in
//! this same process. Each of S senders sends K messages; every member receives every message.
//! Prints deliveries per second (frames received by members / time from first send to last
//! delivery). Ceiling off, RAM-only storage.
//!
//! Run: `cargo run --release -p dobench-benches --example fanout -- [members] [senders] [messages]`

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dobench_runtime::{Ceiling, Config, DataDir, Runtime};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let members = args.first().copied().unwrap_or(1000);
    let senders = args.get(1).copied().unwrap_or(10).min(members);
    let per_sender = args.get(2).copied().unwrap_or(50);
    let mut cfg = Config::new(DataDir::Memory);
    cfg.ceiling = Ceiling::Off;
    cfg.mailbox = 4096;
    let rt = Runtime::new(cfg, dobench_workloads::registry()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    let server = tokio::spawn(dobench_runtime::serve(listener, rt, async move {
        s.cancelled().await
    }));

    let total = (senders * per_sender) as u64;
    let delivered = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for i in 0..members {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/chat/bench/ws?user=m{i}"))
                .await
                .unwrap();
        let (w, mut r) = ws.split();
        writers.push(w);
        let delivered = delivered.clone();
        readers.push(tokio::spawn(async move {
            let mut got = 0u64;
            while got < total {
                match tokio::time::timeout(Duration::from_secs(60), r.next()).await {
                    Ok(Some(Ok(Message::Text(_)))) => {
                        got += 1;
                        delivered.fetch_add(1, Relaxed);
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            got
        }));
    }
    eprintln!("{members} members joined; {senders} senders × {per_sender} messages");
    let start = Instant::now();
    let mut send_tasks = Vec::new();
    for mut w in writers.drain(..senders) {
        send_tasks.push(tokio::spawn(async move {
            for k in 0..per_sender {
                w.send(Message::Text(format!("message {k}").into()))
                    .await
                    .unwrap();
            }
            w
        }));
    }
    for t in send_tasks {
        writers.push(t.await.unwrap());
    }
    let mut complete = 0;
    for r in readers {
        if r.await.unwrap() == total {
            complete += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let d = delivered.load(Relaxed);
    println!(
        "members={members} messages={total} deliveries={d} members_complete={complete} \
         seconds={secs:.3} deliveries_per_s={:.0}",
        d as f64 / secs
    );
    stop.cancel();
    let _ = server.await;
}
