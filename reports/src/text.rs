//! Terminal text for stored runs: the `dobench runs` table and the human summary `run` and
//! `show` print. Pure string building (no colours, no terminal queries, no I/O), so the
//! `run` command and `show` print the same thing.

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
            utc_time(r.started_ms),
            r.profile.clone(),
            r.strategy.clone().unwrap_or_else(|| "-".into()),
            opt(r.achieved_rps, 1),
            opt(r.p99_ms, 2),
            r.verdict().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
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
                if i == 4 || i == 5 {
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
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

/// The human summary of a run (what `run` and `show` print without `--json`).
pub fn summary(s: &RunSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "run {}  ({} UTC, dobench {})",
        s.run_id,
        utc_time(s.started_at_ms),
        s.dobench_version
    );
    let _ = writeln!(
        o,
        "profile   {}{}",
        s.profile,
        s.workload
            .as_ref()
            .map_or(String::new(), |w| format!("  (workload {w})"))
    );
    let _ = writeln!(o, "target    {}", s.target);
    if let Some(st) = &s.strategy {
        let _ = writeln!(o, "strategy  {st}");
    }
    let _ = writeln!(
        o,
        "duration  {:.1} s{}",
        s.duration_s,
        if s.stopped_early {
            "  (stopped early / incomplete)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "rate      offered {:.1}/s  achieved {:.1}/s  requests {}  missed {}",
        s.offered_rps, s.achieved_rps, s.requests, s.missed
    );
    let _ = writeln!(
        o,
        "latency   {} (ms, from intended send)",
        pct_line(&s.latency_ms)
    );
    for (op, st) in &s.ops {
        let _ = writeln!(
            o,
            "  {op:<12} {:>8} req  {}",
            st.requests,
            pct_line(&st.latency_ms)
        );
    }
    let e = &s.errors;
    let mut kinds = vec![];
    for (k, v) in [
        ("overloaded", e.overloaded),
        ("timeout", e.timeout),
        ("connect", e.connect),
        ("other", e.other),
    ] {
        if v > 0 {
            kinds.push(format!("{k} {v}"));
        }
    }
    kinds.extend(
        e.status
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("HTTP {k} {v}")),
    );
    let _ = writeln!(
        o,
        "errors    {}{}",
        e.total,
        if kinds.is_empty() {
            String::new()
        } else {
            format!("  ({})", kinds.join(", "))
        }
    );
    if let Some(objs) = s.objects.as_ref().filter(|v| !v.is_empty()) {
        let ceiling = s
            .ceiling_rps
            .map_or(String::new(), |c| format!(", ceiling {c:.0}/s"));
        let _ = writeln!(o, "objects   {} (hottest first{ceiling})", objs.len());
        for ob in objs.iter().take(5) {
            let _ = writeln!(
                o,
                "  {:<24} {:>8.1}/s  peak {:>8.1}/s  {:>5.1}% of ceiling",
                ob.name, ob.rps, ob.peak_rps, ob.ceiling_pct
            );
        }
    }
    if let Some(h) = &s.hibernation {
        let _ = writeln!(
            o,
            "hibernation  active {:.0} ms, hibernated {:.0} ms; billed {:.3} GB-s, avoided {:.3} GB-s (${:.4}, {:.1}%)",
            h.active_ms, h.hibernated_ms, h.gb_s_billed, h.gb_s_avoided, h.usd_avoided, h.saved_pct
        );
    }
    if let Some(a) = &s.alarms {
        let _ = writeln!(
            o,
            "alarms    scheduled {} fired {} retried {} missing {}; lag p50 {:.1} p99 {:.1} max {:.1} ms",
            a.scheduled, a.fired, a.retried, a.missing, a.lag_ms.p50, a.lag_ms.p99, a.lag_ms.max
        );
    }
    if let Some(c) = &s.correctness {
        let _ = writeln!(
            o,
            "correctness {}",
            if c.passed { "passed" } else { "FAILED" }
        );
        for ch in &c.checks {
            let _ = writeln!(
                o,
                "  [{}] {}: {}",
                if ch.passed { "ok" } else { "FAIL" },
                ch.name,
                ch.detail
            );
        }
    }
    for t in &s.thresholds.results {
        let _ = writeln!(
            o,
            "threshold [{}] {} (actual {:.3})",
            if t.passed { "ok" } else { "FAIL" },
            t.expr,
            t.actual
        );
    }
    if let Some(t) = &s.target_note {
        let _ = writeln!(o, "target    {t}");
    }
    if let Some(g) = &s.generator_note {
        let _ = writeln!(o, "generator {g}");
    }
    for f in &s.failures {
        let _ = writeln!(o, "FAIL      {f}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
