//! The headline figures a run is compared by (`diff`, `run --repeat`), each with one name,
//! one unit and one direction, and how much each moves by chance: its *noise*. For one run
//! the noise of a figure is the standard deviation of its per-second values over the run's
//! whole seconds (a whole-run count's is the σ of its per-second counts × √seconds, at least
//! √count; the hottest object's peak share of the ceiling is its peak second's served
//! count, so √count over the ceiling); for a `--repeat` group the figure is the mean of its
//! runs (hyperfine's mean ± σ) and the noise joins their spread with their own per-second
//! noise, √(σ between runs² + mean σ within²). Pure:
//! reads stored runs, never the store or the terminal.

use dobench_loadgen::RunSummary;
use serde::Serialize;

use crate::model::{SecondRow, StoredRun};

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
    /// Neither (a count of objects: a design choice, not a result).
    Neither,
}

/// A figure's unit, which also says how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    #[serde(rename = "ms")]
    Ms,
    #[serde(rename = "req/s")]
    PerSecond,
    /// A fraction 0–1, shown as a percentage.
    #[serde(rename = "ratio")]
    Ratio,
    /// A percentage 0–100.
    #[serde(rename = "%")]
    Percent,
    #[serde(rename = "count")]
    Count,
}

impl Unit {
    /// `v` as a person reads it, with its unit.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{v:.2} ms"),
            Unit::PerSecond => format!("{v:.1} req/s"),
            Unit::Ratio => format!("{:.3} %", v * 100.0),
            Unit::Percent => format!("{v:.1} %"),
            Unit::Count => format!("{v:.0}"),
        }
    }

    /// A number without its unit (for `mean ± σ`).
    pub fn bare(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{v:.2}"),
            Unit::PerSecond => format!("{v:.1}"),
            Unit::Ratio => format!("{:.3}", v * 100.0),
            Unit::Percent => format!("{v:.1}"),
            Unit::Count => format!("{v:.0}"),
        }
    }

    /// The unit's suffix as shown (`ms`, `req/s`, `%`, empty for a count).
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::PerSecond => "req/s",
            Unit::Ratio | Unit::Percent => "%",
            Unit::Count => "",
        }
    }
}

/// How a figure's per-run noise is found.
#[derive(Debug, Clone, Copy)]
enum Noise {
    /// σ of the figure's per-second values.
    PerSecond(fn(&StoredRun, &SecondRow) -> Option<f64>),
    /// A run's extreme (p99.9, max): the top of its per-second values, so one stalled second
    /// sets it and a rerun may land anywhere in their range. σ is half that range (at least
    /// their standard deviation).
    PerSecondRange(fn(&StoredRun, &SecondRow) -> Option<f64>),
    /// A whole-run count: σ of its per-second counts × √(whole seconds), the spread of a sum
    /// of seconds (refusals come in bursts, far wider than Poisson's √count, the floor).
    PerSecondCount(fn(&SecondRow) -> u64),
    /// Worked out from the run as a whole.
    Of(fn(&StoredRun) -> Option<f64>),
    /// Exact: no chance in it.
    Exact,
}

/// One figure's definition.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// Its name, as thresholds and `--fail-if` write it.
    pub name: &'static str,
    pub unit: Unit,
    pub better: Better,
    of: fn(&RunSummary) -> f64,
    noise: Noise,
}

fn whole(s: &SecondRow) -> bool {
    s.span_s >= 0.999
}

fn latency(s: &SecondRow, v: f64) -> Option<f64> {
    (whole(s) && s.requests > 0).then_some(v)
}

fn error_rate(s: &RunSummary) -> f64 {
    s.errors.total as f64 / s.requests.max(1) as f64
}

/// The noise of the hottest object's peak share of the ceiling: its peak second's served
/// count is a count, so √count (Poisson) over the ceiling.
fn hottest_peak_sigma(r: &StoredRun) -> Option<f64> {
    let ceiling = r.summary.ceiling_rps.filter(|c| *c > 0.0)?;
    let hot = r
        .summary
        .objects
        .as_ref()?
        .iter()
        .max_by(|a, b| a.ceiling_pct.total_cmp(&b.ceiling_pct))?;
    Some(hot.peak_served_rps.max(0.0).sqrt() / ceiling * 100.0)
}

/// The figures, in the order they are shown.
pub const FIGURES: &[Figure] = &[
    Figure {
        name: "achieved_rps",
        unit: Unit::PerSecond,
        better: Better::Higher,
        of: |s| s.achieved_rps,
        noise: Noise::PerSecond(|_, s| whole(s).then_some(s.achieved_rps)),
    },
    Figure {
        name: "p50_ms",
        unit: Unit::Ms,
        better: Better::Lower,
        of: |s| s.latency_ms.p50,
        noise: Noise::PerSecond(|_, s| latency(s, s.latency_ms.p50)),
    },
    Figure {
        name: "p90_ms",
        unit: Unit::Ms,
        better: Better::Lower,
        of: |s| s.latency_ms.p90,
        noise: Noise::PerSecond(|_, s| latency(s, s.latency_ms.p90)),
    },
    Figure {
        name: "p99_ms",
        unit: Unit::Ms,
        better: Better::Lower,
        of: |s| s.latency_ms.p99,
        noise: Noise::PerSecond(|_, s| latency(s, s.latency_ms.p99)),
    },
    Figure {
        name: "p999_ms",
        unit: Unit::Ms,
        better: Better::Lower,
        of: |s| s.latency_ms.p999,
        noise: Noise::PerSecondRange(|_, s| latency(s, s.latency_ms.p999)),
    },
    Figure {
        name: "max_ms",
        unit: Unit::Ms,
        better: Better::Lower,
        of: |s| s.latency_ms.max,
        noise: Noise::PerSecondRange(|_, s| latency(s, s.latency_ms.max)),
    },
    Figure {
        name: "error_rate",
        unit: Unit::Ratio,
        better: Better::Lower,
        of: error_rate,
        noise: Noise::PerSecond(|_, s| {
            (whole(s) && s.requests > 0).then(|| s.errors as f64 / s.requests as f64)
        }),
    },
    Figure {
        name: "overloaded",
        unit: Unit::Count,
        better: Better::Lower,
        of: |s| s.errors.overloaded as f64,
        noise: Noise::PerSecondCount(|s| s.overloaded),
    },
    Figure {
        name: "missed",
        unit: Unit::Count,
        better: Better::Lower,
        of: |s| s.missed as f64,
        noise: Noise::PerSecondCount(|s| s.missed),
    },
    Figure {
        name: "max_object_ceiling_pct",
        unit: Unit::Percent,
        better: Better::Lower,
        of: |s| s.hottest_ceiling_pct(),
        noise: Noise::Of(hottest_peak_sigma),
    },
    Figure {
        name: "objects",
        unit: Unit::Count,
        better: Better::Neither,
        of: |s| s.objects_used() as f64,
        noise: Noise::Exact,
    },
];

/// The figure named `name`.
pub fn figure(name: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.name == name)
}

/// One figure of one side of a comparison: a run's value, or a group's mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub name: &'static str,
    pub unit: Unit,
    pub better: Better,
    /// The run's figure, or the mean over a group's runs.
    pub value: f64,
    /// Standard deviation that measures its noise (see the module doc); `None` when the run
    /// stored too few whole seconds to say.
    pub sigma: Option<f64>,
    /// Runs behind it (1, or a group's size).
    pub runs: usize,
    /// A group's standard deviation between its runs (the `± σ` shown); `None` for one run.
    pub between: Option<f64>,
    /// A group's lowest and highest run (the value itself for one run).
    pub min: f64,
    pub max: f64,
}

/// Sample standard deviation (n − 1); `None` below two values.
pub fn std_dev(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    Some(var.sqrt())
}

/// The figures of one run, each with its per-second (or Poisson) noise.
pub fn of_run(r: &StoredRun) -> Vec<Measured> {
    FIGURES
        .iter()
        .map(|f| {
            let value = (f.of)(&r.summary);
            let sigma = match f.noise {
                Noise::PerSecond(pick) => {
                    let per: Vec<f64> = r.seconds.iter().filter_map(|s| pick(r, s)).collect();
                    std_dev(&per)
                }
                Noise::PerSecondRange(pick) => {
                    let per: Vec<f64> = r.seconds.iter().filter_map(|s| pick(r, s)).collect();
                    let (lo, hi) = per
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                            (l.min(*v), h.max(*v))
                        });
                    std_dev(&per).map(|sd| sd.max((hi - lo) / 2.0))
                }
                Noise::PerSecondCount(pick) => {
                    let per: Vec<f64> = r
                        .seconds
                        .iter()
                        .filter(|s| whole(s))
                        .map(|s| pick(s) as f64)
                        .collect();
                    let spread = std_dev(&per).map_or(0.0, |sd| sd * (per.len() as f64).sqrt());
                    Some(spread.max(value.max(0.0).sqrt()))
                }
                Noise::Of(f) => f(r).or(Some(0.0)),
                Noise::Exact => Some(0.0),
            };
            Measured {
                name: f.name,
                unit: f.unit,
                better: f.better,
                value,
                sigma,
                runs: 1,
                between: None,
                min: value,
                max: value,
            }
        })
        .collect()
}

/// The figures of a `--repeat` group: each the mean over its runs, with its noise: the runs'
/// spread and their own per-second noise together, √(σ between runs² + mean σ within²) (two
/// or three runs say little about their spread alone; a stalled run's own seconds say more).
pub fn of_group(runs: &[StoredRun]) -> Vec<Measured> {
    if runs.len() == 1 {
        return of_run(&runs[0]);
    }
    let each: Vec<Vec<Measured>> = runs.iter().map(of_run).collect();
    FIGURES
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v: Vec<f64> = each.iter().map(|m| m[i].value).collect();
            let within: Vec<f64> = each.iter().filter_map(|m| m[i].sigma).collect();
            let within_sq = if within.is_empty() {
                0.0
            } else {
                within.iter().map(|s| s * s).sum::<f64>() / within.len() as f64
            };
            Measured {
                name: f.name,
                unit: f.unit,
                better: f.better,
                value: v.iter().sum::<f64>() / v.len().max(1) as f64,
                sigma: std_dev(&v).map(|between| (between * between + within_sq).sqrt()),
                runs: v.len(),
                between: std_dev(&v),
                min: v.iter().copied().fold(f64::INFINITY, f64::min),
                max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            }
        })
        .collect()
}

/// `p99_ms   3.10 ± 0.20 ms   [2.90 … 3.40]` lines of a repeat group, hyperfine style.
pub fn group_text(figures: &[Measured]) -> String {
    let mut o = String::new();
    for m in figures {
        let sd = m
            .between
            .map_or_else(|| "n/a".to_string(), |s| m.unit.bare(s));
        o.push_str(&format!(
            "  {:<24} {:>10} ± {:<8} {:<5}  [{} … {}]\n",
            m.name,
            m.unit.bare(m.value),
            sd,
            m.unit.suffix(),
            m.unit.bare(m.min),
            m.unit.bare(m.max),
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_standard_deviation() {
        assert_eq!(std_dev(&[1.0]), None);
        let s = std_dev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        // Σ(x − 5)² = 32 over n − 1 = 7.
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn units_show_one_meaning_each() {
        assert_eq!(Unit::Ratio.show(0.0125), "1.250 %");
        assert_eq!(Unit::Ms.show(4.256), "4.26 ms");
        assert_eq!(Unit::PerSecond.show(999.96), "1000.0 req/s");
        assert!(figure("p99_ms").is_some() && figure("nope").is_none());
    }
}
