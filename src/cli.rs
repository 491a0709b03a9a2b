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
    Serve(Box<ServeArgs>),
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
    /// Set two stored runs (or --repeat groups, or compare groups) side by side: deltas,
    /// ratios, and whether each change is beyond noise.
    Diff(DiffArgs),
    /// Project a stored run's design to a monthly Durable Objects bill at your scale.
    Cost(CostArgs),
    /// List the built-in profiles (or print one's TOML).
    Profiles(ProfilesArgs),
    /// Start a real engine serving the workload protocol (`workerd`) until Ctrl-C.
    Target(TargetArgs),
    /// Write a commented starting profile (`workload = "http"`) from a URL template.
    Init(InitArgs),
    /// Merge the part files of a split run (`run --segment`) into one run: exact
    /// histograms, summed counts, correctness on the merged evidence, thresholds once.
    Merge(MergeArgs),
    /// Print Kubernetes manifests that run a profile split N ways (an Indexed Job) and merge
    /// the parts into one run.
    K8s(K8sArgs),
}

/// Arguments of `dobench merge` (src/merge.rs).
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Part files, or directories holding them (every `*.json` inside).
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<std::path::PathBuf>,
    /// Print the merged run summary JSON instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Results store the merged run is recorded in.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
    /// Wait up to this long (e.g. 10m) for every segment's part to appear in the directories.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Also write a self-contained HTML report of the merged run to this file.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Arguments of `dobench k8s` (src/k8s.rs).
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Built-in profile name or a path to a profile TOML file.
    pub profile: String,
    /// Segments (pods) to split the run into.
    #[arg(long, value_name = "N")]
    pub parts: u32,
    /// Container image with the dobench binary (see the Dockerfile).
    #[arg(long)]
    pub image: String,
    /// The target every pod drives (a deployed Worker: https://...).
    #[arg(long)]
    pub target: String,
    /// Override any profile field in every pod, e.g. `--set load.rate=40000` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The start instant is this far after the manifests are printed.
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    pub start_in: String,
    /// Name prefix of the Kubernetes objects (default: dobench-PROFILE).
    #[arg(long)]
    pub name: Option<String>,
    /// CPU of each load pod (request = limit).
    #[arg(long, default_value = "2")]
    pub cpu: String,
    /// Memory of each load pod (request = limit).
    #[arg(long, default_value = "1Gi")]
    pub memory: String,
    /// Size of the shared volume the parts are written to.
    #[arg(long, default_value = "1Gi")]
    pub storage: String,
    /// Storage class of the shared volume (must offer ReadWriteMany; default: the cluster's).
    #[arg(long)]
    pub storage_class: Option<String>,
}

/// Arguments of `dobench init` (src/init.rs).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// URL template of the request, e.g. 'http://127.0.0.1:8787/v1/rooms/{object}/likes'.
    pub url: Option<String>,
    /// File to write.
    #[arg(short, long, default_value = "profile.toml")]
    pub output: std::path::PathBuf,
    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Profile name.
    #[arg(long)]
    pub name: Option<String>,
    /// HTTP method.
    #[arg(short, long, default_value = "GET")]
    pub method: String,
    /// Header `name: value` (repeatable; the value may hold placeholders).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Body template.
    #[arg(short, long)]
    pub body: Option<String>,
    /// Open model rate (requests per second).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Load duration.
    #[arg(short, long, default_value = "10s")]
    pub duration: String,
    #[command(flatten)]
    pub template: HttpTemplateArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Directory for per-object SQLite files, or `:memory:` for RAM-only storage.
    #[arg(long, default_value = ".dobench/data")]
    pub data: String,
    /// Per-object ceiling: the base rate in turns/s of a pass-through turn (its cost is
    /// 1/N s), a band (`pass-through` 1000, `moderate` 625, `complex` 350), or `off`.
    /// What a turn does past that (CPU, rows) adds to its cost: see --costs.
    #[arg(long, default_value = "1000")]
    pub ceiling: String,
    /// What a turn costs on the ceiling's clock beyond the base: `default`, `base-only`, or
    /// overrides such as `cpu_factor=6,cpu_allowance_us=40,row_read_us=1,row_written_us=60`.
    #[arg(long, default_value = "default")]
    pub costs: String,
    /// CPU time one event may use (production: 30s), checked at every storage call; past it
    /// the event fails with production's error and the object is reset. `off` disables it.
    #[arg(long, default_value = "30s")]
    pub cpu_budget: String,
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
    /// Largest request body (production's 100 MiB on the Free and Pro plans); past it 413,
    /// refused on its Content-Length before a byte is read.
    #[arg(long, default_value = "100MiB")]
    pub max_body: String,
    /// Largest incoming WebSocket message (production's 32 MiB); past it the socket is
    /// closed 1009.
    #[arg(long, default_value = "32MiB")]
    pub max_ws_message: String,
    /// Bytes of request bodies and incoming messages one object may hold read but not yet
    /// handled; past it requests get 503 overloaded and its sockets are not read until room
    /// frees (one body or message always fits an object holding none).
    #[arg(long, default_value = "64MiB")]
    pub object_inflight: String,
    /// The same bound over the whole runtime.
    #[arg(long, default_value = "1GiB")]
    pub inflight: String,
    /// Object databases open at once (default: 8192, or fewer to fit half the open-files limit);
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
    /// Target URL (http or https; loopback only unless --allow-remote), or a URL template whose path
    /// and query hold placeholders: {key} {object} {shard} {seq} {uuid} {rand:LO-HI} {now_ms}.
    /// With --target-cmd, a path on the started server.
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
    #[command(flatten)]
    pub template: HttpTemplateArgs,
    #[command(flatten)]
    pub target_cmd: TargetCmdArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// `dobench http` with a URL template (src/http.rs): the keyspace and strategy its
/// placeholders draw from.
#[derive(Debug, Args)]
pub struct HttpTemplateArgs {
    /// Logical keys `{key}` draws from (a URL with placeholders is a template).
    #[arg(long, value_name = "N")]
    pub key_space: Option<u64>,
    /// Draw keys zipf-distributed with this exponent (default: uniform).
    #[arg(long, value_name = "S")]
    pub zipf: Option<f64>,
    /// Sharding strategy `{object}` and `{shard}` come from: hash:N, jump:N, random:N,
    /// per-key or single.
    #[arg(long)]
    pub strategy: Option<String>,
    /// What `{object}` renders as for shard N (default `obj-{nonce}-{shard}`).
    #[arg(long, value_name = "TEMPLATE")]
    pub object_name: Option<String>,
    /// Template naming the object each request reaches, for the per-object table (default
    /// `{object}` with a strategy).
    #[arg(long, value_name = "TEMPLATE")]
    pub object: Option<String>,
    /// Per-object ceiling (req/s) the per-object table measures against (templated runs).
    #[arg(long, default_value_t = 1000.0, value_name = "REQ/S")]
    pub ceiling: f64,
}

/// Targets off this machine and TLS trust (src/remote.rs).
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Allow a target that is not on this machine (a deployed Worker). A load test can harm a
    /// service, cost money and trip abuse protection: aim it only at one you run. Without
    /// it, only 127.0.0.1, ::1 and localhost are accepted.
    #[arg(long)]
    pub allow_remote: bool,
    /// https: accept any server certificate (a self-signed development server).
    #[arg(long)]
    pub insecure: bool,
    /// https: trust only the CA certificates in this PEM file (instead of the Mozilla roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// `--target-cmd` and its health wait (src/target_cmd.rs).
#[derive(Debug, Args)]
pub struct TargetCmdArgs {
    /// Start your own server for the run and stop it (and its children) afterwards: a shell
    /// command with `{port}`, which dobench fills with a free loopback port, e.g.
    /// "npx wrangler dev --port {port}". The run's target is http://127.0.0.1:{port}.
    #[arg(long, value_name = "COMMAND")]
    pub target_cmd: Option<String>,
    /// Path whose answer (any status below 500) says the --target-cmd server is up.
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub health_path: String,
    /// How long the --target-cmd server may take to answer its health path; past it the
    /// run fails with the server's last output.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub health_timeout: String,
}

impl TargetCmdArgs {
    /// The typed request, when `--target-cmd` was given.
    pub fn plan(&self) -> anyhow::Result<Option<crate::target_cmd::TargetCmd>> {
        self.target_cmd
            .as_deref()
            .map(|c| crate::target_cmd::TargetCmd::new(c, &self.health_path, &self.health_timeout))
            .transpose()
    }
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
    /// Drive this URL (http or https; loopback only unless --allow-remote) instead of starting the reference runtime in-process;
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
    #[command(flatten)]
    pub target_cmd: TargetCmdArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Run the profile N times, one after another, stored as one group (`rep-...`), and
    /// report each figure as mean ± σ over the runs with its range.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: u32,
    /// Name the run (or every run of a --repeat group) so `show`, `report` and `diff` can
    /// take the name; the newest run with a label is the one it names.
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Run only segment I of N of the profile's interleaved schedule (I from 0, as
    /// Kubernetes' completion index) from the shared --start-at instant, and write a part
    /// file (--out) for `dobench merge`. Needs --target: every segment drives one target.
    #[arg(long, value_name = "I/N")]
    pub segment: Option<String>,
    /// The shared start instant of a split run, ms since the Unix epoch.
    #[arg(long, value_name = "EPOCH_MS")]
    pub start_at: Option<u64>,
    /// The part file a segment writes.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// Arguments of `dobench diff` (src/diff.rs).
#[derive(Debug, Args)]
#[command(after_help = dobench_reports::diff::HELP)]
pub struct DiffArgs {
    /// Before.
    pub a: String,
    /// After.
    pub b: String,
    /// Exit 1 when a figure moved past a bound *and* beyond noise: `p99_ms > +10%` (a rise
    /// of more than 10 % of A), `achieved_rps < -5%`, or an absolute bound in the figure's
    /// unit (`p99_ms > +2ms`; `error_rate` as a fraction). Repeatable.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,
    /// Print the diff as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write one HTML report of both sides' runs, the changes beyond noise at its top.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
    /// Results store.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
}

/// Arguments of `dobench cost` (src/cost.rs).
#[derive(Debug, Args)]
#[command(
    after_help = "Per object-second observed, the run's billed (active) time, the time hibernation avoided billing, billable requests (HTTP + alarm runs + incoming WebSocket messages ÷ 20), storage rows (as the runtime counted them; estimated from the workload's code for runs recorded before it did) and stored bytes are multiplied by the month's object-seconds (objects × active hours a day × 3,600 × 30) and priced at the published Workers Paid rates, less the plan's monthly allowances: requests $0.15/million (1 million included), duration $12.50/million GB-s at 128 MB (400,000 GB-s included), rows read $0.001/million (25 billion included), rows written $1.00/million (50 million included), stored data $0.20/GB-month (5 GB included). Billed: active time, and idle time in memory that cannot hibernate (the `without hibernation` line); not billed: hibernated time and idle time that can hibernate. Not included: the front Worker's own charges."
)]
pub struct CostArgs {
    /// The run: id (or unique prefix or suffix), `latest`, `latest~N` or a --label.
    pub run: String,
    /// How many objects the design has at your scale: `rooms=50000`, `objects=1000000`.
    #[arg(long)]
    pub scale: String,
    /// Hours a day each object is as busy as in the run (out of memory the rest of the day).
    #[arg(long, default_value_t = 24.0, value_name = "H")]
    pub active_hours: f64,
    /// Print the projection as JSON.
    #[arg(long)]
    pub json: bool,
    /// Results store.
    #[arg(long, default_value = ".dobench/results.db")]
    pub db: std::path::PathBuf,
}

/// Arguments of `dobench compare` (src/compare.rs).
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Built-in profile name or a path to a profile TOML file.
    pub profile: String,
    /// Comma-separated strategies, one run each; or one shard sweep `KIND:LO..HI` (hash,
    /// jump or random, e.g. `hash:1..64`): it doubles the count from LO until a run
    /// qualifies, confirms that the next power qualifies too (hash collisions make the
    /// hottest object's peak uneven), and names the lowest count that and every larger count
    /// tried qualified. A run qualifies when it passes correctness and every threshold and
    /// keeps every object's peak within --headroom of the ceiling.
    #[arg(long, default_value = "single,hash:16,jump:16,random:16")]
    pub strategy: String,
    /// The best rule's headroom: every object's peak second must stay at or below this
    /// share of the per-object ceiling (%).
    #[arg(long, default_value_t = dobench_loadgen::best::DEFAULT_HEADROOM_PCT, value_name = "PCT")]
    pub headroom: f64,
    /// After a sweep's doubling, bisect between the last failing and the first passing count.
    #[arg(long)]
    pub refine: bool,
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
    #[command(flatten)]
    pub target_cmd: TargetCmdArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
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
