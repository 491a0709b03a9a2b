//! What `dobench compare` prints: one row per run ([`Row`], also the JSON's `table`), the
//! table, and the human output around it (the best or the sweep's answer, and what broke).
//! Formatting only: never runs anything and never judges a run (`best.rs` does).

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::CompareArgs;
use dobench::run::RunResult;

/// One row of the compare table (also in `--json` under `table`).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `embedded`, `workerd` or the target URL.
    pub target: String,
    pub strategy: String,
    pub achieved_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub overloaded: u64,
    pub hottest_object: String,
    pub hottest_rps: f64,
    pub hottest_peak_rps: f64,
    pub hottest_ok_rps: f64,
    /// Hottest object's `ceiling_pct`: its peak per-second *served* rate over the ceiling
    /// (the same figure as `run`, `show` and the HTML report).
    pub hottest_ceiling_pct: f64,
    /// The same object's average served rate over the ceiling (shown beside the peak).
    pub hottest_avg_ceiling_pct: f64,
    pub objects_used: u64,
    pub read_fan_in: u64,
    pub correctness: bool,
    pub thresholds: bool,
}

impl Row {
    pub(super) fn of(r: &RunResult) -> Row {
        let s = &r.summary;
        let hot = s.objects.as_ref().and_then(|o| o.first());
        let ok = hot.map_or(0.0, |h| h.served_rps);
        Row {
            target: s.target.clone(),
            strategy: s.strategy.clone().unwrap_or_default(),
            achieved_rps: s.achieved_rps,
            p50_ms: s.latency_ms.p50,
            p99_ms: s.latency_ms.p99,
            overloaded: s.errors.overloaded,
            hottest_object: hot.map(|h| h.name.clone()).unwrap_or_default(),
            hottest_rps: hot.map_or(0.0, |h| h.rps),
            hottest_peak_rps: hot.map_or(0.0, |h| h.peak_rps),
            hottest_ok_rps: ok,
            hottest_ceiling_pct: hot.map_or(0.0, |h| h.ceiling_pct),
            hottest_avg_ceiling_pct: hot.map_or(0.0, |h| h.avg_ceiling_pct),
            objects_used: r.objects_used,
            read_fan_in: r.read_fan_in,
            correctness: s.correctness.as_ref().is_none_or(|c| c.passed),
            thresholds: s.thresholds.passed,
        }
    }
}

/// The table as printed.
pub fn table(rows: &[Row], ceiling: Option<f64>) -> String {
    let mut o = String::new();
    // Several targets: a first column names each row's target.
    let several = rows.iter().any(|r| r.target != rows[0].target);
    let width = rows
        .iter()
        .map(|r| r.target.len())
        .max()
        .unwrap_or(0)
        .max(6);
    if several {
        let _ = write!(o, "{:<width$} ", "target");
    }
    let _ = writeln!(
        o,
        "{:<12} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>12} {:>7} {:>6} {:>11} {:>10}",
        "strategy",
        "rate/s",
        "p50 ms",
        "p99 ms",
        "overload",
        "hot req/s",
        "hot peak",
        "hot ok/s",
        "% ceil pk/avg",
        "objects",
        "fan-in",
        "correctness",
        "thresholds"
    );
    for r in rows {
        if several {
            let _ = write!(o, "{:<width$} ", r.target);
        }
        let _ = writeln!(
            o,
            "{:<12} {:>9.1} {:>8.2} {:>8.2} {:>9} {:>9.1} {:>9.0} {:>9.1} {:>12} {:>7} {:>6} {:>11} {:>10}",
            r.strategy,
            r.achieved_rps,
            r.p50_ms,
            r.p99_ms,
            r.overloaded,
            r.hottest_rps,
            r.hottest_peak_rps,
            r.hottest_ok_rps,
            ceiling.map_or("-".into(), |_| format!(
                "{:.0}/{:.0}",
                r.hottest_ceiling_pct, r.hottest_avg_ceiling_pct
            )),
            r.objects_used,
            r.read_fan_in,
            if r.correctness { "pass" } else { "FAIL" },
            if r.thresholds { "pass" } else { "FAIL" },
        );
    }
    o
}

/// The human output: the table, the best (or the sweep's answer), and what broke.
#[allow(clippy::too_many_arguments)]
pub(super) fn print_human(
    args: &CompareArgs,
    profile: &str,
    group: &str,
    ceiling: Option<f64>,
    rows: &[Row],
    best_by_target: &[(String, Option<String>)],
    targets: usize,
    answer: Option<&str>,
    results: &[RunResult],
) {
    println!(
        "dobench compare {profile}  (per-object ceiling {}; headroom {:.0} %; compare group {group})",
        ceiling.map_or("off".into(), |c| format!("{c:.0}/s")),
        args.headroom,
    );
    print!("{}", table(rows, ceiling));
    if let Some(a) = answer {
        println!("{a}");
    } else {
        for (t, b) in best_by_target {
            let on = if targets > 1 {
                format!(" on {t}")
            } else {
                String::new()
            };
            match b {
                Some(b) => println!(
                    "best{on}: {b} (of the runs passing correctness and thresholds with every object's peak ≤ {:.0} % of the ceiling: the fewest objects; ties: the coolest hottest object, then the lowest p99)",
                    args.headroom
                ),
                None => println!(
                    "best{on}: none of these strategies met the thresholds and correctness within the {:.0} % headroom",
                    args.headroom
                ),
            }
        }
    }
    for r in results {
        if let Some(c) = r.summary.correctness.as_ref().filter(|c| !c.passed) {
            for ch in c.checks.iter().filter(|c| !c.passed) {
                println!(
                    "  {} on {}: {}: {}",
                    r.summary.strategy.as_deref().unwrap_or("-"),
                    r.summary.target,
                    ch.name,
                    ch.detail
                );
            }
        }
        for t in r.summary.thresholds.results.iter().filter(|t| !t.passed) {
            let actual = if t.shown.is_empty() {
                format!("{:.3}", t.actual)
            } else {
                t.shown.clone()
            };
            println!(
                "  {} on {}: threshold {} broken (actual {actual})",
                r.summary.strategy.as_deref().unwrap_or("-"),
                r.summary.target,
                t.expr,
            );
        }
    }
}
