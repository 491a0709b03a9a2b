//! Ceiling emulation: a per-object virtual service clock. Each turn occupies `1/rate` of
//! virtual time; a turn may start only when the clock has caught up with wall time, so one
//! object serves at most `rate` turns per second on average and queueing (then overload)
//! appears where it would in production. Never sleeps per request: the object task asks
//! `ready_at` and sleeps only when it is ahead, then runs every turn the clock allows.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Ceiling;

/// Wall time the clock may lag behind `now` and still count as "on time": tokio's timers
/// wake up to a millisecond late, and without this slack each oversleep would be capacity
/// lost for good. It allows a burst of at most `SLACK / interval` back-to-back turns after
/// an idle spell.
const SLACK: Duration = Duration::from_millis(5);

/// The virtual clock of one object.
#[derive(Debug, Clone)]
pub struct ServiceClock {
    interval: Option<Duration>,
    next_free: Instant,
}

impl ServiceClock {
    /// A clock for `ceiling`, free from now.
    pub fn new(ceiling: Ceiling, now: Instant) -> Self {
        Self {
            interval: ceiling
                .rate()
                .map(|r| Duration::from_nanos(1_000_000_000 / u64::from(r))),
            next_free: now,
        }
    }

    /// When the next turn may start; `None` means now.
    pub fn ready_at(&self, now: Instant) -> Option<Instant> {
        self.interval?;
        (self.next_free > now).then_some(self.next_free)
    }

    /// Books one turn starting at `now` (call only when `ready_at(now)` is `None`).
    pub fn book(&mut self, now: Instant) {
        if let Some(interval) = self.interval {
            let floor = now.checked_sub(SLACK).unwrap_or(now);
            self.next_free = self.next_free.max(floor) + interval;
        }
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
