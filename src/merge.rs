//! `dobench merge PART...`: reads part files (or every `*.json` in a directory, optionally
//! waiting for the missing ones), merges them exactly (`dobench_loadgen::part::merge`),
//! checks the merged correctness evidence against the target's final state (or marks those
//! checks "not evaluated" when it cannot be reached), applies the profile's thresholds once,
//! and records the result in the results store as one run — `incomplete` when a segment is
//! missing, never `complete`. The summary is the one run-summary contract, with
//! `distributed` saying how it was put together. Never prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dobench_loadgen::part::{self, NamedPart, Part};
use dobench_loadgen::server_stats;
use dobench_loadgen::summary::SUMMARY_OBJECTS;
use dobench_loadgen::{RunSummary, SummaryMeta};
use dobench_reports::{RunMeta, Store};
use dobench_workloads::{profile, thresholds, traffic, WorkloadKind};
use tokio_util::sync::CancellationToken;

/// What `merge` was asked.
pub struct MergePlan {
    /// Part files and directories of part files.
    pub inputs: Vec<PathBuf>,
    pub db: PathBuf,
    /// Wait up to this long for every segment's part to appear.
    pub wait: Option<Duration>,
}

/// How long reading the target's stats may take.
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// A part file may be at most this large (a part of a run over millions of objects is a few
/// hundred MB).
const MAX_PART_BYTES: u64 = 4 << 30;

/// Reads every part named by `inputs` (a directory: its `*.json` files, in name order).
pub fn read_parts(inputs: &[PathBuf]) -> anyhow::Result<Vec<NamedPart>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta =
            std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    files.iter().map(|f| read_part(f)).collect()
}

fn read_part(path: &Path) -> anyhow::Result<NamedPart> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {name}"))?;
    if !meta.is_file() || meta.len() > MAX_PART_BYTES {
        bail!("{name}: not a part file (not a regular file, or over {MAX_PART_BYTES} bytes)");
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let part: Part = serde_json::from_reader(std::io::BufReader::new(file))
        .with_context(|| format!("{name}: not a dobench part file"))?;
    Ok((name, part))
}

/// Reads the parts, waiting (at most `wait`) until every segment of the first part's run
/// has one.
async fn gather(plan: &MergePlan) -> anyhow::Result<Vec<NamedPart>> {
    let deadline = plan.wait.map(|w| Instant::now() + w);
    loop {
        let parts = match read_parts(&plan.inputs) {
            Ok(p) => p,
            Err(e) if deadline.is_some_and(|d| Instant::now() < d) => {
                tracing::info!("waiting for parts: {e:#}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let want = parts.first().map(|(_, p)| p.plan.segments);
        let have: std::collections::BTreeSet<u32> =
            parts.iter().map(|(_, p)| p.segment.index).collect();
        let done = want.is_some_and(|n| have.len() as u32 >= n);
        match deadline {
            Some(d) if !done && Instant::now() < d => {
                eprintln!(
                    "merge: {} of {} segments so far; waiting",
                    have.len(),
                    want.map_or("?".to_string(), |n| n.to_string())
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            _ => return Ok(parts),
        }
    }
}

/// Merges the parts into one run, checks and records it; returns its summary (with its
/// stored `run_id`).
pub async fn merge(plan: &MergePlan, cancel: CancellationToken) -> anyhow::Result<RunSummary> {
    let parts = gather(plan).await?;
    let merged = part::merge(parts)?;
    let pp = &merged.plan;
    let mut p = profile::parse(&pp.profile_source, &pp.profile_text, &pp.overrides)
        .with_context(|| format!("the parts' profile {}", pp.profile))?;
    // The parts drove a target they did not start: it retries alarms on its own schedule.
    p.runtime.alarm_time_scale = 1.0;
    let mut summary = summary_of(&merged, &p).await;
    let d = &merged.distributed;
    let correctness = match p.workload {
        WorkloadKind::Counter => {
            traffic::counter::check_merged(
                &merged.evidence,
                &d.missing,
                &pp.target,
                p.load.timeout.0,
            )
            .await?
            .0
        }
        WorkloadKind::Alarm => {
            let (c, alarms) = traffic::alarm::check_merged(
                &merged.evidence,
                &p,
                &pp.target,
                &pp.nonce,
                pp.start_at_ms,
                &cancel,
            )
            .await?;
            summary.alarms = Some(alarms);
            c
        }
        other => bail!(
            "parts of workload {:?} cannot be merged yet (splittable: counter, alarm)",
            other.class()
        ),
    };
    summary.correctness = Some(correctness);
    summary.thresholds = thresholds::evaluate(&p.thresholds, &summary);
    summary.failures = crate::run::run_failures(&summary, false);
    if !d.complete {
        summary.failures.insert(
            0,
            format!(
                "incomplete: segments {:?} of {} have no part; their planned sends are in no figure of this run",
                d.missing, d.segments
            ),
        );
    }
    summary.run_id = record(plan, &merged, &p, &summary)?;
    Ok(summary)
}

/// The merged run's summary through the one summary path, with what the target says of its
/// hottest objects (when it can be reached from here, as a whole run reads it at its end)
/// and how the parts made it. The run's bill is left out: the target's usage since the
/// parts began is not known here.
async fn summary_of(merged: &part::Merged, p: &dobench_workloads::Profile) -> RunSummary {
    let pp = &merged.plan;
    let final_stats = server_stats::fetch_hottest(&pp.target, STATS_TIMEOUT, SUMMARY_OBJECTS)
        .await
        .ok();
    let class = p.workload.class();
    let mut summary = RunSummary::from_outcome(
        &merged.outcome,
        SummaryMeta {
            profile: p.name.clone(),
            workload: Some(class.to_string()),
            target: pp.target.clone(),
            strategy: Some(p.strategy.to_string()),
            ceiling_rps: merged.ceiling_rps,
            work: final_stats
                .as_ref()
                .map(|st| crate::bill::work_by_name(st, class))
                .unwrap_or_default(),
        },
    );
    if let (Some(stats), Some(objects)) = (&final_stats, summary.objects.as_mut()) {
        for o in objects.iter_mut() {
            if let Some(so) = stats.object(class, &o.name) {
                o.id = so.id.clone();
            }
        }
    }
    let d = &merged.distributed;
    summary.read_fan_in = p.strategy.read_fan_in();
    if let Some(limited) = d.parts.iter().find(|l| l.generator_limited) {
        summary.generator_limited = true;
        summary.generator_note = Some(format!(
            "the generator of segment {} (host {}) was its own limit; see its part",
            limited.segment, limited.host
        ));
    }
    summary.notes.push(format!(
        "merged from {} part(s) on {}",
        d.merged.len(),
        hosts(d)
    ));
    summary.distributed = Some(d.clone());
    summary
}

/// Records the merged run in the store (`incomplete` when a segment is missing); its id.
fn record(
    plan: &MergePlan,
    merged: &part::Merged,
    p: &dobench_workloads::Profile,
    summary: &RunSummary,
) -> anyhow::Result<String> {
    let (pp, d) = (&merged.plan, &merged.distributed);
    let meta = RunMeta {
        profile: p.name.clone(),
        profile_text: pp.profile_text.clone(),
        workload: Some(p.workload.class().to_string()),
        target: pp.target.clone(),
        strategy: Some(p.strategy.to_string()),
        runtime_options: serde_json::json!({
            "embedded": false,
            "merged": { "segments": d.segments, "merged": d.merged, "missing": d.missing,
                        "start_at_ms": d.start_at_ms, "overrides": pp.overrides },
            "load": format!("{:?}", pp.schedule),
        }),
        thresholds: p.thresholds.iter().map(|t| t.expr.clone()).collect(),
        ceiling_rps: merged.ceiling_rps,
        planned_s: Some(p.load.duration.0.as_secs_f64()),
        compare_group: None,
    };
    if let Some(parent) = plan.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let writer = Store::open(&plan.db)
        .with_context(|| format!("opening results store {}", plan.db.display()))?
        .begin_run(&meta)?;
    let agg = Some(&merged.outcome.aggregate);
    Ok(if d.complete {
        writer.finish(summary, agg)?
    } else {
        writer.finish_incomplete(summary, agg)?
    })
}

fn hosts(d: &dobench_loadgen::summary::Distributed) -> String {
    let mut h: Vec<&str> = d.parts.iter().map(|p| p.host.as_str()).collect();
    h.sort_unstable();
    h.dedup();
    match h.len() {
        0 => "no named host".into(),
        1 => format!("host {}", h[0]),
        n => format!("{n} hosts"),
    }
}
