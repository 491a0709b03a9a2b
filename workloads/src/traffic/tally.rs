//! Per-object request bookkeeping shared by the patterns' traffic (aggregator, lock, lost
//! update): requests sent, answered and acknowledged (200) per object, so a final value can
//! be judged against what was acknowledged plus what may or may not have landed; and the
//! final reads of one JSON field from many objects. Never decides a verdict itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::RequestSpec;

use super::fetch_all;
use crate::error::Result;

/// Requests per object.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    sent: HashMap<Arc<str>, u64>,
    answered: HashMap<Arc<str>, u64>,
    acked: HashMap<Arc<str>, u64>,
}

/// What one object was sent and acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Answered 200: these landed.
    pub(crate) acked: u64,
    /// Sent without an answer: these may or may not have landed.
    pub(crate) unknown: u64,
}

impl Bounds {
    /// `value` is what the acknowledged requests plus some of the unanswered ones make.
    pub(crate) fn holds(&self, value: u64) -> bool {
        value >= self.acked && value <= self.acked + self.unknown
    }
}

impl Tally {
    pub(crate) fn sent(&mut self, name: &Arc<str>) {
        *self.sent.entry(name.clone()).or_default() += 1;
    }

    pub(crate) fn unsent(&mut self, name: &Arc<str>) {
        if let Some(n) = self.sent.get_mut(name) {
            *n = n.saturating_sub(1);
        }
    }

    pub(crate) fn answered(&mut self, name: &Arc<str>, ok: bool) {
        *self.answered.entry(name.clone()).or_default() += 1;
        if ok {
            *self.acked.entry(name.clone()).or_default() += 1;
        }
    }

    pub(crate) fn bounds(&self, name: &str) -> Bounds {
        let get = |m: &HashMap<Arc<str>, u64>| m.get(name).copied().unwrap_or(0);
        let sent = get(&self.sent);
        Bounds {
            acked: get(&self.acked),
            unknown: sent - get(&self.answered).min(sent),
        }
    }

    /// Every object sent to, sorted.
    pub(crate) fn names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.sent.keys().cloned().collect();
        names.sort();
        names
    }
}

/// GETs each URL and reads the whole number `field` of its JSON answer (`None` where the
/// read failed).
pub(crate) async fn read_field(
    urls: &[String],
    field: &str,
    timeout: Duration,
) -> Result<Vec<Option<u64>>> {
    let specs = urls
        .iter()
        .map(|u| RequestSpec::new("final", Method::GET, u))
        .collect::<dobench_loadgen::Result<Vec<_>>>()?;
    Ok(fetch_all(specs, 16, timeout)
        .await
        .into_iter()
        .map(|r| {
            r.filter(|r| r.status == 200)
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
                .and_then(|v| v[field].as_u64())
        })
        .collect())
}
