//! The one recording path of a run into the results store, shared by `run`, `compare` and
//! `http`: [`Recording::start`] opens the store (creating its directory), begins the run and
//! records the live bus as it goes (`dobench_reports::record_live`, which keeps the target's
//! scraped stats too); [`Recording::finish`] stores the final summary and histograms and
//! gives the summary its stored id, so what is printed is what is stored. Never prints.

use std::path::Path;

use anyhow::Context;
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::{RunSummary, Snapshot};
use dobench_reports::{record_live, RunMeta, RunWriter, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A run being recorded live.
pub struct Recording(JoinHandle<dobench_reports::Result<RunWriter>>);

impl Recording {
    /// Opens the store at `db` (creating its directory) and records `bus` into it.
    pub fn start(
        db: &Path,
        meta: RunMeta,
        bus: watch::Receiver<Snapshot>,
    ) -> anyhow::Result<Recording> {
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let store =
            Store::open(db).with_context(|| format!("opening results store {}", db.display()))?;
        let writer = store.begin_run(&meta)?;
        Ok(Recording(record_live(writer, bus)))
    }

    /// Stores `summary` and the outcome's histograms, and sets `summary.run_id` to the stored
    /// id.
    pub async fn finish(
        self,
        summary: &mut RunSummary,
        outcome: &RunOutcome,
    ) -> anyhow::Result<()> {
        let writer = dobench_reports::join_live(self.0).await?;
        summary.run_id = writer.id().to_string();
        writer.finish(summary, Some(&outcome.aggregate))?;
        Ok(())
    }

    /// Marks the run as abandoned (it failed before it had a summary).
    pub async fn abandon(self) {
        if let Ok(w) = dobench_reports::join_live(self.0).await {
            let _ = w.abandon();
        }
    }
}

/// Starts recording into `db` when there is one (`None`: no recording).
pub fn start_if(
    db: Option<&Path>,
    meta: RunMeta,
    bus: watch::Receiver<Snapshot>,
) -> anyhow::Result<Option<Recording>> {
    db.map(|db| Recording::start(db, meta, bus)).transpose()
}

/// Finishes a recording started with [`start_if`] (nothing to do without one).
pub async fn finish_if(
    rec: Option<Recording>,
    summary: &mut RunSummary,
    outcome: &RunOutcome,
) -> anyhow::Result<()> {
    match rec {
        Some(r) => r.finish(summary, outcome).await,
        None => Ok(()),
    }
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
