//! The HTML report: one self-contained file for one run or several (overlaid charts and a
//! comparison table). This module picks the sections and turns stored rows into chart
//! series; `page` lays out, `charts` draws SVG, `tables` and `work` write the rest. Never fetches
//! anything and never emits a script, stylesheet link or font URL.

pub mod charts;
pub mod page;
pub mod tables;
pub mod work;

use std::collections::HashMap;

use charts::{distribution_chart, nines, time_chart, Series, TimeChart};
use page::{color, esc, section, shell};

use crate::error::Result;
use crate::model::{RunStatus, StoredRun};

/// How many of the hottest objects the per-object chart draws for a single run.
pub const HOT_OBJECTS: usize = 6;
const CEILING_COLOR: &str = "#D55E00";
const OFFERED_COLOR: &str = "#7f7f7f";

/// A named field of a row, for building one series per field.
type Pick<T, R> = (&'static str, fn(&T) -> R);

/// Report options.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Page title (default: from the runs).
    pub title: Option<String>,
    /// The compare group's recorded best strategy, when the runs are a group.
    pub best_strategy: Option<String>,
    /// The group's answer in words (a shard sweep's one line), shown above the comparison.
    pub answer: Option<String>,
    /// Headroom of the best rule, % of the ceiling (default
    /// `dobench_loadgen::best::DEFAULT_HEADROOM_PCT`).
    pub headroom_pct: Option<f64>,
}

/// The sections a report has, in order (`hibernation` and `alarms` only where they apply).
pub const SECTIONS: &[&str] = &[
    "headline",
    "throughput",
    "objects",
    "latency",
    "distribution",
    "errors",
    "hibernation",
    "alarms",
    "correctness",
    "profile",
    "details",
];

/// Index of the best run: the recorded best strategy if given, else the one rule
/// (`dobench_loadgen::best::best_index`, as `compare` uses, with `headroom_pct`) over
/// complete runs.
pub fn best_run(runs: &[StoredRun], recorded: Option<&str>, headroom_pct: f64) -> Option<usize> {
    if runs.len() < 2 {
        return None;
    }
    if let Some(b) = recorded {
        if let Some(i) = runs
            .iter()
            .position(|r| r.meta.strategy.as_deref() == Some(b))
        {
            return Some(i);
        }
    }
    let complete: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].row.status == RunStatus::Complete)
        .collect();
    dobench_loadgen::best::best_index(complete.iter().map(|&i| &runs[i].summary), headroom_pct)
        .map(|k| complete[k])
}

/// The runs one chart draws: all of them, or (in a comparison where some failed) the
/// passing or the failing ones, each panel on its own scale. Colours follow the run's place
/// in the whole report, so a run keeps its colour across panels.
pub struct Panel<'a> {
    runs: Vec<&'a StoredRun>,
    labels: Vec<String>,
    colors: Vec<usize>,
    /// One run alone (its own detailed charts), not a comparison.
    single: bool,
}

/// The panels of a report: one, or, when a comparison has runs that failed and runs that
/// passed, the passing ones and the failing ones apart (a failing run's overload would set
/// the axes and flatten the rest), with a heading each.
fn panels<'a>(runs: &'a [StoredRun], labels: &[String]) -> Vec<(Option<&'static str>, Panel<'a>)> {
    let of = |keep: &dyn Fn(&StoredRun) -> bool| {
        let idx: Vec<usize> = (0..runs.len()).filter(|&i| keep(&runs[i])).collect();
        Panel {
            runs: idx.iter().map(|&i| &runs[i]).collect(),
            labels: idx.iter().map(|&i| labels[i].clone()).collect(),
            colors: idx,
            single: runs.len() == 1,
        }
    };
    let passed = |r: &StoredRun| r.summary.passed();
    let split = runs.len() > 1 && runs.iter().any(passed) && !runs.iter().all(passed);
    if split {
        vec![
            (Some("Runs that passed"), of(&passed)),
            (Some("Runs that failed (own scale)"), of(&|r| !passed(r))),
        ]
    } else {
        vec![(None, of(&|_| true))]
    }
}

/// One chart per panel, under the panel's heading when there are several.
fn per_panel(
    ps: &[(Option<&'static str>, Panel)],
    draw: fn(&Panel) -> Result<String>,
) -> Result<String> {
    let mut o = String::new();
    for (head, p) in ps {
        if let Some(h) = head {
            o.push_str(&format!("<h3 class=\"panel\">{h}</h3>"));
        }
        o.push_str(&draw(p)?);
    }
    Ok(o)
}

fn series(label: String, color: &'static str, points: Vec<(f64, f64)>, dashed: bool) -> Series {
    Series {
        label,
        color,
        points,
        dashed,
    }
}

fn throughput(p: &Panel) -> Result<String> {
    let (runs, labels) = (&p.runs, &p.labels);
    let mut ss = Vec::new();
    let mut first_offered = None;
    for (i, (r, l)) in runs.iter().zip(labels).enumerate() {
        // Whole seconds only: a last, partial second's rate is not a throughput.
        let whole = || r.seconds.iter().filter(|s| s.span_s >= 0.999);
        let achieved = whole().map(|s| (s.second as f64, s.achieved_rps)).collect();
        let offered = whole().map(|s| (s.second as f64, s.offered_rps)).collect();
        if p.single {
            ss.push(series("achieved".into(), color(0), achieved, false));
            ss.push(series("offered".into(), OFFERED_COLOR, offered, true));
        } else {
            ss.push(series(
                format!("{l} achieved"),
                color(p.colors[i]),
                achieved,
                false,
            ));
            if i == 0 {
                first_offered = Some(series(
                    format!("offered ({l})"),
                    OFFERED_COLOR,
                    offered,
                    true,
                ));
            }
        }
    }
    // Offered goes last so its dashes stay visible on top of the achieved lines.
    ss.extend(first_offered);
    let messages = runs.iter().any(|r| r.summary.rate_unit() == "msg/s");
    let chart = time_chart(&TimeChart {
        name: "throughput",
        y_desc: if messages {
            "messages sent per second".into()
        } else {
            "requests per second".into()
        },
        y_unit: if messages { "msg/s" } else { "req/s" },
        series: ss,
        hlines: vec![],
    })?;
    Ok(format!("{chart}<figcaption>Completed requests per second against the planned (offered) rate. A gap between the two means the target or the generator could not keep up.</figcaption>"))
}

/// Objects of a run, hottest first (summary order, else by recorded requests).
fn hottest(r: &StoredRun, n: usize) -> Vec<String> {
    if let Some(objs) = r.summary.objects.as_ref().filter(|o| !o.is_empty()) {
        return objs.iter().take(n).map(|o| o.name.clone()).collect();
    }
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for o in r.objects.iter().filter(|o| !o.remainder) {
        *totals.entry(&o.object).or_default() += o.requests;
    }
    let mut v: Vec<(&str, u64)> = totals.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.into_iter().take(n).map(|(k, _)| k.to_string()).collect()
}

fn object_points(r: &StoredRun, name: &str) -> Vec<(f64, f64)> {
    let by_second: HashMap<u64, f64> = r
        .objects
        .iter()
        .filter(|o| o.object == name)
        .map(|o| (o.second, o.rps))
        .collect();
    r.seconds
        .iter()
        .map(|s| {
            (
                s.second as f64,
                by_second.get(&s.second).copied().unwrap_or(0.0),
            )
        })
        .collect()
}

fn objects(p: &Panel) -> Result<String> {
    let (runs, labels) = (&p.runs, &p.labels);
    let mut ss = Vec::new();
    let per_run = if p.single { HOT_OBJECTS } else { 1 };
    for (i, (r, l)) in runs.iter().zip(labels).enumerate() {
        for (j, name) in hottest(r, per_run).iter().enumerate() {
            let label = if p.single {
                name.clone()
            } else {
                format!("{l}: {name}")
            };
            ss.push(series(
                label,
                color(if p.single { j } else { p.colors[i] }),
                object_points(r, name),
                false,
            ));
        }
    }
    if ss.is_empty() {
        return Ok("<p class=\"muted\">No per-object data: this run's requests did not name target objects.</p>".into());
    }
    let ceiling = runs
        .iter()
        .find_map(|r| r.meta.ceiling_rps.or(r.summary.ceiling_rps))
        .filter(|c| *c > 0.0);
    let hlines = ceiling
        .map(|c| vec![("per-object ceiling".to_string(), c, CEILING_COLOR)])
        .unwrap_or_default();
    let chart = time_chart(&TimeChart {
        name: "objects",
        y_desc: "requests per second per object".into(),
        y_unit: "req/s",
        series: ss,
        hlines,
    })?;
    let what = if p.single {
        format!("The {HOT_OBJECTS} hottest objects")
    } else {
        "Each run's hottest object".to_string()
    };
    let ceil = match ceiling {
        Some(c) => format!(" The dashed red line is the per-object ceiling ({c:.0} req/s): an object near it queues, then refuses."),
        None => String::new(),
    };
    Ok(format!(
        "{chart}<figcaption>{what}, requests per second.{}</figcaption>",
        esc(&ceil)
    ))
}

/// A second without completed requests has no latency: a gap in the line (NaN), not 0 ms.
fn gap_if_empty(s: &crate::model::SecondRow, v: f64) -> f64 {
    if s.requests == 0 {
        f64::NAN
    } else {
        v
    }
}

fn latency(p: &Panel) -> Result<String> {
    let (runs, labels) = (&p.runs, &p.labels);
    let mut ss = Vec::new();
    if p.single {
        let r = &runs[0];
        let pick: [Pick<dobench_loadgen::Percentiles, f64>; 4] = [
            ("p50", |p| p.p50),
            ("p90", |p| p.p90),
            ("p99", |p| p.p99),
            ("max", |p| p.max),
        ];
        for (j, (name, f)) in pick.iter().enumerate() {
            let pts = r
                .seconds
                .iter()
                .map(|s| (s.second as f64, gap_if_empty(s, f(&s.latency_ms))))
                .collect();
            ss.push(series((*name).into(), color(j), pts, false));
        }
    } else {
        for (i, (r, l)) in runs.iter().zip(labels).enumerate() {
            let pts = r
                .seconds
                .iter()
                .map(|s| (s.second as f64, gap_if_empty(s, s.latency_ms.p99)))
                .collect();
            ss.push(series(format!("{l} p99"), color(p.colors[i]), pts, false));
        }
    }
    let chart = time_chart(&TimeChart {
        name: "latency",
        y_desc: "latency (ms)".into(),
        y_unit: "ms",
        series: ss,
        hlines: vec![],
    })?;
    Ok(format!("{chart}<figcaption>Latency per second, measured from each request's intended send time (coordinated-omission free).</figcaption>"))
}

fn distribution_points(r: &StoredRun) -> Vec<(f64, f64)> {
    let hist = r.histograms.get("*").cloned().or_else(|| {
        let mut it = r.histograms.values();
        let mut h = it.next()?.clone();
        for o in it {
            h.add(o).ok()?;
        }
        Some(h)
    });
    match hist.filter(|h| !h.is_empty()) {
        Some(h) => {
            let mut pts: Vec<(f64, f64)> = h
                .iter_quantiles(2)
                .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
                .filter(|(q, _)| *q < 1.0)
                .map(|(q, us)| (nines(q), us as f64 / 1000.0))
                .collect();
            pts.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9);
            let last = pts.last().map_or(1.0, |p| p.0);
            pts.push((last.max(10.0) * 2.0, h.max() as f64 / 1000.0));
            pts
        }
        None => {
            let p = &r.summary.latency_ms;
            vec![
                (nines(0.5), p.p50),
                (nines(0.9), p.p90),
                (nines(0.99), p.p99),
                (nines(0.999), p.p999),
                (nines(0.9999), p.max),
            ]
        }
    }
}

fn distribution(p: &Panel) -> Result<String> {
    let (runs, labels) = (&p.runs, &p.labels);
    let ss: Vec<Series> = runs
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (r, l))| series(l.clone(), color(p.colors[i]), distribution_points(r), false))
        .collect();
    let from_hist = runs.iter().all(|r| !r.histograms.is_empty());
    let chart = distribution_chart(&ss)?;
    let src = if from_hist {
        "recomputed from the stored HdrHistograms"
    } else {
        "from the summary's percentiles (no histogram stored)"
    };
    Ok(format!("{chart}<figcaption>Latency at each percentile over the whole run, {src}. The x axis counts nines: 90%, 99%, 99.9%…</figcaption>"))
}

fn errors(p: &Panel) -> Result<String> {
    let (runs, labels) = (&p.runs, &p.labels);
    let mut ss = Vec::new();
    if p.single {
        let r = &runs[0];
        ss.push(series(
            "all errors".into(),
            color(6),
            r.seconds
                .iter()
                .map(|s| (s.second as f64, s.errors as f64))
                .collect(),
            true,
        ));
        let kinds: [Pick<crate::model::SecondRow, u64>; 4] = [
            ("overloaded (503)", |s| s.overloaded),
            ("timeout", |s| s.timeout),
            ("connect", |s| s.connect),
            ("other", |s| s.other),
        ];
        let mut c = 0;
        for (name, f) in kinds {
            if r.seconds.iter().any(|s| f(s) > 0) {
                ss.push(series(
                    name.into(),
                    color(c),
                    r.seconds
                        .iter()
                        .map(|s| (s.second as f64, f(s) as f64))
                        .collect(),
                    false,
                ));
                c += 1;
            }
        }
        let mut codes: Vec<&String> = r
            .seconds
            .iter()
            .flat_map(|s| s.status_errors.keys())
            .collect();
        codes.sort();
        codes.dedup();
        for code in codes {
            let pts = r
                .seconds
                .iter()
                .map(|s| {
                    (
                        s.second as f64,
                        s.status_errors.get(code).copied().unwrap_or(0) as f64,
                    )
                })
                .collect();
            ss.push(series(format!("HTTP {code}"), color(c), pts, false));
            c += 1;
        }
    } else {
        for (i, (r, l)) in runs.iter().zip(labels).enumerate() {
            ss.push(series(
                l.clone(),
                color(p.colors[i]),
                r.seconds
                    .iter()
                    .map(|s| (s.second as f64, s.errors as f64))
                    .collect(),
                false,
            ));
        }
    }
    let chart = time_chart(&TimeChart {
        name: "errors",
        y_desc: "errors per second".into(),
        y_unit: "errors",
        series: ss,
        hlines: vec![],
    })?;
    let total: u64 = runs.iter().map(|r| r.summary.errors.total).sum();
    let note = if total == 0 {
        "No errors were recorded."
    } else {
        "Errors per second by kind; overloaded = 503 refusals from a full mailbox."
    };
    Ok(format!("{chart}<figcaption>{note}</figcaption>"))
}

/// Renders the report for `runs` (one, or several overlaid) as one HTML document.
pub fn render(runs: &[StoredRun], opts: &ReportOptions) -> Result<String> {
    let labels: Vec<String> = runs.iter().map(|r| tables::run_label(r, runs)).collect();
    let headroom = opts
        .headroom_pct
        .unwrap_or(dobench_loadgen::best::DEFAULT_HEADROOM_PCT);
    // A group whose answer names no strategy (a sweep that found none) has no best run.
    let best = match (&opts.answer, &opts.best_strategy) {
        (Some(_), None) => None,
        _ => best_run(runs, opts.best_strategy.as_deref(), headroom),
    };
    let mut body = String::new();
    if let Some(a) = &opts.answer {
        body.push_str(&section(
            "answer",
            "Answer",
            &format!("<p class=\"answer\">{}</p>", esc(a)),
        ));
    }
    if runs.len() == 1 {
        body.push_str(&section(
            "headline",
            "Headline",
            &tables::headline(&runs[0]),
        ));
    } else {
        body.push_str(&section(
            "headline",
            "Comparison",
            &tables::comparison(runs, best),
        ));
    }
    let ps = panels(runs, &labels);
    body.push_str("<div class=\"grid\">\n");
    body.push_str(&section(
        "throughput",
        "Throughput over time",
        &per_panel(&ps, throughput)?,
    ));
    body.push_str(&section(
        "objects",
        "Hottest objects against the ceiling",
        &per_panel(&ps, objects)?,
    ));
    body.push_str(&section(
        "latency",
        "Latency over time",
        &per_panel(&ps, latency)?,
    ));
    body.push_str(&section(
        "distribution",
        "Latency distribution",
        &per_panel(&ps, distribution)?,
    ));
    body.push_str(&section(
        "errors",
        "Errors over time",
        &per_panel(&ps, errors)?,
    ));
    if let Some(t) = work::objects(runs, &labels) {
        body.push_str(&section(
            "object-work",
            "Hottest objects: throughput, ceiling and service time",
            &t,
        ));
    }
    if let Some(b) = work::bill(runs, &labels) {
        body.push_str(&section("bill", "What the run cost", &b));
    }
    if let Some(h) = tables::hibernation(runs, &labels) {
        body.push_str(&section("hibernation", "WebSocket hibernation", &h));
    }
    if let Some(a) = tables::alarms(runs, &labels) {
        body.push_str(&section("alarms", "Alarms", &a));
    }
    body.push_str(&section(
        "correctness",
        "Correctness and thresholds",
        &tables::correctness(runs, &labels),
    ));
    body.push_str("</div>\n");
    body.push_str(&section(
        "profile",
        "Profile",
        &tables::profiles(runs, &labels),
    ));
    body.push_str(&section(
        "details",
        "Run details",
        &tables::details(runs, &labels),
    ));
    let title = opts.title.clone().unwrap_or_else(|| match runs {
        [r] => format!("dobench · {}", r.meta.profile),
        _ => format!("dobench · {} runs compared", runs.len()),
    });
    let subtitle = match runs {
        [r] => format!(
            "run {} · {} · {} UTC",
            r.row.id,
            r.meta.strategy.as_deref().unwrap_or("no sharding strategy"),
            crate::text::utc_time(r.row.started_ms)
        ),
        _ => labels.join(" · "),
    };
    let footer = format!(
        "Generated by dobench {} · self-contained: no scripts, no external resources.",
        env!("CARGO_PKG_VERSION")
    );
    Ok(shell(&title, &subtitle, &body, &footer))
}
