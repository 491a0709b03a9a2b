//! Traffic: how each workload family drives a target and checks it afterwards. One module
//! per family plans its requests (or WebSocket sessions) against any base URL, runs them
//! through the load generator, and ends with a correctness verdict. [`start`] picks the
//! family from the profile and hands back the live `Snapshot` bus at once and the
//! [`Finished`] result later. Never starts a runtime, prints, or stores anything: the binary
//! does that.

pub mod aggregator;
pub mod alarm;
pub mod chat;
pub mod counter;
mod fanout;
pub mod http;
pub mod lock;
pub mod lost_update;
pub mod ratelimit;
mod tally;
pub mod ws;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dobench_loadgen::client::http::{ClientConfig, HttpConn};
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::summary::{AlarmSummary, Check, Correctness};
use dobench_loadgen::{
    ClosedModel, OpenSchedule, RequestSpec, Response, RunConfig, Schedule, Segment, Snapshot, Stage,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::profile::{Load, LoadModel, Profile, WorkloadKind};

/// A workload run in progress.
pub struct Running {
    /// The live stats bus (last value has `done == true`).
    pub snapshots: watch::Receiver<Snapshot>,
    task: JoinHandle<Result<Finished>>,
}

impl Running {
    /// Waits for the load and the correctness check to finish.
    pub async fn wait(self) -> Result<Finished> {
        self.task
            .await
            .map_err(|e| Error::Target(format!("workload task failed: {e}")))?
    }
}

/// What a finished workload run leaves behind.
pub struct Finished {
    pub outcome: RunOutcome,
    pub correctness: Correctness,
    /// Alarm delivery (alarm-storm only).
    pub alarms: Option<AlarmSummary>,
    /// Distinct objects the run addressed.
    pub objects_used: u64,
    /// Requests one logical read costs under the strategy (counter only; 1 elsewhere).
    pub read_fan_in: u64,
    /// Extra human-readable lines for the summary (e.g. chat deliveries, reconnects).
    pub notes: Vec<String>,
    /// A segment of a split run: the correctness evidence it gathered, for `dobench merge`
    /// to check against the merged run (`None` for a whole run, checked at its end).
    pub evidence: Option<serde_json::Value>,
}

/// Which part of a split run this process drives: one interleaved segment of the schedule,
/// from a start instant every segment shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub segment: Segment,
    pub start_at: Option<SystemTime>,
}

impl Default for Split {
    fn default() -> Self {
        Split {
            segment: Segment::WHOLE,
            start_at: None,
        }
    }
}

impl Split {
    /// A part of a split run (a segment, or a start instant shared with other processes):
    /// its correctness is checked after the merge, from the evidence it hands back.
    pub fn is_segment(&self) -> bool {
        self.segment.count > 1 || self.start_at.is_some()
    }

    /// Applies the split to an executor configuration. A segment keeps latency for four
    /// times as many objects as a whole run (at least 256), so the merge sees a wider set.
    pub fn apply(&self, config: &mut RunConfig) {
        config.segment = self.segment;
        config.start_at = self.start_at;
        if self.is_segment() {
            config.track_objects = (config.track_objects * 4).max(256);
        }
    }
}

/// Workloads whose correctness evidence merges across segments (`dobench run --segment`).
pub const SPLITTABLE: &[WorkloadKind] = &[WorkloadKind::Counter, WorkloadKind::Alarm];

/// Starts the profile's workload against `base` (e.g. `http://127.0.0.1:8787`). Object
/// names carry `nonce` so every run starts from fresh objects, even on a long-lived target.
pub fn start(
    profile: &Profile,
    base: &str,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    start_split(profile, base, nonce, cancel, Split::default())
}

/// [`start`] for one segment of a split run (`Split::default()`: the whole run). Refuses a
/// segment of a workload whose evidence does not merge yet (see [`SPLITTABLE`]).
pub fn start_split(
    profile: &Profile,
    base: &str,
    nonce: &str,
    cancel: CancellationToken,
    split: Split,
) -> Result<Running> {
    let base = base.trim_end_matches('/').to_string();
    if split.is_segment() && !SPLITTABLE.contains(&profile.workload) {
        return Err(Error::Invalid(format!(
            "workload {:?} cannot be split into segments yet: its correctness evidence does not merge across machines (splittable: counter, alarm)",
            profile.workload.class()
        )));
    }
    match profile.workload {
        WorkloadKind::Counter => counter::start(profile, base, nonce, cancel, split),
        WorkloadKind::Ratelimit => ratelimit::start(profile, base, nonce, cancel),
        WorkloadKind::Chat => chat::start(profile, base, nonce, cancel),
        WorkloadKind::Alarm => alarm::start(profile, base, nonce, cancel, split),
        WorkloadKind::Http => http::start(profile, base, nonce, cancel),
        WorkloadKind::Ws => ws::start(profile, base, nonce, cancel),
        WorkloadKind::Aggregator => aggregator::start(profile, base, nonce, cancel),
        WorkloadKind::Lock => lock::start(profile, base, nonce, cancel),
        WorkloadKind::LostUpdate => lost_update::start(profile, base, nonce, cancel),
    }
}

/// The profile's arrival schedule.
pub fn schedule(load: &Load) -> Schedule {
    match load.model {
        LoadModel::Closed => Schedule::Closed(ClosedModel {
            users: load.vus.unwrap_or(1),
            think: load.think.map_or(Duration::ZERO, |d| d.0),
            iterations: None,
            duration: Some(load.duration.0),
        }),
        LoadModel::Open if !load.stages.is_empty() => Schedule::Open(OpenSchedule::Ramping {
            start_rate: load.start_rate.unwrap_or(0.0),
            stages: load
                .stages
                .iter()
                .map(|s| Stage {
                    duration: s.duration.0,
                    target: s.target,
                })
                .collect(),
        }),
        LoadModel::Open => Schedule::Open(OpenSchedule::Constant {
            rate: load.rate.unwrap_or(1.0),
            duration: load.duration.0,
        }),
    }
}

/// The executor configuration for `schedule` under the profile's `[load]` knobs.
pub fn run_config(load: &Load, schedule: Schedule) -> RunConfig {
    let mut c = RunConfig::new(schedule);
    c.max_in_flight = load.max_in_flight;
    c.timeout = load.timeout.0;
    c.track_objects = load.track_objects;
    c
}

/// What a workload's checks found once its run was over: the checks, extra summary lines,
/// and the objects it used.
pub(crate) type Verified = (Vec<Check>, Vec<String>, u64);

/// Runs `source` on the profile's load through the one executor, then `verify` (given the
/// source and the run's final snapshot) against the target: the whole life of a workload
/// whose checks read the target back after the run.
pub(crate) fn run_then_verify<S, V, F>(
    profile: &Profile,
    source: Arc<S>,
    cancel: CancellationToken,
    verify: V,
) -> Result<Running>
where
    S: dobench_loadgen::RequestSource + 'static,
    V: FnOnce(Arc<S>, Snapshot) -> F + Send + 'static,
    F: std::future::Future<Output = Result<Verified>> + Send + 'static,
{
    let config = run_config(&profile.load, schedule(&profile.load));
    let handle = dobench_loadgen::executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let (checks, notes, objects_used) = verify(source, outcome.snapshot.clone()).await?;
        Ok(Finished {
            outcome,
            correctness: verdict(checks),
            alarms: None,
            objects_used,
            read_fan_in: 1,
            notes,
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}

/// One named check.
pub fn check(name: &str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        passed,
        detail: detail.into(),
    }
}

/// A verdict from its checks.
pub fn verdict(checks: Vec<Check>) -> Correctness {
    Correctness {
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

/// Sends every request with at most `concurrency` in flight (one connection each) and
/// returns the answers in order (`None` for a request that failed or timed out). Bounded:
/// each request gets `timeout`. For many requests prefer [`fetch_each`], which keeps only
/// what it is asked to.
pub async fn fetch_all(
    specs: Vec<RequestSpec>,
    concurrency: usize,
    timeout: Duration,
) -> Vec<Option<Response>> {
    let n = specs.len();
    let specs = Arc::new(specs);
    fetch_each(
        n,
        concurrency,
        timeout,
        move |i| Some(specs[i].clone()),
        |_, r| r,
    )
    .await
    .into_iter()
    .map(Option::flatten)
    .collect()
}

/// Sends `n` requests, the `i`th made by `make(i)` when its turn comes (`None`: skipped),
/// with at most `concurrency` in flight (one connection each), and keeps `keep(i, answer)`
/// of each as it arrives (`None` answer: failed or timed out), in order; a skipped request
/// keeps `None`. Answers are dropped as soon as `keep` has seen them, so memory follows what
/// `keep` returns, not the bodies: reading back a million objects stays small. Bounded: each
/// request gets `timeout`.
pub async fn fetch_each<T, M, K>(
    n: usize,
    concurrency: usize,
    timeout: Duration,
    make: M,
    keep: K,
) -> Vec<Option<T>>
where
    T: Send + 'static,
    M: Fn(usize) -> Option<RequestSpec> + Send + Sync + 'static,
    K: Fn(usize, Option<Response>) -> T + Send + Sync + 'static,
{
    let (make, keep) = (Arc::new(make), Arc::new(keep));
    let workers = concurrency.clamp(1, n.max(1));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (make, keep) = (make.clone(), keep.clone());
        set.spawn(async move {
            let mut conn = HttpConn::new(ClientConfig::default());
            let mut out = Vec::new();
            for i in (w..n).step_by(workers) {
                let Some(spec) = make(i) else { continue };
                let r = match tokio::time::timeout(timeout, conn.send(&spec)).await {
                    Ok(Ok(resp)) => Some(resp),
                    Ok(Err(_)) => None,
                    Err(_) => {
                        conn.reset();
                        None
                    }
                };
                out.push((i, keep(i, r)));
            }
            out
        });
    }
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok(part) = joined {
            for (i, kept) in part {
                results[i] = Some(kept);
            }
        }
    }
    results
}

/// A short random run nonce (6 hex digits) for object names.
pub fn new_nonce() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}
