//! `dobench compare PROFILE --strategy S1,S2,... [--target embedded,workerd,URL]`: runs the
//! profile once per target × strategy (each against a fresh embedded runtime, or the same
//! target with fresh object names), records the runs as one compare group, prints one table
//! (with a target column when there are several) and names, per target, the best strategy by
//! the one rule the HTML report shares (`best::best_index`: of the runs passing correctness
//! and thresholds with every object's peak within `--headroom` of the ceiling, the fewest
//! objects; ties: the coolest hottest object, then the lowest p99). `--strategy hash:1..64`
//! is a shard sweep: the search is planned by `sweep.rs` and run here, and its answer is one
//! line and the JSON's `best`. `--json` prints `{"runs": [...], "best": ...}`. Runs go one
//! after another, never in parallel (they would measure each other).

mod print;

use std::process::ExitCode;

use dobench_loadgen::best;
use dobench_reports::Store;
use dobench_workloads::strategy;
use tokio_util::sync::CancellationToken;

use crate::cli::CompareArgs;
use crate::sweep;
use dobench::run::{self, RunPlan, RunResult};

use print::print_human;
pub use print::Row;

/// The best strategy among `runs` by the one rule (`best::best_index`, which the HTML
/// report uses too) with `headroom_pct`.
pub fn best(runs: &[&RunResult], headroom_pct: f64) -> Option<String> {
    best::best_index(runs.iter().map(|r| &r.summary), headroom_pct)
        .and_then(|i| runs[i].summary.strategy.clone())
}

/// What `--strategy` asks for: a list of strategies, or one shard sweep.
enum Asked {
    List(Vec<dobench_workloads::Strategy>),
    Sweep(sweep::Range),
}

fn asked(arg: &str) -> anyhow::Result<Asked> {
    let entries: Vec<&str> = arg.split(',').filter(|e| !e.trim().is_empty()).collect();
    if entries.iter().any(|e| sweep::is_range(e)) {
        if entries.len() > 1 {
            anyhow::bail!(
                "--strategy {arg}: a shard sweep (KIND:LO..HI) is given alone, not in a list"
            );
        }
        return Ok(Asked::Sweep(
            sweep::parse_range(entries[0]).map_err(anyhow::Error::msg)?,
        ));
    }
    let list = strategy::parse_list(arg)?;
    if list.is_empty() {
        anyhow::bail!("--strategy needs at least one strategy");
    }
    Ok(Asked::List(list))
}

/// The shared parts of every run of one comparison.
struct Session<'a> {
    args: &'a CompareArgs,
    group: String,
    cancel: CancellationToken,
}

impl Session<'_> {
    fn plan(&self, strategy: &str, t: &TargetSpec) -> anyhow::Result<RunPlan> {
        let a = self.args;
        let mut plan = RunPlan::new(
            &a.profile,
            t.url.clone(),
            Some(strategy),
            a.duration.as_deref(),
            &a.set,
            a.db.clone(),
        )?;
        plan.target_label = Some(t.label.clone());
        Ok(plan)
    }

    async fn run(&self, plan: &mut RunPlan) -> anyhow::Result<RunResult> {
        plan.compare_group = Some(self.group.clone());
        if !self.args.json {
            eprintln!(
                "== {} with strategy {} on {}",
                plan.loaded.profile.name,
                plan.loaded.profile.strategy,
                plan.target_label.as_deref().unwrap_or("embedded")
            );
        }
        let view = crate::tui::view_for(self.args.tui, self.args.json);
        run::execute(plan, self.cancel.clone(), view).await
    }
}

/// Runs a shard sweep: the planner (`sweep::Sweep`) says which count to run next; each run
/// qualifies or not by the one best rule. Returns the runs (in shard order) and the sweep.
async fn run_sweep(
    session: &Session<'_>,
    range: sweep::Range,
    target: &TargetSpec,
    first: RunPlan,
) -> anyhow::Result<(Vec<RunResult>, sweep::Sweep)> {
    let headroom = session.args.headroom;
    let mut plan_of = Some(first);
    let mut sw = sweep::Sweep::new(range, session.args.refine);
    let mut results: Vec<(u32, RunResult)> = Vec::new();
    while let Some(n) = sw.next() {
        if session.cancel.is_cancelled() {
            break;
        }
        let mut plan = match plan_of.take() {
            Some(p) => p,
            None => session.plan(&range.family.with(n).to_string(), target)?,
        };
        let r = session.run(&mut plan).await?;
        sw.record(n, best::qualifies(&r.summary, headroom));
        results.push((n, r));
    }
    results.sort_by_key(|(n, _)| *n);
    Ok((results.into_iter().map(|(_, r)| r).collect(), sw))
}

/// The sweep's answer in one line, and its strategy: "use hash:8 — the fewest shards where
/// every object's peak stays ≤ 90 % of the ceiling (83 %) and every threshold passes; hash:4
/// overloads (object X at 100 %, 1,203 refusals)".
pub fn sweep_answer(
    sw: &sweep::Sweep,
    results: &[RunResult],
    headroom: f64,
) -> (Option<String>, String) {
    let of = |n: u32| {
        let name = sw.range.family.with(n).to_string();
        results
            .iter()
            .find(|r| r.summary.strategy.as_deref() == Some(name.as_str()))
    };
    let tried = sw.tried().count();
    let Some(n) = sw.answer() else {
        let top = sw
            .tried()
            .last()
            .and_then(|(n, _)| of(n))
            .and_then(|r| best::shortfall(&r.summary, headroom))
            .map(|w| format!("; the largest tried {w}"))
            .unwrap_or_default();
        return (
            None,
            format!(
                "no shard count in {} keeps every object's peak ≤ {headroom:.0} % of the ceiling with every threshold passing ({tried} runs){top}",
                sw.range
            ),
        );
    };
    // The answer by the one best rule over the confirmed counts (n and every larger one tried).
    let confirmed: Vec<&RunResult> = results
        .iter()
        .filter(|r| {
            r.summary
                .strategy
                .as_deref()
                .and_then(|s| s.split_once(':'))
                .and_then(|(_, k)| k.parse::<u32>().ok())
                .is_some_and(|k| k >= n)
        })
        .collect();
    let chosen = best(&confirmed, headroom).unwrap_or_else(|| sw.range.family.with(n).to_string());
    let peak = confirmed
        .iter()
        .find(|r| r.summary.strategy.as_deref() == Some(chosen.as_str()))
        .map_or(0.0, |r| r.summary.hottest_ceiling_pct());
    let below = sw
        .last_failing()
        .and_then(|f| of(f).map(|r| (f, r)))
        .and_then(|(f, r)| {
            best::shortfall(&r.summary, headroom)
                .map(|w| format!("; {} {w}", sw.range.family.with(f)))
        })
        .unwrap_or_default();
    let line = format!(
        "use {chosen} — the fewest shards where every object's peak stays ≤ {headroom:.0} % of the ceiling ({peak:.0} %) and every threshold passes{below} ({tried} runs searched {})",
        sw.range
    );
    (Some(chosen), line)
}

/// `dobench compare`.
pub async fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    crate::remote::apply(&args.remote)?;
    if !(args.headroom > 0.0 && args.headroom <= 100.0) {
        anyhow::bail!(
            "--headroom {}: give a share of the ceiling in (0, 100] %",
            args.headroom
        );
    }
    let asked = asked(&args.strategy)?;
    let target_cmd = args.target_cmd.plan()?;
    if target_cmd.is_some() && args.target.is_some() {
        anyhow::bail!("--target-cmd starts the target itself: give it or --target, not both");
    }
    let targets = parse_targets(args.target.as_deref())?;
    if matches!(asked, Asked::Sweep(_)) && targets.len() > 1 {
        anyhow::bail!("a shard sweep runs on one --target at a time");
    }
    if args.refine && !matches!(asked, Asked::Sweep(_)) {
        anyhow::bail!("--refine refines a shard sweep: give --strategy KIND:LO..HI");
    }
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let cancel = crate::cancel_on_signal();
    let mut session = Session {
        args: &args,
        group: String::new(),
        cancel: cancel.clone(),
    };
    // Load every plan first (targets × strategies; a sweep's first count): a typo fails
    // before any load is sent.
    let mut plans = Vec::new();
    for t in &targets {
        match &asked {
            Asked::List(list) => {
                for s in list {
                    plans.push(session.plan(&s.to_string(), t)?);
                }
            }
            Asked::Sweep(r) => plans.push(session.plan(&r.family.with(r.lo).to_string(), t)?),
        }
    }
    if args.tui {
        crate::tui::check_terminal()?;
    }
    // `--target workerd`: one instance for every run (each run uses fresh object names).
    let wants_workerd = targets.iter().any(|t| t.workerd);
    let workerd = crate::workerd::start_if(wants_workerd).await?;
    let mut targets = targets;
    if let Some(w) = &workerd {
        for plan in plans.iter_mut() {
            if plan.target_label.as_deref() == Some(crate::workerd::TARGET_WORD) {
                plan.target = Some(w.base.clone());
            }
        }
        for t in targets.iter_mut().filter(|t| t.workerd) {
            t.url = Some(w.base.clone());
        }
    }
    // `--target-cmd`: the user's server, one instance for every run (a sweep's later plans
    // take it from the target).
    let server = crate::target_cmd::start_if(target_cmd.as_ref()).await?;
    if let Some(s) = &server {
        targets[0].label = s.base.clone();
        targets[0].url = Some(s.base.clone());
        for plan in plans.iter_mut() {
            plan.target = Some(s.base.clone());
            plan.target_label = Some(s.base.clone());
        }
    }
    session.group = Store::open(&args.db)?.create_compare_group(&plans[0].loaded.profile.name)?;
    let group = session.group.clone();
    let mut results = Vec::new();
    let mut swept = None;
    match &asked {
        Asked::List(_) => {
            for plan in plans.iter_mut() {
                if cancel.is_cancelled() {
                    break;
                }
                results.push(session.run(plan).await?);
            }
        }
        Asked::Sweep(r) => {
            let first = plans.remove(0);
            let (rs, sw) = run_sweep(&session, *r, &targets[0], first).await?;
            results = rs;
            swept = Some(sw);
        }
    }
    let headroom = args.headroom;
    let rows: Vec<Row> = results.iter().map(Row::of).collect();
    // The best strategy on each target; `best` is the first target's (as with one target).
    let (best_by_target, answer): (Vec<(String, Option<String>)>, Option<String>) = match &swept {
        Some(sw) => {
            let (b, line) = sweep_answer(sw, &results, headroom);
            (vec![(targets[0].label.clone(), b)], Some(line))
        }
        None => (
            targets
                .iter()
                .map(|t| {
                    let mine: Vec<&RunResult> = results
                        .iter()
                        .filter(|r| r.summary.target == t.label)
                        .collect();
                    (t.label.clone(), best(&mine, headroom))
                })
                .collect(),
            None,
        ),
    };
    let best = best_by_target.first().and_then(|(_, b)| b.clone());
    let all_have_best = best_by_target.iter().all(|(_, b)| b.is_some());
    {
        let store = Store::open(&args.db)?;
        if let Some(b) = &best {
            store.set_compare_best(&group, b)?;
        }
        if let Some(a) = &answer {
            store.set_compare_answer(&group, a)?;
        }
    }
    if let Some(path) = &args.html {
        let ids: Vec<String> = results.iter().map(|r| r.summary.run_id.clone()).collect();
        let opts = dobench_reports::html::ReportOptions {
            answer: answer.clone(),
            headroom_pct: Some(headroom),
            ..Default::default()
        };
        run::write_report(&args.db, &ids, path, opts, best.clone())?;
    }
    let ceiling = results.first().and_then(|r| r.summary.ceiling_rps);
    if args.json {
        let runs: Vec<_> = results.iter().map(|r| &r.summary).collect();
        let sweep_json = swept.as_ref().map(|sw| {
            serde_json::json!({
                "range": sw.range.to_string(),
                "refine": sw.refine,
                "headroom_pct": headroom,
                "runs": sw.tried().count(),
                "tried": sw.tried().map(|(n, q)| serde_json::json!({
                    "strategy": sw.range.family.with(n).to_string(),
                    "qualified": q,
                })).collect::<Vec<_>>(),
                "answer": answer,
            })
        });
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "runs": runs, "best": best, "table": rows, "compare_group": group,
                "headroom_pct": headroom,
                "answer": answer,
                "sweep": sweep_json,
                "best_by_target": best_by_target
                    .iter()
                    .map(|(t, b)| (t.clone(), serde_json::json!(b)))
                    .collect::<serde_json::Map<_, _>>(),
            }))?
        );
    } else {
        print_human(
            &args,
            &plans_profile_name(&results, &args),
            &group,
            ceiling,
            &rows,
            &best_by_target,
            targets.len(),
            answer.as_deref(),
            &results,
        );
    }
    Ok(if all_have_best {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plans_profile_name(results: &[RunResult], args: &CompareArgs) -> String {
    results
        .first()
        .map_or_else(|| args.profile.clone(), |r| r.summary.profile.clone())
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
