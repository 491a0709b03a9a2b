//! sharded-counter traffic: increments (`by=1`) of keys drawn from the keyspace, each routed
//! to a shard object by the strategy, plus shard reads (`read_ratio` of requests) of the
//! shards a key's read fans in over. Checks at the end: every shard's final value equals
//! the increments it acknowledged (requests without an answer may or may not have landed:
//! they widen the bound, they are never counted as acknowledged), the sum over shards equals
//! all acknowledged increments, and no read went backwards: a read sent after an answer
//! (increment or read) from the same object completed never shows a smaller value.
//! A segment of a split run checks nothing itself: it hands back its [`Evidence`] (per
//! object: increments sent, acknowledged, answered; its reads' verdict), and `dobench merge`
//! sums the parts' evidence and checks it against the target's final state
//! ([`check_merged`]), through the same checks a whole run uses.
//! Never blocks the executor's hot path beyond one short mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dobench_loadgen::http::Method;
use dobench_loadgen::object_map::ObjectMap;
use dobench_loadgen::summary::{Check, Correctness};
use dobench_loadgen::{executor, RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use serde::{Deserialize, Serialize};

use super::{check, fetch_each, run_config, schedule, verdict, Finished, Running, Split};
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

/// What the run saw of one object.
#[derive(Default)]
struct Seen {
    /// Increments sent.
    sent: u64,
    /// Increments answered 200.
    acked: u64,
    /// Increments answered with any status.
    answered: u64,
    /// Every 200 answer with its value (reads carry their send instant).
    answers: Vec<Answer>,
}

#[derive(Default)]
struct State {
    /// Every object touched, in one map that grows without a pause: one lookup and one
    /// entry per object. (Five SipHash maps that all doubled together past 114,688 and
    /// 229,376 objects held the generator's send path for tens of milliseconds each time.)
    objects: ObjectMap<Seen>,
    read_sent: HashMap<u64, Instant>,
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
        }
        let seen = st.objects.get_or_default(&name);
        if !read {
            seen.sent += 1;
        }
        drop(st);
        spec.with_object(name)
    }

    fn unsent(&self, index: u64, request: &RequestSpec) {
        let mut st = self.lock();
        if &*request.op == "read" {
            st.read_sent.remove(&index);
        } else if let Some(seen) = request.object.as_ref().and_then(|o| st.objects.get_mut(o)) {
            seen.sent = seen.sent.saturating_sub(1);
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
        let seen = st.objects.get_or_default(&name);
        if !read {
            seen.answered += 1;
            if value.is_some() {
                seen.acked += 1;
            }
        }
        if let Some(value) = value {
            seen.answers.push(Answer { sent, done, value });
        }
    }
}

/// Starts the sharded-counter workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
    split: Split,
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
    let mut config = run_config(&profile.load, schedule(&profile.load));
    split.apply(&mut config);
    let timeout = profile.load.timeout.0;
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let strategy = profile.strategy;
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let evidence = source.evidence();
        let objects_used = evidence.objects.len() as u64;
        let (correctness, evidence) = if split.is_segment() {
            let not_yet = check(
                "checked after the merge",
                true,
                "a segment's evidence is checked by `dobench merge` against the merged run",
            );
            let json = serde_json::to_value(&evidence)
                .map_err(|e| Error::Target(format!("serializing the evidence: {e}")))?;
            (verdict(vec![not_yet]), Some(json))
        } else {
            (check_evidence(&evidence, &base, timeout).await?, None)
        };
        Ok(Finished {
            outcome,
            correctness,
            alarms: None,
            objects_used,
            read_fan_in: strategy.read_fan_in(),
            notes: Vec::new(),
            evidence,
        })
    });
    Ok(Running { snapshots, task })
}

/// What a counter run (or one segment of it) acknowledged, per object, and its reads'
/// verdict: everything its correctness checks need besides the target's final state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Per object name: increments sent, acknowledged (200 with a value), answered (any
    /// status). Sent − answered may or may not have landed.
    pub objects: BTreeMap<String, Tally>,
    /// Reads checked against answers completed before they were sent (within one process:
    /// a part compares only its own answers, on its own clock).
    pub reads: u64,
    pub backwards: u64,
    pub example: Option<String>,
}

/// One object's increments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub sent: u64,
    pub acked: u64,
    pub answered: u64,
}

impl Evidence {
    /// Adds another part's evidence (exact: counts add).
    pub fn add(&mut self, other: &Evidence) {
        for (k, t) in &other.objects {
            let d = self.objects.entry(k.clone()).or_default();
            d.sent += t.sent;
            d.acked += t.acked;
            d.answered += t.answered;
        }
        self.reads += other.reads;
        self.backwards += other.backwards;
        if self.example.is_none() {
            self.example.clone_from(&other.example);
        }
    }
}

impl CounterSource {
    fn evidence(&self) -> Evidence {
        let st = self.lock();
        let objects = st
            .objects
            .iter()
            .map(|(k, seen)| {
                let t = Tally {
                    sent: seen.sent,
                    acked: seen.acked,
                    answered: seen.answered,
                };
                (k.to_string(), t)
            })
            .collect();
        let answers = st.objects.iter().map(|(k, seen)| (k, &seen.answers[..]));
        let (reads, backwards, example) = reads_backwards(answers);
        Evidence {
            objects,
            reads,
            backwards,
            example,
        }
    }
}

/// Sums the evidence of a split run's parts and checks it against the target's final state:
/// the checks of a whole run. When segments are `missing` (their acknowledgements are not
/// here) or no counter can be read back (the target cannot be reached from here), the checks
/// that need the final state say "not evaluated" and fail: never a silent pass.
pub async fn check_merged(
    parts: &[serde_json::Value],
    missing: &[u32],
    base: &str,
    timeout: Duration,
) -> Result<(Correctness, u64)> {
    let mut all = Evidence::default();
    for (i, p) in parts.iter().enumerate() {
        let e: Evidence = serde_json::from_value(p.clone()).map_err(|e| {
            Error::Target(format!("part {i}'s counter evidence does not read: {e}"))
        })?;
        all.add(&e);
    }
    let used = all.objects.len() as u64;
    let why = if missing.is_empty() {
        match check_evidence(&all, base, timeout).await {
            Ok(c) => return Ok((c, used)),
            Err(e @ (Error::Target(_) | Error::Load(_))) => format!("{e} (target {base})"),
            Err(e) => return Err(e),
        }
    } else {
        format!("segments {missing:?} have no part, so their acknowledged increments are not here")
    };
    let not = |name: &str| check(name, false, format!("not evaluated: {why}"));
    let checks = vec![
        not("shard totals = acknowledged increments"),
        not("sum over shards = acknowledged increments"),
        reads_check(&all),
    ];
    Ok((verdict(checks), used))
}

fn reads_check(e: &Evidence) -> Check {
    check(
        "reads never go backwards",
        e.backwards == 0,
        match &e.example {
            Some(x) if e.backwards > 0 => {
                format!(
                    "{} of {} reads went backwards, e.g. {x}",
                    e.backwards, e.reads
                )
            }
            _ => format!(
                "{} reads, none saw less than an answer completed before it was sent",
                e.reads
            ),
        },
    )
}

/// The run's checks from its evidence and the target's final values.
async fn check_evidence(ev: &Evidence, base: &str, timeout: Duration) -> Result<Correctness> {
    // Each final value read back as it arrives (a million objects' answers never all in
    // memory at once). An unusable base fails here, not as every object unreadable.
    RequestSpec::new("final", Method::GET, &format!("{base}/counter/x"))?;
    let names: Arc<Vec<String>> = Arc::new(ev.objects.keys().cloned().collect());
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
        let t = ev.objects[name];
        let acked = t.acked;
        let unknown = t.sent - t.answered.min(t.sent);
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
    checks.push(reads_check(ev));
    Ok(verdict(checks))
}

/// Counts reads that saw a smaller value than some answer from the same object that
/// completed before the read was sent.
fn reads_backwards<'a>(
    answers: impl Iterator<Item = (&'a Arc<str>, &'a [Answer])>,
) -> (u64, u64, Option<String>) {
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
