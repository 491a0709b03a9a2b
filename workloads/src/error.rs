//! Typed errors of the workload layer: profiles that do not parse or validate (naming the
//! file, line and field), bad strategy or threshold expressions, and failures to drive or
//! check a target. Per-request failures are never errors here: the load generator counts
//! them; correctness problems are verdicts (`Correctness`), not errors.

/// What stops a workload run from being planned, started or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A profile file does not parse or holds a bad value.
    #[error("{file}:{line}:{column}: {message}{}", field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
    Profile {
        /// The file (or built-in profile name) the text came from.
        file: String,
        line: usize,
        column: usize,
        /// Dotted path of the field at fault, when known (e.g. `load.rate`).
        field: Option<String>,
        message: String,
    },
    /// A `--set key=value` override is malformed or leaves the profile invalid.
    #[error("--set {assignment}: {message}")]
    Override { assignment: String, message: String },
    /// No built-in profile has this name and no file exists at this path.
    #[error("no profile {0:?}: not a built-in profile (see `dobench profiles`) and no such file")]
    UnknownProfile(String),
    /// A profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A profile path that is not a regular file (a device like `/dev/zero`, a FIFO, a
    /// directory), or a file over the size cap: refused before reading it all.
    #[error("cannot use profile {path}: {reason}")]
    ProfileFile { path: String, reason: String },
    /// A sharding strategy string is not one of the known forms.
    #[error(
        "invalid strategy {input:?}: {reason} (use single, hash:N, jump:N, random:N or per-key)"
    )]
    Strategy { input: String, reason: String },
    /// A threshold expression does not parse.
    #[error("invalid threshold {input:?}: {reason}")]
    Threshold { input: String, reason: String },
    /// The profile's parts contradict each other (e.g. a chat profile without rooms).
    #[error("invalid profile: {0}")]
    Invalid(String),
    /// The load generator refused the plan or could not reach the target.
    #[error(transparent)]
    Load(#[from] dobench_loadgen::Error),
    /// The target answered something the protocol does not allow while checking.
    #[error("target misbehaved: {0}")]
    Target(String),
}

/// Result with the workload layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
