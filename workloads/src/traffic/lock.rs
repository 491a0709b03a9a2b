//! lease-lock traffic: each request holds one of the lock objects for `hold_ms` under a
//! `ttl_ms` lease, waiting inside the object behind earlier holders. Checks from the lock's
//! own answers (one clock per lock): holds ordered by fencing token never overlap, tokens
//! are unique, no hold outlived its lease, every request (waiter) was served, and each lock
//! counted no overlap itself and has nobody waiting at the end. Never blocks the hot path
//! beyond one short mutex.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{RequestSource, RequestSpec, Response, Snapshot};
use tokio_util::sync::CancellationToken;

use super::fetch_all;
use super::tally::Tally;
use super::{check, run_then_verify, Running, Verified};
use crate::error::{Error, Result};
use crate::lock::CLASS;
use crate::profile::Profile;
use crate::strategy::mix64;

/// One granted hold, as the lock answered it.
#[derive(Debug, Clone, Copy)]
struct Hold {
    token: u64,
    granted_us: i64,
    released_us: i64,
    expires_us: i64,
    waited_us: i64,
}

#[derive(Default)]
struct State {
    tally: Tally,
    holds: HashMap<Arc<str>, Vec<Hold>>,
    unparsed: u64,
}

struct LockSource {
    base: String,
    prefix: String,
    locks: u64,
    query: String,
    state: Mutex<State>,
}

impl LockSource {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn parse_hold(body: &[u8]) -> Option<Hold> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(Hold {
        token: v["token"].as_u64()?,
        granted_us: v["granted_us"].as_i64()?,
        released_us: v["released_us"].as_i64()?,
        expires_us: v["expires_us"].as_i64()?,
        waited_us: v["waited_us"].as_i64().unwrap_or(0),
    })
}

impl RequestSource for LockSource {
    fn request(&self, index: u64) -> RequestSpec {
        let name = format!("{}-l{}", self.prefix, mix64(index) % self.locks);
        let url = format!("{}/{CLASS}/{name}/hold?{}", self.base, self.query);
        let spec = RequestSpec::new("hold", Method::POST, &url).unwrap_or_else(|_| {
            RequestSpec::new("hold", Method::POST, "http://127.0.0.1/").expect("static URL")
        });
        let name: Arc<str> = name.into();
        self.lock().tally.sent(&name);
        spec.with_object(name)
    }

    fn unsent(&self, _index: u64, request: &RequestSpec) {
        if let Some(name) = &request.object {
            self.lock().tally.unsent(name);
        }
    }

    fn observe(&self, _index: u64, request: &RequestSpec, response: &Response) {
        let Some(name) = &request.object else {
            return;
        };
        let hold = (response.status == 200)
            .then(|| parse_hold(&response.body))
            .flatten();
        let mut st = self.lock();
        st.tally.answered(name, hold.is_some());
        match hold {
            Some(h) => st.holds.entry(name.clone()).or_default().push(h),
            None if response.status == 200 => st.unparsed += 1,
            None => {}
        }
    }
}

/// Starts the lease-lock workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let o = &profile.lock;
    let source = Arc::new(LockSource {
        base: base.clone(),
        prefix: format!("lock-{nonce}"),
        locks: o.locks,
        query: format!("hold_ms={}&ttl_ms={}", o.hold_ms, o.ttl_ms),
        state: Mutex::new(State::default()),
    });
    let timeout = profile.load.timeout.0;
    run_then_verify(profile, source, cancel, move |src, run| async move {
        verify(&src, &base, timeout, &run).await
    })
}

/// Overlapping holds, repeated tokens and holds past their lease, over every lock.
fn judge(holds: &HashMap<Arc<str>, Vec<Hold>>) -> (u64, u64, u64, Option<String>) {
    let (mut overlaps, mut repeated, mut expired, mut example) = (0, 0, 0, None);
    for (name, list) in holds {
        let mut list = list.clone();
        list.sort_by_key(|h| h.token);
        for w in list.windows(2) {
            if w[0].token == w[1].token {
                repeated += 1;
            } else if w[1].granted_us < w[0].released_us {
                overlaps += 1;
                example.get_or_insert_with(|| {
                    format!(
                        "{name}: token {} granted at {} µs before token {} released at {} µs",
                        w[1].token, w[1].granted_us, w[0].token, w[0].released_us
                    )
                });
            }
        }
        expired += list.iter().filter(|h| h.released_us > h.expires_us).count() as u64;
    }
    (overlaps, repeated, expired, example)
}

async fn verify(
    src: &LockSource,
    base: &str,
    timeout: Duration,
    run: &Snapshot,
) -> Result<Verified> {
    let (tally, holds, unparsed) = {
        let st = src.lock();
        (st.tally.clone(), st.holds.clone(), st.unparsed)
    };
    let names = tally.names();
    let specs = names
        .iter()
        .map(|n| RequestSpec::new("state", Method::GET, &format!("{base}/{CLASS}/{n}/state")))
        .collect::<dobench_loadgen::Result<Vec<_>>>()?;
    let states: Vec<Option<serde_json::Value>> = fetch_all(specs, 16, timeout)
        .await
        .into_iter()
        .map(|r| {
            r.filter(|r| r.status == 200)
                .and_then(|r| serde_json::from_slice(&r.body).ok())
        })
        .collect();
    if !names.is_empty() && states.iter().all(Option::is_none) {
        return Err(Error::Target("could not read any lock's state back".into()));
    }
    let (overlaps, repeated, expired, example) = judge(&holds);
    let (mut counted_overlaps, mut waiting, mut grants_off, mut unread) = (0, 0, 0, 0);
    for (name, state) in names.iter().zip(&states) {
        let Some(s) = state else {
            unread += 1;
            continue;
        };
        counted_overlaps += s["violations"].as_u64().unwrap_or(0);
        waiting += s["waiting"].as_u64().unwrap_or(0);
        if !tally.bounds(name).holds(s["grants"].as_u64().unwrap_or(0)) {
            grants_off += 1;
        }
    }
    // The executor's own counts: a timed-out or failed request is never observed.
    let (failed, missed) = (run.errors.total, run.missed);
    let served = holds.values().map(Vec::len).sum::<usize>() as u64;
    let mut waits: Vec<i64> = holds.values().flatten().map(|h| h.waited_us).collect();
    waits.sort_unstable();
    let p99_wait_ms = waits
        .get((waits.len() * 99 / 100).min(waits.len().saturating_sub(1)))
        .map_or(0.0, |us| *us as f64 / 1000.0);
    let checks = vec![
        check(
            "never two holders",
            overlaps == 0 && repeated == 0 && counted_overlaps == 0,
            match example {
                Some(e) => format!("{overlaps} overlapping holds, e.g. {e}"),
                None => format!(
                    "{served} holds over {} locks: none overlapped, {repeated} repeated tokens, {counted_overlaps} overlaps counted by the locks",
                    names.len()
                ),
            },
        ),
        check(
            "every waiter served",
            failed == 0 && missed == 0 && unparsed == 0 && waiting == 0 && served == run.requests,
            format!(
                "{served} of {} completed requests served, {failed} failed or timed out, {missed} never sent, {waiting} still waiting at the end",
                run.requests
            ),
        ),
        check(
            "no hold outlived its lease",
            expired == 0,
            format!("{expired} holds released after their lease expired"),
        ),
        check(
            "grants = acknowledged holds",
            grants_off == 0 && unread == 0,
            format!("{grants_off} locks off their bounds, {unread} unreadable"),
        ),
    ];
    let notes = vec![format!(
        "lock waits: p99 {p99_wait_ms:.1} ms inside the lock object"
    )];
    Ok((checks, notes, names.len() as u64))
}
