//! Honest latency, part 2: a 1 s stall shows up in the open model's p99 (latency from the
//! intended send) while a closed model at the same load hides it in the max only; with fewer
//! connections than the stall needs, the sends that found every connection busy wait, keep
//! their intended time and are booked as queued (issue 14, must-show 1); a send that could
//! not start within the timeout is a timeout error with its latency, never dropped.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{ClosedModel, FixedRequest, OpenSchedule, RunConfig, Schedule};

fn source(base: &str) -> Arc<FixedRequest> {
    Arc::new(FixedRequest(
        dobench_loadgen::RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap(),
    ))
}

/// Open model at 200 req/s for 5 s; the server holds *every* request for 1 s once, from
/// 2 s in. Requests planned during the stall wait for it to end, and their latency is counted
/// from when they were *meant* to go: ~20 % of all samples are 0–1000 ms late, so p99 ≥ 500 ms.
///
/// The same offered load as a closed model (4 users, 20 ms think ≈ 200 req/s): each user has
/// one request stuck in the stall and simply sends nothing else meanwhile, so only 4 of ~800
/// samples are slow. The closed run's p99 stays at a few ms and the stall is visible only in
/// its max — the coordinated-omission blind spot this executor's open model avoids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_shows_in_open_p99_but_not_in_closed_p99() {
    let stall = common::Stall::default();
    let base = common::stall_server(stall.clone()).await;

    let mut open = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 200.0,
        duration: Duration::from_secs(5),
    }));
    open.max_in_flight = 512;
    stall.set(
        tokio::time::Instant::now() + Duration::from_secs(2),
        Duration::from_secs(1),
    );
    let o = common::run_to_end(open, source(&base)).await;
    assert_eq!(o.requests + o.missed, 1000, "{o:?}");
    assert_eq!(
        o.missed, 0,
        "the target's stall is never the generator's miss: {o:?}"
    );
    assert!(
        o.latency_ms.p99 >= 500.0,
        "open p99 {} ms should show the 1 s stall",
        o.latency_ms.p99
    );
    // The requests were sent on time (the stall is the target's): the generator's own delay
    // is small at the median, and any tail past its bound is owned up to.
    // On a machine whose cores other processes hold the sends are late, and the run must
    // say so (a generator note) rather than pass the delay off as the target's.
    assert!(
        o.lateness_ms.p50 <= 1.0 || o.generator_note.is_some(),
        "sends late and not owned up to: {:?}",
        o.lateness_ms
    );
    assert!(
        !dobench_loadgen::verdict::delay_sets_the_numbers(o.lateness_ms.p99, o.latency_ms.p99)
            || o.generator_limited,
        "{o:?}"
    );

    let closed = RunConfig::new(Schedule::Closed(ClosedModel {
        users: 4,
        think: Duration::from_millis(20),
        iterations: None,
        duration: Some(Duration::from_secs(5)),
    }));
    stall.set(
        tokio::time::Instant::now() + Duration::from_secs(2),
        Duration::from_secs(1),
    );
    let c = common::run_to_end(closed, source(&base)).await;
    assert!(c.requests > 400, "{c:?}");
    assert!(
        c.latency_ms.max >= 900.0,
        "closed max {} ms still sees the stall",
        c.latency_ms.max
    );
    assert!(
        c.latency_ms.p99 < 50.0,
        "closed p99 {} ms hides the stall (the naive figure)",
        c.latency_ms.p99
    );
    eprintln!(
        "stall: open p99 {:.1} ms vs closed p99 {:.1} ms (closed max {:.1} ms)",
        o.latency_ms.p99, c.latency_ms.p99, c.latency_ms.max
    );
}

fn open_run(rate: f64, secs: u64, connections: usize) -> RunConfig {
    let mut c = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate,
        duration: Duration::from_secs(secs),
    }));
    c.max_in_flight = connections;
    c
}

/// Issue 14's measurement: 200 req/s for 5 s over 64 connections, every request held for 1 s
/// once. The first 64 sends of the stall hold every connection; the ~136 planned after them
/// wait for one. Counted from their intended time, ~200 of 1,000 latencies spread over
/// 0–1000 ms, so p90 ≥ 300 ms (it read 23 ms when waiting sends were dropped as "missed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_waiting_for_a_connection_keep_their_intended_time() {
    let stall = common::Stall::default();
    let base = common::stall_server(stall.clone()).await;
    stall.set(
        tokio::time::Instant::now() + Duration::from_secs(2),
        Duration::from_secs(1),
    );
    let o = common::run_to_end(open_run(200.0, 5, 64), source(&base)).await;
    eprintln!(
        "64 connections: latency {:?}, queued {} waiting {:?}, lateness {:?}",
        o.latency_ms, o.queued, o.queue_wait_ms, o.lateness_ms
    );
    assert_eq!(o.requests + o.missed, 1000, "{o:?}");
    assert_eq!(o.missed, 0, "{o:?}");
    assert_eq!(o.errors.total, 0, "{o:?}");
    assert!(
        o.latency_ms.p90 >= 300.0,
        "p90 {} ms hides the stall",
        o.latency_ms.p90
    );
    // ~200 sends fell in the stall and 64 held the connections: the rest waited. More wait
    // only when the server was slow outside the stall too (a machine other processes hold).
    assert!(o.queued >= 80, "queued {}", o.queued);
    assert!(
        o.queued <= 200 || o.service_ms.p90 > 20.0,
        "queued {} with service {:?}",
        o.queued,
        o.service_ms
    );
    assert!(o.queue_wait_ms.max >= 500.0, "{:?}", o.queue_wait_ms);
    // Waiting for a connection is not the generator's delay: ~14 % of sends waited up to
    // 0.7 s, yet lateness stays small past p90 (counted from intended, it would be ~0.5 s).
    assert!(o.queue_wait_ms.p50 >= 100.0, "{:?}", o.queue_wait_ms);
    assert!(o.lateness_ms.p90 < 50.0, "{:?}", o.lateness_ms);
}

/// Past the request timeout a waiting send is a timeout error, and its wait (≥ the timeout)
/// is in the latency: 4 connections, a 2 s stall, 300 ms timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_cannot_start_within_the_timeout_is_a_timeout_with_its_latency() {
    let stall = common::Stall::default();
    let base = common::stall_server(stall.clone()).await;
    stall.set(
        tokio::time::Instant::now() + Duration::from_millis(500),
        Duration::from_secs(2),
    );
    let mut cfg = open_run(100.0, 3, 4);
    cfg.timeout = Duration::from_millis(300);
    let o = common::run_to_end(cfg, source(&base)).await;
    eprintln!(
        "timeouts {} of {}, queued {}, latency {:?}",
        o.errors.timeout, o.requests, o.queued, o.latency_ms
    );
    assert_eq!(o.requests + o.missed, 300, "{o:?}");
    assert_eq!(o.missed, 0, "{o:?}");
    // ~200 sends were planned inside the stall: all of them end as timeouts.
    assert!(o.errors.timeout >= 150, "{o:?}");
    assert!(
        o.sent < o.requests,
        "some timed out before they could be sent: {o:?}"
    );
    // Every timeout has its latency, ≥ the timeout: at least p_(timeouts/requests) ≥ 300 ms.
    let share = o.errors.timeout as f64 / o.requests as f64;
    assert!(share > 0.5 && o.latency_ms.p50 >= 300.0, "{o:?}");
}
