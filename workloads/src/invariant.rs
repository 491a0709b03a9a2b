//! Counter invariants of user-described traffic, judged from answers alone (no knowledge of
//! the server's insides): per object, a read sent after another read of it was answered
//! never shows a smaller value; and the sum of the final reads over the objects the
//! increments reached lies between `by` × the acknowledged (2xx) increments and `by` × (the
//! acknowledged plus the unanswered ones). An increment answered with any other status
//! counts as not applied. Keeps one short mutex on the hot path; never sends anything (the
//! final reads are the caller's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use dobench_loadgen::summary::Check;

use crate::traffic::check;

#[derive(Debug, Default, Clone)]
struct ObjLog {
    shard: u64,
    sent: u64,
    answered: u64,
    acked: u64,
    increments: bool,
    /// (sent, answered, value) of every 2xx read carrying a number.
    reads: Vec<(Instant, Instant, u64)>,
}

#[derive(Debug, Default)]
struct State {
    objects: HashMap<Arc<str>, ObjLog>,
    read_sent: HashMap<u64, Instant>,
    unreadable: u64,
}

/// The books the invariants are judged from.
#[derive(Debug, Default)]
pub struct CounterBooks {
    state: Mutex<State>,
}

impl CounterBooks {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An increment of `object` (shard `shard`) is about to be sent.
    pub fn increment_sent(&self, object: &Arc<str>, shard: u64) {
        let mut st = self.lock();
        let o = st.objects.entry(object.clone()).or_default();
        o.shard = shard;
        o.sent += 1;
        o.increments = true;
    }

    /// A read of request index `index` is about to be sent.
    pub fn read_sent(&self, index: u64) {
        self.lock().read_sent.insert(index, Instant::now());
    }

    /// A request counted as sent never went out.
    pub fn unsent(&self, index: u64, increment_of: Option<&Arc<str>>) {
        let mut st = self.lock();
        st.read_sent.remove(&index);
        if let Some(o) = increment_of.and_then(|n| st.objects.get_mut(n)) {
            o.sent = o.sent.saturating_sub(1);
        }
    }

    /// An increment's answer arrived with `status`.
    pub fn increment_answered(&self, object: &Arc<str>, status: u16) {
        let mut st = self.lock();
        let o = st.objects.entry(object.clone()).or_default();
        o.answered += 1;
        if (200..300).contains(&status) {
            o.acked += 1;
        }
    }

    /// A read's answer arrived; `value` is the counter it showed (`None`: not a 2xx number).
    pub fn read_answered(&self, index: u64, object: &Arc<str>, value: Option<u64>) {
        let done = Instant::now();
        let mut st = self.lock();
        let sent = st.read_sent.remove(&index);
        match (sent, value) {
            (Some(sent), Some(v)) => {
                st.objects
                    .entry(object.clone())
                    .or_default()
                    .reads
                    .push((sent, done, v));
            }
            (_, None) => st.unreadable += 1,
            _ => {}
        }
    }

    /// The objects the increments reached, with their shard (for the final reads), sorted.
    pub fn incremented(&self) -> Vec<(Arc<str>, u64)> {
        let st = self.lock();
        let mut v: Vec<(Arc<str>, u64)> = st
            .objects
            .iter()
            .filter(|(_, o)| o.increments)
            .map(|(n, o)| (n.clone(), o.shard))
            .collect();
        v.sort();
        v
    }

    /// The verdicts; `finals` are the final reads of [`incremented`](Self::incremented)
    /// objects (`None`: unreadable), `by` what one increment adds.
    pub fn verdicts(&self, finals: &[(Arc<str>, Option<u64>)], by: u64) -> Vec<Check> {
        let st = self.lock();
        let (reads, backwards, example) = reads_backwards(&st.objects);
        let mut checks = vec![check(
            "reads never go backwards",
            backwards == 0,
            match example {
                Some(e) => format!("{backwards} of {reads} reads went backwards, e.g. {e}"),
                None => format!(
                    "{reads} reads, none saw less than a read of its object answered before it was sent"
                ),
            },
        )];
        let (mut sum, mut acked, mut unknown, mut unread) = (0u64, 0u64, 0u64, 0u64);
        for (name, value) in finals {
            let Some(o) = st.objects.get(name) else {
                continue;
            };
            match value {
                Some(v) => sum += v,
                None => unread += 1,
            }
            acked += o.acked;
            unknown += o.sent.saturating_sub(o.answered);
        }
        let (lo, hi) = (acked * by, (acked + unknown) * by);
        checks.push(check(
            "sum over objects between acknowledged and acknowledged + unanswered increments",
            unread == 0 && (lo..=hi).contains(&sum),
            format!(
                "sum of final reads {sum} over {} objects ({unread} unreadable), acknowledged increments {acked}, unanswered {unknown}, each adding {by}: expected {lo}..={hi}",
                finals.len()
            ),
        ));
        checks
    }
}

/// Counts reads that saw a smaller value than a read of the same object answered before
/// they were sent.
fn reads_backwards(objects: &HashMap<Arc<str>, ObjLog>) -> (u64, u64, Option<String>) {
    let (mut reads, mut backwards, mut example) = (0u64, 0u64, None);
    for (name, o) in objects {
        let mut by_done: Vec<(Instant, u64)> = o.reads.iter().map(|r| (r.1, r.2)).collect();
        by_done.sort();
        let mut by_sent: Vec<(Instant, u64)> = o.reads.iter().map(|r| (r.0, r.2)).collect();
        by_sent.sort();
        let (mut j, mut max_before) = (0, 0u64);
        for (sent, value) in by_sent {
            while j < by_done.len() && by_done[j].0 < sent {
                max_before = max_before.max(by_done[j].1);
                j += 1;
            }
            reads += 1;
            if value < max_before {
                backwards += 1;
                example.get_or_insert_with(|| format!("{name} read {value} after {max_before}"));
            }
        }
    }
    (reads, backwards, example)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_bounds_and_backwards_reads() {
        let b = CounterBooks::default();
        let a: Arc<str> = "a".into();
        for _ in 0..3 {
            b.increment_sent(&a, 0);
        }
        b.increment_answered(&a, 200);
        b.increment_answered(&a, 200);
        // one unanswered: final may be 2 or 3
        for (finals, ok) in [(2, true), (3, true), (1, false), (4, false)] {
            let v = b.verdicts(&[(a.clone(), Some(finals))], 1);
            assert_eq!(v[1].passed, ok, "{finals}: {v:?}");
        }
        b.read_sent(10);
        b.read_answered(10, &a, Some(5));
        std::thread::sleep(std::time::Duration::from_millis(2));
        b.read_sent(11);
        b.read_answered(11, &a, Some(4));
        let v = b.verdicts(&[(a.clone(), Some(2))], 1);
        assert!(
            !v[0].passed && v[0].detail.contains("a read 4 after 5"),
            "{v:?}"
        );
        assert_eq!(b.incremented(), vec![(a, 0)]);
    }
}
