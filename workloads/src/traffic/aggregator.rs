//! parent-aggregator traffic: increments spread over the shard objects, each shard
//! forwarding to its parent (`shard % parents`) before it counts. At the end: every parent's
//! total equals the increments acknowledged through its shards (up to unanswered ones),
//! every shard's value equals its own acknowledged increments, and the parent's one read
//! equals the client-side fan-in (the sum of its shards read one by one). Never blocks the
//! hot path beyond one short mutex.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use super::tally::{read_field, Tally};
use super::{check, run_then_verify, Running, Verified};
use crate::aggregator::CLASS;
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::strategy::mix64;

struct AggregatorSource {
    base: String,
    prefix: String,
    shards: u64,
    parents: u64,
    /// Per shard, and per parent (what went through its shards).
    shard_tally: Mutex<(Tally, Tally)>,
}

impl AggregatorSource {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Tally, Tally)> {
        self.shard_tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shard_name(&self, shard: u64) -> String {
        format!("{}-s{shard}", self.prefix)
    }

    fn parent_name(&self, shard: u64) -> String {
        format!("{}-p{}", self.prefix, shard % self.parents)
    }

    fn parent_of(&self, request: &RequestSpec) -> Option<Arc<str>> {
        let shard: u64 = request
            .object
            .as_deref()?
            .rsplit_once("-s")?
            .1
            .parse()
            .ok()?;
        Some(self.parent_name(shard).into())
    }
}

impl RequestSource for AggregatorSource {
    fn request(&self, index: u64) -> RequestSpec {
        let shard = mix64(index) % self.shards;
        let (name, parent) = (self.shard_name(shard), self.parent_name(shard));
        let url = format!("{}/{CLASS}/{name}/increment?parent={parent}", self.base);
        let spec = RequestSpec::new("increment", Method::POST, &url).unwrap_or_else(|_| {
            RequestSpec::new("increment", Method::POST, "http://127.0.0.1/").expect("static URL")
        });
        let (name, parent): (Arc<str>, Arc<str>) = (name.into(), parent.into());
        let mut t = self.lock();
        t.0.sent(&name);
        t.1.sent(&parent);
        drop(t);
        spec.with_object(name)
    }

    fn unsent(&self, _index: u64, request: &RequestSpec) {
        let parent = self.parent_of(request);
        let mut t = self.lock();
        if let Some(name) = &request.object {
            t.0.unsent(name);
        }
        if let Some(p) = parent {
            t.1.unsent(&p);
        }
    }

    fn observe(&self, _index: u64, request: &RequestSpec, response: &Response) {
        let ok = response.status == 200;
        let parent = self.parent_of(request);
        let mut t = self.lock();
        if let Some(name) = &request.object {
            t.0.answered(name, ok);
        }
        if let Some(p) = parent {
            t.1.answered(&p, ok);
        }
    }
}

/// Starts the parent-aggregator workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let o = &profile.aggregator;
    let source = Arc::new(AggregatorSource {
        base: base.clone(),
        prefix: format!("agg-{nonce}"),
        shards: o.shards,
        parents: o.parents,
        shard_tally: Mutex::new((Tally::default(), Tally::default())),
    });
    let timeout = profile.load.timeout.0;
    run_then_verify(profile, source, cancel, move |src, _| async move {
        verify(&src, &base, timeout).await
    })
}

async fn verify(src: &AggregatorSource, base: &str, timeout: Duration) -> Result<Verified> {
    let (shards, parents) = src.lock().clone();
    let shard_names = shards.names();
    let parent_names = parents.names();
    let shard_urls: Vec<String> = shard_names
        .iter()
        .map(|n| format!("{base}/{CLASS}/{n}"))
        .collect();
    let parent_urls: Vec<String> = parent_names
        .iter()
        .map(|n| format!("{base}/{CLASS}/{n}/total"))
        .collect();
    let shard_values = read_field(&shard_urls, "value", timeout).await?;
    let totals = read_field(&parent_urls, "total", timeout).await?;
    if totals.iter().all(Option::is_none) {
        return Err(Error::Target("could not read any parent total back".into()));
    }
    let mut unread = 0u64;
    let (mut shards_off, mut fan_in) = (0u64, HashMap::<Arc<str>, u64>::new());
    for (name, value) in shard_names.iter().zip(&shard_values) {
        let Some(value) = *value else {
            unread += 1;
            continue;
        };
        if !shards.bounds(name).holds(value) {
            shards_off += 1;
        }
        let shard: u64 = name
            .rsplit_once("-s")
            .and_then(|(_, s)| s.parse().ok())
            .unwrap_or(0);
        *fan_in.entry(src.parent_name(shard).into()).or_default() += value;
    }
    let (mut parents_off, mut fan_in_off, mut sum_total, mut sum_acked) = (0u64, 0u64, 0, 0);
    for (name, total) in parent_names.iter().zip(&totals) {
        let Some(total) = *total else {
            unread += 1;
            continue;
        };
        let b = parents.bounds(name);
        sum_total += total;
        sum_acked += b.acked;
        if !b.holds(total) {
            parents_off += 1;
        }
        if fan_in.get(name).copied().unwrap_or(0) != total {
            fan_in_off += 1;
        }
    }
    let checks = vec![
        check(
            "parent totals = acknowledged increments",
            parents_off == 0 && unread == 0,
            format!(
                "{} parents: totals sum to {sum_total}, acknowledged {sum_acked}; {parents_off} off their bounds, {unread} objects unreadable",
                parent_names.len()
            ),
        ),
        check(
            "parent total = client-side fan-in over its shards",
            fan_in_off == 0 && unread == 0,
            format!(
                "{} parents, {} shards read one by one: {fan_in_off} parents differ from the sum of their shards",
                parent_names.len(),
                shard_names.len()
            ),
        ),
        check(
            "shard values = acknowledged increments",
            shards_off == 0 && unread == 0,
            format!("{} shards: {shards_off} off their bounds", shard_names.len()),
        ),
    ];
    let notes = vec![format!(
        "aggregate read: 1 request to the parent instead of {} fan-in reads",
        shard_names.len().div_ceil(parent_names.len().max(1))
    )];
    Ok((
        checks,
        notes,
        (shard_names.len() + parent_names.len()) as u64,
    ))
}
