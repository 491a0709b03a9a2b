//! Charts as inline SVG, drawn with plotters' SVG backend: time series ([`time_chart`]) and
//! the latency percentile distribution on a log axis ([`distribution_chart`]). Post-processes
//! plotters' output for inline HTML5 (no `xmlns`, no fixed size) and appends invisible hover
//! targets with `<title>`s. Legends are HTML next to the chart. Never embeds fonts or links.

use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::html::page::esc;

/// Intrinsic chart size; the SVG scales to its column's width.
const SIZE: (u32, u32) = (720, 380);
const FONT: &str = "sans-serif";
/// Hover targets per series at most (long runs are thinned).
const MAX_HOVER: usize = 150;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// A time-series chart: x in seconds, y in `y_unit`.
#[derive(Debug, Clone)]
pub struct TimeChart {
    /// Short name used in errors and the SVG's `aria-label`.
    pub name: &'static str,
    pub y_desc: String,
    /// Unit shown in hover titles (e.g. `req/s`, `ms`).
    pub y_unit: &'static str,
    pub series: Vec<Series>,
    /// Horizontal reference lines (label, value, colour), e.g. the per-object ceiling.
    pub hlines: Vec<(String, f64, &'static str)>,
}

fn rgb(hex: &str) -> RGBColor {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    RGBColor((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

fn chart_err(name: &'static str) -> impl Fn(String) -> Error {
    move |reason| Error::Chart {
        chart: name,
        reason,
    }
}

/// Compact axis numbers: 0.25, 3, 1.5k, 20k, 1.2M.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.0}", v / 1e3)) + "k"
    } else if a >= 1e3 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.2}"))
    }
}

fn legend(series: &[Series], hlines: &[(String, f64, &'static str)]) -> String {
    let mut o = String::from("<ul class=\"legend\">");
    for s in series {
        let dash = if s.dashed { " dash" } else { "" };
        let bg = if s.dashed {
            format!("color:{}", s.color)
        } else {
            format!("background:{}", s.color)
        };
        o.push_str(&format!(
            "<li><span class=\"sw{dash}\" style=\"{bg}\"></span>{}</li>",
            esc(&s.label)
        ));
    }
    for (label, v, c) in hlines {
        o.push_str(&format!(
            "<li><span class=\"sw dash\" style=\"color:{c}\"></span>{} ({})</li>",
            esc(label),
            esc(&compact(*v))
        ));
    }
    o.push_str("</ul>");
    o
}

/// Makes plotters' standalone SVG fit inline HTML5 and appends hover targets.
fn finish_svg(svg: &str, aria: &str, hovers: &[(i32, i32, String)]) -> String {
    let body_start = svg.find('>').map_or(0, |i| i + 1);
    let end = svg.rfind("</svg>").unwrap_or(svg.len());
    let mut o = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
        SIZE.0,
        SIZE.1,
        esc(aria)
    );
    o.push_str(&svg[body_start..end]);
    o.push_str("<g class=\"hover\">");
    for (x, y, title) in hovers {
        o.push_str(&format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"6\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></circle>", esc(title)));
    }
    o.push_str("</g></svg>");
    o
}

fn y_max(series: &[Series], hlines: &[(String, f64, &'static str)]) -> f64 {
    let m = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(hlines.iter().map(|h| h.1))
        .fold(0.0, f64::max);
    if m > 0.0 {
        m * 1.1
    } else {
        1.0
    }
}

fn thin<T>(v: &[T]) -> impl Iterator<Item = &T> {
    let step = v.len().div_ceil(MAX_HOVER).max(1);
    v.iter().step_by(step)
}

/// A time-series chart as `<figure>` (SVG + legend).
pub fn time_chart(c: &TimeChart) -> Result<String> {
    let err = chart_err(c.name);
    let x_max = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max)
        .max(1.0);
    let y_top = y_max(&c.series, &c.hlines);
    let mut buf = String::new();
    let mut hovers = Vec::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = base(&root, 0.0..x_max, 0.0..y_top).map_err(|e| err(e.to_string()))?;
        let fmt_y = |v: &f64| compact(*v);
        let fmt_x = |v: &f64| compact(*v);
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc(c.y_desc.as_str())
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_labels(6)
            .y_labels(5)
            .label_style((FONT, 22).into_font().color(&RGBColor(60, 66, 80)))
            .axis_desc_style((FONT, 22).into_font().color(&RGBColor(40, 44, 56)))
            .light_line_style(RGBColor(238, 241, 245))
            .bold_line_style(RGBColor(222, 226, 232))
            .axis_style(RGBColor(150, 156, 168))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (label, v, color) in &c.hlines {
            let style = ShapeStyle::from(rgb(color)).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, *v), (x_max, *v)],
                    10,
                    6,
                    style,
                ))
                .map_err(|e| err(e.to_string()))?;
            hovers.push({
                let (x, y) = chart.backend_coord(&(x_max, *v));
                (x - 4, y, format!("{label}: {} {}", compact(*v), c.y_unit))
            });
        }
        for s in &c.series {
            let style = ShapeStyle::from(rgb(s.color)).stroke_width(if s.dashed { 2 } else { 3 });
            // A NaN point is a second without samples: the line breaks there (a gap, never a
            // drop to 0).
            for segment in s.points.split(|p| p.1.is_nan()).filter(|g| !g.is_empty()) {
                if s.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(segment.to_vec(), 8, 5, style))
                        .map_err(|e| err(e.to_string()))?;
                } else {
                    chart
                        .draw_series(LineSeries::new(segment.to_vec(), style))
                        .map_err(|e| err(e.to_string()))?;
                }
                if segment.len() <= 2 {
                    let dots = segment.iter().map(|p| Circle::new(*p, 4, style.filled()));
                    chart.draw_series(dots).map_err(|e| err(e.to_string()))?;
                }
            }
            for p in thin(&s.points).filter(|p| !p.1.is_nan()) {
                let (x, y) = chart.backend_coord(p);
                hovers.push((
                    x,
                    y,
                    format!("{} — {:.0} s: {} {}", s.label, p.0, compact(p.1), c.y_unit),
                ));
            }
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let svg = finish_svg(&buf, &c.y_desc, &hovers);
    Ok(format!(
        "<figure>{svg}{}</figure>",
        legend(&c.series, &c.hlines)
    ))
}

type Chart<'a, X, Y> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>;

fn base<'a, X: AsRangedCoord<Value = f64>>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    x: X,
    y: std::ops::Range<f64>,
) -> std::result::Result<
    Chart<'a, X::CoordDescType, RangedCoordf64>,
    DrawingAreaErrorKind<std::io::Error>,
>
where
    X::CoordDescType: Ranged<ValueType = f64>,
{
    ChartBuilder::on(root)
        .margin(14)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(78)
        .build_cartesian_2d(x, y)
}

/// x of a quantile on the distribution chart: 1 / (1 − q) ("number of nines").
pub fn nines(q: f64) -> f64 {
    1.0 / (1.0 - q).max(1e-7)
}

/// Percentile label of a distribution-chart x value: 1 → 0%, 100 → 99%, 1000 → 99.9%.
pub fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x.max(1.0));
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Latency (ms) by percentile, x on a log "nines" axis as HdrHistogram plots draw it.
/// Points are (nines(q), ms).
pub fn distribution_chart(series: &[Series]) -> Result<String> {
    let err = chart_err("latency distribution");
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1000.0, f64::max)
        * 1.2;
    let y_top = y_max(series, &[]);
    let mut buf = String::new();
    let mut hovers = Vec::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart =
            base(&root, (1.0..x_max).log_scale(), 0.0..y_top).map_err(|e| err(e.to_string()))?;
        let fmt_x = |v: &f64| percentile_label(*v);
        let fmt_y = |v: &f64| compact(*v);
        chart
            .configure_mesh()
            .x_desc("percentile (log scale)")
            .y_desc("latency (ms)")
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .x_labels(7)
            .y_labels(5)
            .label_style((FONT, 22).into_font().color(&RGBColor(60, 66, 80)))
            .axis_desc_style((FONT, 22).into_font().color(&RGBColor(40, 44, 56)))
            .light_line_style(RGBColor(238, 241, 245))
            .bold_line_style(RGBColor(222, 226, 232))
            .axis_style(RGBColor(150, 156, 168))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for s in series {
            let style = ShapeStyle::from(rgb(s.color)).stroke_width(3);
            chart
                .draw_series(LineSeries::new(s.points.clone(), style))
                .map_err(|e| err(e.to_string()))?;
            let marks = s.points.iter().map(|p| Circle::new(*p, 3, style.filled()));
            chart.draw_series(marks).map_err(|e| err(e.to_string()))?;
            for p in thin(&s.points) {
                let (x, y) = chart.backend_coord(p);
                hovers.push((
                    x,
                    y,
                    format!(
                        "{} — p{}: {} ms",
                        s.label,
                        percentile_label(p.0).trim_end_matches('%'),
                        compact(p.1)
                    ),
                ));
            }
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    let svg = finish_svg(&buf, "latency by percentile", &hovers);
    Ok(format!("<figure>{svg}{}</figure>", legend(series, &[])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(25_000.0), "25k");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(3.0), "3");
    }

    #[test]
    fn svg_is_inline_and_has_points() {
        let s = Series {
            label: "a<b".into(),
            color: "#0072B2",
            points: vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)],
            dashed: false,
        };
        let html = time_chart(&TimeChart {
            name: "t",
            y_desc: "req/s".into(),
            y_unit: "req/s",
            series: vec![s],
            hlines: vec![("ceiling".into(), 5.0, "#D55E00")],
        })
        .unwrap();
        assert!(!html.contains("xmlns"));
        assert!(!html.contains("a<b"));
        assert!(html.contains("<polyline"));
        assert!(html.contains("<title>"));
        assert_eq!(html.matches("<svg").count(), 1);
    }

    #[test]
    fn a_second_without_samples_is_a_gap_not_zero() {
        let chart = |points: Vec<(f64, f64)>| {
            time_chart(&TimeChart {
                name: "t",
                y_desc: "ms".into(),
                y_unit: "ms",
                series: vec![Series {
                    label: "p99".into(),
                    color: "#0072B2",
                    points,
                    dashed: false,
                }],
                hlines: vec![],
            })
            .unwrap()
        };
        let whole = chart(vec![
            (0.0, 5.0),
            (1.0, 6.0),
            (2.0, 5.0),
            (3.0, 6.0),
            (4.0, 5.0),
        ]);
        let gapped = chart(vec![
            (0.0, 5.0),
            (1.0, 6.0),
            (2.0, f64::NAN),
            (3.0, 6.0),
            (4.0, 5.0),
        ]);
        // Same axes and grid; the gapped line is drawn in two pieces.
        assert_eq!(
            gapped.matches("<polyline").count(),
            whole.matches("<polyline").count() + 1,
            "the line breaks at the gap"
        );
        assert!(!gapped.contains("NaN"));
        assert!(
            !gapped.contains("2 s: 0"),
            "no 0 ms point is drawn or hovered for the gap"
        );
    }
}
