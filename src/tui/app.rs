//! The dashboard's state: what the run is (`RunInfo`), the latest `Snapshot`, everything
//! derived from it (time series, sorted object rows, ceiling shares, threshold verdicts,
//! hibernation and alarm figures) and the user's view state (view, help, sort, selection).
//! `App::update` does all the maths and sorting; `App::handle_key` turns keys into state
//! changes or an `Action`. Never draws, never does I/O, never touches the terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use dobench_loadgen::{Percentiles, Snapshot};

use super::objects::{self, ObjectRow, ServerRates, SortKey};
use super::series::Series;
use super::thresholds::{self, ThresholdStatus};
use super::RunInfo;

/// Seconds of history the charts keep.
pub const HISTORY_S: usize = 600;
/// Hottest objects kept for the bar panel (more than any terminal shows).
const HOT_N: usize = 64;

/// Which screen is shown (`tab` / shift-`tab` cycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Overview,
    Objects,
    Latency,
    Hibernation,
}

impl View {
    pub const ALL: [View; 4] = [
        View::Overview,
        View::Objects,
        View::Latency,
        View::Hibernation,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Objects => "Objects",
            View::Latency => "Latency",
            View::Hibernation => "Hibernation",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    fn next(self) -> Self {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    fn prev(self) -> Self {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

/// Input mode: the help overlay swallows every key but its own close keys and `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    Help,
}

/// What the dashboard loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Redraw (state may have changed).
    Redraw,
    /// The user asked to stop the run early.
    Stop,
}

/// WebSocket hibernation and duration accounting, runtime-wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HibernationView {
    pub sockets_open: u64,
    pub sockets_hibernated: u64,
    pub objects_live: u64,
    pub objects_hibernated: u64,
    pub constructions: u64,
    pub hibernations: u64,
    pub gb_s_billed: f64,
    pub gb_s_avoided: f64,
    pub usd_billed: f64,
    pub usd_avoided: f64,
    pub saved_pct: f64,
}

/// Alarm counters, runtime-wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmView {
    pub pending: u64,
    pub set: u64,
    pub fired: u64,
    pub retried: u64,
    pub given_up: u64,
    /// Lag p99 when something on the bus measures it (the alarm workload does at the end).
    pub lag_p99_ms: Option<f64>,
}

/// One operation's row in the percentile table.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRow {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Percentiles,
}

/// Everything the renderer reads.
#[derive(Debug)]
pub struct App {
    pub info: RunInfo,
    pub view: View,
    pub mode: Mode,
    pub sort: SortKey,
    /// Selected row of the full object list.
    pub selected: usize,
    /// The user pressed `q`; the run is winding down.
    pub stopping: bool,
    /// Latest snapshot as received.
    pub snap: Snapshot,
    /// Elapsed share of the planned run, 0–1.
    pub progress: f64,
    /// Planned length in seconds (the snapshot's, else RunInfo's).
    pub planned_s: f64,
    /// Errors / completed requests so far, 0–1.
    pub error_rate: f64,
    /// The per-object ceiling in req/s (RunInfo's, else the target's).
    pub ceiling: Option<f64>,
    /// Every object, ordered by `sort`.
    pub objects: Vec<ObjectRow>,
    /// The hottest objects (req/s last second), hottest first.
    pub hot: Vec<ObjectRow>,
    /// Objects at ≥ 90 % and at 70–90 % of the ceiling (last second).
    pub over_90: usize,
    pub over_70: usize,
    /// Right end of the bar scale, req/s (leaves the ceiling visible).
    pub bar_max: f64,
    pub offered: Series,
    pub achieved: Series,
    pub p50: Series,
    pub p99: Series,
    pub p999: Series,
    /// Upper y bounds of the throughput and latency charts.
    pub rps_max: f64,
    pub latency_max: f64,
    pub thresholds: Vec<ThresholdStatus>,
    /// Thresholds failing so far.
    pub failing: usize,
    pub errors: Vec<(String, u64)>,
    pub ops: Vec<OpRow>,
    pub hibernation: Option<HibernationView>,
    pub alarms: Option<AlarmView>,
    rates: ServerRates,
}

impl App {
    pub fn new(info: RunInfo) -> Self {
        let series = || Series::new(HISTORY_S);
        let ceiling = info.ceiling_rps;
        let planned_s = info.planned_s;
        let thresholds = thresholds::evaluate(&info.thresholds, &Snapshot::default(), ceiling);
        App {
            info,
            view: View::default(),
            mode: Mode::default(),
            sort: SortKey::default(),
            selected: 0,
            stopping: false,
            snap: Snapshot::default(),
            progress: 0.0,
            planned_s,
            error_rate: 0.0,
            ceiling,
            objects: Vec::new(),
            hot: Vec::new(),
            over_90: 0,
            over_70: 0,
            bar_max: ceiling.map_or(1.0, |c| c * 1.25),
            offered: series(),
            achieved: series(),
            p50: series(),
            p99: series(),
            p999: series(),
            rps_max: 1.0,
            latency_max: 1.0,
            thresholds,
            failing: 0,
            errors: Vec::new(),
            ops: Vec::new(),
            hibernation: None,
            alarms: None,
            rates: ServerRates::default(),
        }
    }

    /// Folds in a new snapshot: all the dashboard's maths happens here.
    pub fn update(&mut self, s: &Snapshot) {
        self.ceiling = self
            .info
            .ceiling_rps
            .or_else(|| s.server.as_ref().and_then(|v| v.ceiling_rps).map(f64::from));
        let ceiling = self.ceiling.filter(|c| *c > 0.0);

        // Time series: one point per second of the run (the latest snapshot in it wins).
        let t = s.elapsed_s.floor();
        self.offered.push(t, s.offered_rps);
        self.achieved.push(t, s.achieved_rps_last_s);
        self.p50.push(t, s.latency_ms_last_s.p50);
        self.p99.push(t, s.latency_ms_last_s.p99);
        self.p999.push(t, s.latency_ms_last_s.p999);
        self.rps_max = (self.offered.max_y().max(self.achieved.max_y()) * 1.1).max(1.0);
        self.latency_max = (self.p999.max_y() * 1.1).max(0.1);

        // Objects.
        let rows = objects::rows(s, ceiling, &mut self.rates);
        self.over_90 = rows
            .iter()
            .filter(|r| r.ceiling_pct.is_some_and(|p| p >= 90.0))
            .count();
        self.over_70 = rows
            .iter()
            .filter(|r| r.ceiling_pct.is_some_and(|p| (70.0..90.0).contains(&p)))
            .count();
        let mut hot = rows.clone();
        objects::sort(&mut hot, SortKey::Rps);
        hot.truncate(HOT_N);
        let hottest = hot.first().map_or(0.0, |r| r.rps);
        self.bar_max = match ceiling {
            Some(c) => (c * 1.25).max(hottest * 1.05),
            None => (hottest * 1.1).max(1.0),
        };
        self.hot = hot;
        self.objects = rows;
        objects::sort(&mut self.objects, self.sort);
        self.selected = self.selected.min(self.objects.len().saturating_sub(1));

        // Errors by kind, most first; overloaded 503s are not also in `status`.
        let e = &s.errors;
        let mut errors: Vec<(String, u64)> = vec![
            ("overloaded (503)".into(), e.overloaded),
            ("timeout".into(), e.timeout),
            ("connect".into(), e.connect),
            ("other".into(), e.other),
        ];
        errors.extend(e.status.iter().map(|(c, n)| (format!("status {c}"), *n)));
        errors.retain(|(_, n)| *n > 0);
        errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.errors = errors;

        self.ops = s
            .ops
            .iter()
            .map(|(name, o)| OpRow {
                name: name.clone(),
                requests: o.requests,
                errors: o.errors,
                latency_ms: o.latency_ms,
            })
            .collect();
        self.ops.sort_by_key(|o| std::cmp::Reverse(o.requests));

        // The target's own accounting (reference runtime only).
        self.hibernation = s.server.as_ref().map(|v| {
            let h = &v.hibernation;
            HibernationView {
                sockets_open: h.sockets_open,
                sockets_hibernated: h.sockets_hibernated,
                objects_live: v.live_objects,
                objects_hibernated: h.objects_hibernated,
                constructions: v.objects.iter().map(|o| o.constructions).sum(),
                hibernations: v.objects.iter().map(|o| o.hibernations).sum(),
                gb_s_billed: h.gb_s_billed,
                gb_s_avoided: h.gb_s_avoided,
                usd_billed: dobench_runtime::pricing::duration_usd(h.gb_s_billed),
                usd_avoided: h.usd_avoided,
                saved_pct: h.saved_pct,
            }
        });
        let wants_alarms = self.info.workload.contains("alarm");
        self.alarms = s
            .server
            .as_ref()
            .filter(|v| wants_alarms || v.alarms.set > 0 || v.alarms.pending > 0)
            .map(|v| AlarmView {
                pending: v.alarms.pending,
                set: v.alarms.set,
                fired: v.alarms.fired,
                retried: v.alarms.retried,
                given_up: v.alarms.given_up,
                lag_p99_ms: None,
            });

        self.thresholds = thresholds::evaluate(&self.info.thresholds, s, ceiling);
        // Failing first: on a narrow header they are what must stay visible.
        self.thresholds.sort_by_key(|t| match t.verdict {
            thresholds::Verdict::Fail => 0,
            thresholds::Verdict::Pass => 1,
            thresholds::Verdict::Pending => 2,
        });
        self.failing = self
            .thresholds
            .iter()
            .filter(|t| t.verdict == thresholds::Verdict::Fail)
            .count();
        let planned = if s.planned_s > 0.0 {
            s.planned_s
        } else {
            self.info.planned_s
        };
        self.planned_s = planned;
        self.progress = if s.done {
            1.0
        } else if planned > 0.0 {
            (s.elapsed_s / planned).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.error_rate = if s.requests == 0 {
            0.0
        } else {
            s.errors.total as f64 / s.requests as f64
        };
        self.snap = s.clone();
    }

    /// Applies one key; `None` when the key means nothing here.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return Some(self.stop()),
            KeyCode::Char('q') => return Some(self.stop()),
            _ => {}
        }
        if self.mode == Mode::Help {
            return match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter => {
                    self.mode = Mode::Normal;
                    Some(Action::Redraw)
                }
                _ => None,
            };
        }
        let last = self.objects.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Tab => self.view = self.view.next(),
            KeyCode::BackTab => self.view = self.view.prev(),
            KeyCode::Char(c @ '1'..='4') => {
                self.view = View::ALL[usize::from(c as u8 - b'1')];
            }
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                objects::sort(&mut self.objects, self.sort);
            }
            _ => return None,
        }
        Some(Action::Redraw)
    }

    fn stop(&mut self) -> Action {
        self.stopping = true;
        Action::Stop
    }
}
