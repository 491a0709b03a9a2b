//! Typed errors of the load generator: bad plans, bad targets, unreachable targets.
//! Per-request failures are *not* errors here — they are counted by kind in the recorder
//! (`recorder::ErrorKind`); this enum is only for things that stop a run from starting.

use std::time::Duration;

/// What can stop a load run (or its plan) from being built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration string such as `10s` could not be read.
    #[error("invalid duration {input:?}: {reason} (use e.g. 500ms, 10s, 2m, 1h)")]
    InvalidDuration { input: String, reason: &'static str },
    /// An arrival schedule or run plan is self-contradictory or unbounded.
    #[error("invalid load plan: {0}")]
    InvalidPlan(String),
    /// The target URL could not be parsed or uses an unsupported scheme.
    #[error("invalid target URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A non-loopback target without `--allow-remote` (a load test can harm a service: only
    /// an explicit choice aims it off this machine).
    #[error("refusing non-loopback target host {host:?}: dobench only sends load to 127.0.0.1, ::1 or localhost unless --allow-remote is given (a load test can harm a service: aim it only at one you run)")]
    NonLoopback { host: String },
    /// TLS could not be set up (a CA file that does not read, a bad server name).
    #[error("tls: {0}")]
    Tls(String),
    /// Every connection attempt failed before the run started.
    #[error("cannot connect to {target}: {reason}")]
    Unreachable { target: String, reason: String },
    /// A request could not be built from its parts (bad header name/value, method).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A histogram could not be (de)serialized.
    #[error("histogram serialization failed: {0}")]
    Histogram(String),
    /// The run did not finish within its hard bound (planned duration plus timeout).
    #[error("run exceeded its hard time bound of {0:?}")]
    Overran(Duration),
    /// Part files that do not make one run (`part::merge`), with the reason in words.
    #[error("{0}")]
    Parts(String),
    /// The generator's own threads (its lanes) could not be started.
    #[error("cannot start the load generator's threads: {0}")]
    Threads(String),
    /// The WebSocket client failed to connect or talk.
    #[error("websocket: {0}")]
    WebSocket(String),
}

/// Result with the load generator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
