//! Before/after: two sides (a run, or a `--repeat` group) set figure by figure with the
//! delta (B − A), the ratio (B / A) and a verdict against noise: a change is *beyond noise*
//! when |B − A| > 2·√(σA² + σB²), σ being each side's noise from [`crate::figures`]. Also the
//! `--fail-if` gates (`p99_ms > +10%`) a CI job exits 1 on. Pure: builds and prints values,
//! never reads the store or decides an exit code.

use serde::Serialize;

use crate::figures::{Better, Measured, Unit};

/// How far apart two sides must be, in combined standard deviations, to count as a change.
pub const NOISE_SIGMAS: f64 = 2.0;

/// The noise method in words (for `--help`, the README and the output).
pub const METHOD: &str = "a change is beyond noise when |B − A| > 2·√(σA² + σB²); σ of a single run is the standard deviation of the figure's per-second values over its whole seconds (for a run's extremes, p99.9 and max: at least half the range of their per-second values, since one stalled second sets them; for whole-run counts: σ of the per-second counts × √seconds, at least √count; for the hottest object's peak second: √count), σ of a --repeat group joins the standard deviation of its runs' figures with their own per-second σ: √(σ between² + mean σ within²)";

/// `dobench diff --help`'s closing text: what a side may be, and the noise method.
pub const HELP: &str = "Each side is a run id (or any unique prefix or suffix of one), `latest`, `latest~N`, a --label, a --repeat group id (read as mean ± σ of its runs) or a compare group id (paired with the other compare group strategy by strategy).\n\nNoise: a change is beyond noise when |B − A| > 2·√(σA² + σB²). σ of a single run is the standard deviation of the figure's per-second values over the run's whole seconds; for a run's extremes (p99.9 and max) at least half the range of their per-second values, since one stalled second sets them; for whole-run counts (overloaded, missed) it is the σ of the per-second counts × √(number of seconds) (at least √count), and for the hottest object's peak share of the ceiling √(peak second's served count) over the ceiling. σ of a --repeat group joins the standard deviation of its runs' figures (the ± σ shown) with their own per-second σ: √(σ between² + mean σ within²), since two or three runs say little about their spread alone. Within the band a line says \"no difference beyond noise\"; --fail-if trips only on a change beyond noise.";

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// What the user named (`latest`, a label, an id, a group).
    pub spec: String,
    /// The run ids behind it.
    pub runs: Vec<String>,
    /// Strategy and profile, for the header.
    pub profile: String,
    pub strategy: Option<String>,
    pub figures: Vec<Measured>,
}

/// One figure, side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub name: &'static str,
    pub unit: Unit,
    pub a: f64,
    pub b: f64,
    pub a_sigma: Option<f64>,
    pub b_sigma: Option<f64>,
    /// A group side's σ between its runs (shown as `mean ± σ`).
    #[serde(skip)]
    a_between: Option<f64>,
    #[serde(skip)]
    b_between: Option<f64>,
    /// B − A.
    pub delta: f64,
    /// B / A (`None` when A is 0).
    pub ratio: Option<f64>,
    /// The noise band 2·√(σA² + σB²) (`None` when a side has no noise estimate).
    pub noise: Option<f64>,
    /// |delta| > noise.
    pub beyond_noise: bool,
    /// "no difference beyond noise", "faster by 2.10 ms, beyond noise" ...
    pub verdict: String,
}

/// A whole diff.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    pub method: &'static str,
    pub figures: Vec<Line>,
}

fn words(m: &Measured, delta: f64) -> (&'static str, &'static str) {
    let up = delta > 0.0;
    match (m.unit, m.better) {
        (Unit::Ms, _) => (if up { "slower" } else { "faster" }, ""),
        (_, Better::Higher) => (
            if up { "higher" } else { "lower" },
            if up { " (better)" } else { " (worse)" },
        ),
        (_, Better::Lower) => (
            if up { "higher" } else { "lower" },
            if up { " (worse)" } else { " (better)" },
        ),
        (_, Better::Neither) => (if up { "more" } else { "fewer" }, ""),
    }
}

/// One figure's line.
pub fn line(a: &Measured, b: &Measured) -> Line {
    let delta = b.value - a.value;
    let ratio = (a.value != 0.0).then(|| b.value / a.value);
    let noise = match (a.sigma, b.sigma) {
        (Some(x), Some(y)) => Some(NOISE_SIGMAS * (x * x + y * y).sqrt()),
        _ => None,
    };
    let beyond = match noise {
        Some(n) => delta.abs() > n,
        None => delta != 0.0,
    };
    let verdict = if delta == 0.0 || !beyond {
        match noise {
            Some(n) if n > 0.0 => format!("no difference beyond noise (±{})", a.unit.show(n)),
            _ => "no difference".to_string(),
        }
    } else {
        let (verb, judge) = words(a, delta);
        let by = a.unit.show(delta.abs());
        match noise {
            Some(n) if n > 0.0 => {
                format!("{verb} by {by}, beyond noise (±{}){judge}", a.unit.show(n))
            }
            Some(_) => format!("{verb} by {by}{judge}"),
            None => format!("{verb} by {by} (no noise estimate: too few whole seconds){judge}"),
        }
    };
    Line {
        name: a.name,
        unit: a.unit,
        a: a.value,
        b: b.value,
        a_sigma: a.sigma,
        b_sigma: b.sigma,
        a_between: a.between,
        b_between: b.between,
        delta,
        ratio,
        noise,
        beyond_noise: beyond,
        verdict,
    }
}

/// Sets two sides figure by figure.
pub fn diff(a: Side, b: Side) -> Diff {
    let figures = a
        .figures
        .iter()
        .filter_map(|fa| {
            let fb = b.figures.iter().find(|f| f.name == fa.name)?;
            Some(line(fa, fb))
        })
        .collect();
    Diff {
        a,
        b,
        method: METHOD,
        figures,
    }
}

fn side_value(unit: Unit, v: f64, sigma: Option<f64>, runs: usize) -> String {
    match sigma {
        Some(s) if runs > 1 => format!("{} ± {} {}", unit.bare(v), unit.bare(s), unit.suffix()),
        _ => unit.show(v),
    }
}

fn side_header(s: &Side) -> String {
    let what = match s.runs.as_slice() {
        [one] => format!("run {one}"),
        many => format!("{} runs (mean ± σ)", many.len()),
    };
    format!(
        "{} — {what}; {} {}",
        s.spec,
        s.profile,
        s.strategy.as_deref().unwrap_or("-")
    )
}

/// The diff as printed.
pub fn text(d: &Diff) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "A  {}\nB  {}\n",
        side_header(&d.a),
        side_header(&d.b)
    ));
    o.push_str(&format!(
        "{:<24} {:>22} {:>22} {:>14} {:>8}  verdict\n",
        "figure", "A", "B", "B − A", "B / A"
    ));
    for l in &d.figures {
        let sign = if l.delta > 0.0 {
            "+"
        } else if l.delta < 0.0 {
            "−"
        } else {
            ""
        };
        o.push_str(&format!(
            "{:<24} {:>22} {:>22} {:>14} {:>8}  {}\n",
            l.name,
            side_value(l.unit, l.a, l.a_between, d.a.runs.len()),
            side_value(l.unit, l.b, l.b_between, d.b.runs.len()),
            format!("{sign}{}", l.unit.show(l.delta.abs())),
            l.ratio.map_or("-".into(), |r| format!("×{r:.2}")),
            l.verdict
        ));
    }
    o.push_str(&format!("noise: {}\n", d.method));
    o
}

/// A `--fail-if` gate: `METRIC > +10%` (relative to A), `METRIC > +2` (absolute, in the
/// figure's own unit: ms, req/s, a fraction for `error_rate`), or with `<` for a fall.
#[derive(Debug, Clone, PartialEq)]
pub struct FailIf {
    pub expr: String,
    pub metric: String,
    /// True for `>` (trips on a rise past the bound), false for `<` (a fall past it).
    pub rise: bool,
    pub bound: f64,
    /// The bound is a percentage of A.
    pub relative: bool,
}

/// Parses a `--fail-if` expression; the error names what is wrong.
pub fn parse_fail_if(expr: &str) -> Result<FailIf, String> {
    let e = expr.trim();
    let bad = |why: String| {
        format!("--fail-if {e:?}: {why} (write e.g. \"p99_ms > +10%\" or \"achieved_rps < -5%\")")
    };
    let (metric, rise, rest) = if let Some((m, r)) = e.split_once('>') {
        (m, true, r)
    } else if let Some((m, r)) = e.split_once('<') {
        (m, false, r)
    } else {
        return Err(bad("no > or <".into()));
    };
    let metric = metric.trim();
    let fig = crate::figures::figure(metric).ok_or_else(|| {
        let names: Vec<&str> = crate::figures::FIGURES.iter().map(|f| f.name).collect();
        bad(format!(
            "unknown figure {metric:?}; known: {}",
            names.join(", ")
        ))
    })?;
    let v = rest.trim().trim_start_matches('=').trim();
    let (num, relative) = match v.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (
            v.strip_suffix(fig.unit.suffix())
                .filter(|_| !fig.unit.suffix().is_empty() && fig.unit != Unit::Ratio)
                .unwrap_or(v)
                .trim(),
            false,
        ),
    };
    let bound: f64 = num
        .parse()
        .ok()
        .filter(|b: &f64| b.is_finite())
        .ok_or_else(|| bad(format!("{num:?} is not a number")))?;
    Ok(FailIf {
        expr: e.to_string(),
        metric: metric.to_string(),
        rise,
        bound,
        relative,
    })
}

/// Whether a gate trips on `d`: the change passes the bound *and* is beyond noise. Returns
/// (tripped, what was seen).
pub fn check(f: &FailIf, d: &Diff) -> (bool, String) {
    let Some(l) = d.figures.iter().find(|l| l.name == f.metric) else {
        return (false, format!("{} not measured", f.metric));
    };
    let change = if f.relative {
        if l.a == 0.0 {
            if l.delta == 0.0 {
                0.0
            } else {
                f64::INFINITY.copysign(l.delta)
            }
        } else {
            l.delta / l.a * 100.0
        }
    } else {
        l.delta
    };
    let past = if f.rise {
        change > f.bound
    } else {
        change < f.bound
    };
    let seen = if f.relative {
        format!("{change:+.1} %")
    } else {
        format!("{change:+}")
    };
    let tripped = past && l.beyond_noise;
    let why = match (past, l.beyond_noise) {
        (true, true) => format!("{seen}, beyond noise"),
        (true, false) => format!("{seen}, but within noise"),
        _ => seen,
    };
    (tripped, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &'static str, unit: Unit, better: Better, value: f64, sigma: f64) -> Measured {
        Measured {
            name,
            unit,
            better,
            value,
            sigma: Some(sigma),
            runs: 1,
            between: None,
            min: value,
            max: value,
        }
    }

    #[test]
    fn within_noise_is_no_difference_and_past_it_is_named() {
        let a = m("p99_ms", Unit::Ms, Better::Lower, 10.0, 3.0);
        let b = m("p99_ms", Unit::Ms, Better::Lower, 14.0, 4.0);
        // band = 2·√(9 + 16) = 10 > 4
        let l = line(&a, &b);
        assert_eq!(l.noise, Some(10.0));
        assert!(!l.beyond_noise);
        assert_eq!(l.verdict, "no difference beyond noise (±10.00 ms)");
        let b = m("p99_ms", Unit::Ms, Better::Lower, 2.0, 0.0);
        let l = line(&a, &b);
        // band = 2·3 = 6 < 8
        assert!(l.beyond_noise);
        assert_eq!(l.verdict, "faster by 8.00 ms, beyond noise (±6.00 ms)");
        assert_eq!(l.ratio, Some(0.2));
        let up = line(
            &m("achieved_rps", Unit::PerSecond, Better::Higher, 600.0, 10.0),
            &m(
                "achieved_rps",
                Unit::PerSecond,
                Better::Higher,
                1000.0,
                10.0,
            ),
        );
        assert_eq!(
            up.verdict,
            "higher by 400.0 req/s, beyond noise (±28.3 req/s) (better)"
        );
    }

    #[test]
    fn fail_if_parses_and_trips_only_beyond_noise() {
        let f = parse_fail_if("p99_ms > +10%").unwrap();
        assert!(f.rise && f.relative && f.bound == 10.0 && f.metric == "p99_ms");
        let g = parse_fail_if("achieved_rps < -5%").unwrap();
        assert!(!g.rise && g.bound == -5.0);
        assert_eq!(parse_fail_if("p99_ms > 2ms").unwrap().bound, 2.0);
        for bad in ["p99 > 10%", "p99_ms = 3", "p99_ms > fast", "> 3"] {
            assert!(parse_fail_if(bad).is_err(), "{bad}");
        }
        let side = |v: f64, s: f64| Side {
            spec: "x".into(),
            runs: vec!["r".into()],
            profile: "p".into(),
            strategy: None,
            figures: vec![m("p99_ms", Unit::Ms, Better::Lower, v, s)],
        };
        let d = diff(side(10.0, 0.1), side(12.0, 0.1));
        assert_eq!(check(&f, &d), (true, "+20.0 %, beyond noise".into()));
        let noisy = diff(side(10.0, 5.0), side(12.0, 5.0));
        assert_eq!(
            check(&f, &noisy),
            (false, "+20.0 %, but within noise".into())
        );
        assert!(!check(&g, &d).0);
        assert!(text(&d).contains("slower by 2.00 ms, beyond noise"));
    }
}
