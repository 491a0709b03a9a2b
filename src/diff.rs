//! `dobench diff A B [--fail-if EXPR]... [--json]`: sets two stored runs (or `--repeat`
//! groups, or two compare groups strategy by strategy) side by side with deltas, ratios and
//! a noise verdict per figure (`dobench_reports::diff`), and exits 1 when a `--fail-if` gate
//! trips; `--html` writes one report of both sides with the changes beyond noise at its top.
//! Only resolves specs and prints; the figures, noise and verdicts live in the reports crate.
//! Never writes to the store.

use std::process::ExitCode;

use anyhow::Context;
use dobench_reports::diff::{self, Diff, FailIf, Side};
use dobench_reports::{figures, GroupKind, Store, StoredRun};

use crate::cli::DiffArgs;

/// What one spec names: one run, a repeat group (read as mean ± σ), or a compare group
/// (paired with the other side strategy by strategy).
enum Named {
    Runs(Vec<StoredRun>),
    Compare(Vec<StoredRun>),
}

fn named(store: &Store, spec: &str) -> anyhow::Result<Named> {
    let ids = store.resolve(spec)?;
    let runs = ids
        .iter()
        .map(|id| store.load(id))
        .collect::<Result<Vec<_>, _>>()?;
    if runs.len() > 1 {
        let group = runs[0].row.compare_group.clone().unwrap_or_default();
        if store.group_kind(&group).ok() == Some(GroupKind::Compare) {
            return Ok(Named::Compare(runs));
        }
    }
    Ok(Named::Runs(runs))
}

fn side(spec: &str, runs: &[StoredRun]) -> Side {
    Side {
        spec: spec.to_string(),
        runs: runs.iter().map(|r| r.row.id.clone()).collect(),
        profile: runs[0].meta.profile.clone(),
        strategy: runs[0].meta.strategy.clone(),
        figures: figures::of_group(runs),
    }
}

/// The diffs two specs make: one, or one per strategy both compare groups ran.
fn diffs(store: &Store, a: &str, b: &str) -> anyhow::Result<Vec<Diff>> {
    match (named(store, a)?, named(store, b)?) {
        (Named::Runs(x), Named::Runs(y)) => Ok(vec![diff::diff(side(a, &x), side(b, &y))]),
        (Named::Compare(x), Named::Compare(y)) => {
            let mut out = Vec::new();
            for rx in &x {
                let key = (&rx.meta.strategy, &rx.meta.target);
                if let Some(ry) = y.iter().find(|r| (&r.meta.strategy, &r.meta.target) == key) {
                    let label = |spec: &str| {
                        format!("{spec} {}", rx.meta.strategy.as_deref().unwrap_or("-"))
                    };
                    out.push(diff::diff(
                        side(&label(a), std::slice::from_ref(rx)),
                        side(&label(b), std::slice::from_ref(ry)),
                    ));
                }
            }
            if out.is_empty() {
                anyhow::bail!("compare groups {a} and {b} share no strategy on one target");
            }
            Ok(out)
        }
        _ => anyhow::bail!(
            "{a} and {b}: a compare group is diffed against another compare group (strategy by strategy), not against a run"
        ),
    }
}

/// The changes beyond noise in one sentence (the HTML report's answer line).
fn headline(ds: &[Diff]) -> String {
    let parts: Vec<String> = ds
        .iter()
        .flat_map(|d| {
            d.figures
                .iter()
                .filter(|l| l.beyond_noise)
                .map(move |l| format!("{} {}", l.name, l.verdict))
        })
        .collect();
    let (a, b) = (&ds[0].a.spec, &ds[0].b.spec);
    if parts.is_empty() {
        format!("{b} against {a}: no difference beyond noise in any figure")
    } else {
        format!("{b} against {a}: {}", parts.join("; "))
    }
}

/// `dobench diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let gates: Vec<FailIf> = args
        .fail_if
        .iter()
        .map(|e| diff::parse_fail_if(e).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    if !args.db.exists() {
        anyhow::bail!("no results store at {}", args.db.display());
    }
    let store = Store::open_for_reading(&args.db)
        .with_context(|| format!("opening {}", args.db.display()))?;
    let ds = diffs(&store, &args.a, &args.b)?;
    let mut checks = Vec::new();
    for d in &ds {
        for g in &gates {
            let (tripped, seen) = diff::check(g, d);
            checks.push((d.a.spec.clone(), g.expr.clone(), tripped, seen));
        }
    }
    let tripped = checks.iter().any(|c| c.2);
    if let Some(path) = &args.html {
        let mut ids: Vec<String> = Vec::new();
        for d in &ds {
            for id in d.a.runs.iter().chain(&d.b.runs) {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        let opts = dobench_reports::html::ReportOptions {
            title: Some(format!("dobench diff · {} → {}", args.a, args.b)),
            answer: Some(headline(&ds)),
            ..Default::default()
        };
        dobench::run::write_report(&args.db, &ids, path, opts, None)?;
    }
    if args.json {
        let gates_json: Vec<_> = checks
            .iter()
            .map(|(on, expr, t, seen)| {
                serde_json::json!({"expr": expr, "on": on, "tripped": t, "seen": seen})
            })
            .collect();
        let v = match ds.as_slice() {
            [one] => {
                let mut v = serde_json::to_value(one)?;
                v["fail_if"] = serde_json::json!(gates_json);
                v["passed"] = serde_json::json!(!tripped);
                v
            }
            many => serde_json::json!({
                "pairs": many, "fail_if": gates_json, "passed": !tripped, "method": diff::METHOD
            }),
        };
        println!("{}", serde_json::to_string(&v)?);
    } else {
        for (i, d) in ds.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", diff::text(d));
        }
        for (on, expr, t, seen) in &checks {
            let on = if ds.len() > 1 {
                format!(" ({on})")
            } else {
                String::new()
            };
            println!(
                "fail-if {expr}{on}: {} ({seen})",
                if *t { "TRIPPED" } else { "ok" }
            );
        }
    }
    Ok(if tripped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
