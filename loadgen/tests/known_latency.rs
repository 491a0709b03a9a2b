//! Honest latency, part 1: a server that answers after exactly 20 ms reads as 20–23 ms
//! at p50 and p99. Its own test binary, so no other test competes for the two cores.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, FixedRequest, OpenSchedule, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

fn source(base: &str) -> Arc<FixedRequest> {
    Arc::new(FixedRequest(
        dobench_loadgen::RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_20ms_latency_reads_as_20ms() {
    let base = common::delay_server(Duration::from_millis(20)).await;
    let schedule = Schedule::Open(OpenSchedule::Constant {
        rate: 100.0,
        duration: Duration::from_secs(3),
    });
    let out = executor::start(
        RunConfig::new(schedule),
        source(&base),
        CancellationToken::new(),
    )
    .unwrap()
    .wait()
    .await
    .unwrap();
    let s = &out.snapshot;
    assert_eq!(s.sent + s.missed, 300, "{s:?}");
    assert!(s.requests >= 295, "{s:?}");
    assert_eq!(s.errors.total, 0);
    for (name, v) in [("p50", s.latency_ms.p50), ("p99", s.latency_ms.p99)] {
        assert!(
            (20.0..=23.0).contains(&v),
            "{name} = {v} ms, want 20–23 ms: {:?}",
            s.latency_ms
        );
    }
}
