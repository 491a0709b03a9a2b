//! ratelimit-burst traffic: steady background checks of keys drawn from the keyspace, plus
//! bursts (every `burst_every`, `burst_size` requests for each of `burst_keys` fresh keys
//! within `burst_spread`), all routed to limiter objects by the strategy. One ramping
//! schedule holds both (zero-length stages make the steps), so there is one executor loop.
//! Checks: no `window_ms`-long window admitted more than `limit` for a key (only definite
//! violations, judged from client send/answer instants that bound the server's), every
//! uncontended burst admitted exactly min(limit, offered), and every 429 carried a positive
//! `retry_after_ms`. Never blocks the hot path beyond one short mutex.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dobench_loadgen::http::Method;
use dobench_loadgen::{
    executor, OpenSchedule, RequestSource, RequestSpec, Response, Schedule, Stage,
};
use tokio_util::sync::CancellationToken;

use super::{check, run_config, verdict, Finished, Running};
use crate::error::{Error, Result};
use crate::keyspace::Keyspace;
use crate::profile::{LoadModel, Profile};
use crate::strategy::Strategy;

/// One burst: the schedule indices it owns and its first key id.
#[derive(Debug, Clone, Copy)]
struct Burst {
    first: u64,
    end: u64,
    first_key: u64,
}

#[derive(Default)]
struct KeyLog {
    /// (sent, answered) of admitted requests.
    admitted: Vec<(Instant, Instant)>,
    offered: u64,
    refused: u64,
    other: u64,
    first_sent: Option<Instant>,
    last_done: Option<Instant>,
}

#[derive(Default)]
struct State {
    sent: HashMap<u64, Instant>,
    keys: HashMap<u64, KeyLog>,
    refused_without_retry: u64,
    refused_total: u64,
}

struct RatelimitSource {
    keys: Keyspace,
    strategy: Strategy,
    bursts: Vec<Burst>,
    burst_keys: u64,
    burst_total: u64,
    base: String,
    prefix: String,
    query: String,
    state: Mutex<State>,
}

impl RatelimitSource {
    /// (key id, is burst) of schedule index `index`.
    fn key_of(&self, index: u64) -> (u64, bool) {
        let i = self.bursts.partition_point(|b| b.end <= index);
        if let Some(b) = self.bursts.get(i) {
            if index >= b.first && index - b.first < self.burst_total {
                return (b.first_key + (index - b.first) % self.burst_keys, true);
            }
        }
        (self.keys.pick(index), false)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RequestSource for RatelimitSource {
    fn request(&self, index: u64) -> RequestSpec {
        let (key, burst) = self.key_of(index);
        let name = self
            .strategy
            .object_name(&self.prefix, self.strategy.write_shard(key));
        let url = format!(
            "{}/ratelimit/{name}/check?key=k{key}{}",
            self.base, self.query
        );
        let op = if burst { "burst" } else { "check" };
        let spec = RequestSpec::new(op, Method::POST, &url).unwrap_or_else(|_| {
            RequestSpec::new(op, Method::POST, "http://127.0.0.1/").expect("static URL")
        });
        let now = Instant::now();
        let mut st = self.lock();
        st.sent.insert(index, now);
        let log = st.keys.entry(key).or_default();
        log.offered += 1;
        log.first_sent.get_or_insert(now);
        drop(st);
        spec.with_object(name)
    }

    fn unsent(&self, index: u64, _request: &RequestSpec) {
        let (key, _) = self.key_of(index);
        let mut st = self.lock();
        st.sent.remove(&index);
        if let Some(log) = st.keys.get_mut(&key) {
            log.offered = log.offered.saturating_sub(1);
        }
    }

    fn observe(&self, index: u64, _request: &RequestSpec, response: &Response) {
        let done = Instant::now();
        let (key, _) = self.key_of(index);
        let mut st = self.lock();
        let sent = st.sent.remove(&index).unwrap_or(done);
        match response.status {
            200 => st.keys.entry(key).or_default().admitted.push((sent, done)),
            429 => {
                st.refused_total += 1;
                let ok = serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|v| v["retry_after_ms"].as_u64())
                    .is_some_and(|ms| ms > 0);
                if !ok {
                    st.refused_without_retry += 1;
                }
                st.keys.entry(key).or_default().refused += 1;
            }
            _ => st.keys.entry(key).or_default().other += 1,
        }
        let log = st.keys.entry(key).or_default();
        log.last_done = Some(log.last_done.map_or(done, |d| d.max(done)));
    }
}

/// The background-plus-bursts schedule and the bursts' index ranges.
fn plan(profile: &Profile) -> Result<(Schedule, Vec<Burst>, u64)> {
    let o = &profile.ratelimit;
    let rate = profile.load.rate.unwrap_or(0.0);
    let total = profile.load.duration.0;
    let spread = o.burst_spread.0.max(Duration::from_millis(1));
    let burst_total = o.burst_keys * o.burst_size;
    if profile.load.model != LoadModel::Open || !profile.load.stages.is_empty() {
        return Err(Error::Invalid(
            "ratelimit-burst needs the open model with load.rate (bursts are added to it)".into(),
        ));
    }
    let burst_rate = burst_total as f64 / spread.as_secs_f64();
    let mut stages = Vec::new();
    let mut at = Duration::ZERO;
    let mut starts = Vec::new();
    let every = o.burst_every.0;
    if burst_total > 0 && !every.is_zero() {
        let mut t = every;
        while t + spread < total {
            stages.push(Stage {
                duration: t - at,
                target: rate,
            });
            stages.push(Stage {
                duration: Duration::ZERO,
                target: rate + burst_rate,
            });
            stages.push(Stage {
                duration: spread,
                target: rate + burst_rate,
            });
            stages.push(Stage {
                duration: Duration::ZERO,
                target: rate,
            });
            starts.push(t);
            at = t + spread;
            t += every;
        }
    }
    stages.push(Stage {
        duration: total - at,
        target: rate,
    });
    let schedule = OpenSchedule::Ramping {
        start_rate: rate,
        stages,
    };
    let bg_keys = profile.keyspace.keys;
    let bursts = starts
        .iter()
        .enumerate()
        .map(|(r, &t)| Burst {
            first: schedule.count_before(t),
            end: schedule.count_before(t + spread),
            first_key: bg_keys + r as u64 * o.burst_keys,
        })
        .collect();
    Ok((Schedule::Open(schedule), bursts, burst_total))
}

/// Starts the ratelimit-burst workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let (schedule, bursts, burst_total) = plan(profile)?;
    let o = profile.ratelimit.clone();
    let source = Arc::new(RatelimitSource {
        keys: Keyspace::new(&profile.keyspace)?,
        strategy: profile.strategy,
        bursts: bursts.clone(),
        burst_keys: o.burst_keys.max(1),
        burst_total,
        base,
        prefix: format!("rl-{nonce}"),
        query: format!("&limit={}&window_ms={}", o.limit, o.window_ms),
        state: Mutex::new(State::default()),
    });
    let config = run_config(&profile.load, schedule);
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let st = source.lock();
        let window = Duration::from_millis(o.window_ms);
        let limit = o.limit as usize;
        let burst_first_key = profile_first_burst_key(&bursts);
        let (mut windows_bad, mut keys_checked, mut example) = (0u64, 0u64, None);
        let (mut uncontended, mut exact, mut skipped, mut wrong) = (0u64, 0u64, 0u64, Vec::new());
        for (key, log) in &st.keys {
            keys_checked += 1;
            let mut adm = log.admitted.clone();
            adm.sort();
            for i in 0..adm.len().saturating_sub(limit) {
                let latest_done = adm[i..=i + limit]
                    .iter()
                    .map(|a| a.1)
                    .max()
                    .unwrap_or(adm[i].1);
                if latest_done.saturating_duration_since(adm[i].0) + Duration::from_millis(1)
                    < window
                {
                    windows_bad += 1;
                    example.get_or_insert_with(|| {
                        format!(
                            "k{key}: {} admitted within {:?}",
                            limit + 1,
                            latest_done - adm[i].0
                        )
                    });
                    break;
                }
            }
            if burst_first_key.is_some_and(|f| *key >= f) {
                let span = match (log.first_sent, log.last_done) {
                    (Some(a), Some(b)) => b.saturating_duration_since(a),
                    _ => Duration::MAX,
                };
                let complete =
                    log.other == 0 && log.admitted.len() as u64 + log.refused == log.offered;
                if !complete || span + Duration::from_millis(1) >= window {
                    skipped += 1;
                    continue;
                }
                uncontended += 1;
                let want = log.offered.min(o.limit);
                if log.admitted.len() as u64 == want {
                    exact += 1;
                } else if wrong.len() < 3 {
                    wrong.push(format!(
                        "k{key}: admitted {} of {}, want {want}",
                        log.admitted.len(),
                        log.offered
                    ));
                }
            }
        }
        let mut checks = vec![check(
            "admitted ≤ limit in every window",
            windows_bad == 0,
            match example {
                Some(e) => {
                    format!("{windows_bad} of {keys_checked} keys broke the limit, e.g. {e}")
                }
                None => format!(
                    "{keys_checked} keys, limit {} per {} ms: no window over the limit",
                    o.limit, o.window_ms
                ),
            },
        )];
        checks.push(check(
            "uncontended bursts admit min(limit, offered)",
            exact == uncontended && (uncontended > 0 || bursts.is_empty()),
            format!(
                "{exact} of {uncontended} uncontended burst keys exact ({skipped} skipped: errors or longer than the window){}",
                if wrong.is_empty() { String::new() } else { format!("; {}", wrong.join("; ")) }
            ),
        ));
        checks.push(check(
            "429s carry retry_after_ms",
            st.refused_without_retry == 0,
            format!(
                "{} refusals, {} without a positive retry_after_ms",
                st.refused_total, st.refused_without_retry
            ),
        ));
        drop(st);
        Ok(Finished {
            objects_used: outcome.aggregate.objects.len() as u64,
            outcome,
            correctness: verdict(checks),
            alarms: None,
            read_fan_in: 1,
            notes: vec![format!(
                "{} bursts of {} keys × {} requests",
                bursts.len(),
                o.burst_keys,
                o.burst_size
            )],
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}

fn profile_first_burst_key(bursts: &[Burst]) -> Option<u64> {
    bursts.first().map(|b| b.first_key)
}
