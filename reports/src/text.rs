//! Terminal text for runs: the `dobench runs` table and the one human summary that `run`,
//! `http` and `show` all print. Pure string building (no colours, no terminal queries, no
//! I/O), from the `RunSummary` alone, so a stored run reads as it did when it ran.

use std::fmt::Write;

use dobench_loadgen::{Percentiles, RunSummary};

use crate::model::RunRow;

/// `2025-01-31 14:05:09` (UTC) from ms since the epoch.
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// The `dobench runs` table.
pub fn runs_table(rows: &[RunRow]) -> String {
    let mut lines = vec![[
        "id",
        "label",
        "when (UTC)",
        "profile",
        "strategy",
        "rate/s",
        "p99 ms",
        "result",
    ]
    .map(String::from)
    .to_vec()];
    for r in rows {
        lines.push(vec![
            r.id.clone(),
            r.label.clone().unwrap_or_else(|| "-".into()),
            utc_time(r.started_ms),
            r.profile.clone(),
            r.strategy.clone().unwrap_or_else(|| "-".into()),
            opt(r.achieved_rps, 1),
            opt(r.p99_ms, 2),
            r.verdict().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 5 || i == 6 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

fn pct_line(p: &Percentiles) -> String {
    format!(
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok  "
    } else {
        "FAIL"
    }
}

/// A threshold's actual value as recorded (in its unit when the run recorded one).
fn actual(t: &dobench_loadgen::summary::ThresholdResult) -> String {
    if !t.shown.is_empty() {
        t.shown.clone()
    } else if t.actual.is_nan() {
        "n/a".into()
    } else if t.actual.fract() == 0.0 && t.actual.abs() < 1e12 {
        format!("{:.0}", t.actual)
    } else {
        format!("{:.4}", t.actual)
    }
}

/// How a merged run was put together, in one line: complete or not, the clocks' skew.
fn parts_line(d: &dobench_loadgen::summary::Distributed) -> String {
    let head = if d.complete {
        format!(
            "{} of {} segments merged (complete)",
            d.merged.len(),
            d.segments
        )
    } else {
        format!(
            "INCOMPLETE: {} of {} segments merged; missing {:?}: their planned sends are in no figure",
            d.merged.len(),
            d.segments,
            d.missing
        )
    };
    let skew = match (d.clock_skew_ms, d.clock_skew_error_ms) {
        (Some(s), Some(e)) => format!("; clocks {s:.1} ± {e:.1} ms apart"),
        _ => "; clock skew not measured".to_string(),
    };
    let late = d
        .parts
        .iter()
        .map(|p| p.started_late_ms)
        .fold(0.0, f64::max);
    let late = if late > 0.0 {
        format!("; latest start {late:.0} ms after the start instant")
    } else {
        String::new()
    };
    format!("{head}{skew}{late}")
}

/// The one human summary of a run: what `run`, `http` and `show` print without `--json`,
/// from the `RunSummary` alone (so a stored run reads as it did when it ran). Every figure
/// carries its unit; the target's limit, the generator's evidence and outright failures
/// each have their own line.
pub fn summary(s: &RunSummary) -> String {
    let mut o = String::new();
    let ceiling = s
        .ceiling_rps
        .map_or("off".to_string(), |c| format!("{c:.0}/s"));
    let _ = writeln!(
        o,
        "dobench {}  ({}; target {}; strategy {}; per-object ceiling {ceiling})",
        s.profile,
        s.workload.as_deref().unwrap_or("http"),
        s.target,
        s.strategy.as_deref().unwrap_or("-"),
    );
    let _ = writeln!(
        o,
        "  run         {}  ({} UTC, dobench {})",
        s.run_id,
        utc_time(s.started_at_ms),
        s.dobench_version
    );
    if let Some(d) = &s.distributed {
        let _ = writeln!(o, "  parts       {}", parts_line(d));
    }
    for n in &s.notes {
        let _ = writeln!(o, "  note        {n}");
    }
    let planned = s
        .planned
        .map(|p| format!(" of {p} planned"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  requests    {} completed, {} sent{planned}, {} missed",
        s.requests, s.sent, s.missed
    );
    let unit = s.rate_unit();
    let _ = writeln!(
        o,
        "  throughput  {:.1} {unit} achieved of {:.1} {unit} offered over {:.2} s{}",
        s.achieved_rps,
        s.offered_rps,
        s.duration_s,
        if s.stopped_early {
            "  (stopped early)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "  latency     {}  (from intended send)",
        pct_line(&s.latency_ms)
    );
    for (name, op) in &s.ops {
        let _ = writeln!(
            o,
            "    {name:<12} {:>9} {}  {}",
            op.requests,
            if unit == "msg/s" { "msg" } else { "req" },
            pct_line(&op.latency_ms)
        );
    }
    if s.deliveries > 0 || s.offered_deliveries_per_s > 0.0 {
        let _ = writeln!(
            o,
            "  deliveries  {} delivered: {:.1} deliveries/s achieved of {:.1} deliveries/s offered{}",
            s.deliveries,
            s.achieved_deliveries_per_s,
            s.offered_deliveries_per_s,
            if s.frames_other > 0 {
                format!(" ({} other frames, untimed)", s.frames_other)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            o,
            "  delivery    {}  (fan-out, from the message's intended send)",
            pct_line(&s.delivery_latency_ms)
        );
    }
    let _ = writeln!(
        o,
        "  service     {}  (from actual send)",
        pct_line(&s.service_ms)
    );
    let _ = writeln!(
        o,
        "  lateness    {}  (the generator's own send delay)",
        pct_line(&s.lateness_ms)
    );
    if s.queued > 0 {
        let _ = writeln!(
            o,
            "  queued      {} sends waited for a free connection: {}",
            s.queued,
            pct_line(&s.queue_wait_ms)
        );
    }
    if s.cold_starts > 0 {
        let _ = writeln!(
            o,
            "  cold start  {} requests brought their object into memory: {}",
            s.cold_starts,
            pct_line(&s.cold_start_latency_ms)
        );
        let _ = writeln!(
            o,
            "  warm        the other requests: {}",
            pct_line(&s.warm_latency_ms)
        );
    }
    let statuses: Vec<String> = s
        .statuses
        .iter()
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    if !statuses.is_empty() {
        let _ = writeln!(o, "  status      {}", statuses.join(", "));
    }
    let e = &s.errors;
    if e.total == 0 {
        let _ = writeln!(o, "  errors      none");
    } else {
        let mut parts = vec![
            format!("overloaded {}", e.overloaded),
            format!("timeout {}", e.timeout),
            format!("connect {}", e.connect),
            format!("other {}", e.other),
        ];
        parts.extend(e.status.iter().map(|(c, n)| format!("status {c}: {n}")));
        let _ = writeln!(o, "  errors      {} ({})", e.total, parts.join(", "));
    }
    if e.refused > 0 {
        let _ = writeln!(
            o,
            "  refused     {} (429: the limiter saying no; refusals, not errors)",
            e.refused
        );
    }
    if let Some(objects) = s.objects.as_ref().filter(|v| !v.is_empty()) {
        let basis = s
            .ceiling_basis
            .as_deref()
            .unwrap_or("served turns over the ceiling");
        let _ = writeln!(
            o,
            "  objects     {} used; top {} by {unit} (% of ceiling: {basis}, peak second / average; service: ms of the ceiling's clock per turn):",
            s.objects_used(),
            objects.len().min(10)
        );
        let _ = writeln!(
            o,
            "    {:<28} {:>9} {:>9} {:>9} {:>14} {:>7} {:>11}",
            "object", unit, "served/s", "peak/s", "% ceiling", "s>90%", "service ms"
        );
        for ob in objects.iter().take(10) {
            let _ = writeln!(
                o,
                "    {:<28} {:>9.1} {:>9.1} {:>9.0} {:>14} {:>7} {:>11}",
                ob.name,
                ob.rps,
                ob.served_rps,
                ob.peak_rps,
                s.ceiling_rps.map_or("-".into(), |_| format!(
                    "{:.1} / {:.1}",
                    ob.ceiling_pct, ob.avg_ceiling_pct
                )),
                ob.secs_over_90pct,
                ob.service_ms_per_turn
                    .map_or("-".into(), |ms| format!("{ms:.3}"))
            );
        }
    }
    if let Some(b) = &s.bill {
        let _ = writeln!(
            o,
            "  bill        ${:.6} for this run at {} rates as of {} (no allowance taken off): {:.0} requests ${:.6} + {:.4} GB-s ${:.6} + {} rows read ${:.6} + {} rows written ${:.6}; {} bytes stored (${:.6} a month)",
            b.total_usd,
            b.plan,
            b.rates_as_of,
            b.billable_requests,
            b.requests_usd,
            b.gb_s,
            b.duration_usd,
            b.rows_read,
            b.rows_read_usd,
            b.rows_written,
            b.rows_written_usd,
            b.stored_bytes,
            b.stored_usd_per_month
        );
    }
    if s.read_fan_in > 1 {
        let _ = writeln!(
            o,
            "  read fan-in {} requests per logical read",
            s.read_fan_in
        );
    }
    if let Some(h) = &s.hibernation {
        let _ = writeln!(
            o,
            "  hibernation saved {:.1} % of duration: billed {:.0} ms ({:.4} GB-s), avoided {:.4} GB-s (${:.6}) in this run",
            h.saved_pct, h.active_ms, h.gb_s_billed, h.gb_s_avoided, h.usd_avoided
        );
        let _ = writeln!(
            o,
            "              time: active {:.1} s (billed) + idle in memory {:.1} s + hibernated {:.1} s (not billed) = {:.1} s observed; `dobench cost {} --scale rooms=N` projects a month",
            h.active_ms / 1000.0,
            h.idle_in_memory_ms / 1000.0,
            h.hibernated_ms / 1000.0,
            (h.active_ms + h.idle_in_memory_ms + h.hibernated_ms) / 1000.0,
            s.run_id
        );
    }
    if let Some(a) = &s.alarms {
        let _ = writeln!(
            o,
            "  alarms      {} scheduled, {} fired, {} retries, {} missing; lag p50 {:.1}  p99 {:.1}  max {:.1} ms",
            a.scheduled, a.fired, a.retried, a.missing, a.lag_ms.p50, a.lag_ms.p99, a.lag_ms.max
        );
    }
    if let Some(t) = &s.target_note {
        let _ = writeln!(o, "  target      {t}");
    }
    if let Some(g) = &s.generator_note {
        let word = if s.generator_limited {
            "WARNING"
        } else {
            "generator"
        };
        let _ = writeln!(o, "  {word:<11} {g}");
    }
    if let Some(c) = &s.correctness {
        let _ = writeln!(
            o,
            "  correctness {}",
            if c.passed { "pass" } else { "FAIL" }
        );
        for ch in &c.checks {
            let _ = writeln!(o, "    {} {}: {}", mark(ch.passed), ch.name, ch.detail);
        }
    }
    let t = &s.thresholds;
    if t.results.is_empty() {
        let _ = writeln!(o, "  thresholds  none set");
    } else {
        let _ = writeln!(
            o,
            "  thresholds  {}",
            if t.passed { "pass" } else { "FAIL" }
        );
        for th in &t.results {
            let _ = writeln!(
                o,
                "    {} {}  (actual {})",
                mark(th.passed),
                th.expr,
                actual(th)
            );
        }
    }
    for f in &s.failures {
        let _ = writeln!(o, "  FAIL        {f}");
    }
    let passed = s.thresholds.passed
        && s.correctness.as_ref().is_none_or(|c| c.passed)
        && s.failures.is_empty();
    let _ = writeln!(
        o,
        "  verdict     {}{}",
        if passed { "PASS" } else { "FAIL" },
        if s.stopped_early {
            "  (stopped early: it covers part of its plan)"
        } else {
            ""
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_prints_messages_and_deliveries_each_with_its_own_rate() {
        let mut s = RunSummary::from_snapshot(
            &dobench_loadgen::Snapshot::default(),
            dobench_loadgen::SummaryMeta::default(),
            0,
        );
        s.rate_unit = Some("msg/s".into());
        s.offered_rps = 80.0;
        s.achieved_rps = 79.5;
        s.duration_s = 12.0;
        s.deliveries = 7_632;
        s.offered_deliveries_per_s = 640.0;
        s.achieved_deliveries_per_s = 636.0;
        s.delivery_latency_ms.p99 = 4.25;
        let t = summary(&s);
        assert!(
            t.contains("throughput  79.5 msg/s achieved of 80.0 msg/s offered over 12.00 s"),
            "{t}"
        );
        assert!(
            t.contains(
                "deliveries  7632 delivered: 636.0 deliveries/s achieved of 640.0 deliveries/s offered"
            ),
            "{t}"
        );
        assert!(t.contains("p99 4.25"), "{t}");
        assert!(
            !t.contains("req/s"),
            "no request unit for a message run: {t}"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
