//! Command-line surface of `dobench` (clap derive). Owns flag parsing only: each
//! subcommand's arguments are turned into typed plans by the module that runs it.
//! Never does I/O here.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Benchmarking and load generation for Durable-Object-style systems.
#[derive(Debug, Parser)]
#[command(name = "dobench", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference object runtime (Durable Object semantics on one machine).
    Serve(ServeArgs),
    /// Ad-hoc load against any URL, like wrk/oha (open model with --rate, closed without).
    Http(HttpArgs),
    /// List past runs from the results store, newest first.
    Runs(RunsArgs),
    /// Print a stored run's summary as the run printed it.
    Show(ShowArgs),
    /// Write one self-contained HTML report of runs (ids, `latest`, or a compare group id).
    Report(ReportArgs),
    /// Run a workload profile (built-in name or TOML path), check it, and summarize.
    Run(RunArgs),
    /// Run a profile once per sharding strategy and set the runs side by side.
    Compare(CompareArgs),
    /// List the built-in profiles (or print one's TOML).
    Profiles(ProfilesArgs),
    /// Start a real engine serving the workload protocol (`workerd`) until Ctrl-C.
    Target(TargetArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Directory for per-object SQLite files, or `:memory:` for RAM-only storage.
    #[arg(long, default_value = ".dobench/data")]
    pub data: String,
    /// Per-object service rate in turns/s emulating the production ceiling, or `off`.
    #[arg(long, default_value = "1000")]
    pub ceiling: String,
    /// Per-object mailbox bound; requests past it are refused with 503 overloaded.
    #[arg(long, default_value_t = dobench_runtime::Config::DEFAULT_MAILBOX)]
    pub mailbox: usize,
    /// Evict an object without sockets after this long idle (e.g. 70s, 500ms).
    #[arg(long, default_value = "70s")]
    pub idle_timeout: String,
    /// Hibernate an object whose sockets are all idle after this long (production: 10s).
    #[arg(long, default_value = "10s")]
    pub hibernate_after: String,
    /// Largest WebSocket attachment in bytes (16384 today; 2048 emulates the old limit).
    #[arg(long, default_value_t = dobench_runtime::limits::DEFAULT_ATTACHMENT_BYTES)]
    pub attachment_limit: usize,
    /// Memory objects in memory may take (by the runtime's estimate of ~12 KiB per object
    /// and ~48 KiB per open database); past it the least recently used idle objects leave
    /// memory before their idle timeout.
    #[arg(long, default_value = "1GiB")]
    pub memory_budget: String,
    /// Object databases open at once (default: 2048, or fewer to fit the open-files limit);
    /// past it the least recently used close theirs and reopen on their next turn.
    #[arg(long)]
    pub max_open_databases: Option<usize>,
    /// Messages each chat room keeps (history retention); older ones are deleted as new
    /// ones are stored.
    #[arg(long, default_value_t = dobench_workloads::chat::DEFAULT_HISTORY)]
    pub chat_history: u64,
    /// Threads that run object turns and their storage apart from the HTTP front's; 0 (the
    /// default) runs them on the front's threads, which costs less CPU per request.
    #[arg(long)]
    pub object_threads: Option<usize>,
    /// Open the state-changing admin routes (`/_dobench/stall`) without the token, on a
    /// loopback bind only; on any other bind the token printed at start is still required.
    #[arg(long)]
    pub admin: bool,
    /// Also answer requests whose Host is NAME (repeatable). On a loopback bind only
    /// localhost, 127.0.0.1, [::1] and the bound address are answered otherwise (421).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Longest object name in bytes; longer names are refused with 414 before anything is
    /// created.
    #[arg(long, default_value_t = dobench_runtime::FrontConfig::DEFAULT_MAX_NAME_BYTES)]
    pub max_name_bytes: usize,
    /// A request's headers must arrive within this long of their first byte.
    #[arg(long, default_value = "10s")]
    pub header_read_timeout: String,
    /// A request's body must have arrived within this long of its headers (else 408).
    #[arg(long, default_value = "30s")]
    pub body_read_timeout: String,
    /// Close an HTTP connection with no request for this long (WebSockets are never closed
    /// for being idle).
    #[arg(long, default_value = "30s")]
    pub keep_alive_timeout: String,
    /// Most open connections (HTTP and WebSocket); past it a new one gets 503 and is closed.
    /// Default: the open-files limit (`ulimit -n`) minus 1024 (or a quarter of it, if less),
    /// or 65536 if unknown.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// On Ctrl-C/SIGTERM, wait at most this long for in-flight requests and queued turns,
    /// then stop anyway; a second signal stops at once.
    #[arg(long, default_value = "10s")]
    pub drain_deadline: String,
    /// Bytes queued for one WebSocket before its consumer counts as fallen behind and is
    /// closed 1008.
    #[arg(long, default_value_t = dobench_runtime::FrontConfig::DEFAULT_WS_SEND_QUEUE_BYTES)]
    pub ws_send_queue: usize,
}

/// Arguments of `dobench http` (owned by src/http.rs).
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Target URL (loopback only: 127.0.0.1, ::1 or localhost).
    pub url: String,
    /// Open model: requests per second, sent on schedule whatever the target does. Without
    /// it: closed model, `--connections` users sending as fast as answers come back.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to run (e.g. 10s, 500ms, 2m).
    #[arg(short, long, default_value = "10s")]
    pub duration: String,
    /// Connections: the closed model's users, or the open model's max requests in flight.
    #[arg(short, long, default_value_t = 64)]
    pub connections: usize,
    /// HTTP method.
    #[arg(short, long, default_value = "GET")]
    pub method: String,
    /// Extra header `name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short, long)]
    pub body: Option<String>,
    /// Print one run summary JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// Per-request timeout (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s")]
    pub timeout: String,
    /// Record the run, second by second, in this results store (SQLite).
    #[arg(long)]
    pub db: Option<std::path::PathBuf>,
    /// Show the live dashboard instead of the progress line (`q` stops the run early).
    #[arg(long)]
    pub tui: bool,
}

/// Arguments of `dobench runs` (src/report.rs).
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only runs of this profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// Results store.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
    /// Print the rows as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `dobench show` (src/report.rs).
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id, unique id prefix, `latest`, or a compare group id.
    pub run: String,
    /// Print the run summary JSON instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Results store.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
}

/// Arguments of `dobench report` (src/report.rs).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Runs: ids, unique id prefixes, `latest`, or compare group ids (several = compared).
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// Output HTML file.
    #[arg(short, long, default_value = "report.html")]
    pub output: std::path::PathBuf,
    /// Page title.
    #[arg(long)]
    pub title: Option<String>,
    /// Results store.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
}

/// Arguments of `dobench run` (src/run.rs).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Built-in profile name (see `dobench profiles`) or a path to a profile TOML file.
    pub profile: String,
    /// Drive this loopback URL instead of starting the reference runtime in-process;
    /// `workerd` starts workerd (workloads/worker) for the run and stops it afterwards.
    #[arg(long)]
    pub target: Option<String>,
    /// Sharding strategy: single, hash:N, jump:N, random:N or per-key.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Override the profile's load duration (e.g. 5s).
    #[arg(short, long)]
    pub duration: Option<String>,
    /// Override any profile field, e.g. `--set load.rate=2000` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print one run summary JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Results store the run is recorded in.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
    /// Also write a self-contained HTML report of the run to this file.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// Show the live dashboard while running.
    #[arg(long)]
    pub tui: bool,
}

/// Arguments of `dobench compare` (src/compare.rs).
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Built-in profile name or a path to a profile TOML file.
    pub profile: String,
    /// Comma-separated strategies, one run each.
    #[arg(long, default_value = "single,hash:16,jump:16,random:16")]
    pub strategy: String,
    /// Comma-separated targets, each run with every strategy: `embedded` (the default: a
    /// fresh in-process runtime per run), `workerd` (one workerd for all its runs, stopped
    /// afterwards) or loopback URLs (fresh object names per run).
    #[arg(long)]
    pub target: Option<String>,
    /// Override the profile's load duration for every run (e.g. 5s).
    #[arg(short, long)]
    pub duration: Option<String>,
    /// Override any profile field for every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print `{"runs": [...], "best": ...}` instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Results store the runs and their compare group are recorded in.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
    /// Also write one HTML report of the compared runs to this file.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// Show the live dashboard for each run, one after another (q stops the comparison).
    #[arg(long)]
    pub tui: bool,
}

/// Arguments of `dobench profiles` (src/profiles.rs).
#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Print this built-in profile's TOML instead of the list.
    pub name: Option<String>,
}

/// Arguments of `dobench target` (src/workerd.rs).
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The engine to start (needs `cd workloads/worker && npm ci` once).
    pub kind: TargetKind,
    /// Loopback port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Engines `dobench target` can start.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TargetKind {
    /// workerd (npm package `workerd`) running `workloads/worker`.
    Workerd,
}
