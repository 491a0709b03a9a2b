//! Typed errors of the results store and the HTML report. Every variant says what to do
//! next; nothing here panics or prints. Never wraps errors as strings where a source exists.

use std::path::PathBuf;

/// What can go wrong opening, reading or writing the results store, or rendering a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database was written by a newer dobench than this one.
    #[error(
        "results store {path} has schema version {found}, but this dobench understands up to \
         version {supported}: upgrade dobench, or pass --db FILE to use another store"
    )]
    SchemaTooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    /// A read-only store with another schema version: it cannot be migrated in place.
    #[error(
        "results store {path} is read-only and has schema version {found}; this dobench reads \
         version {supported}: open it once where it can be written (to migrate), or copy it"
    )]
    ReadOnlySchema {
        path: String,
        found: i64,
        supported: i64,
    },
    /// SQLite failed (locked, corrupt, disk full...).
    #[error("results store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store's directory could not be created.
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stored JSON column could not be read or written.
    #[error("results store JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A histogram blob could not be (de)serialized.
    #[error("histogram: {0}")]
    Histogram(#[from] dobench_loadgen::Error),
    /// No run matches the given id, prefix, `latest` or compare group.
    #[error("no run matches {0:?} (see `dobench runs`)")]
    NoSuchRun(String),
    /// A run-id prefix matched several runs.
    #[error(
        "run id prefix or suffix {prefix:?} is ambiguous: {candidates} (give more characters)"
    )]
    AmbiguousRun { prefix: String, candidates: String },
    /// A run was finished twice, or written after it finished.
    #[error("run {0} is already finished")]
    AlreadyFinished(String),
    /// A chart could not be drawn.
    #[error("chart {chart}: {reason}")]
    Chart { chart: &'static str, reason: String },
    /// The live recording task stopped abnormally.
    #[error("live recording task failed: {0}")]
    Task(String),
}

/// Result with the reports crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
