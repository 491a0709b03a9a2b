//! Text panels: errors by kind and missed sends; WebSocket hibernation and duration
//! accounting (sockets, objects in memory vs hibernated, GB-s billed vs avoided, savings in
//! money and %); alarms; and a compact mix of them for small terminals. Formats what
//! `App::update` derived; never computes figures itself.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::render::count_span;

fn kv(key: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<18}"), Style::new().dim()),
        Span::styled(value, Style::new().bold()),
    ])
}

fn error_lines(app: &App) -> Vec<Line<'static>> {
    let s = &app.snap;
    let mut lines = vec![Line::from(vec![
        Span::raw("errors "),
        count_span(s.errors.total, Color::Red),
        Span::raw(format!(
            " ({:.2}%) · {}/s now",
            app.error_rate * 100.0,
            s.errors_last_s
        )),
    ])];
    for (kind, n) in &app.errors {
        lines.push(Line::from(vec![
            Span::raw(format!("  {kind:<17}")),
            Span::styled(n.to_string(), Style::new().red()),
        ]));
    }
    lines.push(Line::from(vec![
        Span::raw("missed sends "),
        count_span(s.missed, Color::Yellow),
    ]));
    lines
}

/// Errors by kind and missed sends.
pub fn errors(app: &App) -> Paragraph<'static> {
    Paragraph::new(error_lines(app)).block(Block::bordered().title(" Errors "))
}

fn savings_line(h: &crate::tui::app::HibernationView) -> Line<'static> {
    Line::from(vec![
        Span::raw("saved "),
        Span::styled(format!("{:.1}%", h.saved_pct), Style::new().green().bold()),
        Span::raw(" · "),
        Span::styled(format!("${:.6}", h.usd_avoided), Style::new().green()),
        Span::raw(format!(" · {:.3} GB-s avoided", h.gb_s_avoided)),
    ])
}

/// Hibernation and duration accounting (`detailed`: one figure a line with explanations).
pub fn hibernation(app: &App, detailed: bool) -> Paragraph<'static> {
    let block = Block::bordered().title(" Hibernation & duration ");
    let Some(h) = &app.hibernation else {
        return Paragraph::new("No target stats: hibernation figures come from the reference runtime's /_dobench/stats.")
            .style(Style::new().dim())
            .wrap(Wrap { trim: true })
            .block(block);
    };
    let lines = if detailed {
        vec![
            kv(
                "sockets",
                format!(
                    "{} open · {} hibernated",
                    h.sockets_open, h.sockets_hibernated
                ),
            ),
            kv(
                "objects",
                format!(
                    "{} in memory · {} hibernated",
                    h.objects_live, h.objects_hibernated
                ),
            ),
            kv(
                "constructions",
                format!("{} ({} hibernations)", h.constructions, h.hibernations),
            ),
            kv(
                "duration billed",
                format!("{:.3} GB-s  ${:.6}", h.gb_s_billed, h.usd_billed),
            ),
            kv(
                "duration avoided",
                format!("{:.3} GB-s  ${:.6}", h.gb_s_avoided, h.usd_avoided),
            ),
            savings_line(h),
            Line::styled(
                "avoided = what a non-hibernating object would have been billed for",
                Style::new().dim(),
            ),
        ]
    } else {
        vec![
            Line::raw(format!(
                "sockets {} open · {} hibernated",
                h.sockets_open, h.sockets_hibernated
            )),
            Line::raw(format!(
                "objects {} live · {} hib · {} constructed",
                h.objects_live, h.objects_hibernated, h.constructions
            )),
            Line::raw(format!(
                "GB-s billed {:.3} · avoided {:.3}",
                h.gb_s_billed, h.gb_s_avoided
            )),
            savings_line(h),
        ]
    };
    Paragraph::new(lines).block(block)
}

/// Alarm counters.
pub fn alarms(app: &App) -> Paragraph<'static> {
    let block = Block::bordered().title(" Alarms ");
    let Some(a) = &app.alarms else {
        return Paragraph::new("No alarms in this workload.")
            .style(Style::new().dim())
            .block(block);
    };
    let lag = a
        .lag_p99_ms
        .map_or_else(|| "at end of run".to_string(), |l| format!("{l:.1} ms"));
    Paragraph::new(vec![
        kv("scheduled", a.set.to_string()),
        kv("pending", a.pending.to_string()),
        kv("fired", a.fired.to_string()),
        Line::from(vec![
            Span::styled(format!("{:<18}", "retried"), Style::new().dim()),
            count_span(a.retried, Color::Yellow),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<18}", "given up"), Style::new().dim()),
            count_span(a.given_up, Color::Red),
        ]),
        kv("lag p99", lag),
    ])
    .block(block)
}

/// Errors, savings and alarms in a few lines (80×24).
pub fn compact(app: &App) -> Paragraph<'static> {
    let s = &app.snap;
    let mut lines = vec![Line::from(vec![
        Span::raw("errors "),
        count_span(s.errors.total, Color::Red),
        Span::raw(" · 503 "),
        count_span(s.errors.overloaded, Color::Red),
        Span::raw(" · missed "),
        count_span(s.missed, Color::Yellow),
    ])];
    if let Some((kind, n)) = app.errors.first() {
        lines.push(Line::styled(
            format!("top error: {kind} {n}"),
            Style::new().red(),
        ));
    }
    match &app.hibernation {
        Some(h) => {
            lines.push(Line::raw(format!(
                "sockets {} ({} hib) · objs {} live {} hib",
                h.sockets_open, h.sockets_hibernated, h.objects_live, h.objects_hibernated
            )));
            lines.push(savings_line(h));
        }
        None => lines.push(Line::styled("no target stats", Style::new().dim())),
    }
    if let Some(a) = &app.alarms {
        lines.push(Line::raw(format!(
            "alarms {} set · {} fired · {} retried",
            a.set, a.fired, a.retried
        )));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(" Errors · Hibernation "))
}
