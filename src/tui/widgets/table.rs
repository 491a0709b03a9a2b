//! The Objects view: every object in a scrollable, sortable table (req/s now, average, peak,
//! share of the ceiling, service ms per turn, queue depth, 503s, errors, p99, live, sockets) with the selected row
//! highlighted. Shows rows in the order `App` keeps them; never sorts or filters.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::objects::ObjectRow;
use crate::tui::widgets::bars::load_color;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| v.to_string())
}

fn row(r: &ObjectRow) -> Row<'static> {
    let color = load_color(r.ceiling_pct);
    let pct = r
        .ceiling_pct
        .map_or_else(|| "–".to_string(), |p| format!("{p:.0}%"));
    Row::new(vec![
        Cell::from(r.name.clone()),
        Cell::from(Line::from(format!("{:.0}", r.rps)).right_aligned()).fg(color),
        Cell::from(Line::from(format!("{:.0}", r.avg_rps)).right_aligned()),
        Cell::from(Line::from(format!("{:.0}", r.peak_rps)).right_aligned()),
        Cell::from(Line::from(pct).right_aligned()).fg(color),
        Cell::from(
            Line::from(
                r.service_ms
                    .map_or_else(|| "–".into(), |ms| format!("{ms:.2}")),
            )
            .right_aligned(),
        ),
        Cell::from(Line::from(opt(r.queue_depth)).right_aligned()),
        Cell::from(Line::from(opt(r.overloaded)).right_aligned()),
        Cell::from(Line::from(r.errors.to_string()).right_aligned()),
        Cell::from(
            Line::from(r.p99_ms.map_or_else(|| "–".into(), |p| format!("{p:.2}"))).right_aligned(),
        ),
        Cell::from(match r.live {
            Some(true) => "live",
            Some(false) => "hib",
            None => "–",
        }),
        Cell::from(Line::from(opt(r.sockets_open)).right_aligned()),
    ])
}

/// Draws the full object list.
pub fn render(app: &App, f: &mut Frame, area: Rect) {
    let header = Row::new(
        [
            "object", "req/s", "avg", "peak", "ceil", "svc ms", "queue", "503s", "errors",
            "p99 ms", "state", "socks",
        ]
        .map(|h| Cell::from(Line::from(h).right_aligned())),
    )
    .style(Style::new().bold());
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    let n = app.objects.len();
    let title = format!(
        " All objects · {} · sorted by {} (s) · row {}/{} (j/k) ",
        n,
        app.sort.label(),
        if n == 0 { 0 } else { app.selected + 1 },
        n
    );
    let table = Table::new(app.objects.iter().map(row), widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().reversed())
        .highlight_symbol("▶")
        .block(Block::bordered().title(title));
    let mut state = TableState::default().with_selected((n > 0).then_some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}
