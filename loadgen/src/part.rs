//! Parts of a split run: what one segment's generator leaves behind ([`Part`], written as
//! JSON with its histograms as base64 HdrHistogram V2), and [`merge`], which puts parts back
//! together into one finished [`RunOutcome`] exactly as if one process had recorded them —
//! histograms added bucket by bucket, counts summed, per-second series aligned by second
//! since the shared start instant, every object's counts summed and its per-second peaks
//! recomputed from the summed seconds. The one summary path (`RunSummary::from_outcome`)
//! then turns the merged outcome into the run's summary.
//!
//! A part carries its plan (profile text and overrides, schedule, segment count, start
//! instant, nonce, target) and [`merge`] refuses parts whose plans differ, naming the field
//! and both values; a missing segment makes an incomplete run (`Distributed::complete` false,
//! `stopped_early`), never a complete one. Pure data and arithmetic: never reads files, the
//! network or the clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, IntervalStats, Live, ObjectTally};
use crate::clock::ClockOffset;
use crate::error::{Error, Result};
use crate::executor::RunOutcome;
use crate::hist::{from_v2, new_histogram, to_v2, Percentiles};
use crate::recorder::{ErrorCounts, Recorder, Stat};
use crate::schedule::{Schedule, Segment};
use crate::summary::{Distributed, PartLine, RunSummary};

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
    fn total(&self) -> Recorder {
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

/// A part file's name (for messages) and its contents.
pub type NamedPart = (String, Part);

/// Parts merged into one run.
pub struct Merged {
    /// The run as one process would have finished it.
    pub outcome: RunOutcome,
    /// Which segments it holds, which are missing, the parts' clocks.
    pub distributed: Distributed,
    /// The plan every part shared.
    pub plan: PartPlan,
    /// The target's ceiling as the parts read it.
    pub ceiling_rps: Option<f64>,
    /// Each part's correctness evidence, in segment order.
    pub evidence: Vec<serde_json::Value>,
}

fn refuse(msg: String) -> Error {
    Error::Parts(msg)
}

/// Checks that every part is of one run: same format, plan and segment count.
fn check_plans(parts: &[NamedPart]) -> Result<()> {
    let (first_name, first) = &parts[0];
    for (name, p) in parts {
        if p.format != PART_FORMAT {
            return Err(refuse(format!(
                "{name} is not a dobench part ({:?}; expected {PART_FORMAT:?})",
                p.format
            )));
        }
    }
    let a = &first.plan;
    for (name, p) in &parts[1..] {
        let b = &p.plan;
        let differ = |what: &str, x: String, y: String| {
            Err(refuse(format!(
                "{first_name} and {name} are not parts of one run: their {what} differ ({x} vs {y})"
            )))
        };
        if a.profile != b.profile || a.profile_text != b.profile_text {
            return differ(
                "profiles",
                format!("{:?} from {}", a.profile, a.profile_source),
                format!("{:?} from {}", b.profile, b.profile_source),
            );
        }
        if a.overrides != b.overrides {
            return differ(
                "profile overrides (--set)",
                format!("{:?}", a.overrides),
                format!("{:?}", b.overrides),
            );
        }
        if a.schedule != b.schedule {
            return differ(
                "schedules",
                format!("{:?}", a.schedule),
                format!("{:?}", b.schedule),
            );
        }
        if a.segments != b.segments {
            return differ(
                "segment counts",
                a.segments.to_string(),
                b.segments.to_string(),
            );
        }
        if a.start_at_ms != b.start_at_ms {
            return differ(
                "start instants (--start-at, ms since the epoch)",
                a.start_at_ms.to_string(),
                b.start_at_ms.to_string(),
            );
        }
        if a.target != b.target {
            return differ("targets", a.target.clone(), b.target.clone());
        }
        if a.nonce != b.nonce || a.workload != b.workload || a.strategy != b.strategy {
            return differ(
                "object names (nonce, workload, strategy)",
                format!("{} {} {:?}", a.nonce, a.workload, a.strategy),
                format!("{} {} {:?}", b.nonce, b.workload, b.strategy),
            );
        }
    }
    Ok(())
}

/// Merges the parts of one split run (see the module doc). Refuses an empty list, parts of
/// different runs and two parts of one segment; missing segments make an incomplete run.
pub fn merge(mut parts: Vec<NamedPart>) -> Result<Merged> {
    if parts.is_empty() {
        return Err(refuse("no parts to merge".into()));
    }
    check_plans(&parts)?;
    parts.sort_by_key(|(_, p)| p.segment.index);
    let n = parts[0].1.plan.segments;
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, p) in &parts {
        if p.segment.count != n || p.segment.index >= n {
            return Err(refuse(format!(
                "{name} is segment {}/{} of a run cut into {n}",
                p.segment.index, p.segment.count
            )));
        }
        if let Some(other) = seen.insert(p.segment.index, name) {
            return Err(refuse(format!(
                "{other} and {name} are both segment {}/{n}: give each segment once",
                p.segment.index
            )));
        }
    }
    let missing: Vec<u32> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    let books: Vec<&Books> = parts.iter().map(|(_, p)| &p.books).collect();
    let mut total = Recorder::new();
    for b in &books {
        total.add_run_wide(&b.total());
    }
    let aggregate = Aggregate::assembled(
        total,
        merge_seconds(&books)?,
        merge_objects(&books),
        merge_object_latency(&books),
    );
    let first = &parts[0].1;
    let elapsed_ms = parts
        .iter()
        .map(|(_, p)| p.clock.elapsed_ms)
        .fold(0.0, f64::max);
    let elapsed = Duration::from_secs_f64(elapsed_ms / 1000.0);
    let sum = |f: fn(&Books) -> u64| books.iter().map(|b| f(b)).sum::<u64>();
    let planned_requests = books
        .iter()
        .map(|b| b.planned)
        .sum::<Option<u64>>()
        .filter(|_| matches!(first.plan.schedule, Schedule::Open(_)));
    let planned = match &first.plan.schedule {
        Schedule::Open(s) => s.planned_duration(),
        Schedule::Closed(m) => m.duration.unwrap_or_default(),
    };
    let max_env = |f: fn(&Environment) -> f64| {
        parts
            .iter()
            .map(|(_, p)| f(&p.environment))
            .fold(0.0, f64::max)
    };
    let live = Live {
        elapsed,
        planned,
        planned_requests,
        offered_so_far: planned_requests.unwrap_or_else(|| sum(|b| b.sent)),
        sent: sum(|b| b.sent),
        missed: sum(|b| b.missed),
        in_flight: 0,
        // The busiest generator's figures: each part's threads are its own machine's.
        cpu_pct: max_env(|e| e.generator_cpu_pct),
        busy_pct: max_env(|e| e.generator_busy_pct),
        done: true,
        fan_out: first.books.fan_out,
        rate_unit: match first.books.rate_unit.as_deref() {
            Some("msg/s") => "msg/s",
            _ => "",
        },
    };
    let snapshot = aggregate.snapshot(&live);
    let start_late_ms = parts
        .iter()
        .map(|(_, p)| p.clock.started_late_ms)
        .fold(0.0, f64::max);
    let outcome = RunOutcome {
        snapshot,
        aggregate,
        started_at: UNIX_EPOCH + Duration::from_millis(first.plan.start_at_ms),
        elapsed,
        offered_rps: books.iter().map(|b| b.offered_rps).sum(),
        stopped_early: !missing.is_empty() || books.iter().any(|b| b.stopped_early),
        fan_out: first.books.fan_out,
        start_late: Duration::from_secs_f64(start_late_ms / 1000.0),
    };
    let distributed = distributed(&parts, missing, elapsed_ms);
    Ok(Merged {
        outcome,
        distributed,
        plan: first.plan.clone(),
        ceiling_rps: parts.iter().find_map(|(_, p)| p.ceiling_rps),
        evidence: parts.iter().map(|(_, p)| p.evidence.clone()).collect(),
    })
}

/// The per-second series, aligned by second since the shared start instant.
fn merge_seconds(books: &[&Books]) -> Result<Vec<IntervalStats>> {
    let mut by_second: BTreeMap<u64, (u64, u64, u64, Histogram<u64>, Percentiles)> =
        BTreeMap::new();
    for b in books {
        for s in &b.seconds {
            let e = by_second
                .entry(s.second)
                .or_insert_with(|| (0, 0, 0, new_histogram(), Percentiles::default()));
            e.0 += s.requests;
            e.1 += s.errors;
            e.2 += s.deliveries;
            e.3.add(&s.latency)
                .map_err(|err| Error::Histogram(format!("{err:?}")))?;
            let d = &mut e.4;
            let o = &s.delivery_latency_ms;
            (d.p50, d.p90, d.p99, d.p999, d.max) = (
                d.p50.max(o.p50),
                d.p90.max(o.p90),
                d.p99.max(o.p99),
                d.p999.max(o.p999),
                d.max.max(o.max),
            );
        }
    }
    by_second
        .into_iter()
        .map(|(second, (requests, errors, deliveries, h, delivery))| {
            Ok(IntervalStats {
                second,
                requests,
                errors,
                latency_ms: Percentiles::of(&h),
                deliveries,
                delivery_latency_ms: delivery,
                latency_v2: to_v2(&h)?,
            })
        })
        .collect()
}

/// Every object's counts summed, its seconds summed second by second, peaks recomputed.
fn merge_objects(books: &[&Books]) -> HashMap<Arc<str>, ObjectTally> {
    let mut seconds: HashMap<&str, BTreeMap<u32, (u64, u64)>> = HashMap::new();
    let mut out: HashMap<Arc<str>, ObjectTally> = HashMap::new();
    for b in books {
        for o in &b.objects {
            let t = out.entry(Arc::from(o.name.as_str())).or_default();
            t.requests += o.requests;
            t.errors += o.errors;
            t.served += o.served;
            let s = seconds.entry(o.name.as_str()).or_default();
            for &(sec, r, sv) in &o.seconds {
                let e = s.entry(sec).or_default();
                e.0 += u64::from(r);
                e.1 += u64::from(sv);
            }
        }
    }
    for (name, t) in out.iter_mut() {
        let Some(s) = seconds.remove(&**name) else {
            continue;
        };
        let clamp = |n: u64| n.min(u64::from(u32::MAX)) as u32;
        t.seconds = s
            .into_iter()
            .map(|(sec, (r, sv))| (sec, clamp(r), clamp(sv)))
            .collect();
        t.peak_requests = t.seconds.iter().map(|s| s.1).max().unwrap_or(0);
        t.peak_served = t.seconds.iter().map(|s| s.2).max().unwrap_or(0);
    }
    out
}

/// Per-object latency over what the parts carry: an object's histogram is the sum of the
/// parts that tracked it (exact where every part that touched it tracked it).
fn merge_object_latency(books: &[&Books]) -> HashMap<Arc<str>, Histogram<u64>> {
    let mut out: HashMap<Arc<str>, Histogram<u64>> = HashMap::new();
    for b in books {
        for (k, h) in &b.object_latency {
            match out.get_mut(k.as_str()) {
                // Same bounds everywhere: addition cannot fail.
                Some(d) => {
                    let _ = d.add(h);
                }
                None => {
                    out.insert(Arc::from(k.as_str()), h.clone());
                }
            }
        }
    }
    out
}

fn distributed(parts: &[NamedPart], missing: Vec<u32>, elapsed_ms: f64) -> Distributed {
    let first = &parts[0].1;
    let lines: Vec<PartLine> = parts
        .iter()
        .map(|(_, p)| PartLine {
            segment: p.segment.index,
            host: p.environment.host.clone(),
            requests: p.books.requests,
            missed: p.books.missed,
            achieved_rps: if elapsed_ms > 0.0 {
                p.books.requests as f64 / (elapsed_ms / 1000.0)
            } else {
                0.0
            },
            started_late_ms: p.clock.started_late_ms,
            clock_offset_ms: p.clock.target_offset.map(|o| o.offset_ms),
            clock_offset_error_ms: p.clock.target_offset.map(|o| o.error_ms),
            generator_limited: p.environment.generator_limited,
        })
        .collect();
    let measured: Vec<ClockOffset> = parts
        .iter()
        .filter_map(|(_, p)| p.clock.target_offset)
        .collect();
    let (skew, skew_error) = if measured.len() >= 2 {
        let lo = measured
            .iter()
            .min_by(|a, b| a.offset_ms.total_cmp(&b.offset_ms))
            .copied();
        let hi = measured
            .iter()
            .max_by(|a, b| a.offset_ms.total_cmp(&b.offset_ms))
            .copied();
        match (lo, hi) {
            (Some(lo), Some(hi)) => (
                Some(hi.offset_ms - lo.offset_ms),
                Some(hi.error_ms + lo.error_ms),
            ),
            _ => (None, None),
        }
    } else {
        (None, None)
    };
    let merged: BTreeSet<u32> = parts.iter().map(|(_, p)| p.segment.index).collect();
    Distributed {
        segments: first.plan.segments,
        merged: merged.into_iter().collect(),
        complete: missing.is_empty(),
        missing,
        start_at_ms: first.plan.start_at_ms,
        clock_skew_ms: skew,
        clock_skew_error_ms: skew_error,
        parts: lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::{Outcome, Sample};
    use crate::schedule::OpenSchedule;
    use crate::snapshot::Snapshot;
    use crate::summary::SummaryMeta;

    /// Sample `i` of a deterministic stream: op, object and latency vary with `i`.
    fn feed(r: &mut Recorder, i: u64, ops: &[Arc<str>], objects: &[Arc<str>]) {
        let us = 50 + (i * 7919) % 200_000 + (i % 97) * 1000;
        let d = Duration::from_micros(us);
        let code = if i % 53 == 0 { 503 } else { 200 };
        r.record(&Sample {
            op: &ops[(i % 3) as usize],
            object: Some(&objects[(i % 40) as usize]),
            lateness: Duration::from_micros(i % 300),
            service: Some(d / 2),
            latency: d,
            queue_wait: (i % 11 == 0).then(|| Duration::from_micros(i % 5000)),
            outcome: Outcome::from_response(code, b"{}"),
        });
    }

    fn plan(segments: u32) -> PartPlan {
        PartPlan {
            profile: "p".into(),
            profile_source: "p.toml".into(),
            profile_text: "name = \"p\"".into(),
            overrides: vec![],
            workload: "counter".into(),
            strategy: Some("hash:4".into()),
            schedule: Schedule::Open(OpenSchedule::Constant {
                rate: 400.0,
                duration: Duration::from_secs(5),
            }),
            segments,
            start_at_ms: 1_700_000_000_000,
            nonce: "abc123".into(),
            target: "http://10.0.0.1:8787".into(),
        }
    }

    /// Feeds samples `i` with `keep(i)` over 5 seconds, 4 ticks a second, into an aggregate
    /// tracking every object, and makes a part of it.
    fn part_of(segment: Segment, keep: impl Fn(u64) -> bool) -> NamedPart {
        let ops: Vec<Arc<str>> = ["increment", "read", "other"]
            .iter()
            .map(|s| Arc::from(*s))
            .collect();
        let objects: Vec<Arc<str>> = (0..40).map(|i| Arc::from(format!("o{i}"))).collect();
        let mut agg = Aggregate::tracking_objects(1000);
        let (total, ticks) = (2000u64, 20u64);
        for tick in 0..ticks {
            let mut delta = Recorder::new();
            delta.tracking = agg.tracking();
            for i in (tick * total / ticks..(tick + 1) * total / ticks).filter(|i| keep(*i)) {
                feed(&mut delta, i, &ops, &objects);
            }
            agg.push(&delta, Duration::from_millis(250 * (tick + 1)));
        }
        agg.finish();
        let outcome = RunOutcome {
            snapshot: Snapshot {
                planned: Some(segment.share_of(total)),
                ..Snapshot::default()
            },
            aggregate: agg,
            started_at: UNIX_EPOCH,
            elapsed: Duration::from_secs(5),
            offered_rps: segment.share_of(total) as f64 / 5.0,
            stopped_early: false,
            fan_out: 0.0,
            start_late: Duration::ZERO,
        };
        let summary = RunSummary::from_outcome(&outcome, SummaryMeta::default());
        let part = Part {
            format: PART_FORMAT.into(),
            plan: plan(segment.count),
            segment,
            clock: PartClock {
                started_late_ms: 0.0,
                elapsed_ms: 5000.0,
                target_offset: None,
            },
            environment: Environment::here(&summary),
            ceiling_rps: Some(1000.0),
            books: Books::of(&outcome).unwrap(),
            evidence: serde_json::Value::Null,
            summary,
        };
        // Through the file format, as `dobench merge` reads it.
        let text = serde_json::to_string(&part).unwrap();
        (
            format!("part-{}.json", segment.index),
            serde_json::from_str(&text).unwrap(),
        )
    }

    /// Issue 21's "merge is exact": N recorders fed disjoint samples merge to the same
    /// histograms, counts and per-second series as one recorder fed all of them.
    #[test]
    fn n_disjoint_parts_merge_to_the_whole_exactly() {
        let n = 4;
        let parts: Vec<NamedPart> = (0..n)
            .map(|k| {
                part_of(Segment::new(k, n).unwrap(), |i| {
                    i % u64::from(n) == u64::from(k)
                })
            })
            .collect();
        let whole = part_of(Segment::WHOLE, |_| true).1;
        let merged = merge(parts).unwrap();
        assert!(merged.distributed.complete);
        let (m, w) = (&merged.outcome.aggregate, whole.books);
        assert_eq!(m.total.requests, 2000);
        assert_eq!(m.total.latency, w.latency, "overall latency");
        assert_eq!(m.total.service, w.service);
        assert_eq!(m.total.lateness, w.lateness);
        assert_eq!(m.total.queue_wait, w.queue_wait);
        assert_eq!(m.total.errors, w.errors);
        assert_eq!(m.total.statuses, w.statuses);
        for (op, o) in &w.ops {
            assert_eq!(m.total.ops[op.as_str()].latency, o.latency, "op {op}");
            assert_eq!(m.total.ops[op.as_str()].requests, o.requests, "op {op}");
        }
        for o in &w.objects {
            let t = &m.objects[o.name.as_str()];
            assert_eq!(
                (t.requests, t.errors, t.served),
                (o.requests, o.errors, o.served)
            );
            assert_eq!(t.seconds, o.seconds, "object {} seconds", o.name);
            assert_eq!(
                m.object_latency[o.name.as_str()],
                w.object_latency[&o.name],
                "object {} latency",
                o.name
            );
        }
        assert_eq!(m.intervals.len(), w.seconds.len());
        for (a, b) in m.intervals.iter().zip(&w.seconds) {
            assert_eq!(
                (a.second, a.requests, a.errors),
                (b.second, b.requests, b.errors)
            );
            assert_eq!(
                from_v2(&a.latency_v2).unwrap(),
                b.latency,
                "second {}",
                a.second
            );
        }
        let s = RunSummary::from_outcome(&merged.outcome, SummaryMeta::default());
        assert_eq!(s.latency_ms, Percentiles::of(&w.latency));
        assert_eq!(s.planned, Some(2000));
        assert!((s.offered_rps - 400.0).abs() < 1e-9, "{}", s.offered_rps);
    }

    #[test]
    fn a_missing_segment_is_an_incomplete_run() {
        let parts: Vec<NamedPart> = [0, 1, 3]
            .into_iter()
            .map(|k| part_of(Segment::new(k, 4).unwrap(), move |i| i % 4 == u64::from(k)))
            .collect();
        let merged = merge(parts).unwrap();
        assert!(!merged.distributed.complete);
        assert_eq!(merged.distributed.missing, vec![2]);
        assert!(merged.outcome.stopped_early, "never complete");
        assert_eq!(merged.outcome.aggregate.total.requests, 1500);
    }

    #[test]
    fn parts_of_different_runs_are_refused() {
        let a = part_of(Segment::new(0, 2).unwrap(), |i| i % 2 == 0);
        let mut b = part_of(Segment::new(1, 2).unwrap(), |i| i % 2 == 1);
        b.1.plan.start_at_ms += 1000;
        let e = merge(vec![a.clone(), b]).err().unwrap().to_string();
        assert!(e.contains("start instants"), "{e}");
        let mut c = part_of(Segment::new(1, 2).unwrap(), |i| i % 2 == 1);
        c.1.plan.profile = "other".into();
        let e = merge(vec![a.clone(), c]).err().unwrap().to_string();
        assert!(e.contains("profiles differ"), "{e}");
        let e = merge(vec![a.clone(), a]).err().unwrap().to_string();
        assert!(e.contains("both segment 0/2"), "{e}");
    }
}
