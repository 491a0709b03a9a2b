//! Threshold expressions of a profile (`p99_ms < 50`, `error_rate < 0.1%`,
//! `max_object_rps < 900`, `correctness = true`) and their evaluation against a finished
//! `RunSummary`. Parsing happens when the profile is loaded, so a typo fails before any load
//! is sent. Pure: never measures anything itself.

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
];

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
        let value = match rhs {
            "true" => 1.0,
            "false" => 0.0,
            r if r.ends_with('%') => {
                r.trim_end_matches('%')
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| bad(format!("`{r}` is not a number")))?
                    / 100.0
            }
            r => r
                .trim_end_matches("ms")
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("`{r}` is not a number")))?,
        };
        if metric == "correctness" && !matches!(rhs, "true" | "false") {
            return Err(bad("correctness compares with true or false".into()));
        }
        Ok(Threshold {
            expr: s.trim().to_string(),
            metric: metric.to_string(),
            op,
            value,
        })
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
}
