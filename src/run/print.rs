//! The progress line of `dobench run` while a run goes (stderr). The summary at the end is
//! `dobench_reports::text::summary`, the one formatter `run`, `http` and `show` share.
//! Formatting only: never computes a statistic of its own.

use std::io::IsTerminal;

use dobench_loadgen::Snapshot;
use tokio::sync::watch;

fn progress_line(s: &Snapshot) -> String {
    let hot = s
        .objects
        .first()
        .map(|o| format!("  hottest {} {:.0}/s", o.name, o.rps_last_s))
        .unwrap_or_default();
    let deliveries = if s.deliveries > 0 {
        format!(
            "  {:.0} deliveries/s (p99 {:.2} ms)",
            s.deliveries_per_s_last_s, s.delivery_latency_ms.p99
        )
    } else {
        String::new()
    };
    format!(
        "{:>5.1}/{:.0}s  {:>8.0} {}  p99 {:.2} ms{deliveries}  errors {}  missed {}{hot}",
        s.elapsed_s,
        s.planned_s,
        s.achieved_rps_last_s,
        s.rate_unit(),
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
