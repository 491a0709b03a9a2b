//! The report's non-chart parts: headline cards, the comparison table (best marked),
//! correctness and threshold verdicts, hibernation and alarm panels, run details and the
//! profile text. HTML strings only; every stored string goes through `esc`. Draws no charts.

use std::fmt::Write;

use crate::html::page::{card, card_html, esc, target_html};
use crate::model::{RunStatus, StoredRun};
use crate::text::utc_time;

/// `pass`, `FAIL`, `stopped early` or `incomplete`, and the CSS class that colours it. A run
/// stopped early (`q`, a signal, its time bound) never reads as a plain pass.
pub fn verdict(run: &StoredRun) -> (&'static str, &'static str) {
    match run.row.verdict() {
        "pass" if run.summary.stopped_early => ("stopped early", "incomplete"),
        "pass" => ("pass", "pass"),
        "FAIL" => ("FAIL", "fail"),
        other => (other, "incomplete"),
    }
}

/// Label for a run in overlays and tables: its strategy, else its profile, plus a short id
/// when several runs share it.
pub fn run_label(run: &StoredRun, all: &[StoredRun]) -> String {
    let base = run
        .meta
        .strategy
        .clone()
        .unwrap_or_else(|| run.meta.profile.clone());
    let same = all
        .iter()
        .filter(|r| {
            r.meta
                .strategy
                .clone()
                .unwrap_or_else(|| r.meta.profile.clone())
                == base
        })
        .count();
    if same > 1 {
        format!(
            "{base} ({})",
            run.row.id.rsplit('-').next().unwrap_or(&run.row.id)
        )
    } else {
        base
    }
}

fn error_pct(run: &StoredRun) -> f64 {
    let s = &run.summary;
    if s.requests == 0 {
        0.0
    } else {
        s.errors.total as f64 / s.requests as f64 * 100.0
    }
}

/// Headline cards of one run.
pub fn headline(run: &StoredRun) -> String {
    let s = &run.summary;
    let (v, class) = verdict(run);
    let mut o = String::from("<div class=\"cards\">");
    o.push_str(&card("result", v, class));
    o.push_str(&card("profile", &s.profile, ""));
    o.push_str(&card_html("target", &target_html(&s.target), ""));
    o.push_str(&card("strategy", s.strategy.as_deref().unwrap_or("-"), ""));
    let unit = s.rate_unit();
    o.push_str(&card(
        "offered",
        &format!("{:.1} {unit}", s.offered_rps),
        "",
    ));
    o.push_str(&card(
        "achieved",
        &format!("{:.1} {unit}", s.achieved_rps),
        "",
    ));
    o.push_str(&card(
        "p99 latency",
        &format!("{:.2} ms", s.latency_ms.p99),
        "",
    ));
    if s.deliveries > 0 || s.offered_deliveries_per_s > 0.0 {
        // Fan-out deliveries: their own rates, never mixed into the sends' unit.
        o.push_str(&card(
            "deliveries offered",
            &format!("{:.1} deliveries/s", s.offered_deliveries_per_s),
            "",
        ));
        o.push_str(&card(
            "deliveries achieved",
            &format!("{:.1} deliveries/s", s.achieved_deliveries_per_s),
            "",
        ));
        o.push_str(&card(
            "delivery p99",
            &format!("{:.2} ms", s.delivery_latency_ms.p99),
            "",
        ));
    }
    let err_class = if s.errors.total > 0 { "fail" } else { "" };
    o.push_str(&card(
        "errors",
        &format!("{} ({:.2}%)", s.errors.total, error_pct(run)),
        err_class,
    ));
    o.push_str(&card("requests", &s.requests.to_string(), ""));
    o.push_str(&card("duration", &format!("{:.1} s", s.duration_s), ""));
    o.push_str("</div>");
    let merged_incomplete = s.distributed.as_ref().is_some_and(|d| !d.complete);
    if let Some(d) = s.distributed.as_ref().filter(|d| d.complete) {
        let skew = match (d.clock_skew_ms, d.clock_skew_error_ms) {
            (Some(x), Some(e)) => format!("the generators' clocks were {x:.1} ± {e:.1} ms apart"),
            _ => "the generators' clock skew was not measured".to_string(),
        };
        o.push_str(&format!(
            "<p>Merged from all {} segments of a split run (histograms added exactly); {skew}.</p>",
            d.segments
        ));
    }
    if let Some(d) = s.distributed.as_ref().filter(|d| !d.complete) {
        o.push_str(&format!(
            "<p class=\"incomplete\">Incomplete: merged from {} of {} segments; segments {:?} are missing and \
             their planned sends are in no figure below.</p>",
            d.merged.len(),
            d.segments,
            d.missing
        ));
    }
    if run.row.status == RunStatus::Incomplete && !merged_incomplete {
        o.push_str(
            "<p class=\"incomplete\">This run did not finish (its process ended early). The figures below cover \
             the seconds recorded before that.</p>",
        );
    }
    if s.stopped_early && run.row.status != RunStatus::Incomplete && !merged_incomplete {
        o.push_str(
            "<p class=\"incomplete\">This run was stopped early (by the user or its time bound): it covers \
             only part of its plan, and its sends never made are counted as missed.</p>",
        );
    }
    if s.generator_limited {
        o.push_str("<p class=\"incomplete\">The load generator limited this run (its own send delay or busy threads crossed their bound): the numbers show its limit, not the target's.</p>");
    }
    o
}

/// The comparison table of several runs; `best` is the index of the best run.
pub fn comparison(runs: &[StoredRun], best: Option<usize>) -> String {
    let mut o = String::from(
        "<div class=\"scroll\"><table><thead><tr><th>run</th><th>strategy</th><th class=\"n\">offered/s</th>\
         <th class=\"n\">achieved/s</th><th class=\"n\">p50 ms</th><th class=\"n\">p99 ms</th><th class=\"n\">max ms</th>\
         <th class=\"n\">errors</th><th class=\"n\">hottest object/s</th><th class=\"n\">% of ceiling</th><th>result</th></tr></thead><tbody>",
    );
    for (i, r) in runs.iter().enumerate() {
        let s = &r.summary;
        let hot = s.objects.as_ref().and_then(|o| o.first());
        let (v, class) = verdict(r);
        let is_best = best == Some(i);
        let _ = write!(
            o,
            "<tr{}><td>{}{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.2}</td>\
             <td class=\"n\">{:.2}</td><td class=\"n\">{:.2}</td><td class=\"n\">{} ({:.2}%)</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"{class}\">{v}</td></tr>",
            if is_best { " class=\"best\"" } else { "" },
            esc(&run_label(r, runs)),
            if is_best { " <span class=\"badge pass\">★ best</span>" } else { "" },
            esc(s.strategy.as_deref().unwrap_or("-")),
            s.offered_rps,
            s.achieved_rps,
            s.latency_ms.p50,
            s.latency_ms.p99,
            s.latency_ms.max,
            s.errors.total,
            error_pct(r),
            hot.map_or("-".to_string(), |h| format!("{:.1}", h.peak_rps)),
            hot.filter(|h| h.ceiling_pct > 0.0).map_or("-".to_string(), |h| format!("{:.0}%", h.ceiling_pct)),
        );
    }
    o.push_str("</tbody></table></div>");
    if best.is_some() {
        o.push_str(
            "<p class=\"muted\">★ best: among runs that pass correctness and thresholds, the fewest objects; ties go to \
             the lowest hottest-object % of ceiling, then the lowest p99 (or the compare group's recorded choice).</p>",
        );
    }
    o
}

/// Correctness checks and thresholds of every run.
pub fn correctness(runs: &[StoredRun], labels: &[String]) -> String {
    let mut o = String::new();
    for (r, label) in runs.iter().zip(labels) {
        if runs.len() > 1 {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        let s = &r.summary;
        o.push_str("<div class=\"scroll\"><table><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>");
        let mut rows = 0;
        if let Some(c) = &s.correctness {
            for ch in &c.checks {
                rows += 1;
                let (v, class) = if ch.passed {
                    ("ok", "pass")
                } else {
                    ("FAIL", "fail")
                };
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td class=\"{class}\">{v}</td><td>{}</td></tr>",
                    esc(&ch.name),
                    esc(&ch.detail)
                );
            }
        }
        for t in &s.thresholds.results {
            rows += 1;
            let (v, class) = if t.passed {
                ("ok", "pass")
            } else {
                ("FAIL", "fail")
            };
            let _ = write!(
                o,
                "<tr><td>threshold <code>{}</code></td><td class=\"{class}\">{v}</td><td>actual {}</td></tr>",
                esc(&t.expr),
                if t.shown.is_empty() {
                    format!("{:.3}", t.actual)
                } else {
                    esc(&t.shown)
                }
            );
        }
        if rows == 0 {
            let why = if r.row.status == RunStatus::Complete {
                "no correctness checks or thresholds for this run"
            } else {
                "the run did not finish, so its end-of-run checks never ran"
            };
            let _ = write!(o, "<tr><td colspan=\"3\" class=\"muted\">{why}</td></tr>");
        }
        o.push_str("</tbody></table></div>");
    }
    o
}

fn bar_rows(rows: &[(String, f64, String)]) -> String {
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let mut o = String::from("<table class=\"bars\"><tbody>");
    for (k, v, shown) in rows {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"b\"><div class=\"bar\" style=\"width:{:.1}%\"></div></td><td class=\"n\">{}</td></tr>",
            esc(k),
            v / max * 100.0,
            esc(shown)
        );
    }
    o.push_str("</tbody></table>");
    o
}

/// Hibernation panel (runs whose summary has `hibernation`), `None` when no run has one.
pub fn hibernation(runs: &[StoredRun], labels: &[String]) -> Option<String> {
    let mut o = String::new();
    for (r, label) in runs.iter().zip(labels) {
        let Some(h) = &r.summary.hibernation else {
            continue;
        };
        if runs.len() > 1 {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        o.push_str("<div class=\"cards\">");
        o.push_str(&card("saved", &format!("{:.1}%", h.saved_pct), "pass"));
        o.push_str(&card("GB-s billed", &format!("{:.3}", h.gb_s_billed), ""));
        o.push_str(&card("GB-s avoided", &format!("{:.3}", h.gb_s_avoided), ""));
        o.push_str(&card("USD avoided", &format!("${:.4}", h.usd_avoided), ""));
        o.push_str("</div><h3>duration in memory</h3>");
        o.push_str(&bar_rows(&[
            (
                "active (billed)".into(),
                h.active_ms,
                format!("{:.1} s", h.active_ms / 1000.0),
            ),
            (
                "idle in memory (not billed: able to hibernate)".into(),
                h.idle_in_memory_ms,
                format!("{:.1} s", h.idle_in_memory_ms / 1000.0),
            ),
            (
                "hibernated (not billed)".into(),
                h.hibernated_ms,
                format!("{:.1} s", h.hibernated_ms / 1000.0),
            ),
        ]));
        let _ = write!(
            o,
            "<p class=\"muted\">Active + idle in memory + hibernated = {:.1} s observed. Without hibernation the sockets' idle and hibernated time would be billed: the avoided {:.3} GB-s. <code>dobench cost {} --scale rooms=N</code> projects a month at your scale.</p>",
            (h.active_ms + h.idle_in_memory_ms + h.hibernated_ms) / 1000.0,
            h.gb_s_avoided,
            esc(&r.row.id)
        );
    }
    (!o.is_empty()).then_some(o)
}

/// Alarm panel (runs whose summary has `alarms`), `None` when no run has one.
pub fn alarms(runs: &[StoredRun], labels: &[String]) -> Option<String> {
    let mut o = String::new();
    for (r, label) in runs.iter().zip(labels) {
        let Some(a) = &r.summary.alarms else { continue };
        if runs.len() > 1 {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        o.push_str("<div class=\"cards\">");
        o.push_str(&card("scheduled", &a.scheduled.to_string(), ""));
        o.push_str(&card("fired", &a.fired.to_string(), ""));
        o.push_str(&card("retried", &a.retried.to_string(), ""));
        o.push_str(&card(
            "missing",
            &a.missing.to_string(),
            if a.missing > 0 { "fail" } else { "pass" },
        ));
        o.push_str("</div><h3>alarm lag (fired − scheduled)</h3>");
        o.push_str(&bar_rows(&[
            (
                "p50".into(),
                a.lag_ms.p50,
                format!("{:.1} ms", a.lag_ms.p50),
            ),
            (
                "p99".into(),
                a.lag_ms.p99,
                format!("{:.1} ms", a.lag_ms.p99),
            ),
            (
                "max".into(),
                a.lag_ms.max,
                format!("{:.1} ms", a.lag_ms.max),
            ),
        ]));
    }
    (!o.is_empty()).then_some(o)
}

/// Run details: ids, times, host, versions, options.
pub fn details(runs: &[StoredRun], labels: &[String]) -> String {
    let mut o = String::from(
        "<div class=\"scroll\"><table><thead><tr><th>run</th><th>id</th><th>started (UTC)</th><th>status</th><th>host</th>\
         <th>dobench</th><th>options</th></tr></thead><tbody>",
    );
    for (r, label) in runs.iter().zip(labels) {
        let h = &r.host;
        let host = format!(
            "{} cores, {} {}{}",
            h.cores,
            h.os,
            h.arch,
            h.kernel.as_ref().map_or(String::new(), |k| format!(" {k}"))
        );
        let opts = if r.meta.runtime_options.is_null() {
            String::new()
        } else {
            r.meta.runtime_options.to_string()
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(label),
            esc(&r.row.id),
            esc(&utc_time(r.row.started_ms)),
            esc(r.row.status.as_str()),
            esc(&host),
            esc(&r.dobench_version),
            esc(&opts)
        );
    }
    o.push_str("</tbody></table></div>");
    o
}

/// The profile text of each run (once when identical).
pub fn profiles(runs: &[StoredRun], labels: &[String]) -> String {
    let mut o = String::new();
    let all_same = runs
        .windows(2)
        .all(|w| w[0].meta.profile_text == w[1].meta.profile_text);
    for (i, (r, label)) in runs.iter().zip(labels).enumerate() {
        if all_same && i > 0 {
            break;
        }
        if runs.len() > 1 && !all_same {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        if r.meta.profile_text.trim().is_empty() {
            let _ = write!(
                o,
                "<p class=\"muted\">No profile file: an ad-hoc run of <code>{}</code>.</p>",
                esc(&r.meta.profile)
            );
        } else {
            let _ = write!(o, "<pre>{}</pre>", esc(&r.meta.profile_text));
        }
    }
    o
}
