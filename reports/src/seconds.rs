//! Turns the live bus's cumulative [`Snapshot`]s (~4 Hz) into one row per second: rates and
//! error counts from differences of cumulative totals, latency percentiles from the
//! snapshot's last-second window, and per-object rates for the top N objects plus one
//! remainder row. Pure: no clock, no I/O; the writer decides when to persist.

use std::collections::{BTreeMap, HashMap};

use dobench_loadgen::{ErrorCounts, Snapshot};

use crate::model::{ObjectSecond, SecondRow};

/// Name of the row that sums every object outside the top N.
pub const REMAINDER: &str = "(rest)";

/// A closed second, ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondBatch {
    pub row: SecondRow,
    pub objects: Vec<ObjectSecond>,
}

#[derive(Debug, Clone, Default)]
struct Base {
    t: f64,
    offered: f64,
    requests: u64,
    missed: u64,
    errors: ErrorCounts,
    objects: HashMap<String, u64>,
}

/// Cuts a stream of snapshots into seconds.
#[derive(Debug, Clone)]
pub struct SecondTracker {
    top_n: usize,
    /// Index of the second being accumulated.
    second: u64,
    base: Base,
}

impl SecondTracker {
    /// Keeps per-object rows for the `top_n` busiest objects of each second.
    pub fn new(top_n: usize) -> Self {
        SecondTracker {
            top_n,
            second: 0,
            base: Base::default(),
        }
    }

    /// Feeds one snapshot; returns the second it closes, if any. A snapshot at or past the
    /// next whole second closes the current one; the run's last snapshot (`done`) closes
    /// the partial second it ends in.
    pub fn push(&mut self, s: &Snapshot) -> Option<SecondBatch> {
        let now_sec = s.elapsed_s.max(0.0).floor() as u64;
        if now_sec <= self.second && !s.done {
            return None;
        }
        let span = s.elapsed_s - self.base.t;
        if span <= 1e-6
            || (s.done
                && s.requests == self.base.requests
                && now_sec <= self.second
                && self.second > 0)
        {
            self.second = self.second.max(now_sec);
            return None;
        }
        let batch = self.close(s, span);
        self.second = if now_sec > self.second {
            now_sec
        } else {
            self.second + 1
        };
        Some(batch)
    }

    fn close(&mut self, s: &Snapshot, span: f64) -> SecondBatch {
        let offered = s.offered_rps * s.elapsed_s;
        let requests = s.requests.saturating_sub(self.base.requests);
        let e = &s.errors;
        let b = &self.base.errors;
        let mut status_errors = BTreeMap::new();
        for (code, n) in &e.status {
            let d = n.saturating_sub(b.status.get(code).copied().unwrap_or(0));
            if d > 0 {
                status_errors.insert(code.clone(), d);
            }
        }
        let row = SecondRow {
            second: self.second,
            span_s: span,
            offered_rps: ((offered - self.base.offered) / span).max(0.0),
            achieved_rps: requests as f64 / span,
            requests,
            missed: s.missed.saturating_sub(self.base.missed),
            errors: e.total.saturating_sub(b.total),
            overloaded: e.overloaded.saturating_sub(b.overloaded),
            timeout: e.timeout.saturating_sub(b.timeout),
            connect: e.connect.saturating_sub(b.connect),
            other: e.other.saturating_sub(b.other),
            status_errors,
            latency_ms: s.latency_ms_last_s,
        };
        let mut deltas: Vec<(&str, u64)> = s
            .objects
            .iter()
            .map(|o| {
                (
                    o.name.as_str(),
                    o.requests
                        .saturating_sub(self.base.objects.get(&o.name).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, d)| *d > 0)
            .collect();
        deltas.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut objects: Vec<ObjectSecond> = deltas
            .iter()
            .take(self.top_n)
            .map(|(name, d)| ObjectSecond {
                second: self.second,
                object: (*name).to_string(),
                rps: *d as f64 / span,
                requests: *d,
                remainder: false,
                objects: 1,
            })
            .collect();
        let rest = &deltas[deltas.len().min(self.top_n)..];
        if !rest.is_empty() {
            let n: u64 = rest.iter().map(|(_, d)| d).sum();
            objects.push(ObjectSecond {
                second: self.second,
                object: REMAINDER.to_string(),
                rps: n as f64 / span,
                requests: n,
                remainder: true,
                objects: rest.len() as u64,
            });
        }
        self.base = Base {
            t: s.elapsed_s,
            offered,
            requests: s.requests,
            missed: s.missed,
            errors: s.errors.clone(),
            objects: s
                .objects
                .iter()
                .map(|o| (o.name.clone(), o.requests))
                .collect(),
        };
        SecondBatch { row, objects }
    }
}

#[cfg(test)]
mod tests {
    use dobench_loadgen::ObjectSnapshot;

    use super::*;

    fn snap(t: f64, requests: u64, objects: &[(&str, u64)], done: bool) -> Snapshot {
        Snapshot {
            elapsed_s: t,
            offered_rps: 100.0,
            requests,
            done,
            objects: objects
                .iter()
                .map(|(n, r)| ObjectSnapshot {
                    name: (*n).into(),
                    requests: *r,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_row_per_second_with_remainder() {
        let mut t = SecondTracker::new(1);
        assert!(t
            .push(&snap(0.25, 25, &[("a", 20), ("b", 5)], false))
            .is_none());
        assert!(t
            .push(&snap(0.75, 75, &[("a", 60), ("b", 10), ("c", 5)], false))
            .is_none());
        let b = t
            .push(&snap(1.0, 100, &[("a", 80), ("b", 15), ("c", 5)], false))
            .unwrap();
        assert_eq!(b.row.second, 0);
        assert_eq!(b.row.requests, 100);
        assert!((b.row.offered_rps - 100.0).abs() < 1e-9);
        assert_eq!(b.objects.len(), 2);
        assert_eq!(
            (b.objects[0].object.as_str(), b.objects[0].requests),
            ("a", 80)
        );
        assert!(b.objects[1].remainder);
        assert_eq!((b.objects[1].requests, b.objects[1].objects), (20, 2));
        assert!(t.push(&snap(1.5, 150, &[("a", 120)], false)).is_none());
        let b = t.push(&snap(1.6, 160, &[("a", 130)], true)).unwrap();
        assert_eq!((b.row.second, b.row.requests), (1, 60));
        assert!((b.row.span_s - 0.6).abs() < 1e-9);
    }

    #[test]
    fn a_stalled_bus_leaves_a_gap_not_a_duplicate() {
        let mut t = SecondTracker::new(4);
        let b = t.push(&snap(1.1, 100, &[], false)).unwrap();
        assert_eq!(b.row.second, 0);
        let b = t.push(&snap(3.2, 300, &[], false)).unwrap();
        assert_eq!(b.row.second, 1);
        let b = t.push(&snap(4.0, 380, &[], false)).unwrap();
        assert_eq!(b.row.second, 3);
    }
}
