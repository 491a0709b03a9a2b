//! The words of `dobench run` on a terminal: the progress line while a run goes (stderr),
//! and the human summary at the end (stdout). Formatting only: every number comes from the
//! `RunSummary` and the run's result; never computes a statistic of its own.

use std::fmt::Write as _;
use std::io::IsTerminal;

use dobench_loadgen::{Percentiles, Snapshot};
use dobench_workloads::LoadedProfile;
use tokio::sync::watch;

use super::RunResult;

fn progress_line(s: &Snapshot) -> String {
    let hot = s
        .objects
        .first()
        .map(|o| format!("  hottest {} {:.0}/s", o.name, o.rps_last_s))
        .unwrap_or_default();
    format!(
        "{:>5.1}/{:.0}s  {:>8.0} req/s  p99 {:.2} ms  errors {}  missed {}{hot}",
        s.elapsed_s,
        s.planned_s,
        s.achieved_rps_last_s,
        s.latency_ms_last_s.p99,
        s.errors.total,
        s.missed
    )
}

/// Shows the live bus: one line redrawn in place on a terminal, a line a second otherwise.
pub async fn progress(mut rx: watch::Receiver<Snapshot>) {
    let tty = std::io::stderr().is_terminal();
    let mut last = -1.0;
    while rx.changed().await.is_ok() {
        let s = rx.borrow_and_update().clone();
        if s.done {
            break;
        }
        if tty {
            eprint!("\r{}\x1b[K", progress_line(&s));
        } else if s.elapsed_s - last >= 1.0 {
            last = s.elapsed_s;
            eprintln!("{}", progress_line(&s));
        }
    }
    if tty {
        eprint!("\r\x1b[K");
    }
}

fn pct(p: &Percentiles) -> String {
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

/// The end-of-run summary.
pub fn human_summary(loaded: &LoadedProfile, r: &RunResult) -> String {
    let s = &r.summary;
    let p = &loaded.profile;
    let mut o = String::new();
    let ceiling = s
        .ceiling_rps
        .map_or("off".to_string(), |c| format!("{c:.0}/s"));
    let _ = writeln!(
        o,
        "dobench run {}  ({}; target {}; strategy {}; per-object ceiling {ceiling})",
        p.name,
        p.workload.class(),
        s.target,
        s.strategy.as_deref().unwrap_or("-"),
    );
    let _ = writeln!(
        o,
        "  rate        {:.1} req/s achieved of {:.1} offered over {:.2} s; {} requests, {} missed",
        s.achieved_rps, s.offered_rps, s.duration_s, s.requests, s.missed
    );
    let _ = writeln!(o, "  latency     {}", pct(&s.latency_ms));
    if s.queued > 0 {
        let _ = writeln!(
            o,
            "  queued      {} sends waited for a free connection: {}",
            s.queued,
            pct(&s.queue_wait_ms)
        );
    }
    for (name, op) in &s.ops {
        let _ = writeln!(
            o,
            "    {name:<12} {:>9} req  {}",
            op.requests,
            pct(&op.latency_ms)
        );
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
    if let Some(objects) = &s.objects {
        let _ = writeln!(
            o,
            "  objects     {} used; top {} by req/s (% of ceiling: served turns, peak second / average):",
            r.objects_used,
            objects.len().min(10)
        );
        let _ = writeln!(
            o,
            "    {:<28} {:>9} {:>9} {:>9} {:>14} {:>7}",
            "object", "req/s", "served/s", "peak/s", "% ceiling", "s>90%"
        );
        for ob in objects.iter().take(10) {
            let _ = writeln!(
                o,
                "    {:<28} {:>9.1} {:>9.1} {:>9.0} {:>14} {:>7}",
                ob.name,
                ob.rps,
                ob.served_rps,
                ob.peak_rps,
                s.ceiling_rps.map_or("-".into(), |_| format!(
                    "{:.1} / {:.1}",
                    ob.ceiling_pct, ob.avg_ceiling_pct
                )),
                ob.secs_over_90pct
            );
        }
    }
    if r.read_fan_in > 1 {
        let _ = writeln!(
            o,
            "  read fan-in {} requests per logical read",
            r.read_fan_in
        );
    }
    if let Some(h) = &s.hibernation {
        let _ = writeln!(
            o,
            "  hibernation saved {:.1} % of duration: billed {:.0} ms ({:.4} GB-s), avoided {:.4} GB-s (${:.6}); hibernated {:.0} ms",
            h.saved_pct, h.active_ms, h.gb_s_billed, h.gb_s_avoided, h.usd_avoided, h.hibernated_ms
        );
    }
    if let Some(a) = &s.alarms {
        let _ = writeln!(
            o,
            "  alarms      {} scheduled, {} fired, {} retries, {} missing; lag p50 {:.1}  p99 {:.1}  max {:.1} ms",
            a.scheduled, a.fired, a.retried, a.missing, a.lag_ms.p50, a.lag_ms.p99, a.lag_ms.max
        );
    }
    for n in &r.notes {
        let _ = writeln!(o, "  note        {n}");
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
    for f in &s.failures {
        let _ = writeln!(o, "  FAIL        {f}");
    }
    if s.stopped_early {
        let _ = writeln!(o, "  note        stopped early");
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
            let actual = if th.shown.is_empty() {
                fmt_num(th.actual)
            } else {
                th.shown.clone()
            };
            let _ = writeln!(o, "    {} {}  (actual {actual})", mark(th.passed), th.expr);
        }
    }
    let _ = writeln!(
        o,
        "  verdict     {}  (run {})",
        if r.passed() { "PASS" } else { "FAIL" },
        s.run_id
    );
    o
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
