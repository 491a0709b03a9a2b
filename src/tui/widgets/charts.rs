//! Time-series charts (throughput offered vs achieved; latency p50/p99/p99.9 per second) and
//! the percentile tables (whole run vs last second; per operation). Builds widgets from the
//! series and rows `App::update` keeps; never computes a percentile or a rate.

use ratatui::layout::Constraint;
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Cell, Chart, Dataset, GraphType, Row, Table};

use dobench_loadgen::Percentiles;

use crate::tui::app::App;
use crate::tui::render::short;

fn x_axis(bounds: [f64; 2]) -> Axis<'static> {
    Axis::default()
        .bounds(bounds)
        .labels([format!("{:.0}s", bounds[0]), format!("{:.0}s", bounds[1])])
        .style(Style::new().dim())
}

fn y_axis(max: f64, unit: &str) -> Axis<'static> {
    Axis::default()
        .bounds([0.0, max])
        .labels([
            "0".to_string(),
            format!("{}{unit}", short(max / 2.0)),
            format!("{}{unit}", short(max)),
        ])
        .style(Style::new().dim())
}

fn hide_legend_when_small<'a>(c: Chart<'a>) -> Chart<'a> {
    c.hidden_legend_constraints((Constraint::Min(30), Constraint::Min(6)))
}

/// Offered vs achieved req/s, one point per second.
pub fn throughput(app: &App) -> Chart<'_> {
    let data = vec![
        Dataset::default()
            .name("offered")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(app.offered.points()),
        Dataset::default()
            .name("achieved")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(app.achieved.points()),
    ];
    let title = Line::from(format!(
        " Throughput {} · now {:.0} ",
        app.snap.rate_unit(),
        app.snap.achieved_rps_last_s
    ));
    hide_legend_when_small(
        Chart::new(data)
            .block(Block::bordered().title(title))
            .x_axis(x_axis(app.achieved.x_bounds()))
            .y_axis(y_axis(app.rps_max, "")),
    )
}

/// p50, p99, p99.9 latency per second (from intended send).
pub fn latency(app: &App) -> Chart<'_> {
    let line = |name: &'static str, color: Color, points| {
        Dataset::default()
            .name(name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(color))
            .data(points)
    };
    let data = vec![
        line("p99.9", Color::Red, app.p999.points()),
        line("p99", Color::Yellow, app.p99.points()),
        line("p50", Color::Green, app.p50.points()),
    ];
    hide_legend_when_small(
        Chart::new(data)
            .block(Block::bordered().title(" Latency ms (per second) "))
            .x_axis(x_axis(app.p50.x_bounds()))
            .y_axis(y_axis(app.latency_max, "")),
    )
}

fn pct_cells(p: &Percentiles) -> [Cell<'static>; 5] {
    [p.p50, p.p90, p.p99, p.p999, p.max].map(|v| Cell::from(format!("{v:>7.2}")))
}

const PCT_WIDTHS: [Constraint; 6] = [
    Constraint::Min(8),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
];

fn pct_header(first: &'static str) -> Row<'static> {
    Row::new(["", "p50", "p90", "p99", "p99.9", "max"].map(|h| {
        let h = if h.is_empty() { first } else { h };
        Cell::from(format!("{h:>7}"))
    }))
    .style(Style::new().bold())
}

/// Latency percentiles now (last second) and over the whole run, in ms.
pub fn percentiles(app: &App) -> Table<'_> {
    let s = &app.snap;
    let row = |label: &'static str, p: &Percentiles| {
        let mut cells = vec![Cell::from(label)];
        cells.extend(pct_cells(p));
        Row::new(cells)
    };
    Table::new(
        vec![
            row("now 1s", &s.latency_ms_last_s),
            row("total", &s.latency_ms),
            row("service", &s.service_ms).style(Style::new().dim()),
        ],
        PCT_WIDTHS,
    )
    .header(pct_header("ms"))
    .column_spacing(0)
    .block(Block::bordered().title(" Latency ms (from intended send) "))
}

/// Per-operation latency and counts.
pub fn ops(app: &App) -> Table<'_> {
    let rows = app.ops.iter().map(|o| {
        let mut cells = vec![Cell::from(o.name.clone())];
        cells.extend(pct_cells(&o.latency_ms));
        cells.push(Cell::from(format!("{:>9}", o.requests)));
        cells.push(if o.errors > 0 {
            Cell::from(format!("{:>7}", o.errors)).red()
        } else {
            Cell::from(format!("{:>7}", o.errors))
        });
        Row::new(cells)
    });
    let mut widths = PCT_WIDTHS.to_vec();
    widths.push(Constraint::Length(9));
    widths.push(Constraint::Length(7));
    let header = Row::new(
        [
            "op", "p50", "p90", "p99", "p99.9", "max", "requests", "errors",
        ]
        .map(|h| Cell::from(format!("{h:>7}"))),
    )
    .style(Style::new().bold());
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(Block::bordered().title(" Operations (latency ms, whole run) "))
}
