//! The recorder at Durable Object scale (issue 13, must-show 2, the load generator's half):
//! 1,000,000 distinct objects at 10,000 req/s keep exact counts, rates and per-second peaks
//! for every object in a few hundred bytes each, latency histograms only for the 64 with the
//! most requests, and a snapshot tick that lists the hottest objects only. Its own test
//! binary: it reads this process's RSS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::aggregate::{Live, DEFAULT_TRACKED_OBJECTS};
use dobench_loadgen::recorder::Sample;
use dobench_loadgen::{Aggregate, Outcome, Recorder};

/// The RSS test must not see another test's allocations: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn a_million_objects_at_ten_thousand_per_second_stay_bounded() {
    let _serial = SERIAL.blocking_lock();
    const OBJECTS: u64 = 1_000_000;
    const RATE: u64 = 10_000;
    const TICKS_PER_S: u64 = 4;
    let per_tick = RATE / TICKS_PER_S;
    let op: Arc<str> = "increment".into();
    // Five hot objects take one request in five, the rest go to a million distinct names.
    let hot: Vec<Arc<str>> = (0..5).map(|i| Arc::from(format!("hot-{i}"))).collect();
    let before = rss_bytes();
    let mut agg = Aggregate::new();
    let mut shard = Recorder::new();
    let mut delta = Recorder::new();
    let (mut next_cold, mut sent, mut tick) = (0u64, 0u64, 0u64);
    let mut hot_sent = [0u64; 5];
    while next_cold < OBJECTS {
        shard.reset();
        shard.tracking = agg.tracking();
        for i in 0..per_tick {
            let name: Arc<str> = if i % 5 == 0 {
                let h = ((i / 5) % 5) as usize;
                hot_sent[h] += 1;
                hot[h].clone()
            } else {
                next_cold += 1;
                Arc::from(format!("obj-{next_cold}"))
            };
            let ms = Duration::from_micros(500 + (i * 7919) % 3000);
            shard.record(&Sample {
                op: &op,
                object: Some(&name),
                lateness: Duration::ZERO,
                service: Some(ms),
                latency: ms,
                queue_wait: None,
                outcome: Outcome::from_response(200, b"{}"),
            });
        }
        sent += per_tick;
        tick += 1;
        delta.reset();
        delta.add(&shard);
        agg.push(&delta, Duration::from_millis(tick * 1000 / TICKS_PER_S));
        if tick % TICKS_PER_S == 0 {
            let elapsed = Duration::from_millis(tick * 1000 / TICKS_PER_S);
            let snap = agg.snapshot(&Live {
                elapsed,
                sent,
                ..Live::default()
            });
            assert!(
                snap.objects.len() <= DEFAULT_TRACKED_OBJECTS,
                "{}",
                snap.objects.len()
            );
            assert_eq!(snap.objects_total, agg.objects.len() as u64);
        }
    }
    agg.finish();
    shard.reset();
    delta.reset();
    let grown = rss_bytes().saturating_sub(before);
    let objects = agg.objects.len() as u64;
    let per_object = grown / objects;
    eprintln!(
        "{objects} objects, {sent} requests over {} s: RSS grew {} MiB, {per_object} bytes per object; {} latency histograms",
        tick / TICKS_PER_S,
        grown >> 20,
        agg.object_latency.len()
    );
    assert_eq!(objects, OBJECTS + 5);
    // Exact counts for every object, whatever its rank.
    assert_eq!(agg.objects.values().map(|t| t.requests).sum::<u64>(), sent);
    assert_eq!(agg.objects["obj-777"].requests, 1);
    for (h, n) in hot.iter().zip(hot_sent) {
        let t = &agg.objects[h];
        assert_eq!(t.requests, n);
        // 10,000/s, one in five to the hot five: 400 per object per whole second.
        assert_eq!(t.peak_requests, 400, "{h}");
        assert!(
            agg.object_latency.contains_key(h),
            "the hottest keep latency"
        );
    }
    assert!(agg.object_latency.len() <= DEFAULT_TRACKED_OBJECTS);
    assert!(
        per_object <= 400,
        "{per_object} bytes per object (a few hundred at most)"
    );
    let snap = agg.snapshot(&Live {
        elapsed: Duration::from_secs(tick / TICKS_PER_S),
        done: true,
        ..Live::default()
    });
    assert_eq!(snap.objects[0].name.split('-').next(), Some("hot"));
    assert!(snap.objects[0].latency_ms.p50 > 0.0);
}

/// Every request to its own object, through the real executor and HTTP: every object is
/// counted, at most the tracked number keep a latency histogram, and the live snapshots list
/// the hottest only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_counts_every_object_and_tracks_latency_for_few() {
    let _serial = SERIAL.lock().await;
    use dobench_loadgen::http::Method;
    use dobench_loadgen::{
        executor, OpenSchedule, RequestSource, RequestSpec, RunConfig, Schedule,
    };
    struct EachItsOwn(String);
    impl RequestSource for EachItsOwn {
        fn request(&self, index: u64) -> RequestSpec {
            RequestSpec::new("get", Method::GET, &self.0)
                .unwrap()
                .with_object(format!("o-{index}"))
        }
    }
    let base = common::fast_server().await;
    let mut cfg = RunConfig::new(Schedule::Open(OpenSchedule::Constant {
        rate: 2000.0,
        duration: Duration::from_secs(2),
    }));
    cfg.track_objects = 8;
    let handle = executor::start(
        cfg,
        Arc::new(EachItsOwn(format!("{base}/"))),
        tokio_util::sync::CancellationToken::new(),
    )
    .unwrap();
    let mut live = handle.snapshots.clone();
    let watcher = tokio::spawn(async move {
        let mut most = 0;
        while live.changed().await.is_ok() {
            let s = live.borrow_and_update().clone();
            most = most.max(s.objects.len());
            if s.done {
                break;
            }
        }
        most
    });
    let out = handle.wait().await.unwrap();
    let most_listed = watcher.await.unwrap();
    assert_eq!(out.snapshot.requests, 4000, "{:?}", out.snapshot.errors);
    assert_eq!(out.aggregate.objects.len(), 4000);
    assert_eq!(out.snapshot.objects_total, 4000);
    assert!(out.aggregate.object_latency.len() <= 8);
    assert!(most_listed <= 16, "a snapshot listed {most_listed} objects");
}
