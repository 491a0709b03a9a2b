//! How object databases live on disk: the directory layout (`<data>/objects/<hh>/<id>.sqlite`
//! plus its `-wal`), the one-process lock on a data directory, the template every new
//! database is copied from, and the connection settings every open uses. Owns nothing at
//! run time; never runs object SQL and never decides when a database opens or closes (the
//! object task does, through `Storage`).
//!
//! Why these settings (measured in `benches/examples/storage_floor.rs`):
//! - **unix-none VFS + `locking_mode=EXCLUSIVE`**: one process owns the data directory (the
//!   `LOCK` file below), and one task owns each database, so file locks would only cost
//!   syscalls; and SQLite's unix VFS walks a list of every open file on each open, which
//!   made opens slow down with the number of open databases. Exclusive WAL keeps the
//!   wal-index in heap memory: no `-shm` file.
//! - **WAL, `synchronous=NORMAL`, no checkpoint on close**: a commit appends to the WAL
//!   with `pwrite` and returns, so every acknowledged write survives SIGKILL of the process
//!   (not power loss: the README says so). Closing leaves the WAL for the next open to
//!   recover, instead of checkpointing and deleting it every time an object leaves memory.
//! - **A template**: a new database is a copy of a prepared file already in WAL mode with
//!   the runtime's schema, so creating an object costs one file write instead of a journal
//!   mode change and a schema transaction. Pages are 1 KiB (`PAGE_SIZE`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::id::ObjectId;

/// The runtime's own tables in every object database.
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS _dobench_kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _dobench_alarm (slot INTEGER PRIMARY KEY CHECK (slot = 0), at_ms INTEGER NOT NULL);";

/// Sub-directory of the data directory holding object databases.
pub const OBJECTS_DIR: &str = "objects";
/// The lock file that keeps a second process off a data directory.
const LOCK_FILE: &str = "LOCK";
/// The settings of every connection, run at open: exclusive locking (before the first
/// read) and `synchronous=NORMAL`. SQLite's default checkpoint at commit past 1,000 WAL
/// pages stays (it bounds what an open must recover; `sqlite3_wal_autocheckpoint`).
const PRAGMAS: &str = "PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous=NORMAL;";
/// Page size of object databases. Most objects hold a few rows: at 1 KiB a new object takes
/// ~4 KiB on disk (3 pages and a WAL frame) instead of ~20 KiB at SQLite's 4 KiB, which is
/// what lets a million objects fit on tmpfs.
const PAGE_SIZE: u32 = 1024;

/// Where the database of `id` lives under `data`: 256 fan-out directories keep any one
/// directory at a few thousand files with a million objects.
pub fn object_db_path(data: &Path, id: &ObjectId) -> PathBuf {
    let hex = id.to_hex();
    data.join(OBJECTS_DIR)
        .join(&hex[..2])
        .join(format!("{hex}.sqlite"))
}

/// Holds a data directory for this process (released when dropped or at exit, SIGKILL
/// included). A second runtime on the same directory would corrupt databases opened
/// without file locks, so it is refused.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let io = |source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Config(format!(
                "data directory {} is in use by another dobench process",
                dir.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// Creates the fan-out directories and moves databases of the older flat layout
/// (`<data>/<id>.sqlite`) into them, so an existing data directory keeps its objects.
pub(crate) fn prepare_layout(data: &Path) -> Result<()> {
    let io = |source| Error::DataDir {
        path: data.to_path_buf(),
        source,
    };
    let objects = data.join(OBJECTS_DIR);
    for b in 0..=255u8 {
        std::fs::create_dir_all(objects.join(format!("{b:02x}"))).map_err(io)?;
    }
    for entry in std::fs::read_dir(data).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(hex) = name.strip_suffix(".sqlite") else {
            continue;
        };
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let to = objects.join(&hex[..2]);
        std::fs::rename(entry.path(), to.join(name)).map_err(io)?;
        let wal = data.join(format!("{name}-wal"));
        if wal.exists() {
            std::fs::rename(&wal, to.join(format!("{name}-wal"))).map_err(io)?;
        }
        // The old layout's shared-memory index; exclusive mode rebuilds it in memory.
        let _ = std::fs::remove_file(data.join(format!("{name}-shm")));
    }
    Ok(())
}

/// The bytes of an empty object database: WAL mode, the runtime's schema, checkpointed.
fn template() -> Result<&'static [u8]> {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(t) = TEMPLATE.get() {
        return Ok(t);
    }
    let mut conn = Connection::open_in_memory()?;
    // An in-memory database cannot be in WAL mode; build the image, then mark it WAL by
    // its header (bytes 18 and 19 are the read and write format versions: 2 = WAL).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.execute_batch(SCHEMA)?;
    let image = conn.serialize(rusqlite::MAIN_DB)?;
    let mut bytes = image.to_vec();
    bytes[18] = 2;
    bytes[19] = 2;
    Ok(TEMPLATE.get_or_init(|| bytes))
}

/// Bytes of a database just copied from the template.
pub(crate) fn template_len() -> u64 {
    template().map_or(0, |t| t.len() as u64)
}

/// Opens the database at `path`, creating it from the template when it does not exist
/// (or was left empty by a crash between creating and writing the file); `exists` (the
/// caller opened or wrote it before) skips that check. True with the connection when this
/// call created the file.
pub(crate) fn open(path: &Path, exists: bool) -> Result<(Connection, bool)> {
    let open_err = |source| Error::OpenStorage {
        path: path.to_path_buf(),
        source,
    };
    let io_err = |e: std::io::Error| Error::OpenStorage {
        path: path.to_path_buf(),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(e.to_string()),
        ),
    };
    let needs_template = !exists
        && match std::fs::metadata(path) {
            Ok(m) => m.len() == 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(io_err(e)),
        };
    if needs_template {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err)?;
        f.write_all(template()?).map_err(io_err)?;
    }
    super::syscalls::tune();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags_and_vfs(path, flags, c"unix-none").map_err(open_err)?;
    // Exclusive before the first read, so WAL never asks for shared memory. One batch: each
    // call of its own costs a statement's preparation.
    conn.execute_batch(PRAGMAS).map_err(open_err)?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(open_err)?;
    Ok((conn, needs_template))
}

/// Removes a database this process created and never wrote to (its file and WAL).
pub(crate) fn remove_unwritten(path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let _ = std::fs::remove_file(Path::new(&wal));
    let _ = std::fs::remove_file(path);
}

/// Bytes in the database's WAL (0 if it has none): every committed write appends to it.
pub(crate) fn wal_bytes(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(Path::new(&wal))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Bytes the database occupies on disk (file and WAL).
pub(crate) fn size_on_disk(path: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    len(path) + len(Path::new(&wal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_opens_in_wal_mode_with_the_schema_and_no_shm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let (conn, created) = open(&path, false).unwrap();
        assert!(created);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let setting = |name: &str| -> String {
            conn.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(setting("locking_mode"), "Text(\"exclusive\")");
        assert_eq!(setting("synchronous"), "Integer(1)", "NORMAL");
        assert_eq!(setting("wal_autocheckpoint"), "Integer(1000)");
        conn.execute_batch("INSERT INTO _dobench_kv VALUES (x'01', x'02')")
            .unwrap();
        drop(conn);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["o.sqlite", "o.sqlite-wal"]);
        let (conn, created) = open(&path, false).unwrap();
        assert!(!created);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM _dobench_kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "the WAL left by close is recovered on open");
    }

    #[test]
    fn a_second_lock_on_one_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by another dobench process"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
