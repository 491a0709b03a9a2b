//! WebSocket sessions through the one executor: 100 sessions against an echo server, 5,000
//! frames planned at 2,500/s; every frame is a request with the executor's books (planned,
//! sent, lateness, `requests + missed = planned`), and every echo is a delivery timed from its
//! frame's *intended* send. A session that could not be opened is reported to the source.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::request::{Frame, SessionEvent, SessionSpec};
use dobench_loadgen::{executor, OpenSchedule, RequestSource, RequestSpec, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

struct Echo {
    urls: Vec<String>,
    sent: AtomicU64,
    received: AtomicU64,
    failed: AtomicU64,
}

impl RequestSource for Echo {
    fn request(&self, index: u64) -> RequestSpec {
        let session = (index % self.urls.len() as u64) as u32;
        RequestSpec::frame(
            "echo",
            session,
            "http://127.0.0.1/".parse().unwrap(),
            format!("frame {index}"),
        )
        .with_object(format!("s{}", session % 4))
    }
    fn frame_sent(&self, _index: u64, _request: &RequestSpec) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
    fn sessions(&self) -> Vec<SessionSpec> {
        self.urls
            .iter()
            .map(|u| SessionSpec { url: u.clone() })
            .collect()
    }
    fn frame<'a>(&self, _session: u32, text: &'a str) -> Frame<'a> {
        self.received.fetch_add(1, Ordering::Relaxed);
        Frame::Delivery { body: text.into() }
    }
    fn session_event(&self, _session: u32, event: SessionEvent) {
        if event == SessionEvent::Failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn awaiting(&self) -> u64 {
        let sent = self.sent.load(Ordering::Relaxed);
        sent.saturating_sub(self.received.load(Ordering::Relaxed))
    }
    fn fan_out(&self) -> f64 {
        1.0
    }
    fn rate_unit(&self) -> &'static str {
        "msg/s"
    }
}

fn config(frames: u64) -> RunConfig {
    let mut c = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 2500.0,
        duration: Duration::from_micros(frames * 400),
    }));
    c.timeout = Duration::from_secs(5);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_sessions_every_frame_a_request_every_echo_a_delivery_from_its_intended_send() {
    let url = common::ws_echo_server().await;
    let source = Arc::new(Echo {
        urls: vec![url; 100],
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let handle = executor::start(config(5000), source.clone(), CancellationToken::new()).unwrap();
    let out = handle.wait().await.unwrap();
    let s = &out.snapshot;
    assert_eq!(s.planned, Some(5000));
    assert_eq!(
        s.requests + s.missed,
        5000,
        "every planned frame accounted for"
    );
    assert_eq!(source.sent.load(Ordering::Relaxed), s.sent.min(s.requests));
    assert_eq!(s.errors.total, 0, "{:?}", s.errors);
    assert_eq!(s.rate_unit(), "msg/s");
    // The echo server gives every frame back on its session: one delivery each, all timed.
    assert_eq!(s.deliveries, s.requests, "every frame sent came back once");
    assert_eq!(s.frames_other, 0);
    assert_eq!(out.aggregate.total.delivery_latency.len(), s.deliveries);
    // A delivery is timed from its frame's intended send, so it is never shorter than the
    // send's own latency (also from the intended send) at the same quantile... within one
    // histogram bucket.
    assert!(
        s.delivery_latency_ms.p50 + 0.01 >= s.latency_ms.p50,
        "delivery {:?} vs send {:?}",
        s.delivery_latency_ms,
        s.latency_ms
    );
    assert!(s.offered_deliveries_per_s > 0.0);
    assert!(s.objects.iter().all(|o| o.name.starts_with('s')));
    assert_eq!(s.objects_total, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_cannot_open_are_reported_and_none_open_is_unreachable() {
    let live = common::ws_echo_server().await;
    // A port nothing listens on: bind one and drop it.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://{}/ws", l.local_addr().unwrap())
    };
    let source = Arc::new(Echo {
        urls: vec![live, dead.clone()],
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let handle = executor::start(config(100), source.clone(), CancellationToken::new()).unwrap();
    let out = handle.wait().await.unwrap();
    assert_eq!(source.failed.load(Ordering::Relaxed), 1);
    let s = &out.snapshot;
    assert_eq!(s.requests + s.missed, 100);
    // Half the frames go to the dead session: connect errors, not silence.
    assert_eq!(s.errors.connect, 50, "{:?}", s.errors);
    assert_eq!(s.deliveries, 50);

    let nobody = Arc::new(Echo {
        urls: vec![dead],
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let handle = executor::start(config(100), nobody, CancellationToken::new()).unwrap();
    let err = handle.wait().await.err().expect("no session opened");
    assert!(
        matches!(err, dobench_loadgen::Error::Unreachable { .. }),
        "{err}"
    );
}
