//! The live TUI dashboard (`--tui`): watches a run's `Snapshot` bus and draws it with
//! ratatui + crossterm, oha-style but about objects: the hottest objects against the
//! per-object ceiling, throughput and latency over time, hibernation savings, alarms, errors.
//!
//! Data moves one way: `run_dashboard` owns the loop — one `select!` over a ~5 Hz redraw
//! tick, terminal key events and bus changes — feeding snapshots to [`app::App::update`]
//! (all maths) and drawing with [`render::render`] (drawing only). `q`/Ctrl-C cancels the
//! caller's `stop` token and returns; the caller still saves and summarizes the run.
//! [`terminal`] restores the terminal on exit, error and panic. Reads only the live bus
//! (and, via [`feed`], the target's scraped stats); never the results store, never stdout
//! once the dashboard is up.

pub mod app;
pub mod feed;
mod objects;
mod render;
mod series;
mod terminal;
mod thresholds;
mod widgets;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{bail, Context};
use crossterm::event::{Event, EventStream};
use dobench_loadgen::Snapshot;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use app::{Action, App};

/// Redraw period (5 Hz); frames are diffed by ratatui, so redraws never flicker.
const REDRAW: Duration = Duration::from_millis(200);

/// What the run is, for the header (fixed for the run).
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub profile: String,
    /// `embedded` or the target URL.
    pub target: String,
    pub strategy: String,
    /// The target's configured per-object ceiling (else the target's stats say it, if they can).
    pub ceiling_rps: Option<f64>,
    /// Planned length in seconds (used until the bus says it).
    pub planned_s: f64,
    /// The profile's thresholds as written (`p99_ms < 50`); judged live where possible.
    pub thresholds: Vec<String>,
    /// Workload family (`counter`, `chat`, `alarm`, ...); `alarm` shows the alarm panel.
    pub workload: String,
}

/// How a command's run shows itself: the dashboard with `--tui`, nothing with `--json`
/// (stdout carries the JSON), else the progress line.
pub fn view_for(tui: bool, json: bool) -> dobench::run::View {
    if tui {
        view()
    } else if json {
        dobench::run::View::Quiet
    } else {
        dobench::run::View::Progress
    }
}

/// The run assembly's live view drawn as this dashboard (`run --tui`, `compare --tui`).
pub fn view() -> dobench::run::View {
    dobench::run::View::Live(std::sync::Arc::new(|live: dobench::run::LiveRun| {
        let info = RunInfo {
            profile: live.profile,
            target: live.target,
            strategy: live.strategy,
            ceiling_rps: live.ceiling_rps,
            planned_s: live.planned_s,
            thresholds: live.thresholds,
            workload: live.workload,
        };
        tokio::spawn(async move {
            if let Err(e) = run_dashboard(info, live.bus, live.stop).await {
                eprintln!("tui: {e:#}");
            }
        })
    }))
}

/// Fails unless stdout is a terminal (call before starting a run with `--tui`).
pub fn check_terminal() -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        bail!("--tui needs a terminal on stdout (drop --tui, or use --json for machines)");
    }
    Ok(())
}

/// Draws the run live until its last snapshot (`done`) arrives or the bus closes — then
/// returns — or until the user presses `q`/Ctrl-C — then cancels `stop` and returns. The
/// terminal is restored on every way out, panics included.
pub async fn run_dashboard(
    info: RunInfo,
    mut snapshots: watch::Receiver<Snapshot>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    check_terminal()?;
    let mut app = App::new(info);
    let first = snapshots.borrow_and_update().clone();
    app.update(&first);
    let mut guard = terminal::enter().context("cannot start the TUI")?;
    let term = &mut guard.terminal;
    let mut events = EventStream::new();
    let mut events_open = true;
    let mut tick = tokio::time::interval(REDRAW);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut dirty = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if dirty {
                    term.draw(|f| render::render(&app, f))?;
                    dirty = false;
                }
            }
            ev = events.next(), if events_open => match ev {
                Some(Ok(Event::Key(key))) => match app.handle_key(key) {
                    Some(Action::Stop) => {
                        stop.cancel();
                        term.draw(|f| render::render(&app, f))?;
                        return Ok(());
                    }
                    Some(Action::Redraw) => {
                        term.draw(|f| render::render(&app, f))?;
                        dirty = false;
                    }
                    None => {}
                },
                Some(Ok(Event::Resize(..))) => {
                    term.autoresize()?;
                    term.draw(|f| render::render(&app, f))?;
                    dirty = false;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("reading terminal events"),
                None => events_open = false,
            },
            changed = snapshots.changed() => {
                if changed.is_err() {
                    // The bus closed without a `done` snapshot: the run is over either way.
                    return Ok(());
                }
                let s = snapshots.borrow_and_update().clone();
                app.update(&s);
                dirty = true;
                if s.done {
                    term.draw(|f| render::render(&app, f))?;
                    return Ok(());
                }
            }
        }
    }
}
