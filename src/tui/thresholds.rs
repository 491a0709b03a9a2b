//! Live "pass/fail so far" of a profile's thresholds (`p99_ms < 50`, `error_rate < 0.1%`,
//! `max_object_rps < 900`) against the latest `Snapshot`. Same grammar as the profile's
//! thresholds (parsed by dobench-workloads), but only for metrics a live snapshot carries; the rest
//! (correctness, alarm lag, ...) stay `Pending` until the run's own end-of-run verdict.
//! Display only: never decides the run's exit code.

use dobench_loadgen::Snapshot;
use dobench_workloads::Threshold;

/// Where a threshold stands right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not measurable live (or not parseable): judged at the end of the run.
    Pending,
}

/// One threshold's live state.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdStatus {
    pub expr: String,
    pub actual: Option<f64>,
    pub verdict: Verdict,
}

/// The value of a live metric (`None`: not known until the end of the run).
fn live_metric(s: &Snapshot, ceiling: Option<f64>, metric: &str) -> Option<f64> {
    let max_peak = || s.objects.iter().map(|o| o.peak_rps).fold(0.0, f64::max);
    Some(match metric {
        "p50_ms" => s.latency_ms.p50,
        "p90_ms" => s.latency_ms.p90,
        "p99_ms" => s.latency_ms.p99,
        "p999_ms" => s.latency_ms.p999,
        "max_ms" => s.latency_ms.max,
        "error_rate" if s.requests == 0 => 0.0,
        "error_rate" => s.errors.total as f64 / s.requests as f64,
        "errors" => s.errors.total as f64,
        "overloaded" => s.errors.overloaded as f64,
        "missed" => s.missed as f64,
        "achieved_rps" => s.achieved_rps,
        "max_object_rps" => max_peak(),
        "max_object_ceiling_pct" => {
            let served = s
                .objects
                .iter()
                .map(|o| o.peak_served_rps)
                .fold(0.0, f64::max);
            served / ceiling.filter(|c| *c > 0.0)? * 100.0
        }
        "hibernation_saved_pct" => s.server.as_ref()?.hibernation.saved_pct,
        "delivery_p50_ms" if s.deliveries > 0 => s.delivery_latency_ms.p50,
        "delivery_p99_ms" if s.deliveries > 0 => s.delivery_latency_ms.p99,
        "delivery_max_ms" if s.deliveries > 0 => s.delivery_latency_ms.max,
        "deliveries_per_s" => s.deliveries_per_s,
        _ => return None,
    })
}

/// Every threshold of `exprs` judged against `s`.
pub fn evaluate(exprs: &[String], s: &Snapshot, ceiling: Option<f64>) -> Vec<ThresholdStatus> {
    exprs
        .iter()
        .map(|expr| {
            let judged = expr.parse::<Threshold>().ok().and_then(|t| {
                let actual = live_metric(s, ceiling, &t.metric)?;
                Some((actual, t.op.holds(actual, t.value)))
            });
            match judged {
                Some((actual, holds)) => ThresholdStatus {
                    expr: expr.clone(),
                    actual: Some(actual),
                    verdict: if holds { Verdict::Pass } else { Verdict::Fail },
                },
                None => ThresholdStatus {
                    expr: expr.clone(),
                    actual: None,
                    verdict: Verdict::Pending,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dobench_loadgen::ObjectSnapshot;

    #[test]
    fn judges_live_metrics_and_leaves_the_rest_pending() {
        let mut s = Snapshot {
            requests: 1000,
            ..Snapshot::default()
        };
        s.latency_ms.p99 = 12.0;
        s.errors.total = 5;
        s.objects.push(ObjectSnapshot {
            name: "a".into(),
            peak_rps: 950.0,
            ..ObjectSnapshot::default()
        });
        let exprs: Vec<String> = [
            "p99_ms < 50",
            "error_rate < 0.1%",
            "max_object_rps < 900",
            "correctness = true",
            "nonsense",
        ]
        .map(String::from)
        .to_vec();
        let v: Vec<Verdict> = evaluate(&exprs, &s, Some(1000.0))
            .into_iter()
            .map(|t| t.verdict)
            .collect();
        assert_eq!(
            v,
            [
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Fail,
                Verdict::Pending,
                Verdict::Pending
            ]
        );
    }
}
