//! Runtime configuration: where storage lives, the per-object ceiling, mailbox bound and
//! timeouts. Plain data with production defaults; parsing of user strings (`off`, `1000`)
//! lives here so every front end refuses the same bad values the same way.

use std::fmt;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// Where object databases live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// One SQLite file per object under this directory.
    Path(PathBuf),
    /// RAM-only SQLite databases that live as long as the runtime (survive eviction, not
    /// restarts).
    Memory,
}

impl FromStr for DataDir {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            ":memory:" => Ok(DataDir::Memory),
            "" => Err(Error::Config("the data directory must not be empty".into())),
            p => Ok(DataDir::Path(PathBuf::from(p))),
        }
    }
}

/// The emulated per-object service rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    /// Native speed.
    Off,
    /// At most this many turns per second per object.
    TurnsPerSec(NonZeroU32),
}

impl Ceiling {
    /// Production objects saturate near 1,000 requests per second.
    pub const PRODUCTION: Ceiling = Ceiling::TurnsPerSec(NonZeroU32::new(1000).unwrap());
    /// Production's bands by name, as the base rate a turn of that kind of work gets:
    /// pass-through ~1,000/s, moderate work 500–750/s, complex work with writes 200–500/s.
    pub const BANDS: [(&'static str, u32); 3] =
        [("pass-through", 1000), ("moderate", 625), ("complex", 350)];

    /// Turns per second, if limited.
    pub fn rate(&self) -> Option<u32> {
        match self {
            Ceiling::Off => None,
            Ceiling::TurnsPerSec(n) => Some(n.get()),
        }
    }
}

impl FromStr for Ceiling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Ceiling::Off);
        }
        if let Some((_, rate)) = Self::BANDS.iter().find(|(b, _)| s.eq_ignore_ascii_case(b)) {
            return Ok(Ceiling::TurnsPerSec(
                NonZeroU32::new(*rate).expect("bands are > 0"),
            ));
        }
        s.parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .filter(|n| n.get() <= 10_000_000)
            .map(Ceiling::TurnsPerSec)
            .ok_or_else(|| {
                Error::Config(format!(
                    "ceiling `{s}` is neither `off`, a band (pass-through, moderate, complex) nor a whole number of turns per second in 1..=10000000"
                ))
            })
    }
}

impl fmt::Display for Ceiling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ceiling::Off => f.write_str("off"),
            Ceiling::TurnsPerSec(n) => write!(f, "{n}"),
        }
    }
}

/// Everything the runtime needs to know before it starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Storage location.
    pub data: DataDir,
    /// Per-object service rate emulation.
    pub ceiling: Ceiling,
    /// What a turn costs on the ceiling's clock beyond its base (`ceiling.rs`).
    pub costs: crate::ceiling::TurnCosts,
    /// CPU time one event (turn) may use, checked at each storage call; past it the turn
    /// fails with production's error and the object is reset. `None`: unchecked.
    pub cpu_budget: Option<Duration>,
    /// Per-object mailbox bound; a full mailbox refuses with `Error::Overloaded`.
    pub mailbox: usize,
    /// Evict an object without sockets after this long with no work.
    pub idle_timeout: Duration,
    /// Most turns run inside one transaction (group commit); 1 commits every turn.
    pub max_batch: usize,
    /// Largest request body the HTTP front accepts (413 past it).
    pub max_body_bytes: usize,
    /// Largest incoming WebSocket message (closed 1009 past it).
    pub max_ws_message_bytes: usize,
    /// Bytes of request bodies and incoming messages read but not yet handled, per object
    /// and over the runtime (`inflight.rs`): past them requests get 503 overloaded and
    /// sockets are not read until room frees.
    pub inflight: crate::inflight::InflightLimits,
    /// Memory objects in memory may take, by the estimate in `residency.rs`; past it the
    /// least recently used idle objects leave memory before their idle timeout.
    pub memory_budget_bytes: u64,
    /// Object databases open at once; past it the least recently used close theirs (they
    /// stay in memory and reopen on their next turn). Two file descriptors each.
    pub max_open_databases: usize,
    /// Threads that run object turns and their storage, apart from the HTTP front's; 0 runs
    /// them on the runtime the caller started it in.
    pub object_threads: usize,
    /// An object with sockets and no work for this long hibernates (leaves memory while its
    /// sockets stay open).
    pub hibernate_after: Duration,
    /// Largest WebSocket attachment in bytes.
    pub attachment_limit: usize,
    /// Frames queued per socket before its consumer is closed as fallen behind.
    pub socket_send_buffer: usize,
    /// Multiplies alarm retry backoffs. 1.0 is production's 2, 4, ... 64 s; tests use less.
    pub alarm_time_scale: f64,
}

impl Config {
    /// Default mailbox bound: a quarter second of queue at the production ceiling.
    pub const DEFAULT_MAILBOX: usize = 256;
    /// Production evicts objects without sockets after 70–140 s idle.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(70);
    /// Default group-commit batch.
    pub const DEFAULT_MAX_BATCH: usize = 128;
    /// Production and workerd hibernate after 10 s without work.
    pub const DEFAULT_HIBERNATE_AFTER: Duration = Duration::from_secs(10);
    /// Default memory budget for objects in memory (1 GiB: ~170,000 objects by the estimate).
    pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;
    /// Default cap on open object databases (lowered to fit the file-descriptor limit).
    pub const DEFAULT_MAX_OPEN_DATABASES: usize = 8192;
    /// Production's default CPU time per event (30 s).
    pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_secs(30);
    /// Default request body limit: production's 100 MiB (Workers Free and Pro plans).
    pub const DEFAULT_MAX_BODY: usize = 100 << 20;
    /// Default WebSocket message limit: production's 32 MiB.
    pub const DEFAULT_MAX_WS_MESSAGE: usize = 32 << 20;
    /// Default bytes in flight per object (two messages at the limit).
    pub const DEFAULT_OBJECT_INFLIGHT: u64 = 64 << 20;
    /// Default bytes in flight over the runtime.
    pub const DEFAULT_INFLIGHT: u64 = 1 << 30;

    /// Production-like defaults with storage under `data`.
    pub fn new(data: DataDir) -> Self {
        Self {
            data,
            ceiling: Ceiling::PRODUCTION,
            costs: crate::ceiling::TurnCosts::DEFAULT,
            cpu_budget: Some(Self::DEFAULT_CPU_BUDGET),
            mailbox: Self::DEFAULT_MAILBOX,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_batch: Self::DEFAULT_MAX_BATCH,
            max_body_bytes: Self::DEFAULT_MAX_BODY,
            max_ws_message_bytes: Self::DEFAULT_MAX_WS_MESSAGE,
            inflight: crate::inflight::InflightLimits {
                per_object: Self::DEFAULT_OBJECT_INFLIGHT,
                total: Self::DEFAULT_INFLIGHT,
            },
            memory_budget_bytes: Self::DEFAULT_MEMORY_BUDGET,
            max_open_databases: default_max_open_databases(),
            // Measured on 2 cores: object turns on the front's own threads cost ~125 µs of CPU
            // per new object, on threads of their own 145–150 µs (every request then crosses
            // threads twice); so they share by default, and `--object-threads N` separates
            // them (benches/activation.sh).
            object_threads: 0,
            hibernate_after: Self::DEFAULT_HIBERNATE_AFTER,
            attachment_limit: crate::limits::DEFAULT_ATTACHMENT_BYTES,
            socket_send_buffer: crate::limits::DEFAULT_SEND_BUFFER_FRAMES,
            alarm_time_scale: 1.0,
        }
    }

    /// Refuses values the runtime cannot honour.
    pub fn validate(&self) -> Result<(), Error> {
        if self.mailbox == 0 {
            return Err(Error::Config("mailbox must hold at least 1 request".into()));
        }
        if self.max_batch == 0 {
            return Err(Error::Config("max_batch must be at least 1".into()));
        }
        if !(self.alarm_time_scale > 0.0 && self.alarm_time_scale.is_finite()) {
            return Err(Error::Config(
                "alarm_time_scale must be a positive number".into(),
            ));
        }
        if self.memory_budget_bytes < crate::residency::LIVE_OBJECT_BYTES {
            return Err(Error::Config(format!(
                "memory budget must hold at least one object ({} bytes)",
                crate::residency::LIVE_OBJECT_BYTES
            )));
        }
        if self.max_open_databases == 0 {
            return Err(Error::Config(
                "max open databases must be at least 1".into(),
            ));
        }
        if self.object_threads > 256 {
            return Err(Error::Config("object threads must be 0..=256".into()));
        }
        if self.hibernate_after.is_zero() {
            return Err(Error::Config("hibernate-after must be above zero".into()));
        }
        if self.attachment_limit == 0 || self.attachment_limit > 1 << 20 {
            return Err(Error::Config(
                "attachment limit must be 1..=1048576 bytes".into(),
            ));
        }
        if self.max_body_bytes == 0 || self.max_ws_message_bytes == 0 {
            return Err(Error::Config(
                "body and WebSocket message limits must be at least 1 byte".into(),
            ));
        }
        if self.inflight.per_object == 0 || self.inflight.total < self.inflight.per_object {
            return Err(Error::Config(format!(
                "bytes in flight: per object ({}) must be at least 1 and at most the runtime's ({})",
                self.inflight.per_object, self.inflight.total
            )));
        }
        if self.idle_timeout.is_zero() {
            return Err(Error::Config("idle timeout must be above zero".into()));
        }
        Ok(())
    }
}

/// [`Config::DEFAULT_MAX_OPEN_DATABASES`], or fewer when the process's file-descriptor
/// limit would not hold two per database in half of it (the other half is for sockets).
pub fn default_max_open_databases() -> usize {
    let fd_limit = open_files_limit().unwrap_or(1024);
    let for_databases = (fd_limit / 2) as usize / 2;
    Config::DEFAULT_MAX_OPEN_DATABASES
        .min(for_databases)
        .max(16)
}

/// The soft open-files limit of this process, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Parses a byte size: `512MiB`, `1GiB`, `2G`, `65536` (binary units; `B` optional).
pub fn parse_bytes(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    num.parse::<u64>()
        .ok()
        .filter(|_| mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Error::Config(format!(
                "`{s}` is not a size (examples: 512MiB, 1GiB, 65536)"
            ))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        for bad in ["", "1.5G", "10 parsecs", "G"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn ceiling_parses_off_and_numbers() {
        assert_eq!("off".parse::<Ceiling>().unwrap(), Ceiling::Off);
        assert_eq!("OFF".parse::<Ceiling>().unwrap(), Ceiling::Off);
        assert_eq!("1000".parse::<Ceiling>().unwrap(), Ceiling::PRODUCTION);
        for bad in ["0", "-1", "1k", "", "1.5"] {
            let err = bad.parse::<Ceiling>().unwrap_err().to_string();
            assert!(err.contains("ceiling"), "{bad}: {err}");
        }
    }

    #[test]
    fn data_dir_memory() {
        assert_eq!(":memory:".parse::<DataDir>().unwrap(), DataDir::Memory);
        assert!("".parse::<DataDir>().is_err());
    }
}
