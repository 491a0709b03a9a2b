//! `dobench run PROFILE --repeat N`: runs the profile N times, one after another (each
//! against a fresh embedded runtime, or the same target with fresh object names), stores them
//! as one `repeat` group, and reports each headline figure as mean ± σ over the runs with
//! its range, hyperfine style (`dobench_reports::figures`). The group id (or its `--label`)
//! is one side of a `diff`. Runs the plan through `run::execute` only; never measures or
//! computes a statistic of its own.

use std::process::ExitCode;

use anyhow::Context;
use dobench_reports::{figures, GroupKind, Store};

use crate::cli::RunArgs;
use dobench::run::{self, RunPlan};

/// Most runs one `--repeat` takes.
pub const MAX_REPEAT: u32 = 100;

/// A `--label` must name something `resolve` can find: not empty, not `latest...`.
pub fn check_label(label: Option<&str>) -> anyhow::Result<()> {
    if let Some(l) = label {
        if l.trim().is_empty() || l.starts_with("latest") || l.chars().any(char::is_control) {
            anyhow::bail!(
                "--label {l:?}: give a name that is not empty, has no control characters and does not start with `latest`"
            );
        }
    }
    Ok(())
}

/// What a report of a repeat group says instead of naming a best run.
pub fn no_best(runs: usize) -> String {
    format!("{runs} runs of one plan (a --repeat group): no best among them; `dobench diff` reads the group as mean ± σ")
}

/// `dobench run --repeat N`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if !(2..=MAX_REPEAT).contains(&args.repeat) {
        anyhow::bail!(
            "--repeat {}: give a number of runs in 2..={MAX_REPEAT} (1 is a plain run)",
            args.repeat
        );
    }
    let (wants_workerd, target) = crate::workerd::split_target(args.target.as_deref());
    let mut plan = RunPlan::new(
        &args.profile,
        target,
        args.strategy.as_deref(),
        args.duration.as_deref(),
        &args.set,
        args.db.clone(),
    )?;
    if args.tui {
        crate::tui::check_terminal()?;
    }
    let workerd = crate::workerd::start_if(wants_workerd).await?;
    if let Some(w) = &workerd {
        plan.target = Some(w.base.clone());
        plan.target_label = Some(crate::workerd::TARGET_WORD.into());
    }
    let store = Store::open(&plan.db)
        .with_context(|| format!("opening results store {}", plan.db.display()))?;
    let group = store.create_group(&plan.loaded.profile.name, GroupKind::Repeat)?;
    plan.compare_group = Some(group.clone());
    let cancel = crate::cancel_on_signal();
    let view = crate::tui::view_for(args.tui, args.json);
    let mut ids = Vec::new();
    let mut all_passed = true;
    for i in 1..=args.repeat {
        if cancel.is_cancelled() {
            break;
        }
        if !args.json {
            eprintln!(
                "== {} run {i}/{} (group {group})",
                plan.loaded.profile.name, args.repeat
            );
        }
        let r = run::execute(&plan, cancel.clone(), view.clone()).await?;
        all_passed &= r.passed();
        if let Some(label) = &args.label {
            store.set_label(&r.summary.run_id, label)?;
        }
        ids.push(r.summary.run_id);
    }
    let runs = ids
        .iter()
        .map(|id| store.load(id))
        .collect::<Result<Vec<_>, _>>()?;
    let figs = figures::of_group(&runs);
    if let Some(path) = &args.html {
        let opts = dobench_reports::html::ReportOptions {
            answer: Some(no_best(ids.len())),
            ..Default::default()
        };
        run::write_report(&plan.db, &ids, path, opts, None)?;
    }
    if args.json {
        let summaries: Vec<_> = runs.iter().map(|r| &r.summary).collect();
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "group": group, "label": args.label, "repeat": ids.len(),
                "runs": summaries, "figures": figs,
            }))?
        );
    } else {
        let p = &plan.loaded.profile;
        println!(
            "dobench {} × {} runs  (strategy {}; group {group}{})",
            p.name,
            ids.len(),
            p.strategy,
            args.label
                .as_deref()
                .map(|l| format!("; label {l}"))
                .unwrap_or_default()
        );
        println!(
            "  {:<24} {:>10}   {:<8} {:<5}  [min … max]",
            "figure", "mean", "± σ", "unit"
        );
        print!("{}", figures::group_text(&figs));
        let failed = runs.iter().filter(|r| !r.summary.passed()).count();
        if failed > 0 {
            println!(
                "  {failed} of {} runs failed their thresholds or correctness",
                ids.len()
            );
        }
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
