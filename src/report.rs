//! `dobench runs`, `dobench show` and `dobench report`: read the results store and print a
//! table, a stored summary, or write one self-contained HTML report. Also the small hook
//! other commands use to record a run live (`--db`). Only flags → typed calls into
//! `dobench_reports`; all storage and rendering lives there. Never writes outside `-o`/`--db`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::{RunSummary, Snapshot};
use dobench_reports::html::{self, ReportOptions};
use dobench_reports::{record_live, text, RunFilter, RunMeta, RunWriter, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::{ReportArgs, RunsArgs, ShowArgs};

fn open_existing(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        bail!(
            "no results store at {} (runs are recorded with --db, default .dobench/results.db)",
            db.display()
        );
    }
    Store::open(db).with_context(|| format!("opening {}", db.display()))
}

/// `dobench runs`: past runs, newest first.
pub fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
    if !args.db.exists() {
        println!("no runs yet (no results store at {})", args.db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_existing(&args.db)?;
    let rows = store.list(&RunFilter {
        limit: Some(args.limit),
        profile: args.profile,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else if rows.is_empty() {
        println!("no runs match");
    } else {
        print!("{}", text::runs_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// `dobench show RUN`: the stored summary, as the run printed it.
pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(&args.db)?;
    let ids = store.resolve(&args.run)?;
    for id in ids {
        let summary = store.summary(&id)?;
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            let row = store.row(&id)?;
            print!("{}", text::summary(&summary));
            println!("status    {}", row.verdict());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dobench report RUN... -o FILE`: one self-contained HTML file.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(&args.db)?;
    let mut ids = Vec::new();
    let mut best_strategy = None;
    for spec in &args.runs {
        let found = store.resolve(spec)?;
        if found.len() > 1 || store.compare_best(spec)?.is_some() {
            best_strategy = best_strategy.or(store.compare_best(spec)?);
        }
        for id in found {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let runs = ids
        .iter()
        .map(|id| store.load(id))
        .collect::<Result<Vec<_>, _>>()?;
    let page = html::render(
        &runs,
        &ReportOptions {
            title: args.title,
            best_strategy,
        },
    )?;
    write_atomically(&args.output, page.as_bytes())?;
    eprintln!(
        "wrote {} ({} run{}, {} KB)",
        args.output.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        page.len() / 1024
    );
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

/// A run being recorded live (see [`record_start`]).
pub struct Recording(JoinHandle<dobench_reports::Result<RunWriter>>);

/// Starts recording a run into `db` from the live bus (`None`: no recording).
pub fn record_start(
    db: Option<&Path>,
    meta: RunMeta,
    snapshots: watch::Receiver<Snapshot>,
) -> anyhow::Result<Option<Recording>> {
    let Some(db) = db else { return Ok(None) };
    let store =
        Store::open(db).with_context(|| format!("opening results store {}", db.display()))?;
    let writer = store.begin_run(&meta)?;
    Ok(Some(Recording(record_live(writer, snapshots))))
}

/// Finishes a recording: stores `summary` and the outcome's histograms, and sets
/// `summary.run_id` to the stored id so what is printed matches what is stored.
pub async fn record_finish(
    rec: Option<Recording>,
    summary: &mut RunSummary,
    outcome: &RunOutcome,
) -> anyhow::Result<()> {
    let Some(Recording(task)) = rec else {
        return Ok(());
    };
    let writer = dobench_reports::join_live(task).await?;
    summary.run_id = writer.id().to_string();
    writer.finish(summary, Some(&outcome.aggregate))?;
    Ok(())
}

/// What `dobench http` records about its run.
pub fn http_meta(url: &str, plan: &str) -> RunMeta {
    RunMeta {
        profile: "http".into(),
        target: url.to_string(),
        runtime_options: serde_json::json!({ "plan": plan }),
        ..RunMeta::default()
    }
}
