//! The run-wide tally the executor folds each tick's merged shards into: cumulative
//! `Recorder`, a sliding last-second window, 1-second interval histograms and per-object
//! per-second counts; it renders `Snapshot`s. Single owner (the executor's collector task),
//! so no locks; never touches workers or the network.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::hist::{new_histogram, to_v2, Percentiles};
use crate::recorder::Recorder;
use crate::snapshot::{ObjectSnapshot, OpSnapshot, Snapshot};

/// One second of the run (a time-series point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalStats {
    /// Second index from the start (0 = [0 s, 1 s)).
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Percentiles,
    /// That second's latency histogram, HdrHistogram V2 (mergeable across machines).
    #[serde(with = "serde_bytes_as_vec")]
    pub latency_v2: Vec<u8>,
}

mod serde_bytes_as_vec {
    //! Plain `Vec<u8>` serde (keeps the field's intent visible at the use site).
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Vec::<u8>::deserialize(d)
    }
}

/// What the executor knows that the recorders do not.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live {
    pub elapsed: Duration,
    pub planned: Duration,
    pub planned_requests: Option<u64>,
    pub offered_so_far: u64,
    pub sent: u64,
    pub missed: u64,
    pub in_flight: u64,
    /// The generator's threads' on-CPU time, share of all cores (0–100).
    pub cpu_pct: f64,
    /// The generator's threads' on-CPU + run-queue wait, share of those threads (0–100).
    pub busy_pct: f64,
    pub done: bool,
}

struct TickDelta {
    start_s: f64,
    requests: u64,
    errors: u64,
    latency: Histogram<u64>,
    objects: HashMap<Arc<str>, u64>,
}

/// Cumulative state of one run.
pub struct Aggregate {
    pub total: Recorder,
    pub intervals: Vec<IntervalStats>,
    /// Completed requests per object per whole second (index = second).
    pub object_seconds: HashMap<Arc<str>, Vec<u64>>,
    window: VecDeque<TickDelta>,
    last_push_s: f64,
    second: u64,
    second_requests: u64,
    second_errors: u64,
    second_latency: Histogram<u64>,
    second_objects: HashMap<Arc<str>, u64>,
    peaks: HashMap<Arc<str>, f64>,
}

impl Default for Aggregate {
    fn default() -> Self {
        Self::new()
    }
}

impl Aggregate {
    pub fn new() -> Self {
        Aggregate {
            total: Recorder::new(),
            intervals: Vec::new(),
            object_seconds: HashMap::new(),
            window: VecDeque::new(),
            last_push_s: 0.0,
            second: 0,
            second_requests: 0,
            second_errors: 0,
            second_latency: new_histogram(),
            second_objects: HashMap::new(),
            peaks: HashMap::new(),
        }
    }

    /// Folds in everything completed since the previous push; `elapsed` is now. The delta
    /// is attributed to the second in which its tick began.
    pub fn push(&mut self, delta: &Recorder, elapsed: Duration) {
        let now_s = elapsed.as_secs_f64();
        let start_s = self.last_push_s;
        self.last_push_s = now_s;
        let sec = start_s.max(0.0).floor() as u64;
        while self.second < sec {
            self.close_second();
        }
        self.total.add(delta);
        self.second_requests += delta.requests;
        self.second_errors += delta.errors.total;
        let _ = self.second_latency.add(&delta.latency);
        let mut objects = HashMap::new();
        for (k, st) in delta.objects.iter().filter(|(_, st)| st.requests > 0) {
            *self.second_objects.entry(k.clone()).or_default() += st.requests;
            objects.insert(k.clone(), st.requests);
        }
        // Drop ticks older than one second, reusing a dropped slot's histogram.
        let mut reuse = None;
        while self
            .window
            .front()
            .is_some_and(|d| d.start_s < now_s - 1.0 - 1e-6)
        {
            reuse = self.window.pop_front().map(|d| d.latency);
        }
        let mut latency = reuse.unwrap_or_else(new_histogram);
        latency.reset();
        let _ = latency.add(&delta.latency);
        self.window.push_back(TickDelta {
            start_s,
            requests: delta.requests,
            errors: delta.errors.total,
            latency,
            objects,
        });
    }

    fn close_second(&mut self) {
        for (k, n) in self.second_objects.drain() {
            let v = self.object_seconds.entry(k.clone()).or_default();
            v.resize(self.second as usize, 0);
            v.push(n);
            let peak = self.peaks.entry(k).or_default();
            *peak = peak.max(n as f64);
        }
        self.intervals.push(IntervalStats {
            second: self.second,
            requests: self.second_requests,
            errors: self.second_errors,
            latency_ms: Percentiles::of(&self.second_latency),
            latency_v2: to_v2(&self.second_latency).unwrap_or_default(),
        });
        self.second_requests = 0;
        self.second_errors = 0;
        self.second_latency.reset();
        self.second += 1;
    }

    /// Closes the last (possibly partial) second; call once after the final push.
    pub fn finish(&mut self) {
        if self.second_requests > 0 || !self.second_objects.is_empty() {
            self.close_second();
        }
        for v in self.object_seconds.values_mut() {
            v.resize(self.second as usize, 0);
        }
    }

    /// Renders the current state.
    pub fn snapshot(&self, live: &Live) -> Snapshot {
        let elapsed_s = live.elapsed.as_secs_f64();
        let per_s = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        let span = self
            .window
            .front()
            .map_or(0.0, |d| (self.last_push_s - d.start_s).clamp(0.0, 1.0));
        let per_span = |n: u64| if span > 0.0 { n as f64 / span } else { 0.0 };
        let mut last = new_histogram();
        let (mut last_req, mut last_err) = (0, 0);
        let mut last_obj: HashMap<&Arc<str>, u64> = HashMap::new();
        for d in &self.window {
            let _ = last.add(&d.latency);
            last_req += d.requests;
            last_err += d.errors;
            for (k, n) in &d.objects {
                *last_obj.entry(k).or_default() += n;
            }
        }
        let t = &self.total;
        let ops = t
            .ops
            .iter()
            .map(|(k, st)| {
                (
                    k.to_string(),
                    OpSnapshot {
                        requests: st.requests,
                        errors: st.errors,
                        latency_ms: Percentiles::of(&st.latency),
                    },
                )
            })
            .collect();
        let mut objects: Vec<ObjectSnapshot> = t
            .objects
            .iter()
            .map(|(k, st)| {
                let rps_last_s = per_span(last_obj.get(k).copied().unwrap_or(0));
                let full_window = span >= 0.999;
                let peak = self.peaks.get(k).copied().unwrap_or(0.0);
                ObjectSnapshot {
                    name: k.to_string(),
                    requests: st.requests,
                    errors: st.errors,
                    rps: per_s(st.requests),
                    rps_last_s,
                    peak_rps: if full_window {
                        peak.max(rps_last_s)
                    } else {
                        peak
                    },
                    latency_ms: Percentiles::of(&st.latency),
                }
            })
            .collect();
        objects.sort_by(|a, b| {
            b.rps_last_s
                .total_cmp(&a.rps_last_s)
                .then(b.requests.cmp(&a.requests))
        });
        let lateness_ms = Percentiles::of(&t.lateness);
        let verdict = GeneratorVerdict::of(&lateness_ms, live.busy_pct, t.requests);
        Snapshot {
            elapsed_s,
            planned_s: live.planned.as_secs_f64(),
            done: live.done,
            offered_rps: per_s(live.offered_so_far),
            achieved_rps: per_s(t.requests),
            achieved_rps_last_s: per_span(last_req),
            planned: live.planned_requests,
            sent: live.sent,
            requests: t.requests,
            missed: live.missed,
            in_flight: live.in_flight,
            latency_ms: Percentiles::of(&t.latency),
            latency_ms_last_s: Percentiles::of(&last),
            service_ms: Percentiles::of(&t.service),
            lateness_ms,
            queued: t.queued,
            queue_wait_ms: Percentiles::of(&t.queue_wait),
            errors: t.errors.clone(),
            errors_last_s: last_err,
            statuses: t
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ops,
            objects,
            generator_cpu_pct: live.cpu_pct,
            generator_busy_pct: live.busy_pct,
            generator_limited: verdict.limited,
            generator_note: verdict.note,
            server: None,
        }
    }
}

/// The generator's own send delay (p99, ms) above which it is called the run's limit.
pub const LIMITED_LATE_P99_MS: f64 = 10.0;
/// The generator's threads' busy share (on-CPU + run-queue wait, %) at or above which the
/// generator is called the run's limit: its threads always had work and never caught up.
pub const LIMITED_BUSY_PCT: f64 = 90.0;
/// Milder signs, reported as a note only.
pub const NOTE_LATE_P99_MS: f64 = 1.0;
/// See [`NOTE_LATE_P99_MS`].
pub const NOTE_BUSY_PCT: f64 = 60.0;
/// Fewer completed requests than this say nothing about the generator either way.
const MIN_REQUESTS: u64 = 50;

/// Whether the generator, not the target, set a run's numbers; evidence about the generator
/// only (its own send delay, its own threads), never the target's queueing.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorVerdict {
    /// The evidence crossed [`LIMITED_LATE_P99_MS`] or [`LIMITED_BUSY_PCT`].
    pub limited: bool,
    /// What was seen, when it crossed a bound or a milder one.
    pub note: Option<String>,
}

impl GeneratorVerdict {
    /// The verdict on a run's (or a run so far's) lateness and busy share.
    pub fn of(lateness: &Percentiles, busy_pct: f64, requests: u64) -> Self {
        let late = lateness.p99;
        let limited = requests >= MIN_REQUESTS
            && (late > LIMITED_LATE_P99_MS || busy_pct >= LIMITED_BUSY_PCT);
        let mild =
            requests >= MIN_REQUESTS && (late > NOTE_LATE_P99_MS || busy_pct >= NOTE_BUSY_PCT);
        let note = (limited || mild).then(|| {
            let evidence = format!(
                "the generator's own send delay p99 {late:.2} ms, its threads busy {busy_pct:.0} %"
            );
            if limited {
                format!(
                    "generator-limited ({evidence}; bounds {LIMITED_LATE_P99_MS} ms, {LIMITED_BUSY_PCT} %): these numbers show dobench's limit"
                )
            } else {
                format!("the generator showed some strain ({evidence}); figures still stand")
            }
        });
        GeneratorVerdict { limited, note }
    }
}
