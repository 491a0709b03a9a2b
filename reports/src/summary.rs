//! Rebuilds a [`RunSummary`] for a run that never finished, from its metadata and the last
//! snapshot it recorded, so `show` and `report` work on incomplete runs too. Pure; never
//! invents numbers the snapshot does not hold (missing parts stay empty or `None`).

use dobench_loadgen::{RunSummary, Snapshot, SummaryMeta};

use crate::model::RunMeta;

/// The summary of an unfinished run as far as its last snapshot goes (`stopped_early`).
pub fn summary_from_snapshot(
    id: &str,
    meta: &RunMeta,
    version: &str,
    started_ms: u64,
    s: &Snapshot,
) -> RunSummary {
    let labels = SummaryMeta {
        profile: meta.profile.clone(),
        workload: meta.workload.clone(),
        target: meta.target.clone(),
        strategy: meta.strategy.clone(),
        ceiling_rps: meta.ceiling_rps,
        work: Default::default(),
    };
    let mut summary = RunSummary::from_snapshot(s, labels, started_ms);
    summary.run_id = id.to_string();
    summary.dobench_version = version.to_string();
    summary.stopped_early = true;
    summary
}
