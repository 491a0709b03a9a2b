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
    /// Planned sends the generator itself did not make (its own delay exceeded the timeout,
    /// or the run stopped first). `requests + missed = planned` at the end of a run.
    pub missed: u64,
    pub in_flight: u64,
    /// Latency from intended send (coordinated-omission free), whole run so far.
    pub latency_ms: Percentiles,
    /// The same over the last second.
    pub latency_ms_last_s: Percentiles,
    /// Service time (from actual send), whole run so far.
    pub service_ms: Percentiles,
    /// The generator's own send delay: actual send − the later of (intended send, the moment
    /// a connection came free); never the wait for a connection. Whole run so far.
    pub lateness_ms: Percentiles,
    /// Sends that found every connection busy at their intended time and waited for one.
    #[serde(default)]
    pub queued: u64,
    /// How long the queued sends waited for a connection (their latency includes it).
    #[serde(default)]
    pub queue_wait_ms: Percentiles,
    /// Requests the target marked as bringing their object into memory, their latency, and
    /// the latency of all the others (together they make `latency_ms`).
    #[serde(default)]
    pub cold_starts: u64,
    #[serde(default)]
    pub cold_start_latency_ms: Percentiles,
    #[serde(default)]
    pub warm_latency_ms: Percentiles,
    pub errors: ErrorCounts,
    /// Errors over the last second.
    pub errors_last_s: u64,
    /// Every status code seen, by code (2xx included).
    pub statuses: BTreeMap<String, u64>,
    pub ops: BTreeMap<String, OpSnapshot>,
    /// The hottest target objects (last second's rate, then requests), busiest first; at
    /// most as many as the recorder tracks (64 by default): never one entry per object.
    pub objects: Vec<ObjectSnapshot>,
    /// Distinct objects touched so far (all of them, not only those listed).
    #[serde(default)]
    pub objects_total: u64,
    /// Share of all CPU cores the generator's own threads used since the start (0–100); an
    /// embedded runtime's threads are not counted.
    pub generator_cpu_pct: f64,
    /// The generator's threads' on-CPU + run-queue wait as a share of those threads (0–100).
    #[serde(default)]
    pub generator_busy_pct: f64,
    /// The generator's own evidence (send delay, busy threads) crossed its bound: the numbers
    /// show the generator's limit, not the target's (see `verdict::GeneratorVerdict`).
    pub generator_limited: bool,
    /// What the generator's evidence showed when it crossed a bound or a milder one.
    #[serde(default)]
    pub generator_note: Option<String>,
    /// The target's own stats (reference runtime only), merged in by whoever scrapes them
    /// (`server_stats::spawn_scraper`); the executor leaves it `None`.
    #[serde(default)]
    pub server: Option<crate::server_stats::ServerStats>,
    /// What one planned send is in rates: `None` = requests (`req/s`); `msg/s` for a
    /// WebSocket workload whose sends are messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_unit: Option<String>,
    /// Fan-out deliveries so far (frames that carried one of the run's sends to a member).
    #[serde(default)]
    pub deliveries: u64,
    /// Planned deliveries per second so far: offered sends/s × the source's fan-out.
    #[serde(default)]
    pub offered_deliveries_per_s: f64,
    /// Deliveries per second since the start, and over the last second.
    #[serde(default)]
    pub deliveries_per_s: f64,
    #[serde(default)]
    pub deliveries_per_s_last_s: f64,
    /// Delivery latency from the intended send of the message carried, whole run so far.
    #[serde(default)]
    pub delivery_latency_ms: Percentiles,
    /// Frames that arrived on a session but were no timed delivery (no stamp, error frames).
    #[serde(default)]
    pub frames_other: u64,
}

impl Snapshot {
    /// The unit of `offered_rps` / `achieved_rps`: `req/s` unless the run's sends are
    /// something else (`msg/s`).
    pub fn rate_unit(&self) -> &str {
        self.rate_unit.as_deref().unwrap_or("req/s")
    }
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
    /// Requests the object served (not refused as overloaded, no transport failure).
    #[serde(default)]
    pub served: u64,
    /// Highest 1-second rate of served requests (whole seconds).
    #[serde(default)]
    pub peak_served_rps: f64,
    /// Zero for an object outside the tracked (hottest) set.
    pub latency_ms: Percentiles,
}
