//! WebSocket sessions: 100 sessions × 50 frames against an echo server, every frame's round
//! trip recorded (5,000 samples) plus 100 connect latencies.

mod common;

use std::time::Duration;

use dobench_loadgen::client::ws::{run_echo, EchoPlan};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_sessions_fifty_frames_each_all_round_trips_recorded() {
    let url = common::ws_echo_server().await;
    let plan = EchoPlan {
        url,
        sessions: 100,
        frames: 50,
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
    };
    let report = run_echo(plan, CancellationToken::new()).await.unwrap();
    assert_eq!(report.frames_sent, 5000);
    assert_eq!(report.frames_received, 5000);
    let rtt = &report.recorder.ops[&std::sync::Arc::<str>::from("ws_rtt")];
    assert_eq!(rtt.latency.len(), 5000);
    assert_eq!(rtt.errors, 0);
    let connect = &report.recorder.ops[&std::sync::Arc::<str>::from("ws_connect")];
    assert_eq!(connect.latency.len(), 100);
    assert!(
        rtt.latency.max() < 2_000_000,
        "round trips should be well under 2 s"
    );
}
