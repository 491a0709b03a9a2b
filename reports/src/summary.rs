//! Rebuilds a [`RunSummary`] for a run that never finished, from its metadata and the last
//! snapshot it recorded, so `show` and `report` work on incomplete runs too. Pure; never
//! invents numbers the snapshot does not hold (missing parts stay empty or `None`).

use dobench_loadgen::summary::{ObjectSummary, Thresholds};
use dobench_loadgen::{RunSummary, Snapshot};

use crate::model::RunMeta;

/// The summary of an unfinished run as far as its last snapshot goes (`stopped_early`).
pub fn summary_from_snapshot(
    id: &str,
    meta: &RunMeta,
    version: &str,
    started_ms: u64,
    s: &Snapshot,
) -> RunSummary {
    let objects = (!s.objects.is_empty()).then(|| {
        let mut v: Vec<ObjectSummary> = s
            .objects
            .iter()
            .map(|o| ObjectSummary {
                name: o.name.clone(),
                id: String::new(),
                rps: o.rps,
                peak_rps: o.peak_rps,
                ceiling_pct: meta
                    .ceiling_rps
                    .filter(|c| *c > 0.0)
                    .map_or(0.0, |c| o.peak_rps / c * 100.0),
                secs_over_90pct: 0,
                requests: o.requests,
                latency_ms: o.latency_ms,
            })
            .collect();
        v.sort_by(|a, b| b.rps.total_cmp(&a.rps).then_with(|| a.name.cmp(&b.name)));
        v
    });
    RunSummary {
        dobench_version: version.to_string(),
        run_id: id.to_string(),
        profile: meta.profile.clone(),
        workload: meta.workload.clone(),
        target: meta.target.clone(),
        strategy: meta.strategy.clone(),
        duration_s: s.elapsed_s,
        offered_rps: s.offered_rps,
        achieved_rps: s.achieved_rps,
        requests: s.requests,
        missed: s.missed,
        latency_ms: s.latency_ms,
        ops: s
            .ops
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    dobench_loadgen::summary::OpSummary {
                        requests: o.requests,
                        latency_ms: o.latency_ms,
                    },
                )
            })
            .collect(),
        errors: s.errors.clone(),
        ceiling_rps: meta.ceiling_rps,
        objects,
        hibernation: None,
        alarms: None,
        correctness: None,
        thresholds: Thresholds::default(),
        sent: s.sent,
        planned: s.planned,
        service_ms: s.service_ms,
        lateness_ms: s.lateness_ms,
        statuses: s.statuses.clone(),
        generator_cpu_pct: s.generator_cpu_pct,
        generator_limited: s.generator_limited,
        stopped_early: true,
        started_at_ms: started_ms,
    }
}
