//! Threshold expressions of a profile (`p99_ms < 50`, `error_rate < 0.1%`,
//! `max_object_rps < 900`, `max_object_ceiling_pct < 90%`, `correctness = true`) and their
//! evaluation against a finished `RunSummary`. Parsing happens when the profile is loaded, so
//! a typo fails before any load is sent. Pure: never measures anything itself.
//!
//! Every metric has one [`Unit`], and a value's suffix must fit it: `%` on a *ratio* metric
//! (`error_rate`, a fraction 0–1) means percent of one (`0.1%` = 0.001); on a *percentage*
//! metric (`*_pct`, already 0–100) it is the same number (`90%` = 90); `ms` fits only
//! milliseconds. A suffix that does not fit its metric is a profile error naming both.

use std::fmt;

use dobench_loadgen::summary::{ThresholdResult, Thresholds};
use dobench_loadgen::RunSummary;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Metrics a threshold can name.
pub const METRICS: &[&str] = &[
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "error_rate",
    "errors",
    "overloaded",
    "missed",
    "achieved_rps",
    "max_object_rps",
    "max_object_ceiling_pct",
    "correctness",
    "alarm_lag_p99_ms",
    "alarms_missing",
    "hibernation_saved_pct",
    "delivery_p50_ms",
    "delivery_p99_ms",
    "delivery_max_ms",
    "deliveries_per_s",
];

/// What a metric's number means, and so which suffixes its threshold may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds (`50` or `50ms`).
    Ms,
    /// A fraction 0–1 (`0.001` or `0.1%`).
    Ratio,
    /// A percentage 0–100 (`90` or `90%`).
    Percent,
    /// A plain count.
    Count,
    /// Requests per second.
    PerSecond,
    /// `true` / `false`.
    Bool,
}

impl Unit {
    /// The unit of a known metric.
    pub fn of(metric: &str) -> Unit {
        match metric {
            m if m.ends_with("_ms") => Unit::Ms,
            "error_rate" => Unit::Ratio,
            m if m.ends_with("_pct") => Unit::Percent,
            m if m.ends_with("_rps") || m.ends_with("_per_s") => Unit::PerSecond,
            "correctness" => Unit::Bool,
            _ => Unit::Count,
        }
    }

    /// A value of this unit as a person reads it (`0.0047` ratio → `0.47 %`).
    pub fn show(self, v: f64) -> String {
        if v.is_nan() {
            return "n/a".into();
        }
        match self {
            Unit::Ms => format!("{v:.2} ms"),
            Unit::Ratio => format!("{:.3} %", v * 100.0),
            Unit::Percent => format!("{v:.1} %"),
            Unit::PerSecond => format!("{v:.1}/s"),
            Unit::Bool => (if v != 0.0 { "true" } else { "false" }).into(),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// True if `a op b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => (a - b).abs() < 1e-9,
            Op::Ne => (a - b).abs() >= 1e-9,
        }
    }
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub struct Threshold {
    /// As written.
    pub expr: String,
    pub metric: String,
    pub op: Op,
    pub value: f64,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl TryFrom<String> for Threshold {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl std::str::FromStr for Threshold {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: String| Error::Threshold {
            input: s.to_string(),
            reason,
        };
        let ops = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ];
        let (metric, op, rhs) = ops
            .iter()
            .find_map(|(tok, op)| s.split_once(tok).map(|(l, r)| (l.trim(), *op, r.trim())))
            .ok_or_else(|| bad("expected `metric < value` (or <=, >, >=, =, !=)".into()))?;
        if !METRICS.contains(&metric) {
            return Err(bad(format!(
                "unknown metric `{metric}`; known: {}",
                METRICS.join(", ")
            )));
        }
        let unit = Unit::of(metric);
        let number = |r: &str| {
            r.trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("`{r}` is not a number")))
        };
        let value = match (unit, rhs) {
            (Unit::Bool, "true") => 1.0,
            (Unit::Bool, "false") => 0.0,
            (Unit::Bool, _) => {
                return Err(bad(format!("{metric} compares with true or false")));
            }
            (_, "true" | "false") => {
                return Err(bad(format!("{metric} is a number, not true/false")));
            }
            (Unit::Ratio, r) if r.ends_with('%') => number(r.trim_end_matches('%'))? / 100.0,
            (Unit::Percent, r) if r.ends_with('%') => number(r.trim_end_matches('%'))?,
            (Unit::Ms, r) if r.ends_with("ms") => number(r.trim_end_matches("ms"))?,
            (_, r) if r.ends_with('%') => {
                return Err(bad(format!(
                    "`%` does not fit {metric}, which is {}",
                    unit_words(unit)
                )));
            }
            (_, r) if r.ends_with("ms") => {
                return Err(bad(format!(
                    "`ms` does not fit {metric}, which is {}",
                    unit_words(unit)
                )));
            }
            (_, r) => number(r)?,
        };
        Ok(Threshold {
            expr: s.trim().to_string(),
            metric: metric.to_string(),
            op,
            value,
        })
    }
}

fn unit_words(u: Unit) -> &'static str {
    match u {
        Unit::Ms => "in milliseconds",
        Unit::Ratio => "a fraction (0.001, or 0.1%)",
        Unit::Percent => "a percentage (90, or 90%)",
        Unit::PerSecond => "a rate per second",
        Unit::Count => "a count",
        Unit::Bool => "true or false",
    }
}

/// The value of `metric` in `s` (`None` when the run has no such figure, e.g. no alarms).
pub fn metric(s: &RunSummary, metric: &str) -> Option<f64> {
    let objects = s.objects.as_deref().unwrap_or(&[]);
    Some(match metric {
        "p50_ms" => s.latency_ms.p50,
        "p90_ms" => s.latency_ms.p90,
        "p99_ms" => s.latency_ms.p99,
        "p999_ms" => s.latency_ms.p999,
        "max_ms" => s.latency_ms.max,
        "error_rate" => {
            if s.requests == 0 {
                0.0
            } else {
                s.errors.total as f64 / s.requests as f64
            }
        }
        "errors" => s.errors.total as f64,
        "overloaded" => s.errors.overloaded as f64,
        "missed" => s.missed as f64,
        "achieved_rps" => s.achieved_rps,
        "max_object_rps" => objects.iter().map(|o| o.peak_rps).fold(0.0, f64::max),
        "max_object_ceiling_pct" => objects.iter().map(|o| o.ceiling_pct).fold(0.0, f64::max),
        "correctness" => f64::from(u8::from(s.correctness.as_ref()?.passed)),
        "alarm_lag_p99_ms" => s.alarms.as_ref()?.lag_ms.p99,
        "alarms_missing" => s.alarms.as_ref()?.missing as f64,
        "hibernation_saved_pct" => s.hibernation.as_ref()?.saved_pct,
        "delivery_p50_ms" if s.deliveries > 0 => s.delivery_latency_ms.p50,
        "delivery_p99_ms" if s.deliveries > 0 => s.delivery_latency_ms.p99,
        "delivery_max_ms" if s.deliveries > 0 => s.delivery_latency_ms.max,
        "deliveries_per_s" => s.achieved_deliveries_per_s,
        _ => return None,
    })
}

/// Evaluates every threshold; one without a value in this run fails (it could not be shown
/// to hold), with `actual` NaN.
pub fn evaluate(thresholds: &[Threshold], s: &RunSummary) -> Thresholds {
    let results: Vec<ThresholdResult> = thresholds
        .iter()
        .map(|t| {
            let actual = metric(s, &t.metric);
            ThresholdResult {
                expr: t.expr.clone(),
                actual: actual.unwrap_or(f64::NAN),
                passed: actual.is_some_and(|a| t.op.holds(a, t.value)),
                shown: Unit::of(&t.metric).show(actual.unwrap_or(f64::NAN)),
            }
        })
        .collect();
    Thresholds {
        passed: results.iter().all(|r| r.passed),
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let t: Threshold = "p99_ms < 50".parse().unwrap();
        assert_eq!((t.metric.as_str(), t.op, t.value), ("p99_ms", Op::Lt, 50.0));
        let t: Threshold = "error_rate < 0.1%".parse().unwrap();
        assert!((t.value - 0.001).abs() < 1e-12);
        let t: Threshold = "correctness = true".parse().unwrap();
        assert_eq!((t.op, t.value), (Op::Eq, 1.0));
        let t: Threshold = "max_object_rps <= 900".parse().unwrap();
        assert_eq!(t.op, Op::Le);
        assert!("p99 < 5".parse::<Threshold>().is_err());
        assert!("p99_ms ~ 5".parse::<Threshold>().is_err());
        assert!("correctness = 1".parse::<Threshold>().is_err());
    }

    #[test]
    fn percent_means_percent_for_percentages_and_a_fraction_for_ratios() {
        let t: Threshold = "max_object_ceiling_pct < 90%".parse().unwrap();
        assert_eq!(t.value, 90.0);
        let t: Threshold = "hibernation_saved_pct > 50%".parse().unwrap();
        assert_eq!(t.value, 50.0, "50 % saved, not 0.5 %");
        let t: Threshold = "max_object_ceiling_pct < 90".parse().unwrap();
        assert_eq!(t.value, 90.0);
        let t: Threshold = "error_rate < 0.001".parse().unwrap();
        assert_eq!(t.value, 0.001);
        for bad in [
            "p99_ms < 5%",
            "max_object_rps < 90%",
            "errors < 1ms",
            "error_rate < 1ms",
        ] {
            let err = bad.parse::<Threshold>().unwrap_err().to_string();
            assert!(err.contains("does not fit"), "{bad}: {err}");
        }
        assert!("p99_ms < 5ms".parse::<Threshold>().is_ok());
        assert_eq!(Unit::Ratio.show(0.4744), "47.440 %");
    }
}
