//! Rate accuracy, alone in its own test binary so no other test competes for the two cores:
//! 2,000 req/s for 5 s against a fast server is achieved within ±1 % with no missed sends.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, FixedRequest, OpenSchedule, RequestSpec, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_per_second_is_achieved_within_one_percent() {
    let base = common::fast_server().await;
    let src = Arc::new(FixedRequest(
        RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap(),
    ));
    let schedule = Schedule::Open(OpenSchedule::Constant {
        rate: 2000.0,
        duration: Duration::from_secs(5),
    });
    let out = executor::start(RunConfig::new(schedule), src, CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap();
    let s = &out.snapshot;
    let achieved = s.requests as f64 / out.elapsed.as_secs_f64();
    eprintln!(
        "achieved {achieved:.1} req/s, missed {}, lateness {:?}",
        s.missed, s.lateness_ms
    );
    assert_eq!(s.missed, 0, "{s:?}");
    assert_eq!(s.requests, 10_000);
    assert_eq!(s.errors.total, 0);
    assert!(
        (achieved - 2000.0).abs() <= 20.0,
        "achieved {achieved} req/s"
    );
    assert!((out.offered_rps - 2000.0).abs() < 1e-9);
}
