//! Whether the generator, not the target, set a run's numbers: the one rule behind
//! `generator_limited` and `generator_note`, from evidence about the generator only (its own
//! send delay, its own threads' busy share, the sends it never made). Never looks at the
//! target's queueing or refusals, and never decides what the target's limit was.

use crate::hist::Percentiles;

/// The generator's own send delay (p99, ms) above which it may be the run's limit.
pub const LIMITED_LATE_P99_MS: f64 = 10.0;
/// ...and only when that delay is at least this share of the latency it measured (p99 against
/// p99): a delay that is a sliver of what the target took did not set the numbers, however
/// busy the machine was. Latency counts from the intended send, so it always holds the delay.
pub const LIMITED_LATE_SHARE: f64 = 0.25;
/// The generator's threads' busy share (on-CPU + run-queue wait, %) at or above which the
/// generator is called the run's limit when its sends were also late (see
/// [`GeneratorVerdict::of`]); and its CPU share of the machine's cores at or above which it
/// is the limit whatever its timing: its own work took every core.
pub const LIMITED_BUSY_PCT: f64 = 90.0;
/// Milder signs, reported as a note only.
pub const NOTE_LATE_P99_MS: f64 = 1.0;
/// See [`NOTE_LATE_P99_MS`].
pub const NOTE_BUSY_PCT: f64 = 60.0;
/// Sends the generator itself failed to make (`missed`), as a share of all it booked, past
/// which it is the limit whatever its timing looked like: a missed send is its own evidence.
pub const LIMITED_MISSED_SHARE: f64 = 0.01;
/// Fewer completed requests than this say nothing about the generator either way.
const MIN_REQUESTS: u64 = 50;

/// What the generator knows about itself at the end of a run (or a run so far).
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Its own send delay after a connection was free or the intended time, whichever later.
    pub lateness: &'a Percentiles,
    /// The p99 of the latency it measured (the larger of request and delivery latency), ms.
    pub latency_p99_ms: f64,
    /// Its threads' busy share (on CPU or waiting for one), %.
    pub busy_pct: f64,
    /// Its threads' CPU time as a share of the machine's cores, %.
    pub cpu_pct: f64,
    /// Requests completed.
    pub requests: u64,
    /// Sends it never made.
    pub missed: u64,
}

/// True when a send delay of `late_p99_ms` set numbers whose latency p99 was `latency_p99_ms`:
/// past [`LIMITED_LATE_P99_MS`] and at least [`LIMITED_LATE_SHARE`] of the latency.
pub fn delay_sets_the_numbers(late_p99_ms: f64, latency_p99_ms: f64) -> bool {
    late_p99_ms > LIMITED_LATE_P99_MS && is_material(late_p99_ms, latency_p99_ms)
}

/// The delay is at least [`LIMITED_LATE_SHARE`] of the latency measured.
fn is_material(late_p99_ms: f64, latency_p99_ms: f64) -> bool {
    late_p99_ms >= LIMITED_LATE_SHARE * latency_p99_ms
}

/// Whether the generator set a run's numbers, and what was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorVerdict {
    /// The evidence crossed a bound: see [`GeneratorVerdict::of`].
    pub limited: bool,
    /// What was seen, when it crossed a bound or a milder one.
    pub note: Option<String>,
}

impl GeneratorVerdict {
    /// Limited when enough requests completed and the send delay set the numbers
    /// ([`delay_sets_the_numbers`]), or the threads were busy past [`LIMITED_BUSY_PCT`] while
    /// the delay, past [`NOTE_LATE_P99_MS`], was a material share of the latency (busy threads
    /// that still send on time are near their limit, not at it), or its own CPU took
    /// [`LIMITED_BUSY_PCT`] of the machine's cores; or when more than
    /// [`LIMITED_MISSED_SHARE`] of the sends were never made.
    pub fn of(e: &Evidence<'_>) -> Self {
        let late = e.lateness.p99;
        let booked = (e.requests + e.missed).max(1) as f64;
        let missed_share = e.missed as f64 / booked;
        let enough = e.requests >= MIN_REQUESTS;
        let busy_and_late = e.busy_pct >= LIMITED_BUSY_PCT
            && late > NOTE_LATE_P99_MS
            && is_material(late, e.latency_p99_ms);
        let own_work_took_the_cores = e.cpu_pct >= LIMITED_BUSY_PCT;
        let limited = (enough
            && (delay_sets_the_numbers(late, e.latency_p99_ms)
                || busy_and_late
                || own_work_took_the_cores))
            || missed_share > LIMITED_MISSED_SHARE;
        let mild = enough && (late > NOTE_LATE_P99_MS || e.busy_pct >= NOTE_BUSY_PCT);
        let note = (limited || mild).then(|| {
            let mut evidence = format!(
                "the generator's own send delay p99 {late:.2} ms (latency p99 {:.2} ms), its threads busy {:.0} %, its CPU {:.0} % of the cores",
                e.latency_p99_ms, e.busy_pct, e.cpu_pct
            );
            if e.missed > 0 {
                evidence.push_str(&format!(
                    ", {:.1} % of its sends never made",
                    missed_share * 100.0
                ));
            }
            if limited {
                format!(
                    "generator-limited ({evidence}; bounds: delay {LIMITED_LATE_P99_MS} ms and {:.0} % of latency, busy {LIMITED_BUSY_PCT} %, {} % missed): these numbers show dobench's limit",
                    LIMITED_LATE_SHARE * 100.0,
                    LIMITED_MISSED_SHARE * 100.0
                )
            } else {
                format!("the generator showed some strain ({evidence}); figures still stand")
            }
        });
        GeneratorVerdict { limited, note }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn late(p99: f64) -> Percentiles {
        Percentiles {
            p50: 0.1,
            p90: p99 / 2.0,
            p99,
            p999: p99,
            max: p99,
        }
    }

    fn verdict(late_p99: f64, latency_p99: f64, busy: f64, missed: u64) -> GeneratorVerdict {
        GeneratorVerdict::of(&Evidence {
            lateness: &late(late_p99),
            latency_p99_ms: latency_p99,
            busy_pct: busy,
            cpu_pct: busy / 2.0,
            requests: 10_000,
            missed,
        })
    }

    #[test]
    fn a_late_generator_in_front_of_a_fast_target_is_the_limit() {
        let v = verdict(15.0, 16.0, 40.0, 0);
        assert!(v.limited);
        assert!(v.note.unwrap().starts_with("generator-limited"));
    }

    #[test]
    fn a_delay_that_is_a_sliver_of_a_slow_targets_latency_is_only_a_note() {
        let v = verdict(12.0, 300.0, 50.0, 0);
        assert!(!v.limited);
        assert!(v.note.unwrap().contains("figures still stand"));
    }

    #[test]
    fn busy_threads_limit_when_their_sends_are_late_and_missed_sends_whatever_else() {
        assert!(verdict(4.0, 6.0, 95.0, 0).limited, "busy and late");
        assert!(
            !verdict(4.0, 300.0, 95.0, 0).limited,
            "busy, late by a sliver"
        );
        assert!(!verdict(0.5, 1.0, 95.0, 0).limited, "busy, on time");
        let own = GeneratorVerdict::of(&Evidence {
            lateness: &late(0.01),
            latency_p99_ms: 900.0,
            busy_pct: 99.0,
            cpu_pct: 98.0,
            requests: 10_000,
            missed: 0,
        });
        assert!(own.limited, "its own work took the cores");
        assert!(verdict(0.5, 300.0, 10.0, 200).limited);
        assert!(
            !verdict(0.5, 300.0, 10.0, 50).limited,
            "0.5 % missed is under the bound"
        );
    }
    #[test]
    fn a_quiet_generator_says_nothing() {
        assert_eq!(verdict(0.5, 3.0, 20.0, 0).note, None);
    }

    #[test]
    fn too_few_requests_say_nothing_about_timing() {
        let v = GeneratorVerdict::of(&Evidence {
            lateness: &late(50.0),
            latency_p99_ms: 50.0,
            busy_pct: 99.0,
            cpu_pct: 99.0,
            requests: 10,
            missed: 0,
        });
        assert_eq!(
            v,
            GeneratorVerdict {
                limited: false,
                note: None
            }
        );
    }
}
