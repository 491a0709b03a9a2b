//! `RunSummary`: the one JSON object a run prints with `--json`, following DESIGN.md's
//! "Run summary JSON" section (those field names are a contract; fields may be added, never
//! renamed). Built from a finished `RunOutcome`; parts only workloads know (objects' ids,
//! hibernation, alarms, correctness, thresholds) are filled in by the caller.

use std::collections::{BTreeMap, HashMap};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

pub use crate::best::best_index;
use crate::executor::RunOutcome;
use crate::hist::Percentiles;
use crate::recorder::ErrorCounts;
use crate::snapshot::Snapshot;

/// Per-op line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub requests: u64,
    pub latency_ms: Percentiles,
}

/// Per-object line of the summary (hottest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectSummary {
    pub name: String,
    /// Target-side object id (filled in by a workload that knows it; empty otherwise).
    pub id: String,
    /// Average requests/s offered to the object (served or refused).
    pub rps: f64,
    /// Highest requests in one whole second (served or refused).
    pub peak_rps: f64,
    /// The peak per-second rate of *served* requests as a percentage of `ceiling_rps` (0
    /// without a ceiling). Refusals are not in it (they are in `errors.overloaded`).
    pub ceiling_pct: f64,
    /// Whole seconds in which the object served more than 90 % of the ceiling.
    pub secs_over_90pct: u64,
    pub requests: u64,
    /// Zero for an object outside the tracked (hottest) set: see `latency_kept`.
    pub latency_ms: Percentiles,
    // ---- additions ----
    /// Average served requests/s.
    #[serde(default)]
    pub served_rps: f64,
    /// Highest served requests in one whole second.
    #[serde(default)]
    pub peak_served_rps: f64,
    /// `served_rps` as a percentage of the ceiling: the average beside `ceiling_pct`.
    #[serde(default)]
    pub avg_ceiling_pct: f64,
    /// Whether `latency_ms` was kept for this object (the N with most requests are).
    #[serde(default)]
    pub latency_kept: bool,
    /// Mean virtual service time per turn on the target's ceiling clock, ms, when the target
    /// reports it (the reference runtime does); `ceiling_pct` is then the busy share of that
    /// clock. `None`: `ceiling_pct` is the pass-through equivalent (rate over the ceiling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ms_per_turn: Option<f64>,
    /// Storage rows the object's turns read and wrote, as the target counted them.
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub rows_written: u64,
}

/// What the target says one object's turns cost (the reference runtime's stats).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ObjectWork {
    /// Mean virtual service time per turn, ms (0: unknown).
    pub service_ms_per_turn: f64,
    pub rows_read: u64,
    pub rows_written: u64,
}

impl ObjectWork {
    /// The object's own ceiling in turns/s for the work it did: what keeps its service clock
    /// 100 % busy (`None` when the target reports no service time).
    pub fn turns_per_s(&self) -> Option<f64> {
        (self.service_ms_per_turn > 0.0).then(|| 1000.0 / self.service_ms_per_turn)
    }
}

/// How `ceiling_pct` was found.
pub const BASIS_SERVICE_TIME: &str = "busy share of the service clock";
/// See [`BASIS_SERVICE_TIME`].
pub const BASIS_PASS_THROUGH: &str = "pass-through equivalent";

/// At most this many objects are listed in a summary (hottest first); `objects_total` says
/// how many there were.
pub const SUMMARY_OBJECTS: usize = 1000;

/// WebSocket hibernation savings (filled in by the chat workload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HibernationSummary {
    pub active_ms: f64,
    pub hibernated_ms: f64,
    pub gb_s_billed: f64,
    pub gb_s_avoided: f64,
    pub usd_avoided: f64,
    pub saved_pct: f64,
    /// In memory with no work in flight (not billed: able to hibernate), ms. With
    /// `active_ms` and `hibernated_ms` it makes the observed time.
    #[serde(default)]
    pub idle_in_memory_ms: f64,
}

/// Alarm delivery (filled in by the alarm workload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSummary {
    pub scheduled: u64,
    pub fired: u64,
    pub retried: u64,
    pub missing: u64,
    pub lag_ms: LagMs,
}

/// Alarm lag percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Correctness verdict of a workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correctness {
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// One named check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Threshold verdicts (`passed` with no results when none were set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub passed: bool,
    pub results: Vec<ThresholdResult>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            passed: true,
            results: Vec::new(),
        }
    }
}

/// One threshold expression and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    /// In the metric's own unit (a ratio as a fraction, a percentage as 0–100, ms ...).
    pub actual: f64,
    pub passed: bool,
    /// `actual` as a person reads it, in the threshold's unit (`0.4744` → `47.440 %`).
    #[serde(default)]
    pub shown: String,
}

/// The run summary (see DESIGN.md). `None` parts marked `skip` are omitted from the JSON
/// (what `dobench http` leaves out); `hibernation` and `alarms` print as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub dobench_version: String,
    pub run_id: String,
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// `"embedded"` or the target URL.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    pub duration_s: f64,
    pub offered_rps: f64,
    pub achieved_rps: f64,
    /// Completed requests (any outcome).
    pub requests: u64,
    pub missed: u64,
    pub latency_ms: Percentiles,
    pub ops: BTreeMap<String, OpSummary>,
    pub errors: ErrorCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ObjectSummary>>,
    /// Distinct objects the run touched (the list holds at most [`SUMMARY_OBJECTS`]).
    #[serde(default)]
    pub objects_total: u64,
    pub hibernation: Option<HibernationSummary>,
    pub alarms: Option<AlarmSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correctness: Option<Correctness>,
    pub thresholds: Thresholds,
    // ---- additions (not in the DESIGN contract, free to grow) ----
    /// Requests actually sent.
    pub sent: u64,
    /// Requests planned (open model).
    pub planned: Option<u64>,
    /// Service time (response − actual send).
    pub service_ms: Percentiles,
    /// The generator's own send delay (actual send − the later of intended send and a free
    /// connection); never the wait for a connection.
    pub lateness_ms: Percentiles,
    /// Sends that waited for a free connection past their intended time.
    #[serde(default)]
    pub queued: u64,
    /// How long those sends waited (their latency includes it).
    #[serde(default)]
    pub queue_wait_ms: Percentiles,
    /// Requests that had to bring their object into memory (as the target marked them),
    /// their latency, and the latency of the rest; together they make `latency_ms`.
    #[serde(default)]
    pub cold_starts: u64,
    #[serde(default)]
    pub cold_start_latency_ms: Percentiles,
    #[serde(default)]
    pub warm_latency_ms: Percentiles,
    /// Every status code seen (2xx too).
    pub statuses: BTreeMap<String, u64>,
    /// Share of all cores the generator's own threads used (an embedded runtime excluded).
    pub generator_cpu_pct: f64,
    /// The generator's threads' on-CPU + run-queue wait, share of those threads.
    #[serde(default)]
    pub generator_busy_pct: f64,
    /// The generator, not the target, limited this run: true only when the generator's own
    /// evidence (send delay, busy threads) crossed its stated bound.
    pub generator_limited: bool,
    /// A milder sign from the generator's evidence, or why it was called limited.
    #[serde(default)]
    pub generator_note: Option<String>,
    /// The target at its limit (an object at or near its ceiling, sends queued for
    /// connections): the finding, in words. Set by run assembly, which knows the ceiling.
    #[serde(default)]
    pub target_note: Option<String>,
    /// Stopped by cancellation or its hard time bound before the plan finished.
    pub stopped_early: bool,
    /// Logical reads fanned out over this many objects (1 = none; `random:N` reads N).
    #[serde(default = "one")]
    pub read_fan_in: u64,
    /// What the workload or the command wants said beside the figures (e.g. chat's messages
    /// and deliveries, `http`'s load model).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Why the run fails whatever its thresholds say (too many missed sends, the embedded
    /// runtime's own 5xx answers ...). Empty for a run that stands; set by run assembly.
    #[serde(default)]
    pub failures: Vec<String>,
    /// Start of the schedule, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// The unit of `offered_rps` / `achieved_rps`: `None` = requests (`req/s`); `msg/s`
    /// when the sends are WebSocket messages (chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_unit: Option<String>,
    /// Fan-out deliveries (frames that carried one of the run's messages to a member); not
    /// requests, with their own rates and latency.
    #[serde(default)]
    pub deliveries: u64,
    /// Planned deliveries per second: `offered_rps` × the members each message reaches.
    #[serde(default)]
    pub offered_deliveries_per_s: f64,
    /// Deliveries per second over `duration_s`.
    #[serde(default)]
    pub achieved_deliveries_per_s: f64,
    /// Delivery latency from the intended send of the message carried.
    #[serde(default)]
    pub delivery_latency_ms: Percentiles,
    /// Frames that arrived on a session but were no timed delivery.
    #[serde(default)]
    pub frames_other: u64,
    /// How the objects' `ceiling_pct` was found: [`BASIS_SERVICE_TIME`] when the target
    /// reported each object's service time per turn, [`BASIS_PASS_THROUGH`] otherwise
    /// (`None` without a ceiling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_basis: Option<String>,
    /// What the run's own usage of the target costs at the published rates (a target that
    /// reports its usage only; see `dobench cost` for a month at scale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<RunBill>,
    /// A run merged from the parts of a split run (`dobench merge`): which segments it holds,
    /// which are missing, and the parts' clocks. `None` for a run made in one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<Distributed>,
}

/// How a merged run was put together from its parts (see `part.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distributed {
    /// Segments the schedule was cut into.
    pub segments: u32,
    /// Segments whose parts were merged, in order.
    pub merged: Vec<u32>,
    /// Segments with no part: their planned sends are not in any figure of the run.
    pub missing: Vec<u32>,
    /// Every segment is present. An incomplete run is never reported as complete.
    pub complete: bool,
    /// The shared start instant, ms since the Unix epoch.
    pub start_at_ms: u64,
    /// Spread (max − min) of the parts' clock offsets from the target's clock, ms: how far
    /// apart the generators' clocks were. `None` when fewer than two parts measured theirs.
    pub clock_skew_ms: Option<f64>,
    /// Uncertainty of `clock_skew_ms` (the sum of the two extreme parts' measurement errors).
    pub clock_skew_error_ms: Option<f64>,
    /// One line per merged part.
    pub parts: Vec<PartLine>,
}

/// One part of a merged run as it reported itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartLine {
    pub segment: u32,
    /// The machine (host name) that ran it.
    pub host: String,
    pub requests: u64,
    pub missed: u64,
    /// Its requests per second over the merged run's duration.
    pub achieved_rps: f64,
    /// How far past the shared start instant its generator was ready to send, ms (0: on time).
    pub started_late_ms: f64,
    /// Its clock minus the target's clock, ms (from the target's `Date` header); `None`
    /// when it could not be measured.
    pub clock_offset_ms: Option<f64>,
    /// ± this many ms.
    pub clock_offset_error_ms: Option<f64>,
    /// Its own generator was the limit (its evidence alone).
    pub generator_limited: bool,
}

/// The run's usage of the target priced at the published Durable Objects rates, with no
/// monthly allowance taken off: each line is quantity × rate. Refused requests are not in
/// `billable_requests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunBill {
    pub plan: String,
    /// The date the rates were read from the published pricing page.
    pub rates_as_of: String,
    /// HTTP requests served (refusals excluded), alarm runs, and incoming WebSocket
    /// messages ÷ 20, during the run.
    pub billable_requests: f64,
    pub requests_usd: f64,
    /// Billed duration, GB-s (active time × 128 MB).
    pub gb_s: f64,
    pub duration_usd: f64,
    pub rows_read: u64,
    pub rows_read_usd: f64,
    pub rows_written: u64,
    pub rows_written_usd: f64,
    /// Bytes stored by every object at the end of the run.
    pub stored_bytes: u64,
    /// What keeping `stored_bytes` costs for a month.
    pub stored_usd_per_month: f64,
    /// requests + duration + rows read + rows written (storage is per month, apart).
    pub total_usd: f64,
}

/// Labels of a run that the executor does not know.
#[derive(Debug, Clone, Default)]
pub struct SummaryMeta {
    pub profile: String,
    pub workload: Option<String>,
    pub target: String,
    pub strategy: Option<String>,
    /// Per-object ceiling (req/s) for `ceiling_pct` and `secs_over_90pct`.
    pub ceiling_rps: Option<f64>,
    /// What the target says each object's turns cost, by object name (empty: a target that
    /// reports no service time; `ceiling_pct` is then the pass-through equivalent).
    pub work: HashMap<String, ObjectWork>,
}

impl RunSummary {
    /// A summary from a snapshot alone: what a run that never finished can still say (the
    /// store rebuilds incomplete runs with it). Per-op and per-object figures are the
    /// snapshot's; `secs_over_90pct` needs per-second counts and stays 0.
    pub fn from_snapshot(s: &Snapshot, meta: SummaryMeta, started_at_ms: u64) -> Self {
        let ceiling = meta.ceiling_rps.filter(|c| *c > 0.0);
        let objects = (!s.objects.is_empty()).then(|| {
            let mut v: Vec<ObjectSummary> = s
                .objects
                .iter()
                .map(|o| {
                    let served_rps = if s.elapsed_s > 0.0 {
                        o.served as f64 / s.elapsed_s
                    } else {
                        0.0
                    };
                    ObjectSummary {
                        name: o.name.clone(),
                        id: String::new(),
                        rps: o.rps,
                        peak_rps: o.peak_rps,
                        ceiling_pct: ceiling.map_or(0.0, |c| o.peak_served_rps / c * 100.0),
                        secs_over_90pct: 0,
                        requests: o.requests,
                        latency_ms: o.latency_ms,
                        served_rps,
                        peak_served_rps: o.peak_served_rps,
                        avg_ceiling_pct: ceiling.map_or(0.0, |c| served_rps / c * 100.0),
                        latency_kept: o.latency_ms != Percentiles::default(),
                        service_ms_per_turn: None,
                        rows_read: 0,
                        rows_written: 0,
                    }
                })
                .collect();
            sort_hottest_first(&mut v);
            v
        });
        let ops = s
            .ops
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    OpSummary {
                        requests: o.requests,
                        latency_ms: o.latency_ms,
                    },
                )
            })
            .collect();
        RunSummary {
            dobench_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: new_run_id(started_at_ms),
            profile: meta.profile,
            workload: meta.workload,
            target: meta.target,
            strategy: meta.strategy,
            duration_s: s.elapsed_s,
            offered_rps: s.offered_rps,
            achieved_rps: s.achieved_rps,
            requests: s.requests,
            missed: s.missed,
            latency_ms: s.latency_ms,
            ops,
            errors: s.errors.clone(),
            ceiling_rps: meta.ceiling_rps,
            objects,
            objects_total: s.objects_total,
            hibernation: None,
            alarms: None,
            correctness: None,
            thresholds: Thresholds::default(),
            sent: s.sent,
            planned: s.planned,
            service_ms: s.service_ms,
            lateness_ms: s.lateness_ms,
            queued: s.queued,
            queue_wait_ms: s.queue_wait_ms,
            cold_starts: s.cold_starts,
            cold_start_latency_ms: s.cold_start_latency_ms,
            warm_latency_ms: s.warm_latency_ms,
            statuses: s.statuses.clone(),
            generator_cpu_pct: s.generator_cpu_pct,
            generator_busy_pct: s.generator_busy_pct,
            generator_limited: s.generator_limited,
            generator_note: s.generator_note.clone(),
            target_note: None,
            stopped_early: !s.done,
            failures: Vec::new(),
            read_fan_in: 1,
            notes: Vec::new(),
            started_at_ms,
            rate_unit: s.rate_unit.clone(),
            deliveries: s.deliveries,
            offered_deliveries_per_s: s.offered_deliveries_per_s,
            achieved_deliveries_per_s: s.deliveries_per_s,
            delivery_latency_ms: s.delivery_latency_ms,
            frames_other: s.frames_other,
            ceiling_basis: None,
            bill: None,
            distributed: None,
        }
        .with_target_note()
    }

    fn with_target_note(mut self) -> Self {
        self.target_note = self.target_finding();
        self
    }

    /// Builds the summary of a finished run: the final snapshot's figures, with duration,
    /// rates, per-op and per-object numbers made exact from the run's aggregate.
    pub fn from_outcome(outcome: &RunOutcome, mut meta: SummaryMeta) -> Self {
        let total = &outcome.aggregate.total;
        let duration_s = outcome.elapsed.as_secs_f64();
        let started_at_ms = outcome
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let ceiling = meta.ceiling_rps.filter(|c| *c > 0.0);
        let work = std::mem::take(&mut meta.work);
        let mut summary = Self::from_snapshot(&outcome.snapshot, meta, started_at_ms);
        summary.ceiling_basis = ceiling.map(|_| {
            if work.is_empty() {
                BASIS_PASS_THROUGH
            } else {
                BASIS_SERVICE_TIME
            }
            .to_string()
        });
        let per_s = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        summary.duration_s = duration_s;
        summary.offered_rps = outcome.offered_rps;
        summary.achieved_rps = per_s(outcome.snapshot.requests);
        summary.offered_deliveries_per_s = outcome.offered_rps * outcome.fan_out;
        summary.achieved_deliveries_per_s = per_s(total.deliveries);
        summary.deliveries = total.deliveries;
        summary.delivery_latency_ms = Percentiles::of(&total.delivery_latency);
        summary.stopped_early = outcome.stopped_early;
        summary.ops = total
            .ops
            .iter()
            .map(|(k, st)| {
                (
                    k.to_string(),
                    OpSummary {
                        requests: st.requests,
                        latency_ms: Percentiles::of(&st.latency),
                    },
                )
            })
            .collect();
        let agg = &outcome.aggregate;
        summary.objects_total = agg.objects.len() as u64;
        summary.objects = (!agg.objects.is_empty()).then(|| {
            // The hottest SUMMARY_OBJECTS by requests, found without sorting them all.
            let mut hot: Vec<(&std::sync::Arc<str>, &crate::aggregate::ObjectTally)> =
                agg.objects.iter().collect();
            let by_requests =
                |a: &(&std::sync::Arc<str>, &crate::aggregate::ObjectTally),
                 b: &(&std::sync::Arc<str>, &crate::aggregate::ObjectTally)| {
                    b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(b.0))
                };
            if hot.len() > SUMMARY_OBJECTS {
                hot.select_nth_unstable_by(SUMMARY_OBJECTS - 1, by_requests);
                hot.truncate(SUMMARY_OBJECTS);
            }
            let mut v: Vec<ObjectSummary> = hot
                .into_iter()
                .map(|(k, t)| {
                    let served_rps = per_s(t.served);
                    let work = work.get(&**k).copied().unwrap_or_default();
                    // The object's ceiling for the work it did (busy share of its service
                    // clock), or the pass-through ceiling when the target reports no time.
                    let own = ceiling.map(|c| work.turns_per_s().unwrap_or(c));
                    let (ceiling_pct, secs_over_90pct, avg_ceiling_pct) = match own {
                        Some(c) => (
                            f64::from(t.peak_served) / c * 100.0,
                            t.seconds_serving_over(0.9 * c),
                            served_rps / c * 100.0,
                        ),
                        None => (0.0, 0, 0.0),
                    };
                    let latency = agg.object_latency.get(k);
                    ObjectSummary {
                        name: k.to_string(),
                        id: String::new(),
                        rps: per_s(t.requests),
                        peak_rps: f64::from(t.peak_requests),
                        ceiling_pct,
                        secs_over_90pct,
                        requests: t.requests,
                        latency_ms: latency.map_or_else(Percentiles::default, Percentiles::of),
                        served_rps,
                        peak_served_rps: f64::from(t.peak_served),
                        avg_ceiling_pct,
                        latency_kept: latency.is_some(),
                        service_ms_per_turn: (work.service_ms_per_turn > 0.0)
                            .then_some(work.service_ms_per_turn),
                        rows_read: work.rows_read,
                        rows_written: work.rows_written,
                    }
                })
                .collect();
            sort_hottest_first(&mut v);
            v
        });
        summary.with_target_note()
    }
}

fn one() -> u64 {
    1
}

fn sort_hottest_first(v: &mut [ObjectSummary]) {
    v.sort_by(|a, b| b.rps.total_cmp(&a.rps).then_with(|| a.name.cmp(&b.name)));
}

/// A run id: start time in ms (hex) and 32 random bits, e.g. `19a3c2f01b2-5e1f00aa`.
pub fn new_run_id(started_at_ms: u64) -> String {
    format!("{started_at_ms:x}-{:08x}", rand::random::<u32>())
}

/// A target object at or above this share of its ceiling (peak second, %) is at its limit.
pub const AT_LIMIT_CEILING_PCT: f64 = 90.0;
/// Sends queued for a connection above this share of requests mean the target could not keep
/// up with the offered rate over the connections given.
pub const AT_LIMIT_QUEUED_SHARE: f64 = 0.01;

impl RunSummary {
    /// The target's own limit, in words, when the run shows it: its hottest object at or near
    /// the ceiling, sends that queued for a connection, overload refusals. `None` when the
    /// target kept up. Evidence about the target only; the generator's is `generator_note`.
    pub fn target_finding(&self) -> Option<String> {
        let queued = if self.queued > 0 {
            format!(
                "{} sends queued for a connection (wait p99 {:.1} ms)",
                self.queued, self.queue_wait_ms.p99
            )
        } else {
            "no sends queued".to_string()
        };
        let refused = if self.errors.overloaded > 0 {
            format!(", {} refused as overloaded", self.errors.overloaded)
        } else {
            String::new()
        };
        let hottest = self.objects.as_ref().and_then(|v| {
            v.iter()
                .max_by(|a, b| a.ceiling_pct.total_cmp(&b.ceiling_pct))
        });
        if let (Some(o), Some(c)) = (hottest, self.ceiling_rps.filter(|c| *c > 0.0)) {
            if o.ceiling_pct >= AT_LIMIT_CEILING_PCT {
                let of = match o.service_ms_per_turn {
                    Some(ms) if ms > 0.0 => format!(
                        "{:.0} turns/s at {ms:.2} ms of service per turn; pass-through {c:.0}/s",
                        1000.0 / ms
                    ),
                    _ => format!("{c:.0}/s"),
                };
                return Some(format!(
                    "the target is at its limit: object {} at {:.0} % of the ceiling (peak {:.0}/s of {of}), {queued}{refused}",
                    o.name,
                    o.ceiling_pct,
                    o.peak_served_rps
                ));
            }
            // Refusals with the hottest object below the base rate: its turns cost more than a
            // pass-through one (the ceiling follows the work), so it saturates earlier.
            if self.errors.overloaded > 0 {
                return Some(format!(
                    "the target is at its limit: object {} refused work as overloaded at {:.0} % of the ceiling's pass-through rate (peak {:.0}/s of {c:.0}/s: turns doing more than pass-through work cost more), {queued}{refused}",
                    o.name,
                    o.ceiling_pct,
                    o.peak_served_rps
                ));
            }
        }
        let queued_share = self.queued as f64 / self.requests.max(1) as f64;
        if queued_share > AT_LIMIT_QUEUED_SHARE || self.errors.overloaded > 0 {
            return Some(format!(
                "the target is at its limit: it answered slower than the offered rate needs over the connections given; {queued}{refused}"
            ));
        }
        None
    }
}

impl RunSummary {
    /// The unit of `offered_rps` / `achieved_rps` (`req/s` unless the sends are messages).
    pub fn rate_unit(&self) -> &str {
        self.rate_unit.as_deref().unwrap_or("req/s")
    }

    /// The run stands: it finished, correctness and thresholds passed, nothing failed it.
    pub fn passed(&self) -> bool {
        !self.stopped_early
            && self.thresholds.passed
            && self.correctness.as_ref().is_none_or(|c| c.passed)
            && self.failures.is_empty()
    }

    /// Objects the run used (`objects_total`, or the listed ones for a summary that predates
    /// that field).
    pub fn objects_used(&self) -> u64 {
        if self.objects_total > 0 {
            self.objects_total
        } else {
            self.objects.as_ref().map_or(0, |v| v.len() as u64)
        }
    }

    /// The hottest object's `ceiling_pct` (0 when there are no objects or no ceiling).
    pub fn hottest_ceiling_pct(&self) -> f64 {
        self.objects
            .as_ref()
            .map_or(0.0, |v| v.iter().map(|o| o.ceiling_pct).fold(0.0, f64::max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> RunSummary {
        RunSummary::from_snapshot(&Snapshot::default(), SummaryMeta::default(), 0)
    }

    #[test]
    fn a_saturated_object_is_the_targets_limit() {
        let mut s = summary();
        assert_eq!(s.target_finding(), None);
        s.ceiling_rps = Some(1000.0);
        s.requests = 10_000;
        s.queued = 4_900;
        s.queue_wait_ms.p99 = 812.0;
        s.objects = Some(vec![ObjectSummary {
            name: "x".into(),
            id: String::new(),
            rps: 1000.0,
            peak_rps: 1003.0,
            ceiling_pct: 100.3,
            peak_served_rps: 1003.0,
            secs_over_90pct: 5,
            requests: 10_000,
            ..ObjectSummary::default()
        }]);
        let f = s.target_finding().unwrap();
        assert!(
            f.starts_with("the target is at its limit: object x at 100 % of the ceiling"),
            "{f}"
        );
        assert!(f.contains("4900 sends queued"), "{f}");
    }

    #[test]
    fn queueing_without_objects_is_still_the_targets_limit() {
        let mut s = summary();
        s.requests = 1000;
        s.queued = 5;
        assert_eq!(s.target_finding(), None, "0.5 % queued is noise");
        s.queued = 200;
        assert!(s.target_finding().unwrap().contains("200 sends queued"));
    }
}
