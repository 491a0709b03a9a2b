//! Ceiling emulation: a per-object virtual service clock. Each turn occupies virtual time
//! that follows its work: the ceiling's base (`1/rate`, what a pass-through turn costs),
//! plus its measured CPU time past a small allowance scaled by a factor (handler code in a
//! JS isolate runs far slower than native Rust), plus a cost per storage row read and
//! written ([`TurnCosts`]). A turn may start only when the clock has caught up with wall
//! time, so saturation, queueing and then overload appear where they would in production.
//! Never sleeps per request: the object task asks `ready_at` and sleeps only when it is
//! ahead, then runs every turn the clock allows. Owns the arithmetic only; never measures.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Ceiling;

/// Wall time the clock may lag behind `now` and still count as "on time": tokio's timers
/// wake up to a millisecond late, and without this slack each oversleep would be capacity
/// lost for good. It allows a burst of at most `SLACK / interval` back-to-back turns after
/// an idle spell.
const SLACK: Duration = Duration::from_millis(5);

/// What a turn costs on the virtual clock beyond the ceiling's base.
///
/// The defaults put the built-in classes in production's bands with the base at 1/1000 s
/// (calibrated on the reference machine, quiet, where a counter increment takes ~42 µs of
/// CPU, an admitting sliding-log rate-limiter check ~120 µs and a 20-row increment ~60 µs):
/// the counter (one row written, its CPU within the allowance) near 930 turns/s, the rate
/// limiter (three statements, ~120 rows read, 2 written) in 500–750, a handler writing 20
/// rows in 200–500 (`benches/ceiling_bands.sh` measures them). CPU time is machine-relative: it is
/// scaled by [`cpu_scale`], the ratio of a reference workload's CPU time on the machine
/// the defaults were calibrated on to its time here, measured once per process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnCosts {
    /// Virtual time per µs of turn CPU time past the allowance.
    pub cpu_factor: f64,
    /// CPU time per turn the base already covers (a pass-through handler's own work).
    pub cpu_allowance: Duration,
    /// Virtual time per storage row read.
    pub per_row_read: Duration,
    /// Virtual time per storage row written.
    pub per_row_written: Duration,
}

impl TurnCosts {
    /// Production-like defaults (see the type's docs).
    pub const DEFAULT: TurnCosts = TurnCosts {
        cpu_factor: 6.0,
        cpu_allowance: Duration::from_micros(40),
        per_row_read: Duration::from_micros(1),
        per_row_written: Duration::from_micros(60),
    };

    /// Only the base: every turn costs `1/rate`, whatever it did.
    pub const BASE_ONLY: TurnCosts = TurnCosts {
        cpu_factor: 0.0,
        cpu_allowance: Duration::ZERO,
        per_row_read: Duration::ZERO,
        per_row_written: Duration::ZERO,
    };

    /// True when a turn's CPU time matters (so it is worth measuring).
    pub fn counts_cpu(&self) -> bool {
        self.cpu_factor > 0.0
    }

    /// Virtual time a turn adds beyond the base, from its CPU time (already machine-scaled
    /// by the caller) and the rows it read and wrote.
    pub fn extra(&self, cpu: Duration, rows_read: u64, rows_written: u64) -> Duration {
        let cpu_part = cpu
            .saturating_sub(self.cpu_allowance)
            .mul_f64(self.cpu_factor.max(0.0));
        cpu_part
            + self
                .per_row_read
                .saturating_mul(rows_read.min(u32::MAX as u64) as u32)
            + self
                .per_row_written
                .saturating_mul(rows_written.min(u32::MAX as u64) as u32)
    }
}

impl std::str::FromStr for TurnCosts {
    type Err = String;

    /// `default`, `base-only`, or `key=value` pairs over the defaults, comma-separated:
    /// `cpu_factor=6,cpu_allowance_us=40,row_read_us=1,row_written_us=60`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        match spec {
            "" | "default" => return Ok(Self::DEFAULT),
            "base-only" => return Ok(Self::BASE_ONLY),
            _ => {}
        }
        let mut costs = Self::DEFAULT;
        for pair in spec.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("`{pair}`: expected key=value (cpu_factor, cpu_allowance_us, row_read_us, row_written_us), `default` or `base-only`")
            })?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= 1e9)
                .ok_or_else(|| format!("`{pair}`: the value must be a number ≥ 0"))?;
            let us = || Duration::from_nanos((value * 1000.0) as u64);
            match key.trim() {
                "cpu_factor" => costs.cpu_factor = value,
                "cpu_allowance_us" => costs.cpu_allowance = us(),
                "row_read_us" => costs.per_row_read = us(),
                "row_written_us" => costs.per_row_written = us(),
                other => {
                    return Err(format!(
                        "unknown cost `{other}` (cpu_factor, cpu_allowance_us, row_read_us, row_written_us)"
                    ))
                }
            }
        }
        Ok(costs)
    }
}

impl Default for TurnCosts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// CPU time the reference workload took on the machine the defaults were calibrated on.
const REFERENCE_CPU: Duration = Duration::from_micros(900);

/// This machine's CPU time relative to the calibration machine (1.0 there; 0.5 on a machine
/// twice as slow, so the same work costs the same virtual time). Measured once per process
/// on first use: the best of five runs of a fixed workload of SQLite statements (the same
/// code the handlers' storage runs) on the calling thread, a few ms in all.
pub fn cpu_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        let best = (0..5).filter_map(|_| reference_cpu()).min();
        match best {
            Some(t) if !t.is_zero() => {
                (REFERENCE_CPU.as_secs_f64() / t.as_secs_f64()).clamp(0.01, 100.0)
            }
            _ => 1.0,
        }
    })
}

/// CPU time of one run of the reference workload, if it could run.
fn reference_cpu() -> Option<Duration> {
    let conn = rusqlite::Connection::open_in_memory().ok()?;
    conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        .ok()?;
    let t0 = thread_cpu();
    for i in 0..200i64 {
        conn.prepare_cached("INSERT OR REPLACE INTO t (k, v) VALUES (?1, ?2)")
            .ok()?
            .execute(rusqlite::params![i % 50, i.to_le_bytes()])
            .ok()?;
        let _: i64 = conn
            .prepare_cached("SELECT count(*) FROM t WHERE k <= ?1")
            .ok()?
            .query_row([i % 50], |r| r.get(0))
            .ok()?;
    }
    Some(thread_cpu().saturating_sub(t0))
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The virtual clock of one object.
#[derive(Debug, Clone)]
pub struct ServiceClock {
    interval: Option<Duration>,
    next_free: Instant,
    /// Virtual time charged so far (base and extra), for the mean service time per turn.
    charged: Duration,
}

impl ServiceClock {
    /// A clock for `ceiling`, free from now.
    pub fn new(ceiling: Ceiling, now: Instant) -> Self {
        Self {
            interval: ceiling
                .rate()
                .map(|r| Duration::from_nanos(1_000_000_000 / u64::from(r))),
            next_free: now,
            charged: Duration::ZERO,
        }
    }

    /// True when the clock limits anything (the ceiling is not off).
    pub fn is_on(&self) -> bool {
        self.interval.is_some()
    }

    /// When the next turn may start; `None` means now.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        self.interval?;
        (self.next_free > now).then_some(self.next_free)
    }

    /// Books one turn's base starting at `now` (call only when `ready_at(now)` is `None`).
    pub fn book(&mut self, now: Instant) {
        if let Some(interval) = self.interval {
            let floor = now.checked_sub(SLACK).unwrap_or(now);
            self.next_free = self.next_free.max(floor) + interval;
            self.charged += interval;
        }
    }

    /// Adds what a turn cost beyond its base, once it ran: later turns wait for it.
    pub fn charge(&mut self, extra: Duration) {
        if self.interval.is_some() {
            self.next_free += extra;
            self.charged += extra;
        }
    }

    /// Takes the virtual time charged since the last call.
    pub fn take_charged(&mut self) -> Duration {
        std::mem::take(&mut self.charged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn ceiling(n: u32) -> Ceiling {
        Ceiling::TurnsPerSec(NonZeroU32::new(n).unwrap())
    }

    #[test]
    fn off_never_waits() {
        let now = Instant::now();
        let mut c = ServiceClock::new(Ceiling::Off, now);
        for _ in 0..1000 {
            assert_eq!(c.ready_at(now), None);
            c.book(now);
        }
    }

    /// Simulates a saturated object for one virtual second: it serves `rate` turns (+ the
    /// slack burst), not more.
    #[test]
    fn saturated_object_serves_rate_per_second() {
        for rate in [100u32, 1000, 5000] {
            let start = Instant::now();
            let mut c = ServiceClock::new(ceiling(rate), start);
            let mut now = start;
            let mut turns = 0u32;
            let end = start + Duration::from_secs(1);
            while now < end {
                match c.ready_at(now) {
                    None => {
                        c.book(now);
                        turns += 1;
                    }
                    // Oversleep by 300µs each time, as a real timer would.
                    Some(t) => now = t + Duration::from_micros(300),
                }
            }
            let burst = (SLACK.as_nanos() * u128::from(rate) / 1_000_000_000) as u32;
            assert!(
                turns >= rate - 1 && turns <= rate + burst + 1,
                "rate {rate}: {turns} turns"
            );
        }
    }

    /// A turn that costs twice the base halves the rate: the clock follows the work.
    #[test]
    fn charged_work_slows_the_object_down() {
        let start = Instant::now();
        let mut c = ServiceClock::new(ceiling(1000), start);
        let mut now = start;
        let mut turns = 0u32;
        let end = start + Duration::from_secs(1);
        while now < end {
            match c.ready_at(now) {
                None => {
                    c.book(now);
                    c.charge(Duration::from_millis(1));
                    turns += 1;
                }
                Some(t) => now = t,
            }
        }
        assert!((495..=510).contains(&turns), "{turns} turns");
        assert!(c.take_charged() >= Duration::from_millis(990));
        assert_eq!(c.take_charged(), Duration::ZERO);
    }

    #[test]
    fn costs_follow_cpu_past_the_allowance_and_rows() {
        let k = TurnCosts {
            cpu_factor: 10.0,
            cpu_allowance: Duration::from_micros(20),
            per_row_read: Duration::from_micros(1),
            per_row_written: Duration::from_micros(50),
        };
        assert_eq!(k.extra(Duration::from_micros(15), 0, 0), Duration::ZERO);
        assert_eq!(
            k.extra(Duration::from_micros(30), 4, 2),
            Duration::from_micros(100 + 4 + 100)
        );
        assert_eq!(
            TurnCosts::BASE_ONLY.extra(Duration::from_secs(1), 9, 9),
            Duration::ZERO
        );
        let scale = cpu_scale();
        assert!(scale > 0.0 && scale.is_finite(), "{scale}");
    }

    #[test]
    fn costs_parse_presets_and_overrides() {
        assert_eq!("default".parse::<TurnCosts>(), Ok(TurnCosts::DEFAULT));
        assert_eq!("base-only".parse::<TurnCosts>(), Ok(TurnCosts::BASE_ONLY));
        let c: TurnCosts = "row_written_us=100, cpu_factor=2".parse().unwrap();
        assert_eq!(c.per_row_written, Duration::from_micros(100));
        assert_eq!(c.cpu_factor, 2.0);
        assert_eq!(c.per_row_read, TurnCosts::DEFAULT.per_row_read);
        for bad in ["row_written_us", "rows=3", "cpu_factor=-1", "cpu_factor=x"] {
            assert!(bad.parse::<TurnCosts>().is_err(), "{bad}");
        }
    }

    #[test]
    fn idle_time_is_not_banked_beyond_slack() {
        let start = Instant::now();
        let mut c = ServiceClock::new(ceiling(1000), start);
        let later = start + Duration::from_secs(10);
        let mut burst = 0;
        while c.ready_at(later).is_none() {
            c.book(later);
            burst += 1;
        }
        assert!(burst <= 6, "burst {burst}");
    }
}
