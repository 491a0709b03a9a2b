//! The runtime's one error type. Every variant says what went wrong in words a user can act
//! on; the HTTP front maps each to a status code in one place (`http::ApiError`).
//! Never carries a panic or a secret.

use std::path::PathBuf;

/// Errors from the reference object runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string that should be an object id is not one of this class.
    #[error("invalid object id: {0}")]
    InvalidId(String),
    /// No class is registered under this name.
    #[error("unknown object class `{0}`")]
    UnknownClass(String),
    /// The object's mailbox is full: refused at once, nothing was queued.
    #[error(
        "overloaded: the object's mailbox of {capacity} requests is full; back off before retrying"
    )]
    Overloaded { capacity: usize },
    /// A storage key over the limit.
    #[error("storage key is {len} bytes; keys are limited to {limit} bytes")]
    KeyTooLarge { len: usize, limit: usize },
    /// A storage value over the limit.
    #[error("storage value is {len} bytes; values are limited to {limit} bytes")]
    ValueTooLarge { len: usize, limit: usize },
    /// SQL that would break the runtime's transaction model or touch its private tables.
    #[error("SQL refused: {0}")]
    SqlRefused(String),
    /// A production limit (tags, attachments, sockets, ...) was broken; the message names it.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// SQLite failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The object's storage file could not be opened or created.
    #[error("cannot open object storage at {path}: {source}")]
    OpenStorage {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be prepared.
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The object was reset (failed commit or a crashed handler); its queued work got this.
    #[error("object reset: {0}")]
    ObjectReset(String),
    /// A turn used more CPU time than the per-event budget; the object is reset.
    #[error("the object exceeded its CPU time limit ({budget_ms} ms per event) and was reset")]
    CpuExceeded { budget_ms: u64 },
    /// The class does not implement this kind of event.
    #[error("class `{class}` does not handle {what}")]
    Unsupported { class: String, what: &'static str },
    /// An object handler failed with its own message.
    #[error("{0}")]
    Handler(String),
    /// The runtime is shutting down and takes no new work.
    #[error("the runtime is shutting down")]
    ShuttingDown,
    /// A configuration value that cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Result alias for the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;
