//! Arrival schedules as plain data: when each request is *meant* to be sent.
//! Open models (constant, ramping, burst) map request index → intended send offset and back;
//! the closed model describes virtual users. Pure: never sleeps, never reads a clock, never
//! touches the network — the executor turns these offsets into instants.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A whole load plan's arrival model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// Requests arrive at planned instants regardless of responses (coordinated-omission free).
    Open(OpenSchedule),
    /// `users` virtual users, each sending its next request when the previous one answered.
    Closed(ClosedModel),
}

/// One linear segment of a ramping schedule: the rate moves linearly to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub duration: Duration,
    /// Requests per second reached at the end of the stage.
    pub target: f64,
}

/// Open-model arrival schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpenSchedule {
    /// `rate` requests per second, evenly spaced, for `duration`.
    Constant { rate: f64, duration: Duration },
    /// Rate starts at `start_rate` and moves linearly through each stage's target.
    Ramping { start_rate: f64, stages: Vec<Stage> },
    /// `count` requests all intended at the same offset `at`.
    Burst { count: u64, at: Duration },
}

/// Closed model: `users` virtual users with `think` time between a response and the next send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedModel {
    pub users: u32,
    pub think: Duration,
    /// Requests per user; the user stops after this many.
    pub iterations: Option<u64>,
    /// Wall-clock bound; no request is started after it.
    pub duration: Option<Duration>,
}

/// Segment `index` of `count` interleaved segments (k6 execution segments): it owns the
/// global indices `i` with `i % count == index`. All segments share one start instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl Segment {
    /// The whole schedule (segment 0 of 1).
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// Segment `index` of `count`; `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::InvalidPlan(format!(
                "segment {index} of {count} does not exist"
            )));
        }
        Ok(Segment { index, count })
    }

    /// How many of the global indices `0..total` belong to this segment.
    pub fn share_of(&self, total: u64) -> u64 {
        let (k, n) = (u64::from(self.index), u64::from(self.count));
        if total <= k {
            0
        } else {
            (total - k).div_ceil(n)
        }
    }

    /// Global index of this segment's `local`-th item.
    pub fn global(&self, local: u64) -> u64 {
        local * u64::from(self.count) + u64::from(self.index)
    }
}

/// Small slack for float rounding when turning cumulative counts into integers.
const EPS: f64 = 1e-9;

impl OpenSchedule {
    /// Checks that rates are finite and non-negative and the schedule is bounded.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidPlan(m.to_string()));
        match self {
            OpenSchedule::Constant { rate, duration } => {
                if !rate.is_finite() || *rate <= 0.0 {
                    return bad("rate must be a positive number");
                }
                if duration.is_zero() {
                    return bad("duration must be positive");
                }
            }
            OpenSchedule::Ramping { start_rate, stages } => {
                if stages.is_empty() {
                    return bad("a ramping schedule needs at least one stage");
                }
                let rates = std::iter::once(*start_rate).chain(stages.iter().map(|s| s.target));
                if rates.into_iter().any(|r| !r.is_finite() || r < 0.0) {
                    return bad("stage rates must be finite and non-negative");
                }
            }
            OpenSchedule::Burst { count, .. } => {
                if *count == 0 {
                    return bad("a burst needs at least one request");
                }
            }
        }
        if self.len() > 10_000_000_000 {
            return bad("more than 10^10 requests planned");
        }
        Ok(())
    }

    /// Planned wall-clock length (offset of the schedule's end).
    pub fn planned_duration(&self) -> Duration {
        match self {
            OpenSchedule::Constant { duration, .. } => *duration,
            OpenSchedule::Ramping { stages, .. } => stages.iter().map(|s| s.duration).sum(),
            OpenSchedule::Burst { at, .. } => *at,
        }
    }

    /// Cumulative planned arrivals by offset `t` (a real number; the i-th send is where it = i).
    fn cumulative(&self, t: Duration) -> f64 {
        match self {
            OpenSchedule::Constant { rate, duration } => rate * t.min(*duration).as_secs_f64(),
            OpenSchedule::Ramping { start_rate, stages } => {
                let mut t = t.as_secs_f64();
                let (mut acc, mut from) = (0.0, *start_rate);
                for s in stages {
                    let d = s.duration.as_secs_f64();
                    let tau = t.min(d);
                    if d > 0.0 {
                        acc += from * tau + (s.target - from) * tau * tau / (2.0 * d);
                    }
                    t -= tau;
                    from = s.target;
                    if t <= 0.0 {
                        break;
                    }
                }
                acc
            }
            OpenSchedule::Burst { count, at } => {
                if t > *at {
                    *count as f64
                } else {
                    0.0
                }
            }
        }
    }

    /// Total number of planned requests.
    pub fn len(&self) -> u64 {
        match self {
            OpenSchedule::Burst { count, .. } => *count,
            _ => (self.cumulative(self.planned_duration()) - EPS)
                .ceil()
                .max(0.0) as u64,
        }
    }

    /// True when nothing is planned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Intended send offset of request `i`, or `None` past the end.
    pub fn send_time(&self, i: u64) -> Option<Duration> {
        if i >= self.len() {
            return None;
        }
        let c = i as f64;
        let secs = match self {
            OpenSchedule::Constant { rate, .. } => c / rate,
            OpenSchedule::Burst { at, .. } => return Some(*at),
            OpenSchedule::Ramping { start_rate, stages } => {
                let (mut acc, mut from, mut t0) = (0.0, *start_rate, 0.0);
                let mut found = None;
                for s in stages {
                    let d = s.duration.as_secs_f64();
                    let stage_total = (from + s.target) * d / 2.0;
                    if d > 0.0 && c <= acc + stage_total {
                        // Solve from*τ + a*τ² = x with a = (target-from)/(2d), in the
                        // cancellation-free form τ = 2x / (from + sqrt(from² + 4ax)).
                        let x = c - acc;
                        let a = (s.target - from) / (2.0 * d);
                        let denom = from + (from * from + 4.0 * a * x).max(0.0).sqrt();
                        let tau = if x <= 0.0 {
                            0.0
                        } else if denom > 0.0 {
                            2.0 * x / denom
                        } else {
                            d
                        };
                        found = Some(t0 + tau.min(d));
                        break;
                    }
                    acc += stage_total;
                    t0 += d;
                    from = s.target;
                }
                found.unwrap_or(t0)
            }
        };
        // Round down to whole nanoseconds so count_before(send_time(i)) never exceeds i.
        Some(Duration::from_nanos((secs * 1e9).floor() as u64))
    }

    /// Number of requests whose intended offset is strictly before `t`.
    pub fn count_before(&self, t: Duration) -> u64 {
        match self {
            OpenSchedule::Burst { count, at } => {
                if t > *at {
                    *count
                } else {
                    0
                }
            }
            _ => ((self.cumulative(t) - EPS).ceil().max(0.0) as u64).min(self.len()),
        }
    }

    /// Average planned rate over the whole schedule (requests per second).
    pub fn offered_rate(&self) -> f64 {
        let d = self.planned_duration().as_secs_f64();
        if d > 0.0 {
            self.len() as f64 / d
        } else {
            f64::INFINITY
        }
    }

    /// Highest planned rate at any moment (requests per second; infinite for a burst).
    pub fn peak_rate(&self) -> f64 {
        match self {
            OpenSchedule::Constant { rate, .. } => *rate,
            OpenSchedule::Ramping { start_rate, stages } => {
                stages.iter().map(|s| s.target).fold(*start_rate, f64::max)
            }
            OpenSchedule::Burst { .. } => f64::INFINITY,
        }
    }

    /// All intended send offsets, in order (computed, never slept).
    pub fn iter(&self) -> impl Iterator<Item = Duration> + '_ {
        (0..self.len()).map_while(|i| self.send_time(i))
    }

    /// This schedule cut to one interleaved segment.
    pub fn segment(self, segment: Segment) -> OpenPlan {
        OpenPlan {
            schedule: self,
            segment,
        }
    }
}

/// An open schedule restricted to one segment; indices here are *local* to the segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenPlan {
    pub schedule: OpenSchedule,
    pub segment: Segment,
}

impl OpenPlan {
    /// Number of requests this segment sends.
    pub fn len(&self) -> u64 {
        self.segment.share_of(self.schedule.len())
    }

    /// True when this segment sends nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Intended offset of this segment's `local`-th request.
    pub fn send_time(&self, local: u64) -> Option<Duration> {
        self.schedule.send_time(self.segment.global(local))
    }

    /// Number of this segment's requests intended strictly before `t`.
    pub fn count_before(&self, t: Duration) -> u64 {
        self.segment.share_of(self.schedule.count_before(t))
    }

    /// Highest planned rate of this segment at any moment (its share of the schedule's).
    pub fn peak_rate(&self) -> f64 {
        self.schedule.peak_rate() / f64::from(self.segment.count.max(1))
    }

    /// Global index of the local index (for request sources: stable across segmentations).
    pub fn global(&self, local: u64) -> u64 {
        self.segment.global(local)
    }
}

impl ClosedModel {
    /// Checks the model is bounded (by iterations or duration) and has users.
    pub fn validate(&self) -> Result<()> {
        if self.users == 0 {
            return Err(Error::InvalidPlan(
                "a closed model needs at least one user".into(),
            ));
        }
        if self.iterations.is_none() && self.duration.is_none() {
            return Err(Error::InvalidPlan(
                "a closed model needs iterations or a duration".into(),
            ));
        }
        Ok(())
    }

    /// Users that segment `segment` runs (users `u` with `u % n == k`).
    pub fn users_in(&self, segment: Segment) -> u32 {
        segment.share_of(u64::from(self.users)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = OpenSchedule::Constant {
            rate: 2000.0,
            duration: Duration::from_secs(5),
        };
        assert_eq!(s.len(), 10_000);
        assert_eq!(s.send_time(0), Some(Duration::ZERO));
        assert_eq!(s.send_time(1), Some(Duration::from_micros(500)));
        assert_eq!(s.send_time(9_999), Some(Duration::from_micros(4_999_500)));
        assert_eq!(s.send_time(10_000), None);
        assert_eq!(s.count_before(ms(1)), 2);
        assert_eq!(s.count_before(Duration::from_secs(60)), 10_000);
    }

    #[test]
    fn ramp_from_zero_is_quadratic_then_linear() {
        // 0 → 100/s over 10 s (500 requests), then flat 100/s for 10 s (1000 more).
        let s = OpenSchedule::Ramping {
            start_rate: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 100.0,
                },
            ],
        };
        assert_eq!(s.len(), 1500);
        // N(t) = 5 t² in stage one: the 125th send is at 5 s.
        let t = s.send_time(125).unwrap().as_secs_f64();
        assert!((t - 5.0).abs() < 1e-6, "{t}");
        let t = s.send_time(600).unwrap().as_secs_f64();
        assert!((t - 11.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn burst_is_one_instant() {
        let s = OpenSchedule::Burst {
            count: 1000,
            at: ms(5),
        };
        assert_eq!(s.len(), 1000);
        assert!(s.iter().all(|t| t == ms(5)));
        assert_eq!(s.count_before(ms(5)), 0);
        assert_eq!(s.count_before(ms(6)), 1000);
    }

    #[test]
    fn bad_plans_are_refused() {
        assert!(OpenSchedule::Constant {
            rate: 0.0,
            duration: ms(1)
        }
        .validate()
        .is_err());
        assert!(OpenSchedule::Constant {
            rate: f64::NAN,
            duration: ms(1)
        }
        .validate()
        .is_err());
        assert!(OpenSchedule::Ramping {
            start_rate: 1.0,
            stages: vec![]
        }
        .validate()
        .is_err());
        let unbounded = ClosedModel {
            users: 4,
            think: ms(0),
            iterations: None,
            duration: None,
        };
        assert!(unbounded.validate().is_err());
        assert!(Segment::new(3, 3).is_err());
    }

    #[test]
    fn closed_users_split_across_segments() {
        let m = ClosedModel {
            users: 10,
            think: ms(0),
            iterations: Some(1),
            duration: None,
        };
        let total: u32 = (0..3)
            .map(|k| m.users_in(Segment::new(k, 3).unwrap()))
            .sum();
        assert_eq!(total, 10);
    }

    fn open_schedule() -> impl Strategy<Value = OpenSchedule> {
        prop_oneof![
            (1.0f64..5000.0, 1u64..3000).prop_map(|(rate, d)| OpenSchedule::Constant {
                rate,
                duration: ms(d)
            }),
            (
                prop_oneof![Just(0.0f64), 1.0f64..2000.0],
                proptest::collection::vec((1u64..2000, 1.0f64..2000.0), 1..4)
            )
                .prop_map(|(start_rate, st)| OpenSchedule::Ramping {
                    start_rate,
                    stages: st
                        .into_iter()
                        .map(|(d, target)| Stage {
                            duration: ms(d),
                            target
                        })
                        .collect(),
                }),
            (1u64..500, 0u64..100)
                .prop_map(|(count, at)| OpenSchedule::Burst { count, at: ms(at) }),
        ]
    }

    proptest! {
        #[test]
        fn times_are_monotonic_and_inside_the_plan(s in open_schedule()) {
            let times: Vec<_> = s.iter().collect();
            prop_assert_eq!(times.len() as u64, s.len());
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
            if let Some(last) = times.last() {
                prop_assert!(*last <= s.planned_duration());
            }
        }

        #[test]
        fn constant_count_matches_rate_times_duration(rate in 1.0f64..10000.0, d in 1u64..5000) {
            let s = OpenSchedule::Constant { rate, duration: ms(d) };
            let expected = rate * d as f64 / 1000.0;
            prop_assert!((s.len() as f64 - expected).abs() <= 1.0);
        }

        #[test]
        fn count_before_inverts_send_time(s in open_schedule(), i in 0u64..3000) {
            if let Some(t) = s.send_time(i) {
                // Everything strictly before t has a smaller index (ties allowed for bursts).
                prop_assert!(s.count_before(t) <= i);
                prop_assert!(s.count_before(t + ms(1)) > i);
            }
        }

        #[test]
        fn segments_partition_the_whole(s in open_schedule(), n in 1u32..7) {
            let whole: Vec<_> = s.iter().collect();
            let mut seen = vec![false; whole.len()];
            let mut total = 0;
            for k in 0..n {
                let plan = s.clone().segment(Segment::new(k, n).unwrap());
                total += plan.len();
                for local in 0..plan.len() {
                    let g = plan.global(local) as usize;
                    prop_assert!(!seen[g]);
                    seen[g] = true;
                    prop_assert_eq!(plan.send_time(local), Some(whole[g]));
                }
                let mid = s.planned_duration() / 2;
                let expect = (0..plan.len()).filter(|&l| plan.send_time(l).unwrap() < mid).count() as u64;
                prop_assert_eq!(plan.count_before(mid), expect);
            }
            prop_assert_eq!(total, s.len());
            prop_assert!(seen.into_iter().all(|x| x));
        }
    }
}
