//! The run-wide tally the executor folds each tick's merged shards into: cumulative
//! `Recorder`, a sliding last-second window, 1-second interval histograms, and per-object
//! books that scale to millions of objects: exact counts, rate and per-second peaks for
//! every object ([`ObjectTally`]), latency histograms only for the N with most requests
//! (default 64). It renders `Snapshot`s listing the hottest objects only. Single owner (the
//! executor's collector task), so no locks; never touches workers or the network, and never
//! walks every object on a tick.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::hist::{new_histogram, to_v2, Percentiles};
use crate::object_map::ObjectMap;
use crate::recorder::{Recorder, Tracking};
use crate::snapshot::{ObjectSnapshot, OpSnapshot, Snapshot};
use crate::verdict::{Evidence, GeneratorVerdict};

/// One second of the run (a time-series point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalStats {
    /// Second index from the start (0 = [0 s, 1 s)).
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Percentiles,
    /// Fan-out deliveries that arrived in that second, and their latency from the intended
    /// send (WebSocket workloads; 0 otherwise).
    #[serde(default)]
    pub deliveries: u64,
    #[serde(default)]
    pub delivery_latency_ms: Percentiles,
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
    /// Deliveries each send is expected to make (0: plain requests).
    pub fan_out: f64,
    /// What a planned send is called in rates (`req/s`, `msg/s`; empty = `req/s`).
    pub rate_unit: &'static str,
}

struct TickDelta {
    start_s: f64,
    requests: u64,
    deliveries: u64,
    errors: u64,
    latency: Histogram<u64>,
    objects: HashMap<Arc<str>, u64>,
}

/// Objects given latency histograms by default (the hottest by requests).
pub const DEFAULT_TRACKED_OBJECTS: usize = 64;

/// Everything a run keeps about one object: exact counts, and per-second counts of the
/// seconds it was touched in (sparse: an object touched once costs one entry, whatever the
/// run's length). A few dozen bytes plus 12 per second touched; no histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectTally {
    pub requests: u64,
    pub errors: u64,
    /// Requests the object served (not refused as overloaded, no transport failure).
    pub served: u64,
    /// Highest requests in one whole second.
    pub peak_requests: u32,
    /// Highest served requests in one whole second (what `ceiling_pct` is made of).
    pub peak_served: u32,
    /// (second, requests, served) of every second with requests, in order.
    pub seconds: Vec<(u32, u32, u32)>,
}

impl ObjectTally {
    /// Seconds in which the object served more than `rps`.
    pub fn seconds_serving_over(&self, rps: f64) -> u64 {
        self.seconds.iter().filter(|s| f64::from(s.2) > rps).count() as u64
    }
}

/// Cumulative state of one run.
pub struct Aggregate {
    /// Run-wide histograms and counts. Its `objects`/`object_latency` maps stay empty: the
    /// per-object books are `objects` and `object_latency` below.
    pub total: Recorder,
    pub intervals: Vec<IntervalStats>,
    /// Every object's exact counts and per-second series.
    pub objects: ObjectMap<ObjectTally>,
    /// Latency of the tracked (hottest by requests) objects only.
    pub object_latency: HashMap<Arc<str>, Histogram<u64>>,
    /// How many objects keep a latency histogram.
    tracked: usize,
    /// The tracked objects, as handed to recorders (see [`Aggregate::tracking`]).
    hot: Arc<HashSet<Arc<str>>>,
    window: VecDeque<TickDelta>,
    last_push_s: f64,
    second: u64,
    second_requests: u64,
    second_errors: u64,
    second_latency: Histogram<u64>,
    second_deliveries: u64,
    second_delivery_latency: Histogram<u64>,
    /// This second's (requests, served) per object.
    second_objects: ObjectMap<(u64, u64)>,
}

impl Default for Aggregate {
    fn default() -> Self {
        Self::new()
    }
}

impl Aggregate {
    /// An empty tally keeping latency for the [`DEFAULT_TRACKED_OBJECTS`] hottest objects.
    pub fn new() -> Self {
        Self::tracking_objects(DEFAULT_TRACKED_OBJECTS)
    }

    /// An empty tally keeping latency histograms for the `n` objects with most requests.
    pub fn tracking_objects(n: usize) -> Self {
        Aggregate {
            total: Recorder::new(),
            intervals: Vec::new(),
            objects: ObjectMap::default(),
            object_latency: HashMap::new(),
            tracked: n,
            hot: Arc::new(HashSet::new()),
            window: VecDeque::new(),
            last_push_s: 0.0,
            second: 0,
            second_requests: 0,
            second_errors: 0,
            second_latency: new_histogram(),
            second_deliveries: 0,
            second_delivery_latency: new_histogram(),
            second_objects: ObjectMap::default(),
        }
    }

    /// A finished tally put together from books kept elsewhere (the parts of a split run,
    /// merged): run-wide `total`, the per-second `intervals`, every object's tally and the
    /// latency of the objects that kept one (those become the tracked set). Nothing more can
    /// be pushed into it meaningfully; it is for summaries and the store.
    pub fn assembled(
        total: Recorder,
        intervals: Vec<IntervalStats>,
        objects: ObjectMap<ObjectTally>,
        object_latency: HashMap<Arc<str>, Histogram<u64>>,
    ) -> Self {
        let mut agg = Self::tracking_objects(object_latency.len());
        agg.hot = Arc::new(object_latency.keys().cloned().collect());
        agg.second = intervals.last().map_or(0, |i| i.second + 1);
        agg.total = total;
        agg.intervals = intervals;
        agg.objects = objects;
        agg.object_latency = object_latency;
        agg
    }

    /// What a shard recorder should keep object latency for until the next tick: the
    /// tracked objects, and as many newcomers as there are free tracking slots.
    pub fn tracking(&self) -> Tracking {
        Tracking::Only {
            hot: self.hot.clone(),
            newcomers: self.tracked.saturating_sub(self.hot.len()),
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
        self.total.add_run_wide(delta);
        self.second_requests += delta.requests;
        self.second_errors += delta.errors.total;
        let _ = self.second_latency.add(&delta.latency);
        self.second_deliveries += delta.deliveries;
        let _ = self.second_delivery_latency.add(&delta.delivery_latency);
        let mut objects = HashMap::with_capacity(delta.objects.len());
        let mut changed = Vec::new();
        for (k, c) in delta.objects.iter().filter(|(_, c)| c.requests > 0) {
            let s = self.second_objects.get_or_default(k);
            s.0 += c.requests;
            s.1 += c.served;
            objects.insert(k.clone(), c.requests);
            let t = self.objects.get_or_default(k);
            t.requests += c.requests;
            t.errors += c.errors;
            t.served += c.served;
            changed.push(k);
        }
        self.update_hot(&changed);
        for (k, h) in &delta.object_latency {
            if !self.hot.contains(k) {
                continue;
            }
            match self.object_latency.get_mut(k) {
                Some(d) => {
                    let _ = d.add(h);
                }
                None => {
                    self.object_latency.insert(k.clone(), h.clone());
                }
            }
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
            deliveries: delta.deliveries,
            errors: delta.errors.total,
            latency,
            objects,
        });
    }

    /// Re-picks the tracked set: the `tracked` objects with most requests. Only objects whose
    /// count changed can enter, so this costs the tick's objects, never all objects.
    fn update_hot(&mut self, changed: &[&Arc<str>]) {
        if self.tracked == 0 {
            return;
        }
        let count = |k: &Arc<str>| self.objects.get(k).map_or(0, |t| t.requests);
        let floor = if self.hot.len() < self.tracked {
            0
        } else {
            self.hot.iter().map(&count).min().unwrap_or(0)
        };
        let mut entering: Vec<&Arc<str>> = changed
            .iter()
            .copied()
            .filter(|k| !self.hot.contains(*k) && count(k) > floor)
            .collect();
        if entering.is_empty() {
            return;
        }
        let mut all: Vec<(u64, Arc<str>)> = self
            .hot
            .iter()
            .map(|k| (count(k), k.clone()))
            .chain(entering.drain(..).map(|k| (count(k), k.clone())))
            .collect();
        all.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(self.tracked);
        let hot: HashSet<Arc<str>> = all.into_iter().map(|(_, k)| k).collect();
        // An object that left the tracked set gives its histogram back.
        self.object_latency.retain(|k, _| hot.contains(k));
        self.hot = Arc::new(hot);
    }

    fn close_second(&mut self) {
        let second = self.second as u32;
        for (k, (requests, served)) in self.second_objects.drain() {
            if let Some(t) = self.objects.get_mut(&k) {
                let (r, s) = (
                    requests.min(u64::from(u32::MAX)) as u32,
                    served.min(u64::from(u32::MAX)) as u32,
                );
                t.seconds.push((second, r, s));
                t.peak_requests = t.peak_requests.max(r);
                t.peak_served = t.peak_served.max(s);
            }
        }
        self.intervals.push(IntervalStats {
            second: self.second,
            requests: self.second_requests,
            errors: self.second_errors,
            latency_ms: Percentiles::of(&self.second_latency),
            deliveries: self.second_deliveries,
            delivery_latency_ms: Percentiles::of(&self.second_delivery_latency),
            latency_v2: to_v2(&self.second_latency).unwrap_or_default(),
        });
        self.second_deliveries = 0;
        self.second_delivery_latency.reset();
        self.second_requests = 0;
        self.second_errors = 0;
        self.second_latency.reset();
        self.second += 1;
    }

    /// Closes the last (possibly partial) second; call once after the final push.
    pub fn finish(&mut self) {
        if self.second_requests > 0 || self.second_deliveries > 0 || !self.second_objects.is_empty()
        {
            self.close_second();
        }
    }

    /// Per-object latency percentiles (zero for an object that was not tracked).
    pub fn object_latency_ms(&self, name: &str) -> Percentiles {
        self.object_latency
            .get(name)
            .map_or_else(Percentiles::default, Percentiles::of)
    }

    /// Renders the current state. Lists the hottest objects only (by last-second rate, then
    /// requests; as many as are tracked, at least 16): never one entry per object per tick.
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
        let (mut last_req, mut last_err, mut last_deliveries) = (0, 0, 0);
        let mut last_obj: HashMap<&Arc<str>, u64> = HashMap::new();
        for d in &self.window {
            let _ = last.add(&d.latency);
            last_req += d.requests;
            last_err += d.errors;
            last_deliveries += d.deliveries;
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
        // Candidates: objects busy in the last second, and the tracked (busiest overall).
        let mut candidates: Vec<(&Arc<str>, f64, u64)> = last_obj
            .keys()
            .copied()
            .chain(self.hot.iter().filter(|k| !last_obj.contains_key(k)))
            .filter_map(|k| {
                let tally = self.objects.get(k)?;
                Some((
                    k,
                    per_span(last_obj.get(k).copied().unwrap_or(0)),
                    tally.requests,
                ))
            })
            .collect();
        let by_heat = |a: &(&Arc<str>, f64, u64), b: &(&Arc<str>, f64, u64)| {
            b.1.total_cmp(&a.1)
                .then(b.2.cmp(&a.2))
                .then_with(|| a.0.cmp(b.0))
        };
        let shown = self.tracked.max(16);
        if candidates.len() > shown {
            candidates.select_nth_unstable_by(shown - 1, by_heat);
            candidates.truncate(shown);
        }
        candidates.sort_unstable_by(by_heat);
        let full_window = span >= 0.999;
        let objects = candidates
            .into_iter()
            .map(|(k, rps_last_s, _)| {
                let tally = &self.objects[k];
                let peak = f64::from(tally.peak_requests);
                ObjectSnapshot {
                    name: k.to_string(),
                    requests: tally.requests,
                    errors: tally.errors,
                    rps: per_s(tally.requests),
                    rps_last_s,
                    peak_rps: if full_window {
                        peak.max(rps_last_s)
                    } else {
                        peak
                    },
                    served: tally.served,
                    peak_served_rps: f64::from(tally.peak_served),
                    latency_ms: self.object_latency_ms(k),
                }
            })
            .collect();
        let lateness_ms = Percentiles::of(&t.lateness);
        let verdict = GeneratorVerdict::of(&Evidence {
            lateness: &lateness_ms,
            latency_p99_ms: Percentiles::of(&t.latency)
                .p99
                .max(Percentiles::of(&t.delivery_latency).p99),
            busy_pct: live.busy_pct,
            cpu_pct: live.cpu_pct,
            requests: t.requests,
            missed: live.missed,
        });
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
            cold_starts: t.cold_starts,
            cold_start_latency_ms: Percentiles::of(&t.cold_latency),
            warm_latency_ms: {
                let mut warm = t.latency.clone();
                // Every cold sample is also in `latency`, so the difference is exact.
                let _ = warm.subtract(&t.cold_latency);
                Percentiles::of(&warm)
            },
            errors: t.errors.clone(),
            errors_last_s: last_err,
            statuses: t
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ops,
            objects_total: self.objects.len() as u64,
            objects,
            generator_cpu_pct: live.cpu_pct,
            generator_busy_pct: live.busy_pct,
            generator_limited: verdict.limited,
            generator_note: verdict.note,
            server: None,
            rate_unit: (!live.rate_unit.is_empty() && live.rate_unit != "req/s")
                .then(|| live.rate_unit.to_string()),
            deliveries: t.deliveries,
            offered_deliveries_per_s: per_s(live.offered_so_far) * live.fan_out,
            deliveries_per_s: per_s(t.deliveries),
            deliveries_per_s_last_s: per_span(last_deliveries),
            delivery_latency_ms: Percentiles::of(&t.delivery_latency),
            frames_other: t.frames_other,
        }
    }
}
