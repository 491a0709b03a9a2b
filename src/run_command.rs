//! `dobench run PROFILE`: turns the flags into a [`RunPlan`] (the profile with `--set`,
//! `--strategy` and `--duration` applied; `--target`, or `--target workerd` started for the
//! run), hands it to the library's run assembly (`dobench::run::execute`) with the chosen
//! view, and prints the one human summary or one `RunSummary` JSON (`--segment`: one segment
//! of a split run, handed to `crate::parts`). Exit 0 pass, 1 thresholds/correctness failed or
//! the run could not stand, 2 could not run. Never assembles a run itself.

use std::process::ExitCode;

use dobench::run::{execute, write_html, RunPlan};

use crate::cli::RunArgs;

/// `dobench run`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    crate::remote::apply(&args.remote)?;
    crate::repeat::check_label(args.label.as_deref())?;
    if args.segment.is_some() || args.start_at.is_some() || args.out.is_some() {
        return crate::parts::segment(args).await;
    }
    if args.repeat != 1 {
        return crate::repeat::run(args).await;
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
    let target_cmd = args.target_cmd.plan()?;
    if target_cmd.is_some() && args.target.is_some() {
        anyhow::bail!("--target-cmd starts the target itself: give it or --target, not both");
    }
    if args.tui {
        crate::tui::check_terminal()?;
    }
    // `--target-cmd`: the user's server, started after the profile loaded, stopped (with its
    // children) when this returns.
    let server = crate::target_cmd::start_if(target_cmd.as_ref()).await?;
    if let Some(s) = &server {
        plan.target = Some(s.base.clone());
    }
    // `--target workerd`: started after the profile loaded, stopped when this returns.
    let workerd = crate::workerd::start_if(wants_workerd).await?;
    if let Some(w) = &workerd {
        plan.target = Some(w.base.clone());
        plan.target_label = Some(crate::workerd::TARGET_WORD.into());
    }
    let cancel = crate::cancel_on_signal();
    let view = crate::tui::view_for(args.tui, args.json);
    let result = execute(&plan, cancel, view).await?;
    if let Some(label) = &args.label {
        dobench_reports::Store::open(&plan.db)?.set_label(&result.summary.run_id, label)?;
    }
    if let Some(path) = &args.html {
        write_html(
            &plan.db,
            std::slice::from_ref(&result.summary.run_id),
            path,
            None,
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&result.summary)?);
    } else {
        print!("{}", dobench_reports::text::summary(&result.summary));
    }
    Ok(if result.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
