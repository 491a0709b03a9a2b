//! Honest latency, part 1: against a server whose own service time is 20 ms, the generator
//! adds little of its own, and says so when it does not. The test bounds what *the
//! generator* adds — send lateness (its own delay past the intended time), which here is
//! exactly latency − service per request, since no send waits for a connection — and never
//! the machine's absolute speed: the server's own time (service) may be anything ≥ 20 ms on
//! a loaded machine. Its median must be on time; its tail may only exceed the generator's
//! stated bound if the run then calls itself generator-limited (a machine that starves the
//! generator's threads — other processes on a shared 2-core VM — makes sends late, and the
//! books must show it). Passes in debug and release builds, loaded or not.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, FixedRequest, OpenSchedule, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

/// What the generator may add at p50 (its own send delay), whatever the machine does.
const ADDED_P50_MS: f64 = 1.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generator_adds_little_to_a_known_20ms_service_time() {
    let base = common::delay_server(Duration::from_millis(20)).await;
    let schedule = Schedule::Open(OpenSchedule::Constant {
        rate: 100.0,
        duration: Duration::from_secs(3),
    });
    let source = Arc::new(FixedRequest(
        dobench_loadgen::RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap(),
    ));
    let s = executor::start(RunConfig::new(schedule), source, CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap()
        .snapshot;
    eprintln!(
        "latency {:?}\nservice {:?}\nlateness {:?}\ngenerator cpu {:.0}% busy {:.0}%",
        s.latency_ms, s.service_ms, s.lateness_ms, s.generator_cpu_pct, s.generator_busy_pct
    );
    assert_eq!(s.requests + s.missed, 300, "{s:?}");
    assert_eq!((s.missed, s.errors.total), (0, 0), "{s:?}");
    assert_eq!(s.queued, 0, "64 connections for 2 in flight: nothing waits");
    // Never below the truth: latency cannot be understated.
    assert!(s.latency_ms.p50 >= 20.0, "{:?}", s.latency_ms);
    assert!(s.service_ms.p50 >= 20.0, "{:?}", s.service_ms);
    // What the generator adds: on time at the median; past its bound only when it says so.
    assert!(
        s.lateness_ms.p50 <= ADDED_P50_MS,
        "the generator added {:?}",
        s.lateness_ms
    );
    if dobench_loadgen::verdict::delay_sets_the_numbers(s.lateness_ms.p99, s.latency_ms.p99) {
        assert!(s.generator_limited, "late sends not owned up to: {s:?}");
    } else if s.lateness_ms.p99 > dobench_loadgen::verdict::NOTE_LATE_P99_MS {
        assert!(s.generator_note.is_some(), "{s:?}");
    }
    // latency = lateness + service for every request (nothing queued): the books add up.
    let slack = 0.01 * s.latency_ms.max + 0.1;
    assert!(
        s.latency_ms.max <= s.service_ms.max + s.lateness_ms.max + slack,
        "latency {:?} vs service {:?} + lateness {:?}",
        s.latency_ms,
        s.service_ms,
        s.lateness_ms
    );
    // Per request latency = service + lateness with lateness ≥ 0, so every quantile of
    // latency lies between the same quantile of service and that plus the largest lateness
    // (a difference of medians is not the median of differences: under load the service
    // times spread and the medians may part by more than the median lateness).
    assert!(
        s.latency_ms.p50 + 0.01 >= s.service_ms.p50
            && s.latency_ms.p50 <= s.service_ms.p50 + s.lateness_ms.max + 0.1,
        "latency {:?} vs service {:?} and lateness {:?} at p50",
        s.latency_ms,
        s.service_ms,
        s.lateness_ms
    );
}
