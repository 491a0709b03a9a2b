//! sharded-counter traffic: increments (`by=1`) of keys drawn from the keyspace, each routed
//! to a shard object by the strategy, plus shard reads (`read_ratio` of requests) of the
//! shards a key's read fans in over. Checks at the end: every shard's final value equals
//! the increments it acknowledged (requests without an answer may or may not have landed:
//! they widen the bound, they are never counted as acknowledged), the sum over shards equals
//! all acknowledged increments, and no read went backwards: a read sent after an answer
//! (increment or read) from the same object completed never shows a smaller value.
//! Never blocks the executor's hot path beyond one short mutex.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dobench_loadgen::http::Method;
use dobench_loadgen::summary::Check;
use dobench_loadgen::{executor, RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use super::{check, fetch_each, run_config, schedule, verdict, Finished, Running};
use crate::error::{Error, Result};
use crate::keyspace::{unit, Keyspace};
use crate::profile::Profile;
use crate::strategy::{mix64, Strategy};

const READ_SALT: u64 = 0x5eed_0000_0000_0001;

#[derive(Debug, Clone, Copy)]
struct Answer {
    sent: Option<Instant>,
    done: Instant,
    value: u64,
}

#[derive(Default)]
struct State {
    /// Increments sent, per object.
    sent_inc: HashMap<Arc<str>, u64>,
    /// Increments answered 200, per object.
    acked: HashMap<Arc<str>, u64>,
    /// Increments answered with any status, per object.
    answered_inc: HashMap<Arc<str>, u64>,
    /// Every 200 answer with its value (reads carry their send instant).
    answers: HashMap<Arc<str>, Vec<Answer>>,
    read_sent: HashMap<u64, Instant>,
    touched: HashSet<Arc<str>>,
}

struct CounterSource {
    keys: Keyspace,
    strategy: Strategy,
    read_ratio: f64,
    base: String,
    prefix: String,
    state: Mutex<State>,
}

impl CounterSource {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_read(&self, index: u64) -> bool {
        unit(mix64(index ^ READ_SALT)) < self.read_ratio
    }

    fn name(&self, shard: u64) -> String {
        self.strategy.object_name(&self.prefix, shard)
    }
}

impl RequestSource for CounterSource {
    fn request(&self, index: u64) -> RequestSpec {
        let key = self.keys.pick(index);
        let read = self.is_read(index);
        let (op, method, name, path) = if read {
            let shards = self.strategy.read_shards(key);
            let shard = shards[(mix64(index) % shards.len() as u64) as usize];
            let name = self.name(shard);
            let path = format!("/counter/{name}");
            ("read", Method::GET, name, path)
        } else {
            let name = self.name(self.strategy.write_shard(key));
            let path = format!("/counter/{name}/increment");
            ("increment", Method::POST, name, path)
        };
        let url = format!("{}{path}", self.base);
        let spec = RequestSpec::new(op, method, &url).unwrap_or_else(|_| {
            RequestSpec::new(op, Method::GET, "http://127.0.0.1/").expect("static URL")
        });
        let name: Arc<str> = name.into();
        let mut st = self.lock();
        if read {
            st.read_sent.insert(index, Instant::now());
        } else {
            *st.sent_inc.entry(name.clone()).or_default() += 1;
        }
        if !st.touched.contains(&name) {
            st.touched.insert(name.clone());
        }
        drop(st);
        spec.with_object(name)
    }

    fn unsent(&self, index: u64, request: &RequestSpec) {
        let mut st = self.lock();
        if &*request.op == "read" {
            st.read_sent.remove(&index);
        } else if let Some(n) = request.object.as_ref().and_then(|o| st.sent_inc.get_mut(o)) {
            *n = n.saturating_sub(1);
        }
    }

    fn observe(&self, index: u64, request: &RequestSpec, response: &Response) {
        let Some(name) = request.object.clone() else {
            return;
        };
        let done = Instant::now();
        let value = (response.status == 200)
            .then(|| serde_json::from_slice::<serde_json::Value>(&response.body).ok())
            .flatten()
            .and_then(|v| v["value"].as_u64());
        let read = &*request.op == "read";
        let mut st = self.lock();
        let sent = if read {
            st.read_sent.remove(&index)
        } else {
            None
        };
        if !read {
            *st.answered_inc.entry(name.clone()).or_default() += 1;
            if value.is_some() {
                *st.acked.entry(name.clone()).or_default() += 1;
            }
        }
        if let Some(value) = value {
            st.answers
                .entry(name)
                .or_default()
                .push(Answer { sent, done, value });
        }
    }
}

/// Starts the sharded-counter workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let keys = Keyspace::new(&profile.keyspace)?;
    let source = Arc::new(CounterSource {
        keys,
        strategy: profile.strategy,
        read_ratio: profile.counter.read_ratio,
        base: base.clone(),
        prefix: format!("ctr-{nonce}"),
        state: Mutex::new(State::default()),
    });
    let config = run_config(&profile.load, schedule(&profile.load));
    let timeout = profile.load.timeout.0;
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let strategy = profile.strategy;
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let (checks, objects_used) = verify(&source, &base, timeout).await?;
        Ok(Finished {
            outcome,
            correctness: verdict(checks),
            alarms: None,
            objects_used,
            read_fan_in: strategy.read_fan_in(),
            notes: Vec::new(),
        })
    });
    Ok(Running { snapshots, task })
}

async fn verify(src: &CounterSource, base: &str, timeout: Duration) -> Result<(Vec<Check>, u64)> {
    let (names, st_sent, st_acked, st_answered, answers) = {
        let st = src.lock();
        let mut names: Vec<Arc<str>> = st.touched.iter().cloned().collect();
        names.sort();
        (
            names,
            st.sent_inc.clone(),
            st.acked.clone(),
            st.answered_inc.clone(),
            st.answers.clone(),
        )
    };
    // Each final value read back as it arrives (a million objects' answers never all in
    // memory at once). An unusable base fails here, not as every object unreadable.
    RequestSpec::new("final", Method::GET, &format!("{base}/counter/x"))?;
    let names = Arc::new(names);
    let finals = fetch_each(
        names.len(),
        16,
        timeout,
        {
            let (names, base) = (names.clone(), base.to_string());
            move |i| {
                RequestSpec::new(
                    "final",
                    Method::GET,
                    &format!("{base}/counter/{}", names[i]),
                )
                .ok()
            }
        },
        |_, resp| {
            resp.filter(|r| r.status == 200)
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
                .and_then(|v| v["value"].as_u64())
        },
    )
    .await;
    let (mut exact, mut ambiguous, mut bad, mut unread) = (0u64, 0u64, Vec::new(), 0u64);
    let (mut sum_final, mut sum_acked, mut sum_unknown) = (0u64, 0u64, 0u64);
    for (name, value) in names.iter().zip(finals) {
        let acked = st_acked.get(name).copied().unwrap_or(0);
        let unknown = st_sent.get(name).copied().unwrap_or(0)
            - st_answered
                .get(name)
                .copied()
                .unwrap_or(0)
                .min(st_sent.get(name).copied().unwrap_or(0));
        let Some(value) = value.flatten() else {
            unread += 1;
            continue;
        };
        sum_final += value;
        sum_acked += acked;
        sum_unknown += unknown;
        if value == acked {
            exact += 1;
        } else if value > acked && value <= acked + unknown {
            ambiguous += 1;
        } else if bad.len() < 5 {
            bad.push(format!(
                "{name}: final {value}, acknowledged {acked}, unanswered {unknown}"
            ));
        } else {
            bad.push(String::new());
        }
    }
    if unread > 0 && names.len() as u64 == unread {
        return Err(Error::Target("could not read any counter back".into()));
    }
    let shards_ok = bad.is_empty() && unread == 0;
    let mut detail = format!(
        "{} shard objects: {exact} final = acknowledged, {ambiguous} within unanswered requests, {} wrong, {unread} unreadable",
        names.len(),
        bad.len()
    );
    let shown: Vec<&String> = bad.iter().filter(|b| !b.is_empty()).collect();
    if !shown.is_empty() {
        detail += &format!(
            " ({})",
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let sum_ok = sum_final >= sum_acked && sum_final <= sum_acked + sum_unknown;
    let mut checks = vec![
        check("shard totals = acknowledged increments", shards_ok, detail),
        check(
            "sum over shards = acknowledged increments",
            sum_ok && unread == 0,
            format!(
                "sum of finals {sum_final}, acknowledged {sum_acked}, unanswered {sum_unknown}"
            ),
        ),
    ];
    let (reads, backwards, example) = reads_backwards(&answers);
    checks.push(check(
        "reads never go backwards",
        backwards == 0,
        match example {
            Some(e) => format!("{backwards} of {reads} reads went backwards, e.g. {e}"),
            None => {
                format!("{reads} reads, none saw less than an answer completed before it was sent")
            }
        },
    ));
    Ok((checks, names.len() as u64))
}

/// Counts reads that saw a smaller value than some answer from the same object that
/// completed before the read was sent.
fn reads_backwards(answers: &HashMap<Arc<str>, Vec<Answer>>) -> (u64, u64, Option<String>) {
    let (mut reads, mut backwards, mut example) = (0u64, 0u64, None);
    for (name, list) in answers {
        let mut by_done: Vec<&Answer> = list.iter().collect();
        by_done.sort_by_key(|a| a.done);
        let mut rs: Vec<(Instant, u64)> = list
            .iter()
            .filter_map(|a| Some((a.sent?, a.value)))
            .collect();
        rs.sort();
        let (mut j, mut max_before) = (0, 0u64);
        for (sent, value) in rs {
            while j < by_done.len() && by_done[j].done < sent {
                max_before = max_before.max(by_done[j].value);
                j += 1;
            }
            reads += 1;
            if value < max_before {
                backwards += 1;
                example.get_or_insert_with(|| format!("{name} read {value} after {max_before}"));
            }
        }
    }
    (reads, backwards, example)
}
