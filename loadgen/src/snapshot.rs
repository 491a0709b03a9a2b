//! The live stats bus's message: `Snapshot`, published ~4 times a second on a
//! `tokio::sync::watch`. Wire type only (Clone + Serialize); built by `aggregate.rs`.
//! Consumers (progress line, TUI, results store) read it and never write back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hist::Percentiles;
use crate::recorder::ErrorCounts;

/// Everything a live view needs about a run at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Seconds since the schedule's start instant.
    pub elapsed_s: f64,
    /// Planned length of the run in seconds.
    pub planned_s: f64,
    /// True in the last snapshot of a run.
    pub done: bool,
    /// Planned arrivals so far per second (open model); sends per second (closed model).
    pub offered_rps: f64,
    /// Completed requests per second since the start.
    pub achieved_rps: f64,
    /// Completed requests per second over the last second.
    pub achieved_rps_last_s: f64,
    /// Requests planned in total (open model; `None` for closed).
    pub planned: Option<u64>,
    /// Requests sent so far.
    pub sent: u64,
    /// Requests completed so far (any outcome).
    pub requests: u64,
    /// Planned sends that found no free worker/connection in time (k6's dropped_iterations).
    pub missed: u64,
    pub in_flight: u64,
    /// Latency from intended send (coordinated-omission free), whole run so far.
    pub latency_ms: Percentiles,
    /// The same over the last second.
    pub latency_ms_last_s: Percentiles,
    /// Service time (from actual send), whole run so far.
    pub service_ms: Percentiles,
    /// Send lateness (actual − intended send), whole run so far.
    pub lateness_ms: Percentiles,
    pub errors: ErrorCounts,
    /// Errors over the last second.
    pub errors_last_s: u64,
    /// Every status code seen, by code (2xx included).
    pub statuses: BTreeMap<String, u64>,
    pub ops: BTreeMap<String, OpSnapshot>,
    /// Per target object, busiest (last second) first.
    pub objects: Vec<ObjectSnapshot>,
    /// Share of all CPU cores the generator's process used since the start (0–100).
    pub generator_cpu_pct: f64,
    /// Sends ran late (p99 lateness > 1 ms) or the generator's CPU saturated: the numbers
    /// show the generator's limit, not the target's.
    pub generator_limited: bool,
    /// The target's own stats (reference runtime only), merged in by whoever scrapes them
    /// (`server_stats::spawn_scraper`); the executor leaves it `None`.
    #[serde(default)]
    pub server: Option<crate::server_stats::ServerStats>,
}

/// One operation's stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpSnapshot {
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Percentiles,
}

/// One target object's stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectSnapshot {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    /// Average completed req/s since the start.
    pub rps: f64,
    /// Completed req/s over the last second.
    pub rps_last_s: f64,
    /// Highest 1-second req/s seen so far.
    pub peak_rps: f64,
    pub latency_ms: Percentiles,
}
