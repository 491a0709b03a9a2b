//! The results store: one SQLite file (WAL) holding every run, its seconds, object rates,
//! histograms, server stats and compare groups (written by `groups.rs`). Opening migrates the schema and marks runs
//! whose writer died as `incomplete`. Reads here; live writes go through
//! [`crate::writer::RunWriter`]. A store that cannot be written (read-only file, directory or
//! mount) is opened read-only by [`Store::open_for_reading`]: no migration, no marking, no
//! journal change. Never deletes runs and never talks to the network.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dobench_loadgen::hist::from_v2;
use dobench_loadgen::{RunSummary, Snapshot};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::liveness;
use crate::migrate::{self, SCHEMA_VERSION};
use crate::model::{
    GroupKind, HostFacts, ObjectSecond, RunMeta, RunRow, RunStatus, SecondRow, ServerStats,
    StoredRun,
};
use crate::summary::summary_from_snapshot;

/// Default location of the results store, relative to the working directory.
pub const DEFAULT_PATH: &str = ".dobench/results.db";

/// (id, pid, pid start token, heartbeat ms) of a run marked running.
type RunningRow = (String, Option<i64>, Option<String>, Option<i64>);

/// Which runs `dobench runs` lists (newest first).
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub limit: Option<usize>,
    pub profile: Option<String>,
}

/// An open results store (one connection).
pub struct Store {
    pub(crate) conn: Connection,
    path: String,
}

pub(crate) const ROW_COLUMNS: &str =
    "id, started_ms, ended_ms, status, profile, target, strategy, offered_rps, \
     achieved_rps, p99_ms, passed, compare_group, label";

/// True if SQLite refused because the file, its directory or the mount cannot be written.
fn is_read_only(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    )
}

/// `file:` URI of `path` opened with `immutable=1`.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' | 0x80.. => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        started_ms: r.get::<_, i64>(1)? as u64,
        ended_ms: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
        status: RunStatus::parse(&r.get::<_, String>(3)?),
        profile: r.get(4)?,
        target: r.get(5)?,
        strategy: r.get(6)?,
        offered_rps: r.get(7)?,
        achieved_rps: r.get(8)?,
        p99_ms: r.get(9)?,
        passed: r.get(10)?,
        compare_group: r.get(11)?,
        label: r.get(12)?,
    })
}

/// `latest` → 0, `latest~N` → N; `None` for any other spec.
fn latest_offset(spec: &str) -> Result<Option<u64>> {
    let Some(rest) = spec.strip_prefix("latest") else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(Some(0));
    }
    match rest.strip_prefix('~').map(str::parse::<u64>) {
        Some(Ok(n)) => Ok(Some(n)),
        Some(Err(_)) => Err(Error::NoSuchRun(format!(
            "{spec} (write latest or latest~N, N a whole number)"
        ))),
        None => Ok(None),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`, migrating it to this build's schema
    /// and marking abandoned runs `incomplete`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, path.display().to_string())
    }

    /// Opens an existing store to read it: writable if possible (as [`Store::open`]), else
    /// read-only — a results file on a read-only mount, or owned by someone else, can still be
    /// listed, shown and reported.
    pub fn open_for_reading(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        match Self::open(path) {
            Ok(store) => Ok(store),
            Err(Error::Sqlite(e)) if is_read_only(&e) => Self::open_read_only(path),
            Err(e) => Err(e),
        }
    }

    /// Opens the store at `path` read-only. It must already have this build's schema (an
    /// older one needs one writable open to migrate).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        let conn = match migrate::version(&conn) {
            Ok(_) => conn,
            // A WAL store whose `-shm` cannot be created (read-only directory): read the file
            // as immutable, without the shared-memory index.
            Err(Error::Sqlite(_)) => {
                drop(conn);
                Connection::open_with_flags(
                    immutable_uri(path),
                    flags | OpenFlags::SQLITE_OPEN_URI,
                )?
            }
            Err(e) => return Err(e),
        };
        conn.busy_timeout(Duration::from_secs(5))?;
        let found = migrate::version(&conn)?;
        if found != SCHEMA_VERSION {
            return Err(Error::ReadOnlySchema {
                path: shown,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(Store { conn, path: shown })
    }

    /// A store in memory (tests, previews).
    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, ":memory:".to_string())
    }

    fn init(mut conn: Connection, path: String) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate::migrate_to(&mut conn, &path, SCHEMA_VERSION)?;
        let store = Store { conn, path };
        store.mark_abandoned()?;
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Marks every `running` run whose writer process is gone as `incomplete`; returns how many.
    pub fn mark_abandoned(&self) -> Result<usize> {
        let mut stmt = self.conn.prepare(
            "SELECT id, pid, pid_start, heartbeat_ms FROM runs WHERE status = 'running'",
        )?;
        let running: Vec<RunningRow> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let now = now_ms();
        let mut n = 0;
        for (id, pid, token, heartbeat) in running {
            let alive = liveness::writer_alive(
                pid.map(|p| p as u32),
                token.as_deref(),
                heartbeat.map(|h| h as u64),
                now,
            );
            if !alive {
                n += self.conn.execute(
                    "UPDATE runs SET status = 'incomplete' WHERE id = ?1 AND status = 'running'",
                    [&id],
                )?;
            }
        }
        Ok(n)
    }

    /// Past runs, newest first.
    pub fn list(&self, filter: &RunFilter) -> Result<Vec<RunRow>> {
        let limit = filter.limit.map_or(-1, |l| l as i64);
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM runs WHERE (?1 IS NULL OR profile = ?1) ORDER BY started_ms DESC, id DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![filter.profile, limit], run_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Run ids named by `spec`: a full id, `latest` (the newest run), `latest~N` (the run N
    /// before it), a group id (all its runs, oldest first), a `--label` (the newest run with
    /// it, or all of its group's runs when it was a `--repeat`), or any unique prefix or suffix
    /// of a run id.
    pub fn resolve(&self, spec: &str) -> Result<Vec<String>> {
        if let Some(back) = latest_offset(spec)? {
            let id: Option<String> = self
                .conn
                .query_row(
                    "SELECT id FROM runs ORDER BY started_ms DESC, id DESC LIMIT 1 OFFSET ?1",
                    [back as i64],
                    |r| r.get(0),
                )
                .optional()?;
            return id
                .map(|id| vec![id])
                .ok_or_else(|| Error::NoSuchRun(spec.to_string()));
        }
        let group = self.group_runs(spec)?;
        if !group.is_empty() {
            return Ok(group);
        }
        let exact: Option<String> = self
            .conn
            .query_row("SELECT id FROM runs WHERE id = ?1", [spec], |r| r.get(0))
            .optional()?;
        if let Some(id) = exact {
            return Ok(vec![id]);
        }
        let labelled: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT id, compare_group FROM runs WHERE label = ?1 ORDER BY started_ms DESC, id DESC LIMIT 1",
                [spec],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, group)) = labelled {
            if let Some(g) = group.filter(|g| self.group_kind(g).ok() == Some(GroupKind::Repeat)) {
                return self.group_runs(&g);
            }
            return Ok(vec![id]);
        }
        let mut stmt = self.conn.prepare(
            "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 OR substr(id, -length(?1)) = ?1 \
             ORDER BY id LIMIT 6",
        )?;
        let ids: Vec<String> = stmt
            .query_map([spec], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match ids.len() {
            0 => Err(Error::NoSuchRun(spec.to_string())),
            1 => Ok(ids),
            _ => Err(Error::AmbiguousRun {
                prefix: spec.to_string(),
                candidates: ids.join(", "),
            }),
        }
    }

    /// The listing row of one run.
    pub fn row(&self, id: &str) -> Result<RunRow> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM runs WHERE id = ?1");
        self.conn
            .query_row(&sql, [id], run_row)
            .optional()?
            .ok_or_else(|| Error::NoSuchRun(id.to_string()))
    }

    /// The run's summary as `run` printed it; for a run that never finished, one rebuilt
    /// from its last recorded snapshot (`stopped_early` set).
    pub fn summary(&self, id: &str) -> Result<RunSummary> {
        let (summary, snapshot, version, started): (Option<String>, Option<String>, String, i64) = self
            .conn
            .query_row("SELECT summary, last_snapshot, dobench_version, started_ms FROM runs WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?
            .ok_or_else(|| Error::NoSuchRun(id.to_string()))?;
        if let Some(s) = summary {
            return Ok(serde_json::from_str(&s)?);
        }
        let snap: Snapshot = snapshot
            .map(|s| serde_json::from_str(&s))
            .transpose()?
            .unwrap_or_default();
        let meta = self.meta(id)?;
        Ok(summary_from_snapshot(
            id,
            &meta,
            &version,
            started as u64,
            &snap,
        ))
    }

    /// What the run was started with.
    pub fn meta(&self, id: &str) -> Result<RunMeta> {
        let cols = "profile, profile_text, workload, target, strategy, runtime_options, thresholds, ceiling_rps, planned_s, compare_group";
        let sql = format!("SELECT {cols} FROM runs WHERE id = ?1");
        let raw = self
            .conn
            .query_row(&sql, [id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<f64>>(7)?,
                    r.get::<_, Option<f64>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })
            .optional()?
            .ok_or_else(|| Error::NoSuchRun(id.to_string()))?;
        Ok(RunMeta {
            profile: raw.0,
            profile_text: raw.1,
            workload: raw.2,
            target: raw.3,
            strategy: raw.4,
            runtime_options: serde_json::from_str(&raw.5)?,
            thresholds: serde_json::from_str(&raw.6)?,
            ceiling_rps: raw.7,
            planned_s: raw.8,
            compare_group: raw.9,
        })
    }

    /// The run's per-second rows, in order.
    pub fn seconds(&self, id: &str) -> Result<Vec<SecondRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT second, span_s, offered_rps, achieved_rps, requests, missed, errors, overloaded, timeout, connect, \
             other, status_errors, p50_ms, p90_ms, p99_ms, p999_ms, max_ms FROM seconds WHERE run_id = ?1 ORDER BY second",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                SecondRow {
                    second: r.get::<_, i64>(0)? as u64,
                    span_s: r.get(1)?,
                    offered_rps: r.get(2)?,
                    achieved_rps: r.get(3)?,
                    requests: r.get::<_, i64>(4)? as u64,
                    missed: r.get::<_, i64>(5)? as u64,
                    errors: r.get::<_, i64>(6)? as u64,
                    overloaded: r.get::<_, i64>(7)? as u64,
                    timeout: r.get::<_, i64>(8)? as u64,
                    connect: r.get::<_, i64>(9)? as u64,
                    other: r.get::<_, i64>(10)? as u64,
                    status_errors: BTreeMap::new(),
                    latency_ms: dobench_loadgen::Percentiles {
                        p50: r.get(12)?,
                        p90: r.get(13)?,
                        p99: r.get(14)?,
                        p999: r.get(15)?,
                        max: r.get(16)?,
                    },
                },
                r.get::<_, String>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut row, status) = row?;
            row.status_errors = serde_json::from_str(&status)?;
            out.push(row);
        }
        Ok(out)
    }

    /// The run's per-second object rows (top N per second plus remainder), by second.
    pub fn object_seconds(&self, id: &str) -> Result<Vec<ObjectSecond>> {
        let mut stmt = self.conn.prepare(
            "SELECT second, object, rps, requests, remainder, objects FROM object_seconds WHERE run_id = ?1 \
             ORDER BY second, remainder, rps DESC",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(ObjectSecond {
                    second: r.get::<_, i64>(0)? as u64,
                    object: r.get(1)?,
                    rps: r.get(2)?,
                    requests: r.get::<_, i64>(3)? as u64,
                    remainder: r.get(4)?,
                    objects: r.get::<_, i64>(5)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The run's stored histograms by op (`*` = every op together), decoded.
    pub fn histograms(&self, id: &str) -> Result<BTreeMap<String, hdrhistogram::Histogram<u64>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT op, v2 FROM histograms WHERE run_id = ?1 ORDER BY op")?;
        let raw: Vec<(String, Vec<u8>)> = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(op, blob)| Ok((op, from_v2(&blob)?)))
            .collect()
    }

    /// The run's per-second latency histogram for `second`, when stored.
    pub fn second_histogram(
        &self,
        id: &str,
        second: u64,
    ) -> Result<Option<hdrhistogram::Histogram<u64>>> {
        let blob: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT latency_v2 FROM seconds WHERE run_id = ?1 AND second = ?2",
                params![id, second as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(blob.flatten().map(|b| from_v2(&b)).transpose()?)
    }

    /// The target's stats snapshots recorded during the run.
    pub fn server_stats(&self, id: &str) -> Result<Vec<ServerStats>> {
        let mut stmt = self.conn.prepare(
            "SELECT elapsed_s, stats FROM server_stats WHERE run_id = ?1 ORDER BY elapsed_s",
        )?;
        let raw: Vec<(f64, String)> = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(elapsed_s, s)| {
                Ok(ServerStats {
                    elapsed_s,
                    stats: serde_json::from_str(&s)?,
                })
            })
            .collect()
    }

    /// Everything a report needs about one run.
    pub fn load(&self, id: &str) -> Result<StoredRun> {
        let row = self.row(id)?;
        let (host, version): (String, String) = self.conn.query_row(
            "SELECT host, dobench_version FROM runs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(StoredRun {
            meta: self.meta(id)?,
            host: serde_json::from_str::<HostFacts>(&host).unwrap_or_default(),
            dobench_version: version,
            summary: self.summary(id)?,
            seconds: self.seconds(id)?,
            objects: self.object_seconds(id)?,
            histograms: self.histograms(id)?,
            server_stats: self.server_stats(id)?,
            row,
        })
    }
}
