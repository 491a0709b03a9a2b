//! Rate accuracy, alone in its own test binary so no other test competes for the two cores:
//! 2,000 req/s for 5 s against a fast server is achieved within ±1 % with no missed sends.
//! A timing claim about the generator users run, so it runs in an optimized build (the
//! README's test command includes `cargo test --release` for it). A shared machine can steal
//! the CPU for a moment; the claim must hold in one of three attempts, and every attempt is
//! printed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, FixedRequest, OpenSchedule, RequestSpec, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    debug_assertions,
    ignore = "timing claim needs an optimized build: cargo test --release -p dobench-loadgen"
)]
async fn two_thousand_per_second_is_achieved_within_one_percent() {
    let base = common::fast_server().await;
    let mut failures = Vec::new();
    for attempt in 1..=3 {
        match attempt_once(&base).await {
            Ok(()) => return,
            Err(why) => {
                eprintln!("attempt {attempt}: {why}");
                failures.push(why);
            }
        }
    }
    panic!("2,000 req/s was not met in 3 attempts: {failures:?}");
}

async fn attempt_once(base: &str) -> Result<(), String> {
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
    assert!((out.offered_rps - 2000.0).abs() < 1e-9);
    assert_eq!(s.errors.total, 0, "{s:?}");
    if s.missed != 0 || s.requests != 10_000 || (achieved - 2000.0).abs() > 20.0 {
        return Err(format!(
            "achieved {achieved:.1} req/s, {} requests, {} missed",
            s.requests, s.missed
        ));
    }
    Ok(())
}
