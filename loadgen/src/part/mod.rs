//! Parts of a split run: what one segment's generator leaves behind ([`Part`], written as
//! JSON with its histograms as base64 HdrHistogram V2), and [`merge`], which puts parts back
//! together into one finished [`RunOutcome`] exactly as if one process had recorded them —
//! histograms added bucket by bucket, counts summed, per-second series aligned by second
//! since the shared start instant, every object's counts summed and its per-second peaks
//! recomputed from the summed seconds. The one summary path (`RunSummary::from_outcome`)
//! then turns the merged outcome into the run's summary. This file holds the format;
//! `merge.rs` the merge.
//!
//! A part carries its plan (profile text and overrides, schedule, segment count, start
//! instant, nonce, target) and [`merge`] refuses parts whose plans differ, naming the field
//! and both values; a missing segment makes an incomplete run (`Distributed::complete` false,
//! `stopped_early`), never a complete one. Pure data and arithmetic: never reads files, the
//! network or the clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::clock::ClockOffset;
use crate::error::Result;
use crate::executor::RunOutcome;
use crate::hist::{from_v2, new_histogram, Percentiles};
use crate::recorder::{ErrorCounts, Recorder, Stat};
use crate::schedule::{Schedule, Segment};
use crate::summary::RunSummary;

mod merge;

pub use merge::{merge, Merged, NamedPart};

/// The `format` every part file carries.
pub const PART_FORMAT: &str = "dobench-part/1";

/// One segment's record of a split run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    /// [`PART_FORMAT`].
    pub format: String,
    /// What every part of the run must share.
    pub plan: PartPlan,
    pub segment: Segment,
    pub clock: PartClock,
    pub environment: Environment,
    /// The target's per-object ceiling as this part read it (req/s).
    pub ceiling_rps: Option<f64>,
    /// Everything recorded, mergeable.
    pub books: Books,
    /// The workload's correctness evidence, in the workload's own shape (it merges and
    /// checks it; this crate only carries it).
    pub evidence: serde_json::Value,
    /// This segment's own summary, for reading; the merge uses `books`, never this.
    pub summary: RunSummary,
}

/// What makes parts one run: equal in every part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartPlan {
    pub profile: String,
    /// Built-in name or file path the profile came from (for messages only).
    pub profile_source: String,
    /// The profile's TOML text as written, and the `--set` overrides applied to it.
    pub profile_text: String,
    pub overrides: Vec<String>,
    pub workload: String,
    pub strategy: Option<String>,
    pub schedule: Schedule,
    /// Segments the schedule is cut into.
    pub segments: u32,
    /// The shared start instant, ms since the Unix epoch.
    pub start_at_ms: u64,
    /// The object-name nonce every part uses (derived from the start instant).
    pub nonce: String,
    /// The target URL.
    pub target: String,
}

/// This part's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartClock {
    /// How far past the start instant its generator was ready to send, ms (0: on time).
    pub started_late_ms: f64,
    /// From the start instant to its last completion, ms.
    pub elapsed_ms: f64,
    /// Its clock minus the target's (from the `Date` header), when measured.
    pub target_offset: Option<ClockOffset>,
}

/// Where a part ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub host: String,
    pub cores: usize,
    pub os: String,
    pub arch: String,
    pub dobench_version: String,
    pub generator_cpu_pct: f64,
    pub generator_busy_pct: f64,
    pub generator_limited: bool,
    pub generator_note: Option<String>,
}

impl Environment {
    /// This machine, with the generator's figures of `summary`.
    pub fn here(summary: &RunSummary) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        Environment {
            host,
            cores: crate::cpu::cores(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            dobench_version: env!("CARGO_PKG_VERSION").to_string(),
            generator_cpu_pct: summary.generator_cpu_pct,
            generator_busy_pct: summary.generator_busy_pct,
            generator_limited: summary.generator_limited,
            generator_note: summary.generator_note.clone(),
        }
    }
}

/// A recorder's and aggregate's books in mergeable form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Books {
    pub requests: u64,
    pub sent: u64,
    pub missed: u64,
    /// This segment's planned sends (open model).
    pub planned: Option<u64>,
    pub queued: u64,
    pub cold_starts: u64,
    pub deliveries: u64,
    pub frames_other: u64,
    /// This segment's planned sends per second.
    pub offered_rps: f64,
    pub stopped_early: bool,
    pub fan_out: f64,
    pub rate_unit: Option<String>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    #[serde(with = "v2")]
    pub latency: Histogram<u64>,
    #[serde(with = "v2")]
    pub service: Histogram<u64>,
    #[serde(with = "v2")]
    pub lateness: Histogram<u64>,
    #[serde(with = "v2")]
    pub queue_wait: Histogram<u64>,
    #[serde(with = "v2")]
    pub cold_latency: Histogram<u64>,
    #[serde(with = "v2")]
    pub delivery_latency: Histogram<u64>,
    pub ops: BTreeMap<String, OpBooks>,
    /// Every object the segment touched.
    pub objects: Vec<ObjectBooks>,
    /// Latency of the objects this segment tracked (a wider set than a single run keeps).
    #[serde(with = "v2_map")]
    pub object_latency: BTreeMap<String, Histogram<u64>>,
    /// One entry per second since the shared start instant.
    pub seconds: Vec<SecondBooks>,
}

/// One op's books.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpBooks {
    pub requests: u64,
    pub errors: u64,
    #[serde(with = "v2")]
    pub latency: Histogram<u64>,
}

/// One object's exact counts and its per-second (second, requests, served).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectBooks {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub served: u64,
    pub seconds: Vec<(u32, u32, u32)>,
}

/// One second of the series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecondBooks {
    /// Seconds since the shared start instant.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub deliveries: u64,
    #[serde(with = "v2")]
    pub latency: Histogram<u64>,
    /// Delivery percentiles of that second (no histogram is kept per second for them: a
    /// merged second shows the worst part's, an upper bound).
    pub delivery_latency_ms: Percentiles,
}

mod v2 {
    //! A histogram as base64 of its HdrHistogram V2 bytes.
    use base64::Engine;
    use hdrhistogram::Histogram;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let bytes = crate::hist::to_v2(h).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).map_err(D::Error::custom)
    }

    pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("a histogram is not base64: {e}"))?;
        crate::hist::from_v2(&bytes).map_err(|e| e.to_string())
    }
}

mod v2_map {
    //! A map of histograms, each as base64 V2.
    use std::collections::BTreeMap;

    use base64::Engine;
    use hdrhistogram::Histogram;
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Histogram<u64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = BTreeMap::new();
        for (k, h) in m {
            let bytes = crate::hist::to_v2(h).map_err(serde::ser::Error::custom)?;
            out.insert(
                k.as_str(),
                base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
        out.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Histogram<u64>>, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        m.into_iter()
            .map(|(k, v)| Ok((k, super::v2::decode(&v).map_err(D::Error::custom)?)))
            .collect()
    }
}

impl Books {
    /// The books of a finished run (or segment).
    pub fn of(outcome: &RunOutcome) -> Result<Self> {
        let agg = &outcome.aggregate;
        let t = &agg.total;
        let s = &outcome.snapshot;
        let ops = t
            .ops
            .iter()
            .filter(|(_, st)| st.requests > 0)
            .map(|(k, st)| {
                (
                    k.to_string(),
                    OpBooks {
                        requests: st.requests,
                        errors: st.errors,
                        latency: st.latency.clone(),
                    },
                )
            })
            .collect();
        let mut objects: Vec<ObjectBooks> = agg
            .objects
            .iter()
            .map(|(k, o)| ObjectBooks {
                name: k.to_string(),
                requests: o.requests,
                errors: o.errors,
                served: o.served,
                seconds: o.seconds.clone(),
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        let seconds = agg
            .intervals
            .iter()
            .map(|iv| {
                Ok(SecondBooks {
                    second: iv.second,
                    requests: iv.requests,
                    errors: iv.errors,
                    deliveries: iv.deliveries,
                    latency: if iv.latency_v2.is_empty() {
                        new_histogram()
                    } else {
                        from_v2(&iv.latency_v2)?
                    },
                    delivery_latency_ms: iv.delivery_latency_ms,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Books {
            requests: t.requests,
            sent: s.sent,
            missed: s.missed,
            planned: s.planned,
            queued: t.queued,
            cold_starts: t.cold_starts,
            deliveries: t.deliveries,
            frames_other: t.frames_other,
            offered_rps: outcome.offered_rps,
            stopped_early: outcome.stopped_early,
            fan_out: outcome.fan_out,
            rate_unit: s.rate_unit.clone(),
            statuses: t.statuses.clone(),
            errors: t.errors.clone(),
            latency: t.latency.clone(),
            service: t.service.clone(),
            lateness: t.lateness.clone(),
            queue_wait: t.queue_wait.clone(),
            cold_latency: t.cold_latency.clone(),
            delivery_latency: t.delivery_latency.clone(),
            ops,
            objects,
            object_latency: agg
                .object_latency
                .iter()
                .map(|(k, h)| (k.to_string(), h.clone()))
                .collect(),
            seconds,
        })
    }

    /// The run-wide recorder these books describe (per-object maps left empty, as in an
    /// aggregate's `total`).
    pub(crate) fn total(&self) -> Recorder {
        let mut r = Recorder::new();
        r.requests = self.requests;
        r.queued = self.queued;
        r.cold_starts = self.cold_starts;
        r.deliveries = self.deliveries;
        r.frames_other = self.frames_other;
        r.statuses = self.statuses.clone();
        r.errors = self.errors.clone();
        r.latency = self.latency.clone();
        r.service = self.service.clone();
        r.lateness = self.lateness.clone();
        r.queue_wait = self.queue_wait.clone();
        r.cold_latency = self.cold_latency.clone();
        r.delivery_latency = self.delivery_latency.clone();
        r.ops = self
            .ops
            .iter()
            .map(|(k, o)| {
                (
                    Arc::from(k.as_str()),
                    Stat {
                        requests: o.requests,
                        errors: o.errors,
                        latency: o.latency.clone(),
                    },
                )
            })
            .collect();
        r
    }
}
