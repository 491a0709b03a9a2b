//! Draws the dashboard from an `App`: header (run, progress gauge, rates, thresholds), the
//! view tabs, the current view's body and the help overlay. Picks layouts by terminal size
//! (80×24 keeps the key figures; a large terminal gets charts beside the bars). Only reads
//! `App` and lays out: no locks, no I/O, no statistics (those are `App::update`'s).

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Mode, View};
use super::thresholds::Verdict;
use super::widgets::{bars::ObjectBars, charts, panels, table};

/// Draws one frame.
pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let [header, tabs, body] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    render_header(app, f, header);
    render_tabs(app, f, tabs);
    match app.view {
        View::Overview => render_overview(app, f, body),
        View::Objects => table::render(app, f, body),
        View::Latency => render_latency(app, f, body),
        View::Hibernation => render_hibernation(app, f, body),
    }
    if app.mode == Mode::Help {
        render_help(f, area);
    }
}

fn render_header(app: &App, f: &mut Frame, area: Rect) {
    let s = &app.snap;
    let i = &app.info;
    let [title, gauge, rates, verdicts] = Layout::vertical([Constraint::Length(1); 4]).areas(area);
    let mut head = vec![
        Span::styled(" dobench ", Style::new().bold().reversed()),
        Span::raw(" "),
        Span::styled(i.profile.as_str(), Style::new().bold()),
        Span::raw(" → "),
        Span::raw(i.target.as_str()),
        Span::raw("  strategy "),
        Span::styled(i.strategy.as_str(), Style::new().bold()),
    ];
    if !i.workload.is_empty() {
        head.push(Span::raw(format!("  workload {}", i.workload)));
    }
    if s.done {
        head.push(Span::styled("  DONE", Style::new().green().bold()));
    } else if app.stopping {
        head.push(Span::styled("  stopping…", Style::new().yellow().bold()));
    }
    f.render_widget(Paragraph::new(Line::from(head)), title);

    let label = format!(
        "{:.1} / {:.0} s  ({:.0} %)",
        s.elapsed_s,
        app.planned_s,
        app.progress * 100.0
    );
    f.render_widget(
        Gauge::default()
            .ratio(app.progress)
            .label(label)
            .gauge_style(Style::new().fg(Color::Blue).bg(Color::Black)),
        gauge,
    );

    let unit = s.rate_unit();
    let mut line = vec![
        Span::raw(" offered "),
        Span::styled(format!("{:.0} {unit}", s.offered_rps), Style::new().bold()),
        Span::raw("  achieved "),
        Span::styled(format!("{:.0} {unit}", s.achieved_rps), Style::new().bold()),
        Span::raw(" · now "),
        Span::styled(
            format!("{:.0} {unit}", s.achieved_rps_last_s),
            Style::new().bold(),
        ),
        Span::raw("  errors "),
        count_span(s.errors.total, Color::Red),
        Span::raw("  missed "),
        count_span(s.missed, Color::Yellow),
        Span::raw(format!("  in-flight {}  req {}", s.in_flight, s.requests)),
    ];
    if s.deliveries > 0 || s.offered_deliveries_per_s > 0.0 {
        // Fan-out: deliveries have their own rate, never mixed into the sends' one.
        line.push(Span::raw("  deliveries "));
        line.push(Span::styled(
            format!(
                "{:.0}/s of {:.0}/s offered",
                s.deliveries_per_s, s.offered_deliveries_per_s
            ),
            Style::new().bold(),
        ));
        line.push(Span::raw(format!(
            " · now {:.0}/s (p99 {:.1} ms)",
            s.deliveries_per_s_last_s, s.delivery_latency_ms.p99
        )));
    }
    if s.queued > 0 {
        // Sends that waited for a free connection: the target's pace, shown apart from
        // missed (the generator's) so neither reads as the other.
        line.push(Span::raw("  queued "));
        line.push(count_span(s.queued, Color::Yellow));
        line.push(Span::raw(format!(
            " (wait p99 {:.0} ms)",
            s.queue_wait_ms.p99
        )));
    }
    if s.generator_limited {
        // First, so a narrow terminal cannot cut it off: the numbers are dobench's limit.
        line.insert(
            0,
            Span::styled(
                " GENERATOR-LIMITED ",
                Style::new().fg(Color::Black).bg(Color::Yellow),
            ),
        );
    }
    f.render_widget(Paragraph::new(Line::from(line)), rates);

    let mut spans = vec![Span::raw(" thresholds ")];
    if app.thresholds.is_empty() {
        spans.push(Span::styled("none", Style::new().dim()));
    } else if app.failing > 0 {
        spans.push(Span::styled(
            format!("FAILING {}/{}: ", app.failing, app.thresholds.len()),
            Style::new().red().bold(),
        ));
    } else {
        spans.push(Span::styled("passing so far: ", Style::new().green()));
    }
    for t in &app.thresholds {
        let (mark, style) = match t.verdict {
            Verdict::Pass => ("✓", Style::new().green()),
            Verdict::Fail => ("✗", Style::new().red().bold()),
            Verdict::Pending => ("…", Style::new().dim()),
        };
        let actual = t
            .actual
            .map(|a| format!(" ({})", short(a)))
            .unwrap_or_default();
        spans.push(Span::styled(format!("{mark} {}{actual}  ", t.expr), style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), verdicts);
}

/// A count in `color` when non-zero, dim otherwise.
pub fn count_span(n: u64, color: Color) -> Span<'static> {
    if n == 0 {
        Span::styled("0", Style::new().dim())
    } else {
        Span::styled(n.to_string(), Style::new().fg(color).bold())
    }
}

/// A number in few characters (12345 → "12345", 0.00123 → "0.0012").
pub fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn render_tabs(app: &App, f: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (n, v) in View::ALL.iter().enumerate() {
        let text = format!(" {} {} ", n + 1, v.title());
        spans.push(if *v == app.view {
            Span::styled(text, Style::new().reversed().bold())
        } else {
            Span::styled(text, Style::new().dim())
        });
    }
    spans.push(Span::styled(
        "  tab view · j/k scroll · s sort · ? help · q stop",
        Style::new().dim(),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_overview(app: &App, f: &mut Frame, area: Rect) {
    let wide = area.width >= 120 && area.height >= 24;
    let bottom_h = if area.height >= 30 { 9 } else { 7 };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(bottom_h)]).areas(area);
    if wide {
        let [bars, charts_area] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        f.render_widget(ObjectBars { app }, bars);
        let [thr, lat] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(charts_area);
        f.render_widget(charts::throughput(app), thr);
        f.render_widget(charts::latency(app), lat);
        let [pct, errs, hib] = Layout::horizontal([
            Constraint::Percentage(40),
            Constraint::Percentage(25),
            Constraint::Percentage(35),
        ])
        .areas(bottom);
        f.render_widget(charts::percentiles(app), pct);
        f.render_widget(panels::errors(app), errs);
        f.render_widget(panels::hibernation(app, false), hib);
    } else {
        f.render_widget(ObjectBars { app }, top);
        let [pct, side] =
            Layout::horizontal([Constraint::Length(45), Constraint::Min(20)]).areas(bottom);
        f.render_widget(charts::percentiles(app), pct);
        f.render_widget(panels::compact(app), side);
    }
}

fn render_latency(app: &App, f: &mut Frame, area: Rect) {
    let ops_h = (app.ops.len() as u16 + 5).min(area.height / 2);
    let [charts_area, tables] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(ops_h)]).areas(area);
    let [lat, thr] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
        .areas(charts_area);
    f.render_widget(charts::latency(app), lat);
    f.render_widget(charts::throughput(app), thr);
    f.render_widget(charts::ops(app), tables);
}

fn render_hibernation(app: &App, f: &mut Frame, area: Rect) {
    let [top, bottom] = Layout::vertical([Constraint::Min(8), Constraint::Length(8)]).areas(area);
    if app.alarms.is_some() {
        let [h, a] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        f.render_widget(panels::hibernation(app, true), h);
        f.render_widget(panels::alarms(app), a);
    } else {
        f.render_widget(panels::hibernation(app, true), top);
    }
    let [errs, pct] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    f.render_widget(panels::errors(app), errs);
    f.render_widget(charts::percentiles(app), pct);
}

const HELP: &[(&str, &str)] = &[
    (
        "q, Ctrl-C",
        "stop the run early (it is still saved and summarized)",
    ),
    ("tab, shift-tab, 1-4", "switch view"),
    ("j/k, ↓/↑", "scroll the object list"),
    ("PgDn/PgUp, g/G", "scroll by 10, to the top / bottom"),
    ("s", "change the object list's sort"),
    ("?, Esc", "show / hide this help"),
];

fn render_help(f: &mut Frame, area: Rect) {
    let [v] = Layout::vertical([Constraint::Length(HELP.len() as u16 + 6)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Max(72)])
        .flex(Flex::Center)
        .areas(v);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>20}  "), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Bars: req/s last second; │ = the per-object ceiling; green < 70 %, yellow 70–90 %, red > 90 %.",
        Style::new().dim(),
    ));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(" help ")
                .add_modifier(Modifier::BOLD),
        ),
        popup,
    );
}
