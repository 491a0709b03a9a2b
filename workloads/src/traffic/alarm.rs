//! alarm-storm traffic: `rate × duration` objects each schedule their one alarm (through the
//! executor), all due at one instant `delay` after scheduling ends (or spread over `spread`);
//! a `fail_ratio` share of handlers fails `fail_times` times first. Then it waits (bounded:
//! the last due time, the whole retry backoff, and `grace`), reads every object's `/fired`
//! record and checks: every alarm fired at least once and completed after its planned
//! failures, and retries came after the backoff (2, 4, 8... s × the time scale, +0–25 %).
//! Reports the first-fire lag distribution. Never polls one object per tick: while waiting
//! it reads only the runtime's summary counters, when the target has them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use dobench_loadgen::http::Method;
use dobench_loadgen::summary::{AlarmSummary, Correctness, LagMs};
use dobench_loadgen::{executor, hist, RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use serde::{Deserialize, Serialize};

use super::{check, fetch_all, run_config, schedule, verdict, Finished, Running, Split};
use crate::error::{Error, Result};
use crate::keyspace::unit;
use crate::profile::{AlarmOptions, Profile};
use crate::strategy::mix64;

const FAIL_SALT: u64 = 0xa1a2_0000_0000_0003;
const SPREAD_SALT: u64 = 0xa1a2_0000_0000_0005;
/// Slack allowed past the jittered backoff before a retry counts as late, at production's time
/// scale (1.0); scaled with the target's alarm time scale like the backoff itself, so at 0.1
/// the retry after a 200 ms backoff must come within 350 ms (plus the storm's own queueing),
/// not within 1.25 s (over six times the backoff) as before.
const RETRY_SLACK_MS: f64 = 1000.0;

struct AlarmSource {
    base: String,
    prefix: String,
    due_ms: u64,
    spread_ms: u64,
    fail_ratio: f64,
    fail_times: u32,
    /// Objects whose schedule request was answered 200.
    scheduled: Mutex<Vec<u64>>,
}

impl AlarmSource {
    fn fails(&self, index: u64) -> u32 {
        if unit(mix64(index ^ FAIL_SALT)) < self.fail_ratio {
            self.fail_times
        } else {
            0
        }
    }

    fn at_ms(&self, index: u64) -> u64 {
        self.due_ms + (unit(mix64(index ^ SPREAD_SALT)) * self.spread_ms as f64) as u64
    }
}

impl RequestSource for AlarmSource {
    fn request(&self, index: u64) -> RequestSpec {
        let name = format!("{}-{index}", self.prefix);
        let url = format!(
            "{}/alarm/{name}/schedule?at_ms={}&fail_times={}",
            self.base,
            self.at_ms(index),
            self.fails(index)
        );
        RequestSpec::new("schedule", Method::POST, &url)
            .unwrap_or_else(|_| {
                RequestSpec::new("schedule", Method::POST, "http://127.0.0.1/").expect("static URL")
            })
            .with_object(name)
    }

    fn observe(&self, index: u64, _request: &RequestSpec, response: &Response) {
        if response.status == 200 {
            self.scheduled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(index);
        }
    }
}

impl AlarmSource {
    /// The alarm-storm's plan against `base`: alarms due `delay` after the load's end, the
    /// load starting at `start_ms` (epoch ms).
    fn new(profile: &Profile, base: &str, nonce: &str, start_ms: u64) -> Self {
        let o = &profile.alarm;
        AlarmSource {
            base: base.to_string(),
            prefix: format!("alm-{nonce}"),
            due_ms: start_ms + (profile.load.duration.0 + o.delay.0).as_millis() as u64,
            spread_ms: o.spread.0.as_millis() as u64,
            fail_ratio: o.fail_ratio,
            fail_times: o.fail_times,
            scheduled: Mutex::new(Vec::new()),
        }
    }
}

/// What a segment of a split alarm-storm scheduled (the objects are its own: one per global
/// index), for `dobench merge` to check once the alarms are due ([`check_merged`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Global indices whose schedule request was answered 200.
    pub scheduled: Vec<u64>,
}

/// Starts the alarm-storm workload. `alarm_time_scale` (the target's retry scale) comes
/// from the profile's `[runtime]` table. A segment of a split run plans its due times from
/// the shared start instant and hands back what it scheduled instead of checking it.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
    split: Split,
) -> Result<Running> {
    let start_ms = split
        .start_at
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or_else(
            || dobench_runtime::epoch_ms() as u64,
            |d| d.as_millis() as u64,
        );
    let source = Arc::new(AlarmSource::new(profile, &base, nonce, start_ms));
    let mut config = run_config(&profile.load, schedule(&profile.load));
    split.apply(&mut config);
    let (o, timeout, scale) = (
        profile.alarm.clone(),
        profile.load.timeout.0,
        profile.runtime.alarm_time_scale,
    );
    let handle = executor::start(config, source.clone(), cancel.clone())?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let mut scheduled = source
            .scheduled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        scheduled.sort_unstable();
        let notes = vec![format!(
            "alarms due at one instant{}",
            if source.spread_ms > 0 {
                format!(" spread over {} ms", source.spread_ms)
            } else {
                String::new()
            }
        )];
        let objects_used = outcome.aggregate.objects.len() as u64;
        if split.is_segment() {
            let json = serde_json::to_value(Evidence { scheduled })
                .map_err(|e| Error::Target(format!("serializing the evidence: {e}")))?;
            return Ok(Finished {
                outcome,
                correctness: verdict(vec![check(
                    "checked after the merge",
                    true,
                    "a segment's alarms are checked by `dobench merge` once they are due",
                )]),
                alarms: None,
                objects_used,
                read_fan_in: 1,
                notes,
                evidence: Some(json),
            });
        }
        let (correctness, alarms) =
            check_alarms(&source, scheduled, &o, scale, timeout, &cancel).await?;
        Ok(Finished {
            alarms: Some(alarms),
            objects_used,
            outcome,
            correctness,
            read_fan_in: 1,
            notes,
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}

/// Checks a split alarm-storm's alarms from its parts' evidence: the checks of a whole run,
/// over every alarm the present parts scheduled (their objects are their own, so a missing
/// segment leaves the others' checks whole). Waits, bounded, until the alarms are due.
pub async fn check_merged(
    parts: &[serde_json::Value],
    profile: &Profile,
    base: &str,
    nonce: &str,
    start_ms: u64,
    cancel: &CancellationToken,
) -> Result<(Correctness, AlarmSummary)> {
    let mut scheduled = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let e: Evidence = serde_json::from_value(p.clone())
            .map_err(|e| Error::Target(format!("part {i}'s alarm evidence does not read: {e}")))?;
        scheduled.extend(e.scheduled);
    }
    scheduled.sort_unstable();
    let source = AlarmSource::new(profile, base, nonce, start_ms);
    check_alarms(
        &source,
        scheduled,
        &profile.alarm,
        profile.runtime.alarm_time_scale,
        profile.load.timeout.0,
        cancel,
    )
    .await
}

/// Waits for the scheduled alarms (bounded) and checks their fired records.
async fn check_alarms(
    source: &AlarmSource,
    scheduled: Vec<u64>,
    o: &AlarmOptions,
    scale: f64,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(Correctness, AlarmSummary)> {
    let base = &source.base;
    let backoff: f64 = (1..=o.fail_times)
        .map(|r| dobench_runtime::retry_delay(r, scale).as_secs_f64() * 1.25)
        .sum();
    let last_due = source.due_ms + source.spread_ms;
    let wait_until = last_due as f64 / 1000.0 + backoff + o.grace.0.as_secs_f64();
    let expected_runs: u64 = scheduled
        .iter()
        .map(|&i| 1 + u64::from(source.fails(i)))
        .sum();
    wait_for_alarms(base, wait_until, last_due, expected_runs, cancel).await;
    let specs = scheduled
        .iter()
        .map(|i| {
            RequestSpec::new(
                "fired",
                Method::GET,
                &format!("{base}/alarm/{}-{i}/fired", source.prefix),
            )
        })
        .collect::<dobench_loadgen::Result<Vec<_>>>()?;
    let answers = fetch_all(specs, 32, timeout).await;
    let mut lag = hist::new_histogram();
    let (mut fired, mut completed, mut missing, mut retried, mut late_retries, mut early_retries) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut unread = 0u64;
    let mut example = None;
    for (&i, answer) in scheduled.iter().zip(&answers) {
        let Some(v) = answer
            .as_ref()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        else {
            unread += 1;
            continue;
        };
        let runs: Vec<(i64, i64, u32)> = v["fired"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        Some((
                            f["scheduled_ms"].as_i64()?,
                            f["fired_ms"].as_i64()?,
                            f["attempt"].as_u64()? as u32,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(first) = runs.iter().find(|r| r.2 == 0).or(runs.first()) else {
            missing += 1;
            continue;
        };
        fired += 1;
        hist::record(
            &mut lag,
            Duration::from_millis((first.1 - first.0).max(0) as u64),
        );
        if runs.iter().any(|r| r.2 == source.fails(i)) {
            completed += 1;
        }
        let name = format!("{}-{i}", source.prefix);
        let r = judge_retries(&runs, (first.1 - first.0).max(0), scale, &name);
        retried += r.retried;
        early_retries += r.early;
        late_retries += r.late;
        if example.is_none() {
            example = r.example;
        }
    }
    let pct = hist::Percentiles::of(&lag);
    let n = scheduled.len() as u64;
    let checks = vec![
        check(
            "every alarm fired at least once",
            missing == 0 && unread == 0 && n > 0,
            format!("{fired} of {n} scheduled alarms fired ({missing} missing, {unread} unreadable); first-fire lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", pct.p50, pct.p99, pct.max),
        ),
        check(
            "failing handlers were retried to success",
            completed == fired,
            format!("{completed} of {fired} fired alarms reached their successful attempt"),
        ),
        check(
            "retries follow the backoff",
            early_retries == 0 && late_retries == 0,
            match example {
                Some(e) => format!("{retried} retries: {early_retries} early, {late_retries} late, e.g. {e}"),
                None => format!("{retried} retries, each after its backoff (scale {scale})"),
            },
        ),
    ];
    Ok((
        verdict(checks),
        AlarmSummary {
            scheduled: n,
            fired,
            retried,
            missing: missing + unread,
            lag_ms: LagMs {
                p50: pct.p50,
                p99: pct.p99,
                max: pct.max,
            },
        },
    ))
}

/// How one alarm's retries kept to the backoff.
struct Retries {
    retried: u64,
    early: u64,
    late: u64,
    example: Option<String>,
}

/// Judges the retries among one alarm's `runs` (scheduled ms, fired ms, attempt), whose first
/// attempt waited `queued_ms` past its due time.
fn judge_retries(runs: &[(i64, i64, u32)], queued_ms: i64, scale: f64, name: &str) -> Retries {
    let mut r = Retries {
        retried: 0,
        early: 0,
        late: 0,
        example: None,
    };
    // workerd counts a retry's backoff from when the failed attempt was dispatched, not from
    // when its handler ran (the reference: from the failure), so in a storm a retry may come
    // as much earlier as the handler queued: the first attempt's lag.
    for w in runs.windows(2) {
        let (prev, next) = (w[0], w[1]);
        if next.2 == 0 {
            continue;
        }
        r.retried += 1;
        let base_ms = dobench_runtime::retry_delay(next.2, scale).as_millis() as i64;
        let gap = next.1 - prev.1;
        let early = gap + 5 + queued_ms < base_ms;
        let late = gap > base_ms * 5 / 4 + (RETRY_SLACK_MS * scale).round() as i64 + queued_ms;
        r.early += u64::from(early);
        r.late += u64::from(late && !early);
        if early || late {
            r.example.get_or_insert_with(|| {
                format!(
                    "{name} retry {} after {gap} ms (backoff {base_ms} ms)",
                    next.2
                )
            });
        }
    }
    r
}

/// Waits until the target's summary counters say every expected handler run happened and
/// nothing is pending (when it has them), or until `until_s` (epoch seconds), or cancel.
async fn wait_for_alarms(
    base: &str,
    until_s: f64,
    last_due_ms: u64,
    expected_runs: u64,
    cancel: &CancellationToken,
) {
    let start_runs = dobench_loadgen::server_stats::fetch(base, Duration::from_secs(2))
        .await
        .ok()
        .map(|s| s.alarms.fired);
    loop {
        let now_s = dobench_runtime::epoch_ms() as f64 / 1000.0;
        if now_s >= until_s {
            return;
        }
        if let Some(before) = start_runs {
            if now_s * 1000.0 > last_due_ms as f64 {
                if let Ok(s) =
                    dobench_loadgen::server_stats::fetch(base, Duration::from_secs(2)).await
                {
                    if s.alarms.pending == 0
                        && s.alarms.fired.saturating_sub(before) >= expected_runs
                    {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
