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
pub mod http;
pub mod lock;
pub mod lost_update;
pub mod ratelimit;
mod tally;

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::client::http::{ClientConfig, HttpConn};
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::summary::{AlarmSummary, Check, Correctness};
use dobench_loadgen::{
    ClosedModel, OpenSchedule, RequestSpec, Response, RunConfig, Schedule, Snapshot, Stage,
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
}

/// Starts the profile's workload against `base` (e.g. `http://127.0.0.1:8787`). Object
/// names carry `nonce` so every run starts from fresh objects, even on a long-lived target.
pub fn start(
    profile: &Profile,
    base: &str,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let base = base.trim_end_matches('/').to_string();
    match profile.workload {
        WorkloadKind::Counter => counter::start(profile, base, nonce, cancel),
        WorkloadKind::Ratelimit => ratelimit::start(profile, base, nonce, cancel),
        WorkloadKind::Chat => chat::start(profile, base, nonce, cancel),
        WorkloadKind::Alarm => alarm::start(profile, base, nonce, cancel),
        WorkloadKind::Http => http::start(profile, base, nonce, cancel),
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
/// each request gets `timeout`.
pub async fn fetch_all(
    specs: Vec<RequestSpec>,
    concurrency: usize,
    timeout: Duration,
) -> Vec<Option<Response>> {
    let n = specs.len();
    let specs = Arc::new(specs);
    let workers = concurrency.clamp(1, n.max(1));
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let specs = specs.clone();
        set.spawn(async move {
            let mut conn = HttpConn::new(ClientConfig::default());
            let mut out = Vec::new();
            for i in (w..specs.len()).step_by(workers) {
                let r = tokio::time::timeout(timeout, conn.send(&specs[i])).await;
                let r = match r {
                    Ok(Ok(resp)) => Some(resp),
                    Ok(Err(_)) => None,
                    Err(_) => {
                        conn.reset();
                        None
                    }
                };
                out.push((i, r));
            }
            out
        });
    }
    let mut results = vec![None; n];
    while let Some(joined) = set.join_next().await {
        if let Ok(part) = joined {
            for (i, r) in part {
                results[i] = r;
            }
        }
    }
    results
}

/// A short random run nonce (6 hex digits) for object names.
pub fn new_nonce() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}
