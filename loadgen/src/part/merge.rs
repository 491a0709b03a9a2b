//! The merge of a split run's parts (see the parent module): plans checked equal, segments
//! once each, run-wide books added, seconds aligned, objects summed with peaks recomputed
//! from the summed seconds, and the [`Distributed`] account of parts, missing segments and
//! clocks. Pure arithmetic on parts already read; never touches files, network or clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::{Books, Environment, Part, PartPlan, PART_FORMAT};
use crate::aggregate::{Aggregate, IntervalStats, Live, ObjectTally};
use crate::clock::ClockOffset;
use crate::error::{Error, Result};
use crate::executor::RunOutcome;
use crate::hist::{new_histogram, to_v2, Percentiles};
use crate::object_map::ObjectMap;
use crate::recorder::Recorder;
use crate::schedule::Schedule;
use crate::summary::{Distributed, PartLine};

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
    let live = live_of(&parts, elapsed);
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

/// What the executor would have known at the end of the merged run: the parts' counts
/// summed, the plan's length, the busiest generator's CPU figures.
fn live_of(parts: &[NamedPart], elapsed: Duration) -> Live {
    let first = &parts[0].1;
    let sum = |f: fn(&Books) -> u64| parts.iter().map(|(_, p)| f(&p.books)).sum::<u64>();
    let planned_requests = parts
        .iter()
        .map(|(_, p)| p.books.planned)
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
    Live {
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
    }
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
fn merge_objects(books: &[&Books]) -> ObjectMap<ObjectTally> {
    let mut seconds: HashMap<&str, BTreeMap<u32, (u64, u64)>> = HashMap::new();
    let mut out = ObjectMap::<ObjectTally>::default();
    for b in books {
        for o in &b.objects {
            let t = out.get_or_default(&Arc::from(o.name.as_str()));
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
    use super::super::{PartClock, Segment};
    use super::*;
    use crate::hist::from_v2;
    use crate::recorder::{Outcome, Sample};
    use crate::schedule::OpenSchedule;
    use crate::snapshot::Snapshot;
    use crate::summary::{RunSummary, SummaryMeta};

    /// Sample `i` of a deterministic stream: op, object and latency vary with `i`.
    fn feed(r: &mut Recorder, i: u64, ops: &[Arc<str>], objects: &[Arc<str>]) {
        let us = 50 + (i * 7919) % 200_000 + (i % 97) * 1000;
        let d = Duration::from_micros(us);
        let code = if i.is_multiple_of(53) { 503 } else { 200 };
        r.record(&Sample {
            op: &ops[(i % 3) as usize],
            object: Some(&objects[(i % 40) as usize]),
            lateness: Duration::from_micros(i % 300),
            service: Some(d / 2),
            latency: d,
            queue_wait: i
                .is_multiple_of(11)
                .then(|| Duration::from_micros(i % 5000)),
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
