//! lost-update traffic: increments alternate between unguarded objects (`guard=0`) and
//! guarded ones (`guard=1`, `block_concurrency`), each read → await another object → write.
//! At the end every object's value is read back: an unguarded object lost at least
//! `acknowledged − final` updates; a guarded one must hold exactly what was acknowledged (up
//! to unanswered requests). Passes when the unguarded objects lost at least one update and
//! the guarded ones none; both counts are reported. Never blocks the hot path beyond one
//! short mutex.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dobench_loadgen::http::Method;
use dobench_loadgen::{RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use super::tally::{read_field, Tally};
use super::{check, run_then_verify, Running, Verified};
use crate::error::{Error, Result};
use crate::lost_update::CLASS;
use crate::profile::Profile;

struct LostUpdateSource {
    base: String,
    prefix: String,
    objects: u64,
    delay_ms: u64,
    tally: Mutex<Tally>,
}

impl LostUpdateSource {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests go in pairs, one pair after another to the same object, pairs alternating
    /// between unguarded and guarded objects: the second of a pair arrives while the first is
    /// parked at its await whenever the pause is longer than the gap between sends (with
    /// single requests spread evenly the race would hang on timing jitter).
    fn target(&self, index: u64) -> (bool, String) {
        let pair = index / 2;
        let guarded = pair % 2 == 1;
        let n = (pair / 2) % self.objects;
        let kind = if guarded { "guarded" } else { "open" };
        (guarded, format!("{}-{kind}{n}", self.prefix))
    }
}

impl RequestSource for LostUpdateSource {
    fn request(&self, index: u64) -> RequestSpec {
        let (guarded, name) = self.target(index);
        let url = format!(
            "{}/{CLASS}/{name}/add?guard={}&delay_ms={}",
            self.base,
            u8::from(guarded),
            self.delay_ms
        );
        let op = if guarded { "add-guarded" } else { "add" };
        let spec = RequestSpec::new(op, Method::POST, &url).unwrap_or_else(|_| {
            RequestSpec::new(op, Method::POST, "http://127.0.0.1/").expect("static URL")
        });
        let name: Arc<str> = name.into();
        self.lock().sent(&name);
        spec.with_object(name)
    }

    fn unsent(&self, _index: u64, request: &RequestSpec) {
        if let Some(name) = &request.object {
            self.lock().unsent(name);
        }
    }

    fn observe(&self, _index: u64, request: &RequestSpec, response: &Response) {
        if let Some(name) = &request.object {
            self.lock().answered(name, response.status == 200);
        }
    }
}

/// Starts the lost-update workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let o = &profile.lost_update;
    let source = Arc::new(LostUpdateSource {
        base: base.clone(),
        prefix: format!("lu-{nonce}"),
        objects: o.objects,
        delay_ms: o.delay_ms,
        tally: Mutex::new(Tally::default()),
    });
    let timeout = profile.load.timeout.0;
    run_then_verify(profile, source, cancel, move |src, _| async move {
        // Each object also has its helper.
        let (checks, notes, objects) = verify(&src, &base, timeout).await?;
        Ok((checks, notes, objects * 2))
    })
}

/// Lost updates per kind of object.
#[derive(Debug, Default)]
struct Lost {
    acked: u64,
    lost: u64,
    /// Objects holding more than acknowledged + unanswered requests could have added.
    off: u64,
}

async fn verify(src: &LostUpdateSource, base: &str, timeout: Duration) -> Result<Verified> {
    let tally = src.lock().clone();
    let names = tally.names();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("{base}/{CLASS}/{n}"))
        .collect();
    let finals = read_field(&urls, "n", timeout).await?;
    let (mut open, mut guarded, mut unread) = (Lost::default(), Lost::default(), 0u64);
    for (name, value) in names.iter().zip(finals) {
        let Some(value) = value else {
            unread += 1;
            continue;
        };
        let b = tally.bounds(name);
        let kind = if name.contains("-guarded") {
            &mut guarded
        } else {
            &mut open
        };
        kind.acked += b.acked;
        kind.lost += b.acked.saturating_sub(value);
        if value > b.acked + b.unknown {
            kind.off += 1;
        }
    }
    if unread > 0 && unread == names.len() as u64 {
        return Err(Error::Target(
            "could not read any lost-update object back".into(),
        ));
    }
    let checks = vec![
        check(
            "unguarded read → await → write lost updates",
            open.lost >= 1 && unread == 0,
            format!(
                "lost at least {} of {} acknowledged increments (other events ran while each awaited another object)",
                open.lost, open.acked
            ),
        ),
        check(
            "block_concurrency lost none",
            guarded.lost == 0 && guarded.off == 0 && unread == 0,
            format!(
                "lost {} of {} acknowledged increments; {} objects off their bounds; {unread} unreadable",
                guarded.lost, guarded.acked, guarded.off
            ),
        ),
    ];
    let notes = vec![format!(
        "lost updates: unguarded ≥ {} of {}, guarded {} of {}",
        open.lost, open.acked, guarded.lost, guarded.acked
    )];
    Ok((checks, notes, names.len() as u64))
}
