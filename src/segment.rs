//! One segment of a split run (`dobench run PROFILE --target URL --segment I/N --start-at MS
//! --out PART`): waits for the shared start instant (starting its generator a little before
//! it, so connections are open when it comes), drives segment I of the profile's interleaved
//! schedule against the one target every segment shares, measures its clock against the
//! target's, and writes a part file (`dobench_loadgen::part::Part`) for `dobench merge`.
//! Object names carry a nonce derived from the start instant, so every segment addresses
//! the same objects. A segment judges nothing: thresholds and correctness are the merge's.
//! Never starts a runtime (the embedded runtime would give each segment its own target),
//! never records into the results store, never prints (but its progress line).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use dobench_loadgen::part::{Books, Environment, Part, PartClock, PartPlan, PART_FORMAT};
use dobench_loadgen::{clock, server_stats, RunSummary, Segment, SummaryMeta};
use dobench_workloads::profile::LoadedProfile;
use dobench_workloads::strategy::mix64;
use dobench_workloads::traffic::{self, Split, SPLITTABLE};
use tokio_util::sync::CancellationToken;

/// A typed plan of one segment, built from flags.
pub struct SegmentPlan {
    pub loaded: LoadedProfile,
    /// The `--set` overrides applied to the profile (every part must carry the same).
    pub overrides: Vec<String>,
    /// The shared target's base URL.
    pub target: String,
    pub segment: Segment,
    /// The shared start instant, ms since the Unix epoch.
    pub start_at_ms: u64,
    /// The part file to write.
    pub out: PathBuf,
}

/// How long before the start instant the generator starts (opening its connections).
const LEAD: Duration = Duration::from_secs(2);

/// How long the clock measurement against the target's `Date` header may take.
const CLOCK_BUDGET: Duration = Duration::from_millis(2500);

/// The object-name nonce of a split run: the same in every segment, from the start instant.
pub fn nonce_for(start_at_ms: u64) -> String {
    format!("{:06x}", mix64(start_at_ms) & 0xff_ffff)
}

/// Checks what can be checked before waiting for the start instant.
pub fn check(plan: &SegmentPlan) -> anyhow::Result<()> {
    let p = &plan.loaded.profile;
    if !SPLITTABLE.contains(&p.workload) {
        bail!(
            "--segment: workload {:?} cannot be split yet: its correctness evidence does not merge across machines (splittable: counter, alarm)",
            p.workload.class()
        );
    }
    let (sockets, what) = crate::run::sockets_needed(p, false);
    crate::limits::check_sockets(sockets, &what)?;
    if let Some(dir) = plan.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "--out {}: no directory {}",
                plan.out.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Runs the segment and writes its part; returns the part (its `summary` for printing).
pub async fn run(
    plan: &SegmentPlan,
    cancel: CancellationToken,
    progress: bool,
) -> anyhow::Result<Part> {
    check(plan)?;
    let p = &plan.loaded.profile;
    let start_at = UNIX_EPOCH + Duration::from_millis(plan.start_at_ms);
    let seg = plan.segment;
    wait_for_start(plan, start_at, &cancel).await?;
    let first_stats = server_stats::fetch(&plan.target, Duration::from_secs(2))
        .await
        .ok();
    let ceiling_rps = first_stats
        .and_then(|s| s.ceiling_rps.map(f64::from))
        .or(p.runtime.ceiling_rps());
    let split = Split {
        segment: seg,
        start_at: Some(start_at),
    };
    let nonce = nonce_for(plan.start_at_ms);
    // A target the segment did not start retries alarms on its own schedule (as in `run`).
    let mut driven = p.clone();
    driven.runtime.alarm_time_scale = 1.0;
    let running = traffic::start_split(&driven, &plan.target, &nonce, cancel, split)?;
    let shown = progress.then(|| tokio::spawn(crate::run::progress(running.snapshots.clone())));
    let finished = running.wait().await;
    if let Some(task) = shown {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    let finished = finished?;
    let outcome = &finished.outcome;
    let s = &outcome.snapshot;
    if s.requests > 0 && s.errors.connect == s.requests {
        bail!(
            "cannot connect to {}: every one of {} requests failed to connect",
            plan.target,
            s.requests
        );
    }
    let mut summary = RunSummary::from_outcome(
        outcome,
        SummaryMeta {
            profile: p.name.clone(),
            workload: Some(p.workload.class().to_string()),
            target: plan.target.clone(),
            strategy: Some(p.strategy.to_string()),
            ceiling_rps,
            // The merged run reads what its objects' turns cost; a part needs none of it.
            work: Default::default(),
        },
    );
    summary.correctness = Some(finished.correctness.clone());
    summary.read_fan_in = finished.read_fan_in;
    summary.notes = finished.notes.clone();
    summary.notes.push(format!(
        "segment {}/{} of a split run: `dobench merge` judges thresholds and correctness on the merged run",
        seg.index, seg.count
    ));
    let late_ms = outcome.start_late.as_secs_f64() * 1000.0;
    if late_ms > 0.0 {
        summary.notes.push(format!(
            "started {late_ms:.0} ms after the start instant: its sends due before then went out late, booked as lateness (or missed past the timeout)"
        ));
    }
    let target_offset =
        clock::offset_from_date(&format!("{}/_dobench/health", plan.target), CLOCK_BUDGET).await;
    let part = Part {
        format: PART_FORMAT.to_string(),
        plan: part_plan(plan, nonce),
        segment: seg,
        clock: PartClock {
            started_late_ms: late_ms,
            elapsed_ms: outcome.elapsed.as_secs_f64() * 1000.0,
            target_offset,
        },
        environment: Environment::here(&summary),
        ceiling_rps,
        books: Books::of(outcome)?,
        evidence: finished.evidence.clone().unwrap_or_default(),
        summary,
    };
    write(&plan.out, &part)?;
    Ok(part)
}

/// Sleeps until a little before the start instant (when it is still ahead).
async fn wait_for_start(
    plan: &SegmentPlan,
    start_at: SystemTime,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let wake = start_at.checked_sub(LEAD).unwrap_or(start_at);
    let Ok(ahead) = wake.duration_since(SystemTime::now()) else {
        return Ok(());
    };
    eprintln!(
        "segment {}/{}: waiting {:.1} s for the start instant ({} ms since the epoch)",
        plan.segment.index,
        plan.segment.count,
        ahead.as_secs_f64() + LEAD.as_secs_f64(),
        plan.start_at_ms
    );
    tokio::select! {
        _ = tokio::time::sleep(ahead) => Ok(()),
        _ = cancel.cancelled() => bail!("stopped before the start instant"),
    }
}

/// What this part shares with every other part of its run.
fn part_plan(plan: &SegmentPlan, nonce: String) -> PartPlan {
    let p = &plan.loaded.profile;
    PartPlan {
        profile: p.name.clone(),
        profile_source: plan.loaded.source.clone(),
        profile_text: plan.loaded.text.clone(),
        overrides: plan.overrides.clone(),
        workload: p.workload.class().to_string(),
        strategy: Some(p.strategy.to_string()),
        schedule: traffic::schedule(&p.load),
        segments: plan.segment.count,
        start_at_ms: plan.start_at_ms,
        nonce,
        target: plan.target.clone(),
    }
}

/// Writes `part` to `path` through a temporary file in its directory (a reader never sees
/// half a part).
fn write(path: &Path, part: &Part) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".part-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut w = std::io::BufWriter::new(tmp.as_file_mut());
    serde_json::to_writer(&mut w, part).with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::flush(&mut w).with_context(|| format!("writing {}", path.display()))?;
    drop(w);
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote part {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_segment_derives_one_nonce_from_the_start_instant() {
        assert_eq!(nonce_for(1_700_000_000_000), nonce_for(1_700_000_000_000));
        assert_ne!(nonce_for(1_700_000_000_000), nonce_for(1_700_000_000_001));
        assert_eq!(nonce_for(5).len(), 6);
    }
}
