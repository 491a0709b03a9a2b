//! Records one run as it goes: [`RunWriter`] inserts the run row at the start, one batched
//! transaction per closed second (its row, object rows, buffered server stats, heartbeat and
//! last snapshot), and the summary plus per-op histograms at the end. [`record_live`] drives
//! a writer from the live `watch<Snapshot>` bus on a blocking thread. Never blocks an async
//! worker on SQLite and never writes to a run it did not start.

use dobench_loadgen::hist::to_v2;
use dobench_loadgen::{Aggregate, Percentiles, RunSummary, Snapshot};
use rusqlite::params;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::liveness;
use crate::model::{HostFacts, RunMeta};
use crate::seconds::{SecondBatch, SecondTracker};
use crate::store::{now_ms, Store};

/// Per-second object rows kept for this many busiest objects (plus one remainder row).
pub const DEFAULT_TOP_N: usize = 16;

/// Writes one run into a [`Store`] while it runs. Dropping it without [`RunWriter::finish`]
/// leaves the run `running` until its process exits, after which it reads as `incomplete`.
pub struct RunWriter {
    store: Store,
    id: String,
    tracker: SecondTracker,
    pending_stats: Vec<(f64, String)>,
    finished: bool,
}

impl Store {
    /// Starts recording a new run (status `running`) and hands back its writer, which owns
    /// this connection. The run id has the same shape as `RunSummary::run_id`.
    pub fn begin_run(self, meta: &RunMeta) -> Result<RunWriter> {
        let started = now_ms();
        let id = dobench_loadgen::summary::new_run_id(started);
        let (pid, token) = liveness::current();
        self.conn.execute(
            "INSERT INTO runs (id, started_ms, status, profile, profile_text, workload, target, strategy, runtime_options, \
             dobench_version, host, pid, pid_start, planned_s, ceiling_rps, thresholds, compare_group, heartbeat_ms) \
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?2)",
            params![
                id,
                started as i64,
                meta.profile,
                meta.profile_text,
                meta.workload,
                meta.target,
                meta.strategy,
                serde_json::to_string(&meta.runtime_options)?,
                env!("CARGO_PKG_VERSION"),
                serde_json::to_string(&HostFacts::current())?,
                pid,
                token,
                meta.planned_s,
                meta.ceiling_rps,
                serde_json::to_string(&meta.thresholds)?,
                meta.compare_group,
            ],
        )?;
        Ok(RunWriter {
            store: self,
            id,
            tracker: SecondTracker::new(DEFAULT_TOP_N),
            pending_stats: Vec::new(),
            finished: false,
        })
    }
}

impl RunWriter {
    /// The stored run's id (put it in the printed summary's `run_id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The underlying store (read access while recording).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Feeds one live snapshot; when it closes a second, that second is written in one
    /// transaction. Returns whether something was written.
    pub fn push_snapshot(&mut self, s: &Snapshot) -> Result<bool> {
        self.check_open()?;
        match self.tracker.push(s) {
            Some(batch) => {
                self.write_second(&batch, s)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Buffers one scrape of the target's own stats; it is written with the next second.
    pub fn push_server_stats(&mut self, elapsed_s: f64, stats: &serde_json::Value) -> Result<()> {
        self.check_open()?;
        self.pending_stats
            .push((elapsed_s, serde_json::to_string(stats)?));
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::AlreadyFinished(self.id.clone()));
        }
        Ok(())
    }

    fn write_second(&mut self, b: &SecondBatch, s: &Snapshot) -> Result<()> {
        let tx = self.store.conn.unchecked_transaction()?;
        let r = &b.row;
        let p = &r.latency_ms;
        tx.execute(
            "INSERT OR REPLACE INTO seconds (run_id, second, span_s, offered_rps, achieved_rps, requests, missed, errors, \
             overloaded, timeout, connect, other, status_errors, p50_ms, p90_ms, p99_ms, p999_ms, max_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                self.id,
                r.second as i64,
                r.span_s,
                r.offered_rps,
                r.achieved_rps,
                r.requests as i64,
                r.missed as i64,
                r.errors as i64,
                r.overloaded as i64,
                r.timeout as i64,
                r.connect as i64,
                r.other as i64,
                serde_json::to_string(&r.status_errors)?,
                p.p50,
                p.p90,
                p.p99,
                p.p999,
                p.max,
            ],
        )?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR REPLACE INTO object_seconds (run_id, second, object, rps, requests, remainder, objects) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for o in &b.objects {
                ins.execute(params![
                    self.id,
                    o.second as i64,
                    o.object,
                    o.rps,
                    o.requests as i64,
                    o.remainder,
                    o.objects as i64
                ])?;
            }
            let mut stats = tx.prepare_cached(
                "INSERT INTO server_stats (run_id, elapsed_s, stats) VALUES (?1, ?2, ?3)",
            )?;
            for (t, json) in self.pending_stats.drain(..) {
                stats.execute(params![self.id, t, json])?;
            }
        }
        tx.execute(
            "UPDATE runs SET heartbeat_ms = ?2, last_snapshot = ?3, offered_rps = ?4, achieved_rps = ?5, p99_ms = ?6 \
             WHERE id = ?1",
            params![self.id, now_ms() as i64, serde_json::to_string(s)?, s.offered_rps, s.achieved_rps, s.latency_ms.p99],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Finishes the run: stores `summary` (its `run_id` replaced by this run's id), its
    /// verdict, and — given the executor's `aggregate` — per-op HdrHistograms (`*` = all ops)
    /// and each second's exact latency histogram and percentiles. Marks the run `complete`.
    pub fn finish(self, summary: &RunSummary, aggregate: Option<&Aggregate>) -> Result<String> {
        self.finish_as(summary, aggregate, "complete")
    }

    /// [`RunWriter::finish`] for a run that holds part of its plan only (a merged run with a
    /// segment missing): everything is stored, and the run reads as `incomplete` in every
    /// view, never `complete`.
    pub fn finish_incomplete(
        self,
        summary: &RunSummary,
        aggregate: Option<&Aggregate>,
    ) -> Result<String> {
        self.finish_as(summary, aggregate, "incomplete")
    }

    fn finish_as(
        mut self,
        summary: &RunSummary,
        aggregate: Option<&Aggregate>,
        status: &str,
    ) -> Result<String> {
        self.check_open()?;
        let mut summary = summary.clone();
        summary.run_id = self.id.clone();
        let passed =
            summary.thresholds.passed && summary.correctness.as_ref().is_none_or(|c| c.passed);
        let tx = self.store.conn.unchecked_transaction()?;
        {
            let mut stats = tx.prepare_cached(
                "INSERT INTO server_stats (run_id, elapsed_s, stats) VALUES (?1, ?2, ?3)",
            )?;
            for (t, json) in self.pending_stats.drain(..) {
                stats.execute(params![self.id, t, json])?;
            }
        }
        if let Some(agg) = aggregate {
            let mut hist = tx.prepare_cached(
                "INSERT OR REPLACE INTO histograms (run_id, op, v2) VALUES (?1, ?2, ?3)",
            )?;
            hist.execute(params![self.id, "*", to_v2(&agg.total.latency)?])?;
            for (op, st) in &agg.total.ops {
                hist.execute(params![self.id, op.as_ref(), to_v2(&st.latency)?])?;
            }
            let mut update = tx.prepare_cached(
                "UPDATE seconds SET p50_ms = ?3, p90_ms = ?4, p99_ms = ?5, p999_ms = ?6, max_ms = ?7, latency_v2 = ?8 \
                 WHERE run_id = ?1 AND second = ?2",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO seconds (run_id, second, span_s, offered_rps, achieved_rps, requests, missed, errors, \
                 overloaded, timeout, connect, other, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, latency_v2) \
                 VALUES (?1, ?2, 1.0, ?3, ?4, ?4, 0, ?5, 0, 0, 0, 0, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for iv in &agg.intervals {
                let Percentiles {
                    p50,
                    p90,
                    p99,
                    p999,
                    max,
                } = iv.latency_ms;
                let n = update.execute(params![
                    self.id,
                    iv.second as i64,
                    p50,
                    p90,
                    p99,
                    p999,
                    max,
                    iv.latency_v2
                ])?;
                if n == 0 {
                    insert.execute(params![
                        self.id,
                        iv.second as i64,
                        summary.offered_rps,
                        iv.requests as i64,
                        iv.errors as i64,
                        p50,
                        p90,
                        p99,
                        p999,
                        max,
                        iv.latency_v2
                    ])?;
                }
            }
        }
        tx.execute(
            "UPDATE runs SET status = ?8, ended_ms = ?2, heartbeat_ms = ?2, summary = ?3, passed = ?4, \
             offered_rps = ?5, achieved_rps = ?6, p99_ms = ?7 WHERE id = ?1",
            params![
                self.id,
                now_ms() as i64,
                serde_json::to_string(&summary)?,
                passed,
                summary.offered_rps,
                summary.achieved_rps,
                summary.latency_ms.p99,
                status
            ],
        )?;
        tx.commit()?;
        self.finished = true;
        Ok(self.id.clone())
    }

    /// Gives up on the run now (e.g. the run failed to start): marks it `incomplete`.
    pub fn abandon(mut self) -> Result<()> {
        self.finished = true;
        self.store.conn.execute(
            "UPDATE runs SET status = 'incomplete', heartbeat_ms = ?2 WHERE id = ?1 AND status = 'running'",
            params![self.id, now_ms() as i64],
        )?;
        Ok(())
    }
}

/// Records a run from the live bus on a blocking thread until the run's last snapshot
/// (`done`) or until the sender is dropped; hands the writer back for
/// [`RunWriter::finish`]. Call it right after `executor::start` with a clone of
/// `handle.snapshots`. Must be called from within a tokio runtime.
pub fn record_live(
    mut writer: RunWriter,
    mut snapshots: watch::Receiver<Snapshot>,
) -> JoinHandle<Result<RunWriter>> {
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut last_stats_s = -1.0;
        loop {
            let changed = rt.block_on(snapshots.changed());
            let snap = snapshots.borrow_and_update().clone();
            // The target's own stats ride on the bus when someone scrapes them: kept at most
            // once a second, and at the end.
            if let Some(st) = &snap.server {
                if snap.elapsed_s - last_stats_s >= 1.0 || snap.done || changed.is_err() {
                    last_stats_s = snap.elapsed_s;
                    writer.push_server_stats(snap.elapsed_s, &serde_json::to_value(st)?)?;
                }
            }
            if changed.is_err() {
                // Sender gone: record what the final value holds, then stop.
                writer.push_snapshot(&Snapshot { done: true, ..snap })?;
                break;
            }
            writer.push_snapshot(&snap)?;
            if snap.done {
                break;
            }
        }
        Ok(writer)
    })
}

/// Waits for a [`record_live`] task.
pub async fn join_live(task: JoinHandle<Result<RunWriter>>) -> Result<RunWriter> {
    task.await.map_err(|e| Error::Task(e.to_string()))?
}
