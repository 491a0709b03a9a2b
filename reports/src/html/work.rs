//! The report's tables of what the work cost: each run's hottest objects with their
//! throughput, share of the ceiling (and on what basis) and mean service time per turn, and
//! the run's bill at the published rates. HTML strings only; every stored string goes
//! through `esc`. Computes nothing the summary does not carry.

use std::fmt::Write;

use crate::html::page::{card, esc};
use crate::model::StoredRun;

/// Objects listed per run.
const LISTED: usize = 10;

/// Per run: its hottest objects' served rate, peak, `ceiling_pct` and service time per turn;
/// `None` when no run lists objects.
pub fn objects(runs: &[StoredRun], labels: &[String]) -> Option<String> {
    let mut o = String::new();
    for (r, label) in runs.iter().zip(labels) {
        let Some(objs) = r.summary.objects.as_ref().filter(|v| !v.is_empty()) else {
            continue;
        };
        if runs.len() > 1 {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        let unit = r.summary.rate_unit();
        o.push_str(&format!(
            "<div class=\"scroll\"><table><thead><tr><th>object</th><th class=\"n\">{}</th>\
             <th class=\"n\">served/s</th><th class=\"n\">peak served/s</th><th class=\"n\">% of ceiling (peak / avg)</th>\
             <th class=\"n\">service ms per turn</th><th class=\"n\">rows read</th><th class=\"n\">rows written</th></tr></thead><tbody>",
            esc(unit)
        ));
        for ob in objs.iter().take(LISTED) {
            let pct = if r.summary.ceiling_rps.is_some() {
                format!("{:.1} / {:.1}", ob.ceiling_pct, ob.avg_ceiling_pct)
            } else {
                "-".into()
            };
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.0}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&ob.name),
                ob.rps,
                ob.served_rps,
                ob.peak_served_rps,
                pct,
                ob.service_ms_per_turn.map_or("-".into(), |ms| format!("{ms:.3}")),
                ob.rows_read,
                ob.rows_written
            );
        }
        o.push_str("</tbody></table></div>");
        let basis = r
            .summary
            .ceiling_basis
            .as_deref()
            .unwrap_or("served turns over the ceiling");
        let _ = write!(
            o,
            "<p class=\"muted\">% of ceiling: {}. {} of {} objects listed. Service time is the mean virtual time a turn took on the object's ceiling clock (base cost plus CPU and rows); 100 % means that clock was never idle.</p>",
            esc(basis),
            objs.len().min(LISTED),
            r.summary.objects_used()
        );
    }
    (!o.is_empty()).then_some(o)
}

/// Per run with a bill: its priced lines; `None` when no run has one.
pub fn bill(runs: &[StoredRun], labels: &[String]) -> Option<String> {
    let mut o = String::new();
    for (r, label) in runs.iter().zip(labels) {
        let Some(b) = &r.summary.bill else { continue };
        if runs.len() > 1 {
            let _ = write!(o, "<h3>{}</h3>", esc(label));
        }
        o.push_str("<div class=\"cards\">");
        o.push_str(&card("this run", &format!("${:.6}", b.total_usd), ""));
        o.push_str(&card("rows written", &b.rows_written.to_string(), ""));
        o.push_str(&card("rows read", &b.rows_read.to_string(), ""));
        o.push_str(&card("stored", &format!("{} B", b.stored_bytes), ""));
        o.push_str("</div>");
        o.push_str("<div class=\"scroll\"><table><thead><tr><th>line</th><th class=\"n\">quantity</th><th class=\"n\">USD</th></tr></thead><tbody>");
        for (line, qty, usd) in [
            (
                "requests (refusals not billed; WebSocket messages ÷ 20)",
                format!("{:.0}", b.billable_requests),
                b.requests_usd,
            ),
            ("duration", format!("{:.4} GB-s", b.gb_s), b.duration_usd),
            ("rows read", b.rows_read.to_string(), b.rows_read_usd),
            (
                "rows written",
                b.rows_written.to_string(),
                b.rows_written_usd,
            ),
            (
                "stored data, per month",
                format!("{} bytes", b.stored_bytes),
                b.stored_usd_per_month,
            ),
        ] {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">${usd:.6}</td></tr>",
                esc(line),
                esc(&qty)
            );
        }
        o.push_str("</tbody></table></div>");
        let _ = write!(
            o,
            "<p class=\"muted\">{} rates as of {}, quantity × rate with no monthly allowance taken off. <code>dobench cost {} --scale objects=N</code> projects a month at your scale.</p>",
            esc(&b.plan),
            esc(&b.rates_as_of),
            esc(&r.row.id)
        );
    }
    (!o.is_empty()).then_some(o)
}
