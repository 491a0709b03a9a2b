//! Test and example support: simulates a run through the real load-generator types
//! (`Recorder` → `Aggregate` → `Snapshot` → `RunWriter`) with deterministic synthetic
//! latencies, so store and report tests see data shaped like a real run. Never sleeps and
//! never opens a socket.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dobench_loadgen::aggregate::Live;
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::recorder::Sample;
use dobench_loadgen::summary::{
    AlarmSummary, Check, Correctness, HibernationSummary, LagMs, ThresholdResult, Thresholds,
};
use dobench_loadgen::{Aggregate, Outcome, Recorder, RunSummary, SummaryMeta};
use dobench_reports::{RunMeta, RunWriter, Store};

/// Shape of a simulated run.
#[derive(Debug, Clone)]
pub struct Sim {
    pub strategy: &'static str,
    pub seconds: u64,
    pub rate: u64,
    /// Number of objects the keys spread over (1 = everything on one object).
    pub objects: usize,
    /// Per-object ceiling (req/s); requests past it in a second get 503 overloaded.
    pub ceiling: f64,
    /// Base latency in ms.
    pub base_ms: f64,
    pub seed: u64,
    pub extras: bool,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            strategy: "hash:8",
            seconds: 12,
            rate: 2400,
            objects: 8,
            ceiling: 1000.0,
            base_ms: 1.2,
            seed: 7,
            extras: true,
        }
    }
}

pub const PROFILE_TEXT: &str = r#"# sharded counter: increments spread over objects
name = "sharded-counter"
workload = "counter"
[load]
model = "open"
rate = 2400
duration = "12s"
[sharding]
strategy = "hash:8"
[thresholds]
p99_ms = "< 50"
errors = "< 1%"
"#;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn meta(sim: &Sim) -> RunMeta {
    RunMeta {
        profile: "sharded-counter".into(),
        profile_text: PROFILE_TEXT.into(),
        workload: Some("counter".into()),
        target: "embedded".into(),
        strategy: Some(sim.strategy.into()),
        runtime_options: serde_json::json!({ "ceiling": sim.ceiling, "mailbox": 128 }),
        thresholds: vec!["p99_ms < 50".into(), "errors < 1%".into()],
        ceiling_rps: Some(sim.ceiling),
        planned_s: Some(sim.seconds as f64),
        compare_group: None,
    }
}

/// Drives `writer` with `sim`'s snapshots (4 per second); calls `after_second` after each
/// whole second. Returns the outcome a real executor would.
pub fn drive(
    writer: &mut RunWriter,
    sim: &Sim,
    mut after_second: impl FnMut(u64, &RunWriter),
) -> RunOutcome {
    let mut rng = Lcg(sim.seed);
    let op: Arc<str> = "increment".into();
    let read: Arc<str> = "read".into();
    let names: Vec<Arc<str>> = (0..sim.objects)
        .map(|i| Arc::from(format!("counter-{i}")))
        .collect();
    // Zipf-like weights: object i gets weight 1/(i+1)^0.8.
    let weights: Vec<f64> = (0..sim.objects)
        .map(|i| 1.0 / ((i + 1) as f64).powf(0.8))
        .collect();
    let wsum: f64 = weights.iter().sum();
    let mut agg = Aggregate::new();
    let ticks_per_s = 4u64;
    let per_tick = sim.rate / ticks_per_s;
    let mut sent = 0;
    let mut last = None;
    for tick in 0..sim.seconds * ticks_per_s {
        let second = tick / ticks_per_s;
        // A load bump in the middle of the run.
        let bump = if (sim.seconds / 2..sim.seconds / 2 + 2).contains(&second) {
            1.35
        } else {
            1.0
        };
        let n = (per_tick as f64 * bump) as u64;
        let mut delta = Recorder::new();
        let mut object_counts = vec![0u64; sim.objects];
        for _ in 0..n {
            let mut x = rng.next() * wsum;
            let mut k = 0;
            while k + 1 < sim.objects && x > weights[k] {
                x -= weights[k];
                k += 1;
            }
            object_counts[k] += 1;
            let load = object_counts[k] as f64 * ticks_per_s as f64 / sim.ceiling;
            let tail = -rng.next().max(1e-9).ln();
            let ms = sim.base_ms * (1.0 + tail * 0.6)
                + if load > 0.9 {
                    25.0 * (load - 0.9) * tail
                } else {
                    0.0
                };
            let outcome = if load > 1.0 && rng.next() < 0.3 {
                Outcome::from_response(503, br#"{"error":"overloaded","overloaded":true}"#)
            } else if rng.next() < 0.0008 {
                Outcome::from_response(500, b"{}")
            } else {
                Outcome::from_response(200, b"{}")
            };
            let d = Duration::from_micros((ms * 1000.0) as u64);
            let which = if rng.next() < 0.9 { &op } else { &read };
            delta.record(&Sample {
                op: which,
                object: Some(&names[k]),
                lateness: Duration::from_micros(20),
                service: Some(d),
                latency: d,
                queue_wait: None,
                outcome,
            });
        }
        sent += n;
        let elapsed = Duration::from_millis((tick + 1) * 1000 / ticks_per_s);
        agg.push(&delta, elapsed);
        let done = tick + 1 == sim.seconds * ticks_per_s;
        if done {
            agg.finish();
        }
        let snap = agg.snapshot(&Live {
            elapsed,
            planned: Duration::from_secs(sim.seconds),
            planned_requests: Some(sim.rate * sim.seconds),
            offered_so_far: sent,
            sent,
            missed: 0,
            in_flight: 0,
            cpu_pct: 12.0,
            busy_pct: 20.0,
            done,
            ..Live::default()
        });
        writer.push_snapshot(&snap).expect("write snapshot");
        if (tick + 1) % ticks_per_s == 0 {
            if sim.extras {
                let stats =
                    serde_json::json!({ "objects": sim.objects, "queue_depth": (second % 3) });
                writer
                    .push_server_stats(elapsed.as_secs_f64(), &stats)
                    .expect("server stats");
            }
            after_second(second, writer);
        }
        last = Some(snap);
    }
    let snapshot = last.expect("at least one tick");
    RunOutcome {
        offered_rps: snapshot.offered_rps,
        snapshot,
        aggregate: agg,
        started_at: SystemTime::now() - Duration::from_secs(sim.seconds),
        elapsed: Duration::from_secs(sim.seconds),
        stopped_early: false,
        fan_out: 0.0,
        start_late: Duration::ZERO,
    }
}

/// The summary a workload would print for `outcome`.
pub fn summary(sim: &Sim, outcome: &RunOutcome) -> RunSummary {
    let mut s = RunSummary::from_outcome(
        outcome,
        SummaryMeta {
            profile: "sharded-counter".into(),
            workload: Some("counter".into()),
            target: "embedded".into(),
            strategy: Some(sim.strategy.into()),
            ceiling_rps: Some(sim.ceiling),
            work: Default::default(),
        },
    );
    let p99 = s.latency_ms.p99;
    let err_pct = s.errors.total as f64 / s.requests.max(1) as f64 * 100.0;
    s.thresholds = Thresholds {
        passed: p99 < 50.0 && err_pct < 1.0,
        results: vec![
            ThresholdResult {
                expr: "p99_ms < 50".into(),
                actual: p99,
                passed: p99 < 50.0,
                shown: format!("{p99:.2} ms"),
            },
            ThresholdResult {
                expr: "error_rate < 1%".into(),
                actual: err_pct / 100.0,
                passed: err_pct < 1.0,
                shown: format!("{err_pct:.3} %"),
            },
        ],
    };
    s.correctness = Some(Correctness {
        passed: true,
        checks: vec![Check {
            name: "counter sum = acknowledged increments".into(),
            passed: true,
            detail: format!(
                "sum {} = acked {} <script>alert(1)</script>",
                s.requests, s.requests
            ),
        }],
    });
    if sim.extras {
        s.hibernation = Some(HibernationSummary {
            active_ms: 4200.0,
            hibernated_ms: 37_800.0,
            gb_s_billed: 0.54,
            gb_s_avoided: 4.84,
            usd_avoided: 0.0000605,
            saved_pct: 90.0,
            idle_in_memory_ms: 0.0,
        });
        s.alarms = Some(AlarmSummary {
            scheduled: 5000,
            fired: 5000,
            retried: 12,
            missing: 0,
            lag_ms: LagMs {
                p50: 3.2,
                p99: 41.0,
                max: 88.5,
            },
        });
    }
    s
}

/// Records a whole simulated run into the store at `path`; returns its id.
pub fn record(path: &std::path::Path, sim: &Sim, group: Option<&str>) -> String {
    let mut m = meta(sim);
    m.compare_group = group.map(str::to_string);
    let mut writer = Store::open(path)
        .expect("open store")
        .begin_run(&m)
        .expect("begin");
    let outcome = drive(&mut writer, sim, |_, _| {});
    let s = summary(sim, &outcome);
    writer.finish(&s, Some(&outcome.aggregate)).expect("finish")
}
