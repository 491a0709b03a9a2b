//! The shard sweep's plan: `hash:1..64` (or `jump:`, `random:`) searched rather than run at
//! every count. It doubles from the low end until a count qualifies, then confirms that the
//! next power qualifies too (hash collisions make the hottest object's peak fall unevenly,
//! so one lucky count is not an answer); with `refine` it then bisects between the last
//! failing and the first passing count. The answer is the lowest count tried such that it and
//! every larger count tried qualified. Pure planning: says which count to run next and what
//! the tried counts mean; never runs anything (`compare` does) and never judges a run itself
//! (the caller records whether it qualified by the one best rule).

use std::collections::BTreeMap;
use std::fmt;

use dobench_workloads::Strategy;

/// A strategy family a sweep varies the shard count of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Hash,
    Jump,
    Random,
}

impl Family {
    /// The strategy with `n` shards.
    pub fn with(self, n: u32) -> Strategy {
        match self {
            Family::Hash => Strategy::Hash(n),
            Family::Jump => Strategy::Jump(n),
            Family::Random => Strategy::Random(n),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Hash => "hash",
            Family::Jump => "jump",
            Family::Random => "random",
        }
    }
}

/// `hash:LO..HI`: the family and the (inclusive) range of shard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub family: Family,
    pub lo: u32,
    pub hi: u32,
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}..{}", self.family.name(), self.lo, self.hi)
    }
}

/// Whether a `--strategy` entry is a sweep range (`KIND:LO..HI`).
pub fn is_range(entry: &str) -> bool {
    entry.contains("..")
}

/// Parses `hash:1..64`; the error says what is wrong with the entry.
pub fn parse_range(entry: &str) -> Result<Range, String> {
    let e = entry.trim();
    let bad =
        |why: &str| format!("--strategy {e}: {why} (a sweep is KIND:LO..HI, e.g. hash:1..64)");
    let (kind, range) = e.split_once(':').ok_or_else(|| bad("no KIND:"))?;
    let family = match kind.trim() {
        "hash" => Family::Hash,
        "jump" => Family::Jump,
        "random" => Family::Random,
        other => return Err(bad(&format!("{other} has no shard count to sweep"))),
    };
    let (lo, hi) = range.split_once("..").ok_or_else(|| bad("no .."))?;
    let num = |s: &str| -> Result<u32, String> {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=dobench_workloads::strategy::MAX_SHARDS).contains(n))
            .ok_or_else(|| {
                bad(&format!(
                    "{:?} is not a shard count in 1..={}",
                    s.trim(),
                    dobench_workloads::strategy::MAX_SHARDS
                ))
            })
    };
    let (lo, hi) = (num(lo)?, num(hi)?);
    if lo >= hi {
        return Err(bad("LO must be below HI"));
    }
    Ok(Range { family, lo, hi })
}

/// The counts a sweep may try before refining: LO, 2·LO, 4·LO ... and HI itself.
pub fn ladder(r: Range) -> Vec<u32> {
    let mut v = Vec::new();
    let mut n = r.lo;
    while n < r.hi {
        v.push(n);
        n = n.saturating_mul(2);
    }
    v.push(r.hi);
    v
}

/// A sweep in progress: the counts tried and whether each qualified.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub range: Range,
    pub refine: bool,
    tried: BTreeMap<u32, bool>,
}

impl Sweep {
    pub fn new(range: Range, refine: bool) -> Sweep {
        Sweep {
            range,
            refine,
            tried: BTreeMap::new(),
        }
    }

    /// Records whether the run at `n` shards qualified.
    pub fn record(&mut self, n: u32, qualified: bool) {
        self.tried.insert(n, qualified);
    }

    /// Counts tried so far, in order, with their verdict.
    pub fn tried(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        self.tried.iter().map(|(n, q)| (*n, *q))
    }

    /// The ladder step at which the doubling is confirmed: a count that qualified with the
    /// next step qualifying too (or the top of the range qualifying).
    fn confirmed(&self) -> Option<u32> {
        let l = ladder(self.range);
        for (i, n) in l.iter().enumerate() {
            match self.tried.get(n) {
                Some(true) => match l.get(i + 1) {
                    None => return Some(*n),
                    Some(next) if self.tried.get(next) == Some(&true) => return Some(*n),
                    _ => {}
                },
                Some(false) => {}
                None => return None,
            }
        }
        None
    }

    /// The next count to run; `None` when the sweep is done.
    pub fn next(&self) -> Option<u32> {
        let l = ladder(self.range);
        if self.confirmed().is_none() {
            // Doubling: the first untried step (the steps before it are all tried).
            return l.into_iter().find(|n| !self.tried.contains_key(n));
        }
        if !self.refine {
            return None;
        }
        let (fail, pass) = (self.last_failing()?, self.answer()?);
        (pass - fail > 1).then(|| fail + (pass - fail) / 2)
    }

    /// The answer: the lowest count tried such that it and every larger count tried
    /// qualified, once the doubling is confirmed. `None`: nothing in the range qualified
    /// (or the largest count tried did not).
    pub fn answer(&self) -> Option<u32> {
        self.confirmed()?;
        let mut best = None;
        for (n, q) in self.tried.iter().rev() {
            if !q {
                break;
            }
            best = Some(*n);
        }
        best
    }

    /// The largest count tried below the answer (it did not qualify).
    pub fn last_failing(&self) -> Option<u32> {
        let a = self.answer()?;
        self.tried.range(..a).next_back().map(|(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sweep against a verdict function; returns (answer, counts tried in order).
    fn drive(
        range: &str,
        refine: bool,
        qualifies: impl Fn(u32) -> bool,
    ) -> (Option<u32>, Vec<u32>) {
        let mut s = Sweep::new(parse_range(range).unwrap(), refine);
        let mut order = Vec::new();
        while let Some(n) = s.next() {
            assert!(!order.contains(&n), "{n} tried twice: {order:?}");
            order.push(n);
            s.record(n, qualifies(n));
            assert!(order.len() < 40, "the sweep does not end: {order:?}");
        }
        (s.answer(), order)
    }

    #[test]
    fn parses_ranges_and_rejects_nonsense() {
        let r = parse_range("hash:1..64").unwrap();
        assert_eq!((r.family, r.lo, r.hi), (Family::Hash, 1, 64));
        assert_eq!(r.to_string(), "hash:1..64");
        assert_eq!(parse_range(" jump:2..9 ").unwrap().family, Family::Jump);
        for bad in [
            "hash:8..8",
            "hash:9..2",
            "hash:0..4",
            "hash:1..",
            "single:1..4",
            "per-key:1..4",
            "hash1..4",
            "hash:1..999999",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        assert!(is_range("hash:1..64") && !is_range("hash:16"));
    }

    #[test]
    fn the_ladder_doubles_and_ends_at_the_top() {
        assert_eq!(
            ladder(parse_range("hash:1..64").unwrap()),
            [1, 2, 4, 8, 16, 32, 64]
        );
        assert_eq!(ladder(parse_range("hash:3..20").unwrap()), [3, 6, 12, 20]);
    }

    #[test]
    fn doubling_stops_once_the_next_power_confirms() {
        // Monotone: 8 and up qualify. 1, 2, 4 fail; 8 passes; 16 confirms.
        let (a, order) = drive("hash:1..64", false, |n| n >= 8);
        assert_eq!(a, Some(8));
        assert_eq!(order, [1, 2, 4, 8, 16], "5 runs, not all 7 powers");
    }

    #[test]
    fn an_unconfirmed_pass_is_not_the_answer() {
        // 8 passes by luck, 16 collides and fails, 32 and 64 pass.
        let (a, order) = drive("hash:1..64", false, |n| n == 8 || n >= 32);
        assert_eq!(a, Some(32));
        assert_eq!(order, [1, 2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn refine_bisects_between_the_last_failure_and_the_first_pass() {
        let (a, order) = drive("hash:1..64", true, |n| n >= 6);
        assert_eq!(a, Some(6));
        assert_eq!(order, [1, 2, 4, 8, 16, 6, 5]);
        let (a, _) = drive("hash:1..64", true, |n| n >= 5);
        assert_eq!(a, Some(5));
    }

    #[test]
    fn nothing_qualifies_or_only_the_top_does() {
        let (a, order) = drive("hash:1..64", true, |_| false);
        assert_eq!(a, None);
        assert_eq!(order, [1, 2, 4, 8, 16, 32, 64]);
        let (a, _) = drive("hash:1..64", false, |n| n == 64);
        assert_eq!(a, Some(64));
        // The top fails after a pass below it: unconfirmed, no answer.
        let (a, _) = drive("hash:1..64", false, |n| n == 32);
        assert_eq!(a, None);
        // The low end qualifies: confirmed by the next power, nothing to refine below.
        let (a, order) = drive("hash:4..64", true, |_| true);
        assert_eq!((a, order), (Some(4), vec![4, 8]));
    }
}
