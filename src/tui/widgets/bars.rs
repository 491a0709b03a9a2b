//! The dashboard's centrepiece: the hottest objects as horizontal bars of req/s (last
//! second) with the per-object ceiling drawn across all of them as one vertical line, bars
//! coloured by load (< 70 %, 70–90 %, ≥ 90 % of the ceiling) and a count of objects near it.
//! Draws only what `App::update` computed; never sorts or computes rates.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::tui::app::App;

/// Width of the value column (`12345/s 123%`).
const VALUE_W: u16 = 13;
/// The character of the ceiling line.
pub const CEILING_MARK: &str = "│";

/// Colour of a bar at `pct` % of the ceiling (`None`: no ceiling known).
pub fn load_color(pct: Option<f64>) -> Color {
    match pct {
        None => Color::Cyan,
        Some(p) if p < 70.0 => Color::Green,
        Some(p) if p < 90.0 => Color::Yellow,
        Some(_) => Color::Red,
    }
}

/// Bars of the hottest objects with the ceiling line.
pub struct ObjectBars<'a> {
    pub app: &'a App,
}

impl Widget for ObjectBars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let total = app.objects.len();
        let ceiling = match app.ceiling {
            Some(c) => format!("ceiling {c:.0}/s"),
            None => "ceiling off".to_string(),
        };
        let title = Line::from(vec![
            Span::raw(" Hottest objects, req/s (last 1 s) · "),
            Span::styled(ceiling, Style::new().bold()),
            Span::raw(" "),
        ]);
        let status = Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format!("{} ≥90%", app.over_90),
                if app.over_90 > 0 {
                    Style::new().red().bold()
                } else {
                    Style::new().green()
                },
            ),
            Span::raw(" · "),
            Span::styled(format!("{} at 70–90%", app.over_70), Style::new().yellow()),
            Span::raw(format!(" · {total} objects ")),
        ]);
        let block = Block::bordered().title(title).title_bottom(status);
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 || inner.width < 20 {
            return;
        }
        if app.hot.is_empty() {
            Paragraph::new(
                "No per-object data yet: requests carry no object labels and the target \
                 reports no per-object stats.",
            )
            .style(Style::new().dim())
            .wrap(Wrap { trim: true })
            .render(inner, buf);
            return;
        }

        let longest = app.hot.iter().map(|r| r.name.chars().count()).max();
        let name_w = (longest.unwrap_or(4) as u16).clamp(4, (inner.width / 4).max(4));
        let bar_x = inner.x + name_w + 1;
        let bar_w = inner.width.saturating_sub(name_w + 1 + VALUE_W + 1);
        if bar_w < 5 {
            return;
        }
        let col = |rps: f64| -> u16 {
            let c = (rps / app.bar_max * f64::from(bar_w)).round();
            (c.max(0.0) as u16).min(bar_w)
        };
        let ceiling_col = app
            .ceiling
            .filter(|c| *c > 0.0)
            .map(|c| col(c).min(bar_w - 1));

        // Scale row: 0 … ceiling … max.
        let scale_y = inner.y;
        buf.set_string(bar_x, scale_y, "0", Style::new().dim());
        let max_label = format!("{:.0}", app.bar_max);
        let max_x = (bar_x + bar_w).saturating_sub(max_label.len() as u16);
        buf.set_string(max_x, scale_y, &max_label, Style::new().dim());
        if let (Some(cc), Some(c)) = (ceiling_col, app.ceiling) {
            let label = format!("{c:.0}┐");
            let lx = (bar_x + cc + 1).saturating_sub(label.chars().count() as u16);
            buf.set_string(lx.max(bar_x + 2), scale_y, &label, Style::new().bold());
        }

        for (i, row) in app
            .hot
            .iter()
            .take(usize::from(inner.height.saturating_sub(1)))
            .enumerate()
        {
            let y = inner.y + 1 + i as u16;
            let name: String = row.name.chars().take(usize::from(name_w)).collect();
            buf.set_string(inner.x, y, &name, Style::new());
            let color = load_color(row.ceiling_pct);
            let filled = col(row.rps);
            for x in 0..bar_w {
                let cell = &mut buf[(bar_x + x, y)];
                if x < filled {
                    cell.set_symbol("█").set_style(Style::new().fg(color));
                } else {
                    cell.set_symbol("·").set_style(Style::new().dim());
                }
            }
            if let Some(cc) = ceiling_col {
                let under = cc < filled;
                let style = if under {
                    Style::new().fg(Color::White).bg(color).bold()
                } else {
                    Style::new().fg(Color::White).bold()
                };
                buf[(bar_x + cc, y)]
                    .set_symbol(CEILING_MARK)
                    .set_style(style);
            }
            let value = match row.ceiling_pct {
                Some(p) => format!("{:>6.0}/s {:>3.0}%", row.rps, p),
                None => format!("{:>6.0}/s", row.rps),
            };
            buf.set_string(bar_x + bar_w + 1, y, &value, Style::new().fg(color));
        }
    }
}
