//! The generator at and past its limits: an impossible rate is reported as generator-limited
//! and still ends on time; a burst goes out whole.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, FixedRequest, OpenSchedule, RequestSpec, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

/// These tests load the CPU; run them one at a time so they do not skew each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn source(base: &str) -> Arc<FixedRequest> {
    Arc::new(FixedRequest(
        RequestSpec::new("get", Method::GET, &format!("{base}/")).unwrap(),
    ))
}

/// An impossible rate against a trivially fast server: the generator's own threads are the
/// limit, and the run says so (issue 14, must-show 2). Still bounded: it ends within plan +
/// timeout + slack, and every planned send is booked (`requests + missed = planned`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_rate_is_generator_limited_and_ends_on_time() {
    let _serial = SERIAL.lock().await;
    let base = common::fast_server().await;
    let mut cfg = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 1_000_000.0,
        duration: Duration::from_secs(2),
    }));
    cfg.max_in_flight = 4;
    cfg.timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let out = executor::start(cfg, source(&base), CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap();
    let took = t0.elapsed();
    let s = &out.snapshot;
    eprintln!(
        "impossible rate: took {took:?}, requests {} sent {} missed {} timeouts {} busy {:.0}% note {:?}",
        s.requests, s.sent, s.missed, s.errors.timeout, s.generator_busy_pct, s.generator_note
    );
    assert_eq!(
        s.requests + s.missed,
        2_000_000,
        "every planned send is booked"
    );
    // Plan (2 s) + timeout (0.5 s) + 1 s hard-bound slack + shutdown.
    assert!(took < Duration::from_millis(4500), "took {took:?}");
    assert!(s.generator_limited, "{s:?}");
    assert!(s.generator_note.is_some());
}

/// 1,000 sends released at one instant on 1,000 connections: none waits for a connection and
/// none is missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_is_sent_whole() {
    let _serial = SERIAL.lock().await;
    let base = common::fast_server().await;
    let mut cfg = RunConfig::new(Schedule::Open(OpenSchedule::Burst {
        count: 1000,
        at: Duration::from_millis(100),
    }));
    cfg.max_in_flight = 1000;
    let out = executor::start(cfg, source(&base), CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap();
    let s = &out.snapshot;
    eprintln!(
        "burst: sent {} missed {} queued {} lateness {:?}",
        s.sent, s.missed, s.queued, s.lateness_ms
    );
    assert_eq!(s.requests + s.missed, 1000);
    assert_eq!((s.sent, s.missed), (1000, 0), "{s:?}");
    // With a connection each none waits for one, unless the machine starved the generator's
    // threads (its responses unread, its connections still busy) and the run says so.
    assert!(s.queued == 0 || s.generator_limited, "{s:?}");
    assert_eq!(s.errors.total, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_is_one_error() {
    // Bind then drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 10.0,
        duration: Duration::from_secs(1),
    }));
    let err = executor::start(
        cfg,
        source(&format!("http://127.0.0.1:{port}")),
        CancellationToken::new(),
    )
    .unwrap()
    .wait()
    .await
    .err()
    .expect("unreachable");
    assert!(
        matches!(err, dobench_loadgen::Error::Unreachable { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_early() {
    let _serial = SERIAL.lock().await;
    let base = common::fast_server().await;
    let cfg = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 100.0,
        duration: Duration::from_secs(30),
    }));
    let cancel = CancellationToken::new();
    let handle = executor::start(cfg, source(&base), cancel.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cancel.cancel();
    let out = tokio::time::timeout(Duration::from_secs(2), handle.wait())
        .await
        .expect("stops")
        .unwrap();
    assert!(out.stopped_early);
    assert!(out.snapshot.done);
    assert!(out.snapshot.requests > 10);
    // What the stop left unsent is the generator's: missed.
    assert_eq!(out.snapshot.requests + out.snapshot.missed, 3000);
}
