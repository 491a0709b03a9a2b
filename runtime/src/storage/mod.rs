//! Per-object storage: one SQLite database per object holding a KV table and the object's
//! own SQL tables (its file layout and settings: `file.rs`). The object task brackets every batch of turns in one transaction
//! (`begin`/`commit`); handlers only see `get/put/delete/list/sql`. Never lets user SQL end
//! the transaction or touch the runtime's private `_dobench_` tables.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

mod file;
mod syscalls;

pub use file::object_db_path;
pub(crate) use file::{prepare_layout, DataDirLock};

/// A SQL value, in or out.
pub use rusqlite::types::Value as SqlValue;

/// Largest key, as in production (2 KiB).
pub const MAX_KEY_BYTES: usize = 2048;
/// Largest value, as in production (128 KiB).
pub const MAX_VALUE_BYTES: usize = 128 * 1024;

/// Options for [`Storage::list`]: keys come back ordered by their UTF-8 bytes.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// Only keys ≥ this.
    pub start: Option<String>,
    /// Only keys < this.
    pub end: Option<String>,
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Descending order.
    pub reverse: bool,
}

/// Rows out of [`Storage::sql`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlRows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One `Vec` per row, values in column order.
    pub rows: Vec<Vec<SqlValue>>,
    /// Rows changed by an INSERT/UPDATE/DELETE.
    pub rows_written: u64,
}

/// The rows a database read and wrote for its object since it was opened, as production
/// bills them.
///
/// Rows read are the rows a call returned (`get` counts one, found or not; `list` and SQL
/// the rows they return) plus, for SQL, the rows SQLite stepped through in full table scans
/// (`FULLSCAN_STEP`); rows visited through an index but not returned are not seen, so an
/// aggregate over an index range counts fewer rows than production would. Rows written are
/// `put`s, `delete`s that removed a key, and the rows SQL statements changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageUsage {
    pub rows_read: u64,
    pub rows_written: u64,
}

impl StorageUsage {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: StorageUsage) -> StorageUsage {
        StorageUsage {
            rows_read: self.rows_read.saturating_sub(earlier.rows_read),
            rows_written: self.rows_written.saturating_sub(earlier.rows_written),
        }
    }
}

/// One object's database. File-backed databases open on first use and may be closed while
/// the object stays in memory (the runtime keeps only so many open: see `residency.rs`);
/// RAM-only ones stay open for the runtime's lifetime.
pub struct Storage {
    conn: Option<Connection>,
    path: Option<PathBuf>,
    in_txn: bool,
    /// This connection created the file and nothing has been committed to it yet: if the
    /// first transaction writes nothing, the file goes again (a read of an object that was
    /// never written leaves nothing on disk).
    unwritten: bool,
    /// The file is known to exist with content (this value opened it before, or wrote it):
    /// a reopen skips the existence check.
    exists: bool,
    /// The KV table is known to be empty: this value created the file from the template and
    /// has stored no key since (user SQL cannot reach the KV table). Reads of a new object
    /// then skip SQLite.
    kv_empty: bool,
    /// Bytes on disk measured by the first commit of a file this value created (the
    /// template's and the WAL's), taken by the next [`Storage::size_bytes`].
    measured_size: Option<u64>,
    usage: StorageUsage,
    /// The current turn's CPU budget, checked at every storage call.
    budget: Option<CpuBudget>,
}

/// A turn's CPU budget: checked cooperatively at each storage call (a handler that never
/// calls storage cannot be interrupted: safe Rust cannot preempt it).
#[derive(Debug, Clone, Copy)]
pub struct CpuBudget {
    /// Wall time the turn started at: while less than `limit` has passed, less CPU has.
    started: std::time::Instant,
    cpu_at_start: std::time::Duration,
    limit: std::time::Duration,
}

impl CpuBudget {
    /// A budget of `limit` CPU time for the turn starting now on this thread.
    pub(crate) fn starting_now(limit: std::time::Duration) -> Self {
        Self {
            started: std::time::Instant::now(),
            cpu_at_start: crate::ceiling::thread_cpu(),
            limit,
        }
    }

    fn check(&self) -> Result<()> {
        if self.exceeded() {
            return Err(Error::CpuExceeded {
                budget_ms: self.limit.as_millis() as u64,
            });
        }
        Ok(())
    }

    /// True once the turn has used more CPU time than the budget.
    pub(crate) fn exceeded(&self) -> bool {
        // CPU time never runs ahead of wall time, so the clock read is enough most times.
        self.started.elapsed() >= self.limit
            && crate::ceiling::thread_cpu().saturating_sub(self.cpu_at_start) >= self.limit
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.path)
            .field("open", &self.conn.is_some())
            .finish()
    }
}

impl Storage {
    /// Opens (creating if needed) the database file at `path`, with the runtime's settings
    /// (`storage/file.rs`): exclusive WAL, `synchronous=NORMAL`, every commit durable
    /// against a process crash (SIGKILL), not against power loss.
    pub fn open(path: &Path) -> Result<Self> {
        let mut s = Self::at(path.to_path_buf());
        s.conn()?;
        Ok(s)
    }

    /// The database at `path`, not opened until first used.
    pub(crate) fn at(path: PathBuf) -> Self {
        Self {
            conn: None,
            path: Some(path),
            in_txn: false,
            unwritten: false,
            exists: false,
            kv_empty: false,
            measured_size: None,
            usage: StorageUsage::default(),
            budget: None,
        }
    }

    /// Tells a not-yet-opened file-backed database that its file exists with content (the
    /// runtime measured its size in an earlier stay in memory of this process, which holds
    /// the data directory), so its first open skips the existence check.
    pub(crate) fn known_to_exist(&mut self) {
        if self.path.is_some() && self.conn.is_none() {
            self.exists = true;
        }
    }

    /// A RAM-only database.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(file::SCHEMA)?;
        Ok(Self {
            conn: Some(conn),
            path: None,
            in_txn: false,
            unwritten: false,
            exists: false,
            kv_empty: false,
            measured_size: None,
            usage: StorageUsage::default(),
            budget: None,
        })
    }

    /// The file behind this database, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// True while a connection is open.
    pub(crate) fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// Closes a file-backed database between transactions (it reopens on next use). False
    /// if it stays open (RAM-only, closed already, or inside a transaction).
    pub(crate) fn close(&mut self) -> bool {
        if self.path.is_none() || self.in_txn || self.conn.is_none() {
            return false;
        }
        self.conn = None;
        true
    }

    /// Stands in for storage that was handed away (parked or being closed); never opens.
    pub(crate) fn placeholder() -> Self {
        Self {
            conn: None,
            path: None,
            in_txn: false,
            unwritten: false,
            exists: false,
            kv_empty: false,
            measured_size: None,
            usage: StorageUsage::default(),
            budget: None,
        }
    }

    fn conn(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            let Some(path) = self.path.as_deref() else {
                return Err(Error::ObjectReset("the object's storage was closed".into()));
            };
            let (conn, created) = file::open(path, self.exists)?;
            self.unwritten = created;
            self.exists = !created;
            self.kv_empty = created;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("opened above"))
    }

    /// Opens a transaction (the runtime brackets every batch of turns itself; public for
    /// benchmarks that measure the storage floor).
    pub fn begin(&mut self) -> Result<()> {
        if !self.in_txn {
            // Cached: every batch of turns begins and commits, and parsing the text each
            // time is a measurable share of a small turn.
            self.conn()?.prepare_cached("BEGIN")?.execute([])?;
            self.in_txn = true;
        }
        Ok(())
    }

    /// Commits the open transaction: durable against SIGKILL when it returns.
    pub fn commit(&mut self) -> Result<()> {
        if self.in_txn {
            self.in_txn = false;
            let conn = self.conn()?;
            let committed = conn
                .prepare_cached("COMMIT")
                .and_then(|mut stmt| stmt.execute([]));
            if let Err(e) = committed {
                // A failed COMMIT may leave the transaction open; make sure it is gone so the
                // reset object starts clean.
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
            if self.unwritten {
                self.forget_if_unwritten();
            }
        }
        Ok(())
    }

    /// After the first commit on a file this connection created: if nothing reached its
    /// WAL, remove the file again; otherwise it is the object's from now on.
    fn forget_if_unwritten(&mut self) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let wal = file::wal_bytes(&path);
        if wal == 0 {
            self.conn = None;
            file::remove_unwritten(&path);
        } else {
            self.unwritten = false;
            self.exists = true;
            self.measured_size = Some(file::template_len() + wal);
        }
    }

    pub(crate) fn rollback(&mut self) {
        if self.in_txn {
            self.in_txn = false;
            if let Some(conn) = &self.conn {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// The value under `key`.
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.budgeted(|s| {
            s.usage.rows_read += 1;
            if s.kv_empty_now()? {
                return Ok(None);
            }
            let mut stmt = s
                .conn()?
                .prepare_cached("SELECT value FROM _dobench_kv WHERE key = ?1")?;
            Ok(stmt
                .query_row(params![key.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                .optional()?)
        })
    }

    /// True if the KV table is known to be empty (opening the database first, so the answer
    /// is about the file and errors surface as they would for a query).
    fn kv_empty_now(&mut self) -> Result<bool> {
        self.conn()?;
        Ok(self.kv_empty)
    }

    /// The work this database did since it was opened ([`StorageUsage`]).
    pub fn usage(&self) -> StorageUsage {
        self.usage
    }

    /// Runs one storage call after checking the turn's CPU budget (every call passes here).
    fn budgeted<T>(&mut self, call: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if let Some(b) = &self.budget {
            b.check()?;
        }
        call(self)
    }

    /// The budget the next storage calls are checked against (`None`: unchecked).
    pub(crate) fn set_budget(&mut self, budget: Option<CpuBudget>) {
        self.budget = budget;
    }

    /// Stores `value` under `key` (replacing).
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        check_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
        self.budgeted(|s| {
            // Opened first: opening sets `kv_empty` for the file it finds.
            s.conn()?;
            s.kv_empty = false;
            let mut stmt = s.conn()?.prepare_cached(
                "INSERT OR REPLACE INTO _dobench_kv (key, value) VALUES (?1, ?2)",
            )?;
            stmt.execute(params![key.as_bytes(), value])?;
            drop(stmt);
            s.usage.rows_written += 1;
            Ok(())
        })
    }

    /// Removes `key`; true if it existed.
    pub fn delete(&mut self, key: &str) -> Result<bool> {
        check_key(key)?;
        self.budgeted(|s| {
            if s.kv_empty_now()? {
                return Ok(false);
            }
            let mut stmt = s
                .conn()?
                .prepare_cached("DELETE FROM _dobench_kv WHERE key = ?1")?;
            let removed = stmt.execute(params![key.as_bytes()])? as u64;
            drop(stmt);
            s.usage.rows_written += removed;
            Ok(removed > 0)
        })
    }

    /// Entries in key order (UTF-8 byte order), filtered by `opts`.
    pub fn list(&mut self, opts: &ListOptions) -> Result<Vec<(String, Vec<u8>)>> {
        let out = self.budgeted(|s| s.list_rows(opts))?;
        self.usage.rows_read += out.len() as u64;
        Ok(out)
    }

    fn list_rows(&mut self, opts: &ListOptions) -> Result<Vec<(String, Vec<u8>)>> {
        if self.kv_empty_now()? {
            return Ok(Vec::new());
        }
        let mut sql = String::from("SELECT key, value FROM _dobench_kv WHERE 1=1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(p) = &opts.prefix {
            // Keys are BLOBs compared with memcmp, so `key >= prefix` plus a byte-wise prefix
            // test selects exactly the keys that start with it.
            args.push(Value::Blob(p.as_bytes().to_vec()));
            sql.push_str(&format!(
                " AND key >= ?{n} AND substr(key, 1, length(?{n})) = ?{n}",
                n = args.len()
            ));
        }
        if let Some(s) = &opts.start {
            args.push(Value::Blob(s.as_bytes().to_vec()));
            sql.push_str(&format!(" AND key >= ?{}", args.len()));
        }
        if let Some(e) = &opts.end {
            args.push(Value::Blob(e.as_bytes().to_vec()));
            sql.push_str(&format!(" AND key < ?{}", args.len()));
        }
        sql.push_str(if opts.reverse {
            " ORDER BY key DESC"
        } else {
            " ORDER BY key ASC"
        });
        if let Some(l) = opts.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut stmt = self.conn()?.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (k, v) = row?;
            // Keys only ever enter through `put`, which takes &str.
            out.push((String::from_utf8_lossy(&k).into_owned(), v));
        }
        Ok(out)
    }

    /// Runs one SQL statement with bound parameters and returns its rows.
    pub fn sql(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlRows> {
        refuse_unsafe_sql(sql)?;
        self.budgeted(|s| s.sql_rows(sql, params))
    }

    fn sql_rows(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlRows> {
        let in_txn = self.in_txn;
        let conn = self.conn()?;
        let changes_before = conn.total_changes();
        let mut stmt = conn.prepare_cached(sql)?;
        stmt.reset_status(rusqlite::StatementStatus::FullscanStep);
        let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let n = columns.len();
        let mut rows_out = Vec::new();
        {
            let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
            while let Some(row) = rows.next()? {
                let mut vals = Vec::with_capacity(n);
                for i in 0..n {
                    vals.push(row.get::<_, Value>(i)?);
                }
                rows_out.push(vals);
            }
        }
        let scanned = stmt
            .get_status(rusqlite::StatementStatus::FullscanStep)
            .max(0) as u64;
        drop(stmt);
        let rows_written = conn.total_changes().saturating_sub(changes_before);
        let autocommit = conn.is_autocommit();
        self.usage.rows_read += rows_out.len() as u64 + scanned;
        self.usage.rows_written += rows_written;
        if !autocommit || !in_txn {
            Ok(SqlRows {
                columns,
                rows: rows_out,
                rows_written,
            })
        } else {
            Err(Error::SqlRefused(
                "the statement ended the turn's transaction".into(),
            ))
        }
    }

    /// The object's stored alarm time (epoch ms).
    pub(crate) fn alarm(&mut self) -> Result<Option<i64>> {
        let mut stmt = self
            .conn()?
            .prepare_cached("SELECT at_ms FROM _dobench_alarm WHERE slot = 0")?;
        Ok(stmt.query_row([], |r| r.get(0)).optional()?)
    }

    /// Stores the object's one alarm (replacing any earlier one).
    pub(crate) fn set_alarm(&mut self, at_ms: i64) -> Result<()> {
        self.conn()?
            .prepare_cached("INSERT OR REPLACE INTO _dobench_alarm (slot, at_ms) VALUES (0, ?1)")?
            .execute(params![at_ms])?;
        Ok(())
    }

    /// Removes the object's alarm.
    pub(crate) fn delete_alarm(&mut self) -> Result<()> {
        self.conn()?
            .prepare_cached("DELETE FROM _dobench_alarm")?
            .execute([])?;
        Ok(())
    }

    /// Bytes the database occupies: its file and WAL on disk, or its pages in RAM.
    pub fn size_bytes(&mut self) -> u64 {
        if let Some(size) = self.measured_size.take() {
            return size;
        }
        if let Some(path) = &self.path {
            return file::size_on_disk(path);
        }
        let Some(conn) = &self.conn else { return 0 };
        let q = |p: &str| -> u64 {
            conn.pragma_query_value(None, p, |r| r.get::<_, i64>(0))
                .map(|v| v.max(0) as u64)
                .unwrap_or(0)
        };
        q("page_count") * q("page_size")
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

fn refuse_unsafe_sql(sql: &str) -> Result<()> {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    const TXN: [&str; 8] = [
        "BEGIN",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "ATTACH",
        "DETACH",
    ];
    if TXN.contains(&first.as_str()) {
        return Err(Error::SqlRefused(format!(
            "{first} is not allowed: every turn already runs in one transaction"
        )));
    }
    if first == "PRAGMA" || first == "VACUUM" {
        return Err(Error::SqlRefused(format!(
            "{first} is not allowed in object SQL"
        )));
    }
    if sql.to_ascii_lowercase().contains("_dobench_") {
        return Err(Error::SqlRefused(
            "tables named `_dobench_*` belong to the runtime".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Storage {
        let mut s = Storage::open_in_memory().unwrap();
        s.begin().unwrap();
        s
    }

    #[test]
    fn a_new_databases_reads_skip_sqlite_until_a_key_is_stored_and_reopen_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path()).unwrap();
        let path = dir.path().join("o.sqlite");
        // The first call on a closed value both opens (creating the file) and writes.
        let mut s = Storage::at(path.clone());
        s.put("k", b"v").unwrap();
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(s.list(&ListOptions::default()).unwrap().len(), 1);
        s.begin().unwrap();
        assert!(s.delete("k").unwrap());
        s.put("k2", b"v2").unwrap();
        s.commit().unwrap();
        drop(s);
        // A new value on the existing file reads it from SQLite.
        let mut s = Storage::open(&path).unwrap();
        assert_eq!(s.get("k2").unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(s.get("k").unwrap(), None);
        // A fresh file answers empty, and counts the read.
        let mut fresh = Storage::at(dir.path().join("p.sqlite"));
        assert_eq!(fresh.get("x").unwrap(), None);
        assert!(!fresh.delete("x").unwrap());
        assert!(fresh.list(&ListOptions::default()).unwrap().is_empty());
        assert_eq!(fresh.usage().rows_read, 1);
    }

    #[test]
    fn kv_round_trip_and_limits() {
        let mut s = store();
        s.put("a", b"1").unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some(&b"1"[..]));
        assert!(s.delete("a").unwrap());
        assert!(!s.delete("a").unwrap());
        assert_eq!(s.get("a").unwrap(), None);
        let big_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            s.put(&big_key, b""),
            Err(Error::KeyTooLarge { .. })
        ));
        let big_val = vec![0u8; MAX_VALUE_BYTES + 1];
        let err = s.put("v", &big_val).unwrap_err();
        assert!(err.to_string().contains("131072"), "{err}");
        s.put("v", &vec![0u8; MAX_VALUE_BYTES]).unwrap();
    }

    #[test]
    fn list_orders_by_utf8_bytes_with_prefix_range_limit_reverse() {
        let mut s = store();
        for k in ["b", "a", "ab", "é", "z", "aa", "a\u{0}"] {
            s.put(k, k.as_bytes()).unwrap();
        }
        let keys = |v: Vec<(String, Vec<u8>)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(s.list(&ListOptions::default()).unwrap()),
            ["a", "a\u{0}", "aa", "ab", "b", "z", "é"]
        );
        let pre = ListOptions {
            prefix: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(keys(s.list(&pre).unwrap()), ["a", "a\u{0}", "aa", "ab"]);
        let range = ListOptions {
            start: Some("aa".into()),
            end: Some("z".into()),
            reverse: true,
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(keys(s.list(&range).unwrap()), ["b", "ab"]);
    }

    #[test]
    fn sql_with_params_and_refusals() {
        let mut s = store();
        s.sql("CREATE TABLE t (k TEXT, v INTEGER)", &[]).unwrap();
        let w = s
            .sql(
                "INSERT INTO t VALUES (?1, ?2)",
                &[SqlValue::Text("x".into()), SqlValue::Integer(5)],
            )
            .unwrap();
        assert_eq!(w.rows_written, 1);
        let r = s.sql("SELECT k, v FROM t", &[]).unwrap();
        assert_eq!(r.columns, ["k", "v"]);
        assert_eq!(
            r.rows,
            vec![vec![SqlValue::Text("x".into()), SqlValue::Integer(5)]]
        );
        for bad in [
            "COMMIT",
            "begin transaction",
            "PRAGMA x",
            "select * from _dobench_kv",
        ] {
            assert!(
                matches!(s.sql(bad, &[]), Err(Error::SqlRefused(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_database_that_was_only_read_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let mut s = Storage::at(path.clone());
        s.begin().unwrap();
        assert_eq!(s.get("k").unwrap(), None);
        s.commit().unwrap();
        assert!(!path.exists(), "a read-only first turn created a file");
        s.begin().unwrap();
        s.put("k", b"1").unwrap();
        s.commit().unwrap();
        assert!(path.exists());
        // Once written, later read-only turns keep it.
        s.begin().unwrap();
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        s.commit().unwrap();
        drop(s);
        let mut s = Storage::open(&path).unwrap();
        s.begin().unwrap();
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        s.commit().unwrap();
    }

    #[test]
    fn rollback_discards_and_commit_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let mut s = Storage::open(&path).unwrap();
        s.begin().unwrap();
        s.put("k", b"1").unwrap();
        s.commit().unwrap();
        s.begin().unwrap();
        s.put("k", b"2").unwrap();
        s.rollback();
        s.begin().unwrap();
        assert_eq!(s.get("k").unwrap().as_deref(), Some(&b"1"[..]));
        s.commit().unwrap();
        assert!(s.size_bytes() > 0);
    }
}
