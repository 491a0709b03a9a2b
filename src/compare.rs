//! `dobench compare PROFILE --strategy S1,S2,... [--target embedded,workerd,URL]`: runs the
//! profile once per target × strategy (each against a fresh embedded runtime, or the same
//! target with fresh object names), records the runs as one compare group, prints one table
//! (with a target column when there are several) and names, per target, the best strategy by
//! the one rule the HTML report shares (`summary::best_index`: of the runs passing correctness
//! and thresholds, the fewest objects; ties: the coolest hottest object, then the lowest p99).
//! `--json` prints
//! `{"runs": [...], "best": ...}`. Runs go one after another, never in parallel (they would
//! measure each other).

use std::fmt::Write as _;
use std::process::ExitCode;

use dobench_reports::Store;
use dobench_workloads::strategy;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::CompareArgs;
use dobench::run::{self, RunPlan, RunResult, View};

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
    fn of(r: &RunResult) -> Row {
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

/// The best strategy among `runs` by the one rule (`summary::best_index`, which the HTML
/// report uses too).
pub fn best(runs: &[&RunResult]) -> Option<String> {
    dobench_loadgen::summary::best_index(runs.iter().map(|r| &r.summary))
        .and_then(|i| runs[i].summary.strategy.clone())
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

/// `dobench compare`.
pub async fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let strategies = strategy::parse_list(&args.strategy)?;
    if strategies.is_empty() {
        anyhow::bail!("--strategy needs at least one strategy");
    }
    let targets = parse_targets(args.target.as_deref())?;
    // Load every plan first (targets × strategies): a typo fails before any load is sent.
    let mut plans = Vec::new();
    for t in &targets {
        for s in &strategies {
            let mut plan = RunPlan::new(
                &args.profile,
                t.url.clone(),
                Some(&s.to_string()),
                args.duration.as_deref(),
                &args.set,
                args.db.clone(),
            )?;
            plan.target_label = Some(t.label.clone());
            plans.push(plan);
        }
    }
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    if args.tui {
        crate::tui::check_terminal()?;
    }
    // `--target workerd`: one instance for every run (each run uses fresh object names).
    let wants_workerd = targets.iter().any(|t| t.workerd);
    let workerd = crate::workerd::start_if(wants_workerd).await?;
    if let Some(w) = &workerd {
        for plan in plans.iter_mut() {
            if plan.target_label.as_deref() == Some(crate::workerd::TARGET_WORD) {
                plan.target = Some(w.base.clone());
            }
        }
    }
    let group = Store::open(&args.db)?.create_compare_group(&plans[0].loaded.profile.name)?;
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        crate::shutdown_signal().await;
        on_signal.cancel();
    });
    let mut results = Vec::new();
    for plan in plans.iter_mut() {
        if cancel.is_cancelled() {
            break;
        }
        plan.compare_group = Some(group.clone());
        if !args.json {
            eprintln!(
                "== {} with strategy {} on {}",
                plan.loaded.profile.name,
                plan.loaded.profile.strategy,
                plan.target_label.as_deref().unwrap_or("embedded")
            );
        }
        let view = if args.tui {
            crate::tui::view()
        } else if args.json {
            View::Quiet
        } else {
            View::Progress
        };
        results.push(run::execute(plan, cancel.clone(), view).await?);
    }
    let rows: Vec<Row> = results.iter().map(Row::of).collect();
    // The best strategy on each target; `best` is the first target's (as with one target).
    let best_by_target: Vec<(String, Option<String>)> = targets
        .iter()
        .map(|t| {
            let mine: Vec<&RunResult> = results
                .iter()
                .filter(|r| r.summary.target == t.label)
                .collect();
            (t.label.clone(), best(&mine))
        })
        .collect();
    let best = best_by_target.first().and_then(|(_, b)| b.clone());
    let all_have_best = best_by_target.iter().all(|(_, b)| b.is_some());
    if let Some(b) = &best {
        Store::open(&args.db)?.set_compare_best(&group, b)?;
    }
    if let Some(path) = &args.html {
        let ids: Vec<String> = results.iter().map(|r| r.summary.run_id.clone()).collect();
        run::write_html(&args.db, &ids, path, best.clone())?;
    }
    let ceiling = results.first().and_then(|r| r.summary.ceiling_rps);
    if args.json {
        let runs: Vec<_> = results.iter().map(|r| &r.summary).collect();
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "runs": runs, "best": best, "table": rows, "compare_group": group,
                "best_by_target": best_by_target
                    .iter()
                    .map(|(t, b)| (t.clone(), serde_json::json!(b)))
                    .collect::<serde_json::Map<_, _>>(),
            }))?
        );
    } else {
        let p = &plans[0].loaded.profile;
        println!(
            "dobench compare {}  (per-object ceiling {}; compare group {group})",
            p.name,
            ceiling.map_or("off".into(), |c| format!("{c:.0}/s"))
        );
        print!("{}", table(&rows, ceiling));
        for (t, b) in &best_by_target {
            let on = if targets.len() > 1 {
                format!(" on {t}")
            } else {
                String::new()
            };
            match b {
                Some(b) => println!(
                    "best{on}: {b} (of the runs passing correctness and thresholds: the fewest objects; ties: the coolest hottest object, then the lowest p99)"
                ),
                None => {
                    println!(
                        "best{on}: none of these strategies met the thresholds and correctness"
                    )
                }
            }
        }
        for r in &results {
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
    Ok(if all_have_best {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One `--target` entry of a comparison.
#[derive(Debug, Clone, PartialEq)]
struct TargetSpec {
    /// `embedded`, `workerd` or the URL.
    label: String,
    /// The URL to drive; `None` = a fresh embedded runtime per run (or workerd, filled in
    /// once it has started).
    url: Option<String>,
    workerd: bool,
}

/// `--target`: a comma-separated list of `embedded`, `workerd` and loopback URLs (default
/// `embedded`); each is run with every strategy.
fn parse_targets(arg: Option<&str>) -> anyhow::Result<Vec<TargetSpec>> {
    let mut out: Vec<TargetSpec> = Vec::new();
    for t in arg.unwrap_or("embedded").split(',').map(str::trim) {
        let spec = match t {
            "" => anyhow::bail!("--target has an empty entry"),
            "embedded" => TargetSpec {
                label: t.into(),
                url: None,
                workerd: false,
            },
            crate::workerd::TARGET_WORD => TargetSpec {
                label: t.into(),
                url: None,
                workerd: true,
            },
            url => TargetSpec {
                label: url.trim_end_matches('/').into(),
                url: Some(url.into()),
                workerd: false,
            },
        };
        if out.iter().any(|o| o.label == spec.label) {
            anyhow::bail!("--target lists {} twice", spec.label);
        }
        out.push(spec);
    }
    Ok(out)
}

#[cfg(test)]
mod target_tests {
    use super::parse_targets;

    #[test]
    fn targets_parse_in_order_and_reject_duplicates() {
        let t = parse_targets(Some("embedded, workerd,http://127.0.0.1:1/")).unwrap();
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["embedded", "workerd", "http://127.0.0.1:1"]);
        assert!(t[1].workerd && t[1].url.is_none());
        assert_eq!(parse_targets(None).unwrap()[0].label, "embedded");
        assert!(parse_targets(Some("embedded,embedded")).is_err());
        assert!(parse_targets(Some("embedded,")).is_err());
    }
}
