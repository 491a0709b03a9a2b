//! Per-shard aggregates of completed requests: latency (from intended send), service time
//! (from actual send), send lateness and queue-wait histograms, per-op stats, per-object
//! counts, status codes and errors by kind; and fan-out deliveries (frames that carried one
//! of the run's sends to a WebSocket member), which are not requests: their own count and
//! latency from the send's intended time. A `Recorder` is plain data: workers record into
//! their own shard, the executor swaps shards out and merges them each tick. Never keeps
//! individual samples and never takes a lock itself (the owner decides).
//!
//! Objects may number in the millions: every object gets exact counts (an [`ObjectCount`],
//! 24 bytes), but a latency histogram (~200 KiB) only when [`Tracking`] says so: the objects
//! the aggregate currently holds hottest, plus a small budget of newcomers per tick. Never
//! gives every object a histogram.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::hist::{self, new_histogram};

/// Why a request failed without a usable HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// TCP connect or protocol handshake failed.
    Connect,
    /// No complete response within the request timeout.
    Timeout,
    /// Anything else (connection reset mid-request, malformed response...).
    Other,
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response arrived; `overloaded` marks a 503 whose body says `overloaded`.
    Status {
        code: u16,
        overloaded: bool,
        /// The request brought its object into memory (see `Response::cold_start`).
        cold_start: bool,
    },
    /// A WebSocket frame round trip (or connect) completed; has a latency, no status.
    Frame,
    Failed(ErrorKind),
}

impl Outcome {
    /// Classifies a response: a 503 with `{"overloaded":true}` or `{"error":"overloaded"}`
    /// counts as `overloaded`, not as a plain 503.
    pub fn from_response(code: u16, body: &[u8]) -> Self {
        let overloaded = code == 503 && is_overloaded_body(body);
        Outcome::Status {
            code,
            overloaded,
            cold_start: false,
        }
    }

    /// Classifies a response, keeping whether it brought its object into memory.
    pub fn from_http(r: &crate::request::Response) -> Self {
        match Self::from_response(r.status, &r.body) {
            Outcome::Status {
                code, overloaded, ..
            } => Outcome::Status {
                code,
                overloaded,
                cold_start: r.cold_start,
            },
            other => other,
        }
    }
}

fn is_overloaded_body(body: &[u8]) -> bool {
    // Cheap pre-check before parsing: only bodies mentioning the word can qualify.
    if !body.windows(10).any(|w| w == b"overloaded") {
        return false;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            v.get("overloaded") == Some(&serde_json::Value::Bool(true))
                || v.get("error").and_then(|e| e.as_str()) == Some("overloaded")
        }
        Err(_) => false,
    }
}

/// Errors by kind. `total` = connect + timeout + other + overloaded + every status ≥ 400 in
/// `status` (overloaded 503s are *not* also in `status["503"]`). A 429 is a *refusal* (a
/// rate limiter saying no is the limiter working), counted in `refused` and not in `total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub total: u64,
    pub overloaded: u64,
    pub timeout: u64,
    pub connect: u64,
    pub other: u64,
    /// Error statuses (4xx but 429, 5xx) by code.
    pub status: BTreeMap<String, u64>,
    /// 429 answers: refusals, not errors (they are in `statuses` too).
    #[serde(default)]
    pub refused: u64,
}

impl ErrorCounts {
    fn add(&mut self, o: &ErrorCounts) {
        self.total += o.total;
        self.overloaded += o.overloaded;
        self.timeout += o.timeout;
        self.connect += o.connect;
        self.other += o.other;
        self.refused += o.refused;
        for (k, v) in &o.status {
            *self.status.entry(k.clone()).or_default() += v;
        }
    }
}

/// Request count and latency of one op or one object.
#[derive(Debug, Clone)]
pub struct Stat {
    /// Completed requests (any outcome).
    pub requests: u64,
    pub errors: u64,
    /// Latency from intended send of requests that got a response.
    pub latency: Histogram<u64>,
}

impl Stat {
    fn new() -> Self {
        Stat {
            requests: 0,
            errors: 0,
            latency: new_histogram(),
        }
    }
}

/// Exact per-object counts (every object, however many).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectCount {
    /// Completed requests (any outcome).
    pub requests: u64,
    pub errors: u64,
    /// Requests the object served: an answer that is not an overload refusal (503
    /// `overloaded`), and no transport failure. A 429 from a working limiter is served.
    pub served: u64,
}

/// Which objects get a per-object latency histogram in a recorder.
#[derive(Debug, Clone)]
pub enum Tracking {
    /// Every object (fine for a handful of objects: chat rooms, tests).
    All,
    /// The objects in `hot`, plus up to `newcomers` others first seen by this recorder.
    Only {
        hot: Arc<HashSet<Arc<str>>>,
        newcomers: usize,
    },
}

/// One finished request, as the executor reports it.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub op: &'a Arc<str>,
    pub object: Option<&'a Arc<str>>,
    /// The generator's own send delay: actual send − the later of (intended send, the moment
    /// a connection was free). Never includes the wait for a connection.
    pub lateness: Duration,
    /// response − actual send; `None` when the request was never sent (it could not start
    /// within the request timeout because no connection was free).
    pub service: Option<Duration>,
    /// response (or giving up) − intended send.
    pub latency: Duration,
    /// How long the send waited for a free connection past its intended time (`None`: a
    /// connection was free in time).
    pub queue_wait: Option<Duration>,
    pub outcome: Outcome,
}

/// Aggregates of a set of completed requests (one shard, one tick, or the whole run).
#[derive(Debug, Clone)]
pub struct Recorder {
    pub requests: u64,
    /// Sends that waited for a free connection past their intended time.
    pub queued: u64,
    /// How long those sends waited.
    pub queue_wait: Histogram<u64>,
    pub latency: Histogram<u64>,
    /// Requests that brought their object into memory, and their latency (also in `latency`).
    pub cold_starts: u64,
    pub cold_latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub lateness: Histogram<u64>,
    pub ops: HashMap<Arc<str>, Stat>,
    /// Exact counts of every object.
    pub objects: HashMap<Arc<str>, ObjectCount>,
    /// Latency from intended send of the tracked objects only (see [`Tracking`]).
    pub object_latency: HashMap<Arc<str>, Histogram<u64>>,
    /// Which objects get a latency histogram here.
    pub tracking: Tracking,
    /// Every status code seen (2xx too), by code.
    pub statuses: BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    /// Fan-out deliveries that carried the executor's stamp (not requests).
    pub deliveries: u64,
    /// Their latency from the intended time of the send they carried.
    pub delivery_latency: Histogram<u64>,
    /// Frames that arrived on a session but were no timed delivery (no stamp, error frames).
    pub frames_other: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            requests: 0,
            queued: 0,
            queue_wait: new_histogram(),
            latency: new_histogram(),
            cold_starts: 0,
            cold_latency: new_histogram(),
            service: new_histogram(),
            lateness: new_histogram(),
            ops: HashMap::new(),
            objects: HashMap::new(),
            object_latency: HashMap::new(),
            tracking: Tracking::All,
            statuses: BTreeMap::new(),
            errors: ErrorCounts::default(),
            deliveries: 0,
            delivery_latency: new_histogram(),
            frames_other: 0,
        }
    }

    /// Records one fan-out delivery, `latency` after the intended time of the send it carried.
    pub fn record_delivery(&mut self, latency: Duration) {
        self.deliveries += 1;
        hist::record(&mut self.delivery_latency, latency);
    }

    /// Counts one frame that was no timed delivery.
    pub fn record_other_frame(&mut self) {
        self.frames_other += 1;
    }

    /// True when nothing at all was recorded.
    pub fn is_empty(&self) -> bool {
        self.requests == 0 && self.deliveries == 0 && self.frames_other == 0
    }

    /// Records one finished request. Requests that got no response (connect error, timeout,
    /// other) are counted but not put in the latency histograms, except timeouts, whose
    /// latency (a lower bound) is recorded so a slow target cannot hide behind its timeouts.
    pub fn record(&mut self, s: &Sample<'_>) {
        self.requests += 1;
        if let Some(w) = s.queue_wait {
            self.queued += 1;
            hist::record(&mut self.queue_wait, w);
        }
        if s.service.is_some() {
            hist::record(&mut self.lateness, s.lateness);
        }
        let (has_latency, is_error, served) = match s.outcome {
            Outcome::Status {
                code,
                overloaded,
                cold_start,
            } => {
                if cold_start {
                    self.cold_starts += 1;
                    hist::record(&mut self.cold_latency, s.latency);
                }
                *self.statuses.entry(code).or_default() += 1;
                let refused = code == 429;
                if overloaded {
                    self.errors.overloaded += 1;
                } else if refused {
                    self.errors.refused += 1;
                } else if code >= 400 {
                    *self.errors.status.entry(code.to_string()).or_default() += 1;
                }
                (true, overloaded || (code >= 400 && !refused), !overloaded)
            }
            Outcome::Frame => (true, false, true),
            Outcome::Failed(kind) => {
                match kind {
                    ErrorKind::Connect => self.errors.connect += 1,
                    ErrorKind::Timeout => self.errors.timeout += 1,
                    ErrorKind::Other => self.errors.other += 1,
                }
                (kind == ErrorKind::Timeout, true, false)
            }
        };
        if is_error {
            self.errors.total += 1;
        }
        if has_latency {
            hist::record(&mut self.latency, s.latency);
            if let Some(service) = s.service {
                hist::record(&mut self.service, service);
            }
        }
        let stat = match self.ops.get_mut(s.op) {
            Some(st) => st,
            None => self.ops.entry(s.op.clone()).or_insert_with(Stat::new),
        };
        stat.requests += 1;
        stat.errors += u64::from(is_error);
        if has_latency {
            hist::record(&mut stat.latency, s.latency);
        }
        if let Some(obj) = s.object {
            let count = match self.objects.get_mut(obj) {
                Some(c) => c,
                None => self.objects.entry(obj.clone()).or_default(),
            };
            count.requests += 1;
            count.errors += u64::from(is_error);
            count.served += u64::from(served);
            if has_latency {
                self.record_object_latency(obj, s.latency);
            }
        }
    }

    fn record_object_latency(&mut self, obj: &Arc<str>, latency: Duration) {
        if let Some(h) = self.object_latency.get_mut(obj) {
            hist::record(h, latency);
            return;
        }
        let track = match &mut self.tracking {
            Tracking::All => true,
            Tracking::Only { hot, newcomers } => {
                if hot.contains(obj) {
                    true
                } else if *newcomers > 0 {
                    *newcomers -= 1;
                    true
                } else {
                    false
                }
            }
        };
        if track {
            let mut h = new_histogram();
            hist::record(&mut h, latency);
            self.object_latency.insert(obj.clone(), h);
        }
    }

    /// Adds `other` into `self` (exact: histogram counts add).
    pub fn add(&mut self, other: &Recorder) {
        if other.is_empty() {
            return;
        }
        self.add_run_wide(other);
        for (k, c) in &other.objects {
            let d = self.objects.entry(k.clone()).or_default();
            d.requests += c.requests;
            d.errors += c.errors;
            d.served += c.served;
        }
        for (k, h) in &other.object_latency {
            match self.object_latency.get_mut(k) {
                Some(d) => {
                    let _ = d.add(h);
                }
                None => {
                    self.object_latency.insert(k.clone(), h.clone());
                }
            }
        }
    }

    /// Adds everything of `other` but its per-object maps (which the aggregate keeps apart).
    pub fn add_run_wide(&mut self, other: &Recorder) {
        if other.is_empty() {
            return;
        }
        self.deliveries += other.deliveries;
        self.frames_other += other.frames_other;
        let _ = self.delivery_latency.add(&other.delivery_latency);
        self.requests += other.requests;
        self.queued += other.queued;
        let _ = self.queue_wait.add(&other.queue_wait);
        self.cold_starts += other.cold_starts;
        let _ = self.cold_latency.add(&other.cold_latency);
        // Same bounds everywhere, and values are clamped on record: addition cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        let _ = self.lateness.add(&other.lateness);
        for (k, st) in other.ops.iter().filter(|(_, st)| st.requests > 0) {
            let d = self.ops.entry(k.clone()).or_insert_with(Stat::new);
            d.requests += st.requests;
            d.errors += st.errors;
            let _ = d.latency.add(&st.latency);
        }
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        self.errors.add(&other.errors);
    }

    /// Empties the recorder. Ops keep their allocations (a handful of keys); objects are
    /// dropped (there may be millions, and a tick sees only some), keeping a modest capacity.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.queued = 0;
        self.queue_wait.reset();
        self.cold_starts = 0;
        self.cold_latency.reset();
        self.latency.reset();
        self.service.reset();
        self.lateness.reset();
        for st in self.ops.values_mut() {
            if st.requests > 0 {
                st.requests = 0;
                st.errors = 0;
                st.latency.reset();
            }
        }
        self.objects.clear();
        self.objects.shrink_to(4096);
        self.object_latency.clear();
        self.object_latency.shrink_to(256);
        self.statuses.clear();
        self.errors = ErrorCounts::default();
        self.deliveries = 0;
        self.frames_other = 0;
        self.delivery_latency.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(
        op: &'a Arc<str>,
        obj: Option<&'a Arc<str>>,
        ms: u64,
        outcome: Outcome,
    ) -> Sample<'a> {
        let d = Duration::from_millis(ms);
        Sample {
            op,
            object: obj,
            lateness: Duration::ZERO,
            service: Some(d),
            latency: d,
            queue_wait: None,
            outcome,
        }
    }

    #[test]
    fn counts_errors_by_kind() {
        let op: Arc<str> = "get".into();
        let obj: Arc<str> = "room-1".into();
        let mut r = Recorder::new();
        r.record(&sample(
            &op,
            Some(&obj),
            5,
            Outcome::from_response(200, b"{}"),
        ));
        r.record(&sample(
            &op,
            Some(&obj),
            5,
            Outcome::from_response(503, br#"{"error":"overloaded","overloaded":true}"#),
        ));
        r.record(&sample(&op, None, 5, Outcome::from_response(503, b"busy")));
        r.record(&sample(&op, None, 5, Outcome::from_response(404, b"")));
        r.record(&sample(&op, None, 5, Outcome::Failed(ErrorKind::Connect)));
        r.record(&sample(&op, None, 5, Outcome::Failed(ErrorKind::Timeout)));
        r.record(&sample(&op, None, 5, Outcome::from_response(429, b"{}")));
        assert_eq!(r.errors.refused, 1, "a 429 is a refusal");
        assert_eq!(r.requests, 7);
        assert_eq!(r.errors.total, 5);
        assert_eq!(r.errors.overloaded, 1);
        assert_eq!(r.errors.status.get("503"), Some(&1));
        assert_eq!(r.errors.status.get("404"), Some(&1));
        assert_eq!((r.errors.connect, r.errors.timeout), (1, 1));
        assert_eq!(r.latency.len(), 6); // not the connect error
        assert_eq!(r.objects[&obj].requests, 2);
        assert_eq!(
            r.objects[&obj].served, 1,
            "the overload refusal was not served"
        );
        assert_eq!(r.statuses[&503], 2);
    }

    #[test]
    fn merge_then_reset() {
        let op: Arc<str> = "get".into();
        let (mut a, mut b) = (Recorder::new(), Recorder::new());
        for i in 0..100 {
            a.record(&sample(&op, None, i, Outcome::from_response(200, b"")));
            b.record(&sample(
                &op,
                None,
                i + 100,
                Outcome::from_response(500, b""),
            ));
        }
        a.add(&b);
        assert_eq!(a.requests, 200);
        assert_eq!(a.ops[&op].requests, 200);
        assert_eq!(a.errors.total, 100);
        assert_eq!(a.latency.len(), 200);
        b.reset();
        assert_eq!(b.requests, 0);
        assert!(b.latency.is_empty());
        assert_eq!(b.ops[&op].requests, 0);
    }

    #[test]
    fn only_tracked_objects_get_a_latency_histogram() {
        let op: Arc<str> = "get".into();
        let names: Vec<Arc<str>> = (0..100).map(|i| Arc::from(format!("o{i}"))).collect();
        let mut r = Recorder::new();
        r.tracking = Tracking::Only {
            hot: Arc::new([names[7].clone()].into_iter().collect()),
            newcomers: 2,
        };
        for n in &names {
            r.record(&sample(&op, Some(n), 3, Outcome::from_response(200, b"")));
        }
        assert_eq!(r.objects.len(), 100, "every object is counted");
        assert_eq!(r.object_latency.len(), 3, "the hot one and two newcomers");
        assert!(r.object_latency.contains_key(&names[7]));
    }
}
