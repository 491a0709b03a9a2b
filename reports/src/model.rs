//! Plain data the store reads and writes: what a run is ([`RunMeta`], [`HostFacts`]), how it
//! ended ([`RunStatus`]), and the rows a report reads back ([`RunRow`], [`StoredRun`],
//! [`SecondRow`], [`ObjectSecond`]). No SQL and no I/O here.

use std::collections::BTreeMap;

use dobench_loadgen::{Percentiles, RunSummary};
use serde::{Deserialize, Serialize};

/// Everything known about a run before its first request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMeta {
    /// Profile name (e.g. `sharded-counter`; `http` for `dobench http`).
    pub profile: String,
    /// The profile's full TOML text (empty for ad-hoc runs).
    pub profile_text: String,
    pub workload: Option<String>,
    /// `"embedded"` or the target URL.
    pub target: String,
    pub strategy: Option<String>,
    /// Runtime / generator options as given (free-form JSON object).
    pub runtime_options: serde_json::Value,
    /// Threshold expressions as written in the profile (e.g. `p99_ms < 50`).
    pub thresholds: Vec<String>,
    /// Per-object ceiling in req/s, drawn on the per-object chart.
    pub ceiling_rps: Option<f64>,
    /// Planned length in seconds.
    pub planned_s: Option<f64>,
    /// The compare group this run belongs to ([`crate::Store::create_compare_group`]).
    pub compare_group: Option<String>,
}

/// Facts about the machine that ran the load generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    pub cores: usize,
    pub os: String,
    pub arch: String,
    /// Kernel release where known (Linux: /proc/sys/kernel/osrelease).
    pub kernel: Option<String>,
}

impl HostFacts {
    /// Facts about this machine.
    pub fn current() -> Self {
        HostFacts {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Being written by a live process.
    Running,
    /// Finished with a summary.
    Complete,
    /// Its process went away before finishing; its seconds up to then are kept.
    Incomplete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => "incomplete",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "running" => RunStatus::Running,
            "complete" => RunStatus::Complete,
            _ => RunStatus::Incomplete,
        }
    }
}

/// One line of `dobench runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: String,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    pub status: RunStatus,
    pub profile: String,
    pub target: String,
    pub strategy: Option<String>,
    pub offered_rps: Option<f64>,
    pub achieved_rps: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Thresholds and correctness verdict (`None` until complete).
    pub passed: Option<bool>,
    pub compare_group: Option<String>,
    /// The name given with `--label`, if any.
    #[serde(default)]
    pub label: Option<String>,
}

impl RunRow {
    /// `pass`, `FAIL`, `incomplete` or `running`.
    pub fn verdict(&self) -> &'static str {
        match (self.status, self.passed) {
            (RunStatus::Running, _) => "running",
            (RunStatus::Incomplete, _) => "incomplete",
            (RunStatus::Complete, Some(false)) => "FAIL",
            (RunStatus::Complete, _) => "pass",
        }
    }
}

/// What a group of runs is: a `compare` of strategies (or a shard sweep), or a `repeat` of
/// one run (`run --repeat N`) whose figures are read as mean ± σ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Compare,
    Repeat,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Compare => "compare",
            GroupKind::Repeat => "repeat",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "repeat" => GroupKind::Repeat,
            _ => GroupKind::Compare,
        }
    }
}

/// One second of a run's time series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondRow {
    /// Second index from the start.
    pub second: u64,
    /// Seconds of wall time this row covers (≈1; shorter for the last).
    pub span_s: f64,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    pub requests: u64,
    pub missed: u64,
    pub errors: u64,
    pub overloaded: u64,
    pub timeout: u64,
    pub connect: u64,
    pub other: u64,
    /// Error statuses (4xx/5xx) in this second, by code.
    pub status_errors: BTreeMap<String, u64>,
    pub latency_ms: Percentiles,
}

/// One object's (or the remainder's) rate in one second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectSecond {
    pub second: u64,
    /// Object name, or `(rest)` for the remainder row.
    pub object: String,
    pub rps: f64,
    pub requests: u64,
    /// True for the row that sums every object outside the top N.
    pub remainder: bool,
    /// How many objects the row covers (1, or the remainder's count).
    pub objects: u64,
}

/// One scrape of the target's own stats (`/_dobench/stats` on the reference runtime).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    pub elapsed_s: f64,
    pub stats: serde_json::Value,
}

/// A run as a report reads it back.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub row: RunRow,
    pub meta: RunMeta,
    pub host: HostFacts,
    pub dobench_version: String,
    /// The final summary; for an incomplete run, one rebuilt from its last snapshot.
    pub summary: RunSummary,
    pub seconds: Vec<SecondRow>,
    pub objects: Vec<ObjectSecond>,
    /// Per-op HdrHistograms (V2 blobs decoded), plus `*` for all ops together.
    pub histograms: BTreeMap<String, hdrhistogram::Histogram<u64>>,
    pub server_stats: Vec<ServerStats>,
}
