//! The split-run commands' flags turned into plans, and their printing: `run --segment`
//! (one segment, written as a part), `merge` (parts into one recorded run) and `k8s` (the
//! manifests that run the segments on a cluster). Refuses what cannot make one run: a
//! segment without a shared `--target` (the embedded runtime, `workerd` or `--target-cmd`
//! would give each segment its own), without `--start-at` or `--out`. The work itself lives
//! in the library (`dobench::segment`, `dobench::merge`, `dobench::k8s`).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use dobench::segment::SegmentPlan;
use dobench_loadgen::Segment;

use crate::cli::{K8sArgs, MergeArgs, RunArgs};

/// Parses `I/N` (segment I of N, I from 0).
fn parse_segment(s: &str) -> anyhow::Result<Segment> {
    let bad = || {
        anyhow::anyhow!(
            "--segment {s:?}: use I/N, segment I (from 0, as Kubernetes' completion index) of N, e.g. 0/4"
        )
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    Segment::new(i, n).map_err(|_| {
        anyhow::anyhow!(
            "--segment {s}: segment {i} of {n} does not exist (use 0 to {})",
            n.max(1) - 1
        )
    })
}

/// `dobench run ... --segment I/N --start-at MS --out PART`.
pub async fn segment(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Some(seg) = args.segment.as_deref() else {
        bail!("--start-at and --out belong to a segment of a split run: give --segment I/N too");
    };
    let segment = parse_segment(seg)?;
    let target = match args.target.as_deref() {
        None => bail!(
            "--segment needs --target URL: every segment of a split run must drive one shared target, and the embedded runtime would give each segment its own"
        ),
        Some(t) if crate::workerd::split_target(Some(t)).0 => bail!(
            "--segment with --target workerd would start one workerd per segment: start one target and give its URL to every segment"
        ),
        Some(t) => t.trim_end_matches('/').to_string(),
    };
    if args.target_cmd.plan()?.is_some() {
        bail!("--segment with --target-cmd would start one server per segment: give every segment one --target URL");
    }
    let Some(start_at_ms) = args.start_at else {
        bail!("--segment needs --start-at EPOCH_MS: the start instant every segment shares (ms since the Unix epoch)");
    };
    let Some(out) = args.out.clone() else {
        bail!("--segment needs --out FILE: the part file `dobench merge` reads");
    };
    if args.repeat != 1 || args.label.is_some() || args.html.is_some() || args.tui {
        bail!("--segment writes a part, not a run: --repeat, --label, --html and --tui belong to `dobench merge`'s run");
    }
    // The same loading as a whole run (overrides, strategy, duration), kept as overrides so
    // the merge re-reads the profile exactly as every segment did.
    let mut overrides = args.set.clone();
    if let Some(s) = &args.strategy {
        overrides.push(format!("strategy=\"{s}\""));
    }
    if let Some(d) = &args.duration {
        overrides.push(format!("load.duration=\"{d}\""));
    }
    let plan = dobench::run::RunPlan::new(
        &args.profile,
        Some(target.clone()),
        None,
        None,
        &overrides,
        args.db.clone(),
    )?;
    let plan = SegmentPlan {
        loaded: plan.loaded,
        overrides,
        target,
        segment,
        start_at_ms,
        out,
    };
    let cancel = crate::cancel_on_signal();
    let part = dobench::segment::run(&plan, cancel, !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string(&part.summary)?);
    } else {
        print!("{}", dobench_reports::text::summary(&part.summary));
    }
    Ok(ExitCode::SUCCESS)
}

/// `dobench merge PART...`.
pub async fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    crate::remote::apply(&args.remote)?;
    let wait = args
        .wait
        .as_deref()
        .map(dobench_loadgen::duration::parse)
        .transpose()
        .context("--wait")?;
    let plan = dobench::merge::MergePlan {
        inputs: args.parts.clone(),
        db: args.db.clone(),
        wait,
    };
    let summary = dobench::merge::merge(&plan, crate::cancel_on_signal()).await?;
    if let Some(path) = &args.html {
        dobench::run::write_html(&args.db, std::slice::from_ref(&summary.run_id), path, None)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", dobench_reports::text::summary(&summary));
    }
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `dobench k8s PROFILE --parts N --image IMAGE --target URL`.
pub fn k8s(args: K8sArgs) -> anyhow::Result<ExitCode> {
    if args.parts == 0 {
        bail!("--parts 0: split the run into at least one part");
    }
    let loaded = dobench_workloads::profile::load(&args.profile, &args.set)?;
    let p = &loaded.profile;
    if !dobench_workloads::traffic::SPLITTABLE.contains(&p.workload) {
        bail!(
            "workload {:?} cannot be split yet: its correctness evidence does not merge across machines (splittable: counter, alarm)",
            p.workload.class()
        );
    }
    match dobench_loadgen::RequestSpec::new(
        "probe",
        dobench_loadgen::http::Method::GET,
        &args.target,
    ) {
        // Off this machine is the point here; the pods pass --allow-remote.
        Ok(_) | Err(dobench_loadgen::Error::NonLoopback { .. }) => {}
        Err(e) => return Err(e).with_context(|| format!("--target {}", args.target)),
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| dobench::k8s::default_name(&p.name));
    dobench::k8s::check_name(&name).map_err(anyhow::Error::msg)?;
    let start_in = dobench_loadgen::duration::parse(&args.start_in).context("--start-in")?;
    let start_at_ms = (SystemTime::now() + start_in)
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64;
    let plan = dobench::k8s::K8sPlan {
        name,
        profile_text: loaded.text.clone(),
        overrides: args.set.clone(),
        parts: args.parts,
        image: args.image.clone(),
        target: args.target.trim_end_matches('/').to_string(),
        start_at_ms,
        duration: p.load.duration.0,
        timeout: p.load.timeout.0,
        cpu: args.cpu.clone(),
        memory: args.memory.clone(),
        storage: args.storage.clone(),
        storage_class: args.storage_class.clone(),
    };
    print!("{}", dobench::k8s::manifests(&plan));
    Ok(ExitCode::SUCCESS)
}
