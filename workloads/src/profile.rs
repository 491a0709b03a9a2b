//! Profiles: the TOML files that describe a run (workload, load model, keyspace, sharding
//! strategy, embedded-runtime options, thresholds, per-workload knobs), built in under
//! `workloads/profiles/` or read from a path. Parsing is strict (`deny_unknown_fields`);
//! errors name the file, line, column and field. `--set key=value` overrides edit the parsed
//! document before it is typed. Never touches the network or the runtime.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http_spec::{Context, HttpOptions, HttpPlan};
use crate::keyspace::KeyspaceSpec;
use crate::strategy::Strategy;
use crate::thresholds::Threshold;
use crate::ws_spec::{WsOptions, WsPlan};

/// Largest profile file read (bytes): a profile is a page of TOML; a path like `/dev/zero` or
/// a huge file is refused at once, in bounded memory.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// The built-in profiles: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "sharded-counter",
        include_str!("../profiles/sharded-counter.toml"),
    ),
    (
        "ratelimit-burst",
        include_str!("../profiles/ratelimit-burst.toml"),
    ),
    ("chat-fanout", include_str!("../profiles/chat-fanout.toml")),
    ("alarm-storm", include_str!("../profiles/alarm-storm.toml")),
    (
        "parent-aggregator",
        include_str!("../profiles/parent-aggregator.toml"),
    ),
    ("lease-lock", include_str!("../profiles/lease-lock.toml")),
    ("lost-update", include_str!("../profiles/lost-update.toml")),
];

/// Which workload family a profile drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    Counter,
    Ratelimit,
    Chat,
    Alarm,
    /// User-described HTTP requests (`[http]`, see `http_spec`).
    Http,
    /// User-described WebSocket rooms (`[ws]`, see `ws_spec`).
    Ws,
    /// Shards forwarding increments to a parent (`[aggregator]`).
    Aggregator,
    /// A lease lock many clients take in turn (`[lock]`).
    Lock,
    /// Read → await another object → write, unguarded and guarded (`[lost_update]`).
    #[serde(rename = "lost-update")]
    LostUpdate,
}

impl WorkloadKind {
    /// The protocol's class name.
    pub fn class(&self) -> &'static str {
        match self {
            WorkloadKind::Counter => "counter",
            WorkloadKind::Ratelimit => "ratelimit",
            WorkloadKind::Chat => "chat",
            WorkloadKind::Alarm => "alarm",
            WorkloadKind::Http => "http",
            WorkloadKind::Ws => "ws",
            WorkloadKind::Aggregator => crate::aggregator::CLASS,
            WorkloadKind::Lock => crate::lock::CLASS,
            WorkloadKind::LostUpdate => crate::lost_update::CLASS,
        }
    }
}

/// A duration written as text (`500ms`, `10s`, `2m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = dobench_loadgen::Error;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        dobench_loadgen::duration::parse(&s).map(Dur)
    }
}

/// A whole profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub workload: WorkloadKind,
    #[serde(default = "default_strategy")]
    pub strategy: Strategy,
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    pub load: Load,
    #[serde(default)]
    pub keyspace: KeyspaceSpec,
    #[serde(default)]
    pub runtime: RuntimeOptions,
    #[serde(default)]
    pub counter: CounterOptions,
    #[serde(default)]
    pub ratelimit: RatelimitOptions,
    #[serde(default)]
    pub chat: ChatOptions,
    #[serde(default)]
    pub alarm: AlarmOptions,
    #[serde(default)]
    pub http: HttpOptions,
    #[serde(default)]
    pub ws: WsOptions,
    #[serde(default)]
    pub aggregator: crate::aggregator::AggregatorOptions,
    #[serde(default)]
    pub lock: crate::lock::LockOptions,
    #[serde(default)]
    pub lost_update: crate::lost_update::LostUpdateOptions,
    /// Whether the profile (or an override) set `strategy` itself: `{object}` and
    /// `{shard}` in user templates need one.
    #[serde(skip)]
    pub strategy_given: bool,
    #[serde(default)]
    pub limits: Limits,
}

/// `[limits]`: what one profile may ask of this machine (issue 20). A profile past a bound
/// is refused before anything starts (exit 2), naming the field; raise the bound here when
/// the machine can honour more. The defaults leave room for the suite's own load (tens of
/// thousands of loopback sockets).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most chat members (`chat.rooms × chat.members`: one WebSocket each).
    pub members: u64,
    /// Most requests in flight (`load.max_in_flight`, closed-model `load.vus`): one
    /// connection each.
    pub in_flight: u64,
}

/// Default of `limits.members`.
pub const DEFAULT_MAX_MEMBERS: u64 = 50_000;
/// Default of `limits.in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 50_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            members: DEFAULT_MAX_MEMBERS,
            in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

fn default_strategy() -> Strategy {
    Strategy::Single
}

/// Arrival model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    #[default]
    Open,
    Closed,
}

/// One ramping stage.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub duration: Dur,
    pub target: f64,
}

/// `[load]`: the arrival model and its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    #[serde(default)]
    pub model: LoadModel,
    /// Open model: requests (chat: messages) per second.
    pub rate: Option<f64>,
    pub duration: Dur,
    /// Ramping: start rate and stages (replace `rate`).
    pub start_rate: Option<f64>,
    #[serde(default)]
    pub stages: Vec<StageSpec>,
    /// Closed model: virtual users and think time.
    pub vus: Option<u32>,
    pub think: Option<Dur>,
    /// Most requests in flight (open model).
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// Objects that keep a latency histogram: the ones with the most requests (every object
    /// keeps exact counts, rate and per-second peaks whatever this says).
    #[serde(default = "default_track_objects")]
    pub track_objects: usize,
}

fn default_in_flight() -> usize {
    256
}
fn default_track_objects() -> usize {
    dobench_loadgen::aggregate::DEFAULT_TRACKED_OBJECTS
}
fn default_timeout() -> Dur {
    Dur(Duration::from_secs(10))
}

/// `[runtime]`: options of the embedded reference runtime (ignored with `--target`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeOptions {
    /// `off`, a band (`pass-through`, `moderate`, `complex`) or the base rate in turns per
    /// second per object (a number or a string).
    #[serde(default = "default_ceiling", deserialize_with = "number_or_text")]
    pub ceiling: String,
    /// What a turn costs beyond the base (`default`, `base-only`, or `key=value,...`; see
    /// `dobench serve --help`).
    #[serde(default = "default_costs")]
    pub costs: String,
    #[serde(default = "default_mailbox")]
    pub mailbox: usize,
    #[serde(default = "default_hibernate")]
    pub hibernate_after: Dur,
    #[serde(default = "default_idle")]
    pub idle_timeout: Dur,
    /// Multiplies alarm retry backoffs (1.0 = production's 2, 4, ... 64 s).
    #[serde(default = "one")]
    pub alarm_time_scale: f64,
    /// Messages each chat room keeps (history retention); a chat profile that plans more
    /// messages per room than this is refused, so the correctness check sees them all.
    #[serde(default = "default_chat_history")]
    pub chat_history: u64,
}

fn default_chat_history() -> u64 {
    crate::chat::DEFAULT_HISTORY
}

/// Reads `1000` and `"1000"` alike (and `"off"`).
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::Number(n) => n.to_string(),
        Either::Text(t) => t,
    })
}

fn default_ceiling() -> String {
    "1000".into()
}
fn default_costs() -> String {
    "default".into()
}
fn default_mailbox() -> usize {
    dobench_runtime::Config::DEFAULT_MAILBOX
}
fn default_hibernate() -> Dur {
    Dur(dobench_runtime::Config::DEFAULT_HIBERNATE_AFTER)
}
fn default_idle() -> Dur {
    Dur(dobench_runtime::Config::DEFAULT_IDLE_TIMEOUT)
}
fn one() -> f64 {
    1.0
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            ceiling: default_ceiling(),
            costs: default_costs(),
            mailbox: default_mailbox(),
            hibernate_after: default_hibernate(),
            idle_timeout: default_idle(),
            alarm_time_scale: 1.0,
            chat_history: default_chat_history(),
        }
    }
}

impl RuntimeOptions {
    /// The ceiling in req/s (`None` when off or unreadable).
    pub fn ceiling_rps(&self) -> Option<f64> {
        match self.ceiling.parse::<dobench_runtime::Ceiling>() {
            Ok(c) => c.rate().map(f64::from),
            Err(_) => None,
        }
    }
}

/// `[counter]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CounterOptions {
    /// Share of requests that are shard reads (the rest are increments).
    pub read_ratio: f64,
}

impl Default for CounterOptions {
    fn default() -> Self {
        CounterOptions { read_ratio: 0.05 }
    }
}

/// `[ratelimit]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RatelimitOptions {
    pub limit: u64,
    pub window_ms: u64,
    /// A burst every this long (first one after one interval).
    pub burst_every: Dur,
    /// Fresh keys per burst.
    pub burst_keys: u64,
    /// Requests per key in a burst.
    pub burst_size: u64,
    /// How long a burst's sends are spread over ("one instant").
    pub burst_spread: Dur,
}

impl Default for RatelimitOptions {
    fn default() -> Self {
        RatelimitOptions {
            limit: 10,
            window_ms: 1000,
            burst_every: Dur(Duration::from_secs(2)),
            burst_keys: 10,
            burst_size: 20,
            burst_spread: Dur(Duration::from_millis(5)),
        }
    }
}

/// `[chat]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatOptions {
    pub rooms: u32,
    pub members: u32,
    /// Sending phase length.
    pub active: Dur,
    /// Silent phase between sending phases (longer than hibernate_after to hibernate).
    pub idle: Dur,
    /// Message body size in bytes (padding after the tag).
    pub body_bytes: usize,
}

impl Default for ChatOptions {
    fn default() -> Self {
        ChatOptions {
            rooms: 8,
            members: 8,
            active: Dur(Duration::from_secs(2)),
            idle: Dur(Duration::from_secs(3)),
            body_bytes: 64,
        }
    }
}

/// `[alarm]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmOptions {
    /// Alarms are due this long after scheduling ends.
    pub delay: Dur,
    /// Due times spread uniformly over this long (0: one instant).
    pub spread: Dur,
    /// Share of objects whose handler fails `fail_times` times first.
    pub fail_ratio: f64,
    pub fail_times: u32,
    /// Extra wait past the last expected fire before giving up on missing alarms.
    pub grace: Dur,
}

impl Default for AlarmOptions {
    fn default() -> Self {
        AlarmOptions {
            delay: Dur(Duration::from_secs(2)),
            spread: Dur(Duration::ZERO),
            fail_ratio: 0.0,
            fail_times: 0,
            grace: Dur(Duration::from_secs(5)),
        }
    }
}

/// A loaded profile with where it came from and its exact text.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// Built-in name or file path.
    pub source: String,
    /// The TOML text as written (before overrides).
    pub text: String,
}

/// One line per built-in profile: (name, description).
pub fn builtin_list() -> Vec<(&'static str, String)> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            let desc = toml::from_str::<toml::Table>(text)
                .ok()
                .and_then(|t| t.get("description")?.as_str().map(str::to_string))
                .unwrap_or_default();
            (*name, desc)
        })
        .collect()
}

/// Loads a built-in profile by name, or a TOML file by path, and applies `overrides`
/// (`key=value`, dotted keys like `load.rate=5000`).
pub fn load(name_or_path: &str, overrides: &[String]) -> Result<LoadedProfile> {
    let (source, text) = match BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        Some((n, t)) => (format!("{n}.toml (built-in)"), t.to_string()),
        None => {
            let path = Path::new(name_or_path);
            if !path.exists() {
                return Err(Error::UnknownProfile(name_or_path.to_string()));
            }
            (name_or_path.to_string(), read_capped(path, name_or_path)?)
        }
    };
    let profile = parse(&source, &text, overrides)?;
    Ok(LoadedProfile {
        profile,
        source,
        text,
    })
}

/// Reads a profile file: a regular file of at most [`MAX_PROFILE_BYTES`], as UTF-8. Never
/// reads more than the cap plus one byte, whatever the path is.
fn read_capped(path: &Path, shown: &str) -> Result<String> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: shown.to_string(),
        source,
    };
    let refuse = |reason: String| Error::ProfileFile {
        path: shown.to_string(),
        reason,
    };
    // Check before opening: opening a FIFO would block until a writer appears.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(refuse(
            "not a regular file (a device, FIFO or directory); give a .toml file".into(),
        ));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(refuse(format!(
            "larger than the {MAX_PROFILE_BYTES}-byte limit for a profile"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        refuse(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses profile `text` (from `file`, for messages) and applies `overrides`.
pub fn parse(file: &str, text: &str, overrides: &[String]) -> Result<Profile> {
    let typed: Profile = toml::from_str(text).map_err(|e| located(file, text, &e))?;
    let profile = if overrides.is_empty() {
        typed
    } else {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| located(file, text, &e))?;
        for o in overrides {
            apply_override(&mut doc, o)?;
        }
        let joined = overrides.join(" --set ");
        doc.try_into::<Profile>().map_err(|e| Error::Override {
            assignment: joined,
            message: e.message().to_string(),
        })?
    };
    let mut profile = profile;
    profile.strategy_given = overrides
        .iter()
        .any(|o| o.trim_start().starts_with("strategy"))
        || crate::locate::has_key(text, "strategy");
    validate(&profile).map_err(|bad| misplaced(file, text, overrides, bad))?;
    if profile.workload == WorkloadKind::Http {
        let ctx = Context {
            strategy: profile.strategy_given,
        };
        HttpPlan::compile(&profile.http, ctx)
            .map_err(|e| crate::locate::compile_error(file, text, &e))?;
    }
    if profile.workload == WorkloadKind::Ws {
        WsPlan::compile(&profile.ws, profile.strategy_given)
            .map_err(|e| crate::locate::compile_error(file, text, &e))?;
    }
    Ok(profile)
}

/// A cross-field check that failed: the field at fault (dotted) and why.
struct Invalid {
    field: &'static str,
    message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// Places a failed cross-field check: on the `--set` that gave the field its value, else on
/// the line of the file that sets it, else (a default) on the field's table, or line 1.
fn misplaced(file: &str, text: &str, overrides: &[String], bad: Invalid) -> Error {
    let set_here = overrides.iter().rev().find(|o| {
        o.split_once('=')
            .is_some_and(|(k, _)| k.trim() == bad.field)
    });
    if let Some(assignment) = set_here {
        return Error::Override {
            assignment: assignment.clone(),
            message: bad.message,
        };
    }
    let (line, column, message) = match line_of(text, bad.field) {
        Some((line, column)) => (line, column, bad.message),
        None => (
            1,
            1,
            format!("{} (not set in the file: the default)", bad.message),
        ),
    };
    Error::Profile {
        file: file.to_string(),
        line,
        column,
        field: Some(bad.field.to_string()),
        message,
    }
}

/// Line and column (1-based) where `field` (`table.key`) is set in a profile: a `key = `
/// line under `[table]`, or a dotted `table.key = ` line; without either, the `[table]`
/// header itself.
fn line_of(text: &str, field: &str) -> Option<(usize, usize)> {
    let (table, key) = field.rsplit_once('.').unwrap_or(("", field));
    let mut current = String::new();
    let mut header = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim_start();
        let column = raw.len() - l.len() + 1;
        if l.starts_with('[') {
            current = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if current == table {
                header = Some((i + 1, column));
            }
            continue;
        }
        let Some((k, _)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim().trim_matches('"');
        let full = if current.is_empty() {
            k.to_string()
        } else {
            format!("{current}.{k}")
        };
        if full == field || (current == table && k == key) {
            return Some((i + 1, column));
        }
    }
    header
}

/// Sets `a.b.c = value` in `doc`; the value is read as TOML, or as a string if it is not.
fn apply_override(doc: &mut toml::Table, assignment: &str) -> Result<()> {
    let bad = |message: &str| Error::Override {
        assignment: assignment.to_string(),
        message: message.to_string(),
    };
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected key=value"))?;
    let (key, raw) = (key.trim(), raw.trim());
    let path: Vec<&str> = key.split('.').map(str::trim).collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key"));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let (last, parents) = path.split_last().ok_or_else(|| bad("empty key"))?;
    let mut table = doc;
    for p in parents {
        table = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{p}` is not a table")))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// Cross-field checks serde cannot express: the field at fault and what is wrong.
fn validate(p: &Profile) -> std::result::Result<(), Invalid> {
    validate_fields(p)?;
    let patterns = match p.workload {
        WorkloadKind::Aggregator => p.aggregator.check(),
        WorkloadKind::Lock => p.lock.check(),
        WorkloadKind::LostUpdate => p.lost_update.check(),
        _ => Ok(()),
    };
    patterns.map_err(|(field, message)| invalid(field, message))?;
    validate_limits(p)
}

/// The `[limits]` bounds, and chat retention against the messages a room is planned to get.
fn validate_limits(p: &Profile) -> std::result::Result<(), Invalid> {
    let lim = &p.limits;
    let in_flight = match p.load.model {
        LoadModel::Open => ("load.max_in_flight", p.load.max_in_flight as u64),
        LoadModel::Closed => ("load.vus", u64::from(p.load.vus.unwrap_or(0))),
    };
    if in_flight.1 > lim.in_flight {
        return Err(invalid(
            in_flight.0,
            format!(
                "{} = {} is past limits.in_flight = {} (one connection each); lower it, or raise limits.in_flight if this machine can hold that many sockets",
                in_flight.0, in_flight.1, lim.in_flight
            ),
        ));
    }
    if p.workload == WorkloadKind::Ws {
        let members = p.keyspace.keys * u64::from(p.ws.members.unwrap_or(0));
        if members > lim.members {
            return Err(invalid(
                "ws.members",
                format!(
                    "keyspace.keys × ws.members = {} × {} = {members} members is past limits.members = {} (one WebSocket each); lower them, or raise limits.members if this machine can hold that many sockets",
                    p.keyspace.keys, p.ws.members.unwrap_or(0), lim.members
                ),
            ));
        }
        return Ok(());
    }
    if p.workload != WorkloadKind::Chat {
        return Ok(());
    }
    let members = u64::from(p.chat.rooms) * u64::from(p.chat.members);
    if members > lim.members {
        return Err(invalid(
            "chat.members",
            format!(
                "chat.rooms × chat.members = {} × {} = {members} members is past limits.members = {} (one WebSocket each); lower them, or raise limits.members if this machine can hold that many sockets",
                p.chat.rooms, p.chat.members, lim.members
            ),
        ));
    }
    let planned = match crate::traffic::chat::schedule(
        p.load.rate.unwrap_or(1.0),
        p.load.duration.0,
        p.chat.active.0,
        p.chat.idle.0,
    ) {
        dobench_loadgen::Schedule::Open(s) => s.len(),
        dobench_loadgen::Schedule::Closed(_) => 0,
    };
    let per_room = planned.div_ceil(u64::from(p.chat.rooms).max(1));
    if per_room > p.runtime.chat_history {
        return Err(invalid(
            "runtime.chat_history",
            format!(
                "a room is planned to get {per_room} messages but keeps runtime.chat_history = {}: the check could not see them all; raise runtime.chat_history or lower load.rate or load.duration",
                p.runtime.chat_history
            ),
        ));
    }
    Ok(())
}

/// Field-by-field ranges and the load model's needs.
fn validate_fields(p: &Profile) -> std::result::Result<(), Invalid> {
    let l = &p.load;
    if l.duration.0.is_zero() {
        return Err(invalid("load.duration", "load.duration must be positive"));
    }
    if let Some(r) = l.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(invalid("load.rate", "load.rate must be a positive number"));
        }
    }
    match l.model {
        // ws: the rate is ws.rate per member (validate_ws).
        _ if p.workload == WorkloadKind::Ws => {}
        LoadModel::Open if l.rate.is_none() && l.stages.is_empty() => {
            return Err(invalid(
                "load.rate",
                "the open model needs load.rate or load.stages",
            ))
        }
        LoadModel::Closed if l.vus.unwrap_or(0) == 0 => {
            return Err(invalid("load.vus", "the closed model needs load.vus ≥ 1"))
        }
        _ => {}
    }
    if l.max_in_flight == 0 {
        return Err(invalid(
            "load.max_in_flight",
            "load.max_in_flight must be at least 1",
        ));
    }
    if p.runtime
        .ceiling
        .parse::<dobench_runtime::Ceiling>()
        .is_err()
    {
        return Err(invalid(
            "runtime.ceiling",
            format!(
                "runtime.ceiling `{}` is neither `off`, a band (pass-through, moderate, complex) nor a whole number",
                p.runtime.ceiling
            ),
        ));
    }
    if let Err(e) = p.runtime.costs.parse::<dobench_runtime::TurnCosts>() {
        return Err(invalid("runtime.costs", format!("runtime.costs: {e}")));
    }
    match p.workload {
        WorkloadKind::Counter if !(0.0..1.0).contains(&p.counter.read_ratio) => Err(invalid(
            "counter.read_ratio",
            "counter.read_ratio must be in [0, 1)",
        )),
        WorkloadKind::Ratelimit if p.ratelimit.limit == 0 || p.ratelimit.window_ms == 0 => {
            Err(invalid(
                if p.ratelimit.limit == 0 {
                    "ratelimit.limit"
                } else {
                    "ratelimit.window_ms"
                },
                "ratelimit.limit and ratelimit.window_ms must be at least 1",
            ))
        }
        WorkloadKind::Chat if p.chat.rooms == 0 || p.chat.members == 0 => Err(invalid(
            if p.chat.rooms == 0 {
                "chat.rooms"
            } else {
                "chat.members"
            },
            "chat.rooms and chat.members must be at least 1",
        )),
        WorkloadKind::Chat if p.load.rate.is_none() => {
            Err(invalid("load.rate", "chat needs load.rate"))
        }
        WorkloadKind::Alarm if !(0.0..=1.0).contains(&p.alarm.fail_ratio) => Err(invalid(
            "alarm.fail_ratio",
            "alarm.fail_ratio must be in [0, 1]",
        )),
        WorkloadKind::Alarm if p.load.rate.is_none() => {
            Err(invalid("load.rate", "alarm needs load.rate"))
        }
        WorkloadKind::Ws => validate_ws(p),
        _ => Ok(()),
    }
}

/// A ws profile's load: the open model at `ws.rate` per member, rooms `0..keyspace.keys`.
fn validate_ws(p: &Profile) -> std::result::Result<(), Invalid> {
    let l = &p.load;
    if l.model == LoadModel::Closed {
        return Err(invalid(
            "load.model",
            "a ws profile runs the open model: every member sends ws.rate messages per second",
        ));
    }
    if l.rate.is_some() || !l.stages.is_empty() {
        return Err(invalid(
            if l.rate.is_some() {
                "load.rate"
            } else {
                "load.stages"
            },
            "a ws profile's rate is ws.rate, messages per second per member (the run's rate is that times the members); remove load.rate and load.stages",
        ));
    }
    if p.keyspace.distribution != crate::keyspace::Distribution::Uniform {
        return Err(invalid(
            "keyspace.distribution",
            "a ws profile's rooms are the keys 0..keyspace.keys, each with ws.members members: a key distribution does not apply",
        ));
    }
    Ok(())
}

/// Turns a toml error into one naming file, line, column and the field at fault.
fn located(file: &str, text: &str, e: &toml::de::Error) -> Error {
    let start = e.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let message = e.message().trim().to_string();
    let field = unknown_field(&message).or_else(|| key_at(text, line_start));
    let table = table_at(before);
    let field = field.map(|f| match &table {
        Some(t) if !f.contains('.') => format!("{t}.{f}"),
        _ => f,
    });
    Error::Profile {
        file: file.to_string(),
        line,
        column,
        field,
        message,
    }
}

/// The field named by an "unknown field `x`" message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// The key of the `key = value` line starting at `line_start`.
fn key_at(text: &str, line_start: usize) -> Option<String> {
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

/// The `[table]` (or `[[array]]` entry, as `array[i]`) header in force at the end of
/// `before`.
fn table_at(before: &str) -> Option<String> {
    let header = |l: &str| {
        let l = l.trim();
        let array = l.starts_with("[[");
        l.starts_with('[').then(|| {
            let name = l
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            (name.to_string(), array)
        })
    };
    let (name, array) = before.lines().rev().find_map(header)?;
    if !array {
        return Some(name);
    }
    let index = before
        .lines()
        .filter_map(header)
        .filter(|(n, a)| *a && *n == name)
        .count()
        .saturating_sub(1);
    Some(format!("{name}[{index}]"))
}
