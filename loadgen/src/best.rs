//! The one "best" rule of the suite, used by `compare`, its shard sweep and the HTML report
//! alike: among runs that [stand](RunSummary::passed) *and* keep every object's peak within a
//! headroom of the ceiling (default [`DEFAULT_HEADROOM_PCT`]), the fewest objects; ties go to
//! the lowest hottest-object `ceiling_pct`, then the lowest p99. Also says, in words, why a
//! run does not qualify ([`shortfall`]). Pure: reads summaries, never runs anything.

use crate::summary::RunSummary;

/// Default headroom: every object's peak second must stay at or below this share of the
/// ceiling (%), so a design is not chosen that runs one object at its limit.
pub const DEFAULT_HEADROOM_PCT: f64 = 90.0;

/// The hottest object's peak stays at or below `headroom_pct` of the ceiling (always true
/// without a ceiling: there is nothing to keep under).
pub fn within_headroom(s: &RunSummary, headroom_pct: f64) -> bool {
    s.ceiling_rps.is_none_or(|c| c <= 0.0) || s.hottest_ceiling_pct() <= headroom_pct
}

/// The run stands and keeps its objects within the headroom: it may be chosen.
pub fn qualifies(s: &RunSummary, headroom_pct: f64) -> bool {
    s.passed() && within_headroom(s, headroom_pct)
}

/// The one "best" rule: among runs that [qualify](qualifies), the fewest objects; ties go to
/// the lowest hottest-object `ceiling_pct`, then the lowest p99. `None` when none qualifies.
pub fn best_index<'a>(
    runs: impl IntoIterator<Item = &'a RunSummary>,
    headroom_pct: f64,
) -> Option<usize> {
    runs.into_iter()
        .enumerate()
        .filter(|(_, s)| qualifies(s, headroom_pct))
        .min_by(|(_, a), (_, b)| {
            a.objects_used()
                .cmp(&b.objects_used())
                .then(a.hottest_ceiling_pct().total_cmp(&b.hottest_ceiling_pct()))
                .then(a.latency_ms.p99.total_cmp(&b.latency_ms.p99))
        })
        .map(|(i, _)| i)
}

/// `1203` → `1,203`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a run does not [qualify](qualifies), in words (`overloads (object X at 100 %, 1,203
/// refusals)`, `breaks p99_ms < 100 (actual 812.00 ms)` ...); `None` when it qualifies.
pub fn shortfall(s: &RunSummary, headroom_pct: f64) -> Option<String> {
    let mut why = Vec::new();
    let hottest = s.objects.as_ref().and_then(|v| {
        v.iter()
            .max_by(|a, b| a.ceiling_pct.total_cmp(&b.ceiling_pct))
    });
    if s.errors.overloaded > 0 {
        let at = hottest
            .filter(|_| s.ceiling_rps.is_some())
            .map(|o| format!("object {} at {:.0} %, ", o.name, o.ceiling_pct))
            .unwrap_or_default();
        why.push(format!(
            "overloads ({at}{} refusals)",
            thousands(s.errors.overloaded)
        ));
    } else if !within_headroom(s, headroom_pct) {
        if let Some(o) = hottest {
            why.push(format!(
                "runs object {} at {:.0} % of the ceiling, over the {headroom_pct:.0} % headroom",
                o.name, o.ceiling_pct
            ));
        }
    }
    for t in s.thresholds.results.iter().filter(|t| !t.passed) {
        // Refusals already said it: `error_rate` breaks because of them.
        if s.errors.overloaded > 0 && t.expr.starts_with("error") {
            continue;
        }
        let actual = if t.shown.is_empty() {
            format!("{:.3}", t.actual)
        } else {
            t.shown.clone()
        };
        why.push(format!("breaks {} (actual {actual})", t.expr));
    }
    if let Some(c) = s.correctness.as_ref().filter(|c| !c.passed) {
        let names: Vec<&str> = c
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        why.push(format!("fails correctness ({})", names.join(", ")));
    }
    why.extend(s.failures.iter().cloned());
    if s.stopped_early {
        why.push("stopped before its plan finished".into());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{ObjectSummary, SummaryMeta, ThresholdResult};
    use crate::Snapshot;

    fn run(objects: u64, hot_pct: f64, p99: f64, passed: bool) -> RunSummary {
        let mut s = RunSummary::from_snapshot(&Snapshot::default(), SummaryMeta::default(), 0);
        s.stopped_early = false;
        s.ceiling_rps = Some(1000.0);
        s.objects_total = objects;
        s.objects = Some(vec![ObjectSummary {
            name: format!("c-{objects}"),
            ceiling_pct: hot_pct,
            ..ObjectSummary::default()
        }]);
        s.latency_ms.p99 = p99;
        s.thresholds.passed = passed;
        s
    }

    #[test]
    fn fewest_objects_then_coolest_hottest_then_p99() {
        let runs = [
            run(1, 50.0, 1.0, false), // fewest, but failed
            run(16, 60.0, 5.0, true),
            run(16, 40.0, 9.0, true), // same objects, cooler hottest object
            run(64, 10.0, 0.5, true),
        ];
        assert_eq!(best_index(&runs, DEFAULT_HEADROOM_PCT), Some(2));
        let tie = [run(16, 40.0, 9.0, true), run(16, 40.0, 3.0, true)];
        assert_eq!(best_index(&tie, DEFAULT_HEADROOM_PCT), Some(1));
        assert_eq!(best_index(&[run(1, 1.0, 1.0, false)], 90.0), None);
    }

    #[test]
    fn the_headroom_excludes_a_run_that_passes_at_its_limit() {
        let runs = [run(8, 95.0, 2.0, true), run(16, 50.0, 2.0, true)];
        assert_eq!(best_index(&runs, 90.0), Some(1), "hash:8 at 95 % is out");
        assert_eq!(
            best_index(&runs, 100.0),
            Some(0),
            "a 100 % headroom lets it in"
        );
        let why = shortfall(&runs[0], 90.0).unwrap();
        assert_eq!(
            why,
            "runs object c-8 at 95 % of the ceiling, over the 90 % headroom"
        );
        assert_eq!(shortfall(&runs[1], 90.0), None);
        // Without a ceiling there is no headroom to keep.
        let mut off = run(8, 0.0, 2.0, true);
        off.ceiling_rps = None;
        assert!(qualifies(&off, 10.0));
    }

    #[test]
    fn an_overloaded_run_says_its_object_and_refusals() {
        let mut s = run(4, 100.2, 900.0, false);
        s.errors.overloaded = 1203;
        s.thresholds.results = vec![
            ThresholdResult {
                expr: "error_rate < 0.1%".into(),
                actual: 0.02,
                passed: false,
                shown: "2.000 %".into(),
            },
            ThresholdResult {
                expr: "p99_ms < 100".into(),
                actual: 900.0,
                passed: false,
                shown: "900.00 ms".into(),
            },
        ];
        assert_eq!(
            shortfall(&s, 90.0).unwrap(),
            "overloads (object c-4 at 100 %, 1,203 refusals); breaks p99_ms < 100 (actual 900.00 ms)"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
