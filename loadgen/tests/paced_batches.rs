//! Honest books for batched open-model sends (issue 17): the pacer wakes a lane once for
//! every send due within its slack, so sends go out in small batches, some of them a little
//! early. A send the generator issues late (its lane was busy) still books that lateness and
//! counts its latency from its intended time; a send that went out early with its batch never
//! reports a latency below its own service time. The bounds are lower bounds on what the
//! books must show, so a loaded machine (later sends) only makes them easier to meet.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{OpenSchedule, RequestSource, RequestSpec, RunConfig, Schedule};

/// Builds request `STALL_AT` slowly: it holds its lane's thread (every worker and the pacer
/// on it) for `STALL`, as a generator starved of CPU would.
struct StallingSource(RequestSpec);

const STALL_AT: u64 = 500;
const STALL: Duration = Duration::from_millis(50);

impl RequestSource for StallingSource {
    fn request(&self, index: u64) -> RequestSpec {
        if index == STALL_AT {
            std::thread::sleep(STALL);
        }
        self.0.clone()
    }
}

fn spec(base: &str) -> RequestSpec {
    RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap()
}

/// 1,000 req/s for 2 s (one lane); request 500 holds the lane for 50 ms. The ~50 sends due
/// meanwhile go out late, and the books say so: lateness up to ~50 ms, latency from the
/// intended time (so at least the lateness), none missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_a_busy_lane_issues_late_book_their_lateness_from_the_intended_time() {
    let base = common::fast_server().await;
    let run = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 1000.0,
        duration: Duration::from_secs(2),
    }));
    let s = common::run_to_end(run, Arc::new(StallingSource(spec(&base)))).await;
    eprintln!(
        "latency {:?}\nservice {:?}\nlateness {:?}",
        s.latency_ms, s.service_ms, s.lateness_ms
    );
    assert_eq!(
        (s.requests, s.missed, s.errors.total),
        (2000, 0, 0),
        "{s:?}"
    );
    // The stalled send itself waited the whole stall; ~2.5 % of all sends were 0–50 ms late.
    assert!(s.lateness_ms.max >= 45.0, "{:?}", s.lateness_ms);
    assert!(s.lateness_ms.p99 >= 20.0, "{:?}", s.lateness_ms);
    // Latency counts from the intended time: every sample's latency ≥ its lateness.
    assert!(s.latency_ms.max >= s.lateness_ms.max, "{s:?}");
    assert!(s.latency_ms.p99 >= s.lateness_ms.p99 * 0.99, "{s:?}");
}

/// 12,000 req/s for 1 s: sends ~83 µs apart, so a wake-up often issues two or more, the
/// later ones up to the pacer's slack early. Latency then counts from the actual send:
/// never below the service time, at any percentile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_issued_early_with_its_batch_never_reports_less_than_its_service() {
    let base = common::fast_server().await;
    let run = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 12_000.0,
        duration: Duration::from_secs(1),
    }));
    let s = common::run_to_end(run, Arc::new(dobench_loadgen::FixedRequest(spec(&base)))).await;
    eprintln!(
        "latency {:?}\nservice {:?}\nlateness {:?}",
        s.latency_ms, s.service_ms, s.lateness_ms
    );
    assert_eq!(s.requests + s.missed, 12_000, "{s:?}");
    assert!(s.requests > 0 && s.errors.total == 0, "{s:?}");
    // Histogram buckets round to ~0.1 %: allow that much, no more.
    let at_least = |lat: f64, svc: f64| lat >= svc * 0.999;
    assert!(at_least(s.latency_ms.p50, s.service_ms.p50), "{s:?}");
    assert!(at_least(s.latency_ms.p90, s.service_ms.p90), "{s:?}");
    assert!(at_least(s.latency_ms.p99, s.service_ms.p99), "{s:?}");
}
