//! The target's own view of a run: a typed mirror of the fields dobench reads from the
//! reference runtime's `GET {target}/_dobench/stats`, a one-shot [`fetch`], and a
//! [`spawn_scraper`] that polls it every ~250 ms (less often when a scrape is slow) and publishes the latest value on a `watch`,
//! and [`merge`], the one relay that joins a run's `Snapshot` bus with those stats.
//! Speaks only HTTP + JSON (this crate never imports the runtime); unknown fields are
//! ignored and missing ones default, so a newer or older runtime still parses. Never retries
//! in a tight loop and never outlives its cancellation token.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::http::{ClientConfig, HttpConn};
use crate::error::{Error, Result};
use crate::request::RequestSpec;

/// Path of the stats document under the target's base URL.
pub const STATS_PATH: &str = "/_dobench/stats";
/// Default polling period.
pub const DEFAULT_EVERY: Duration = Duration::from_millis(250);
/// A scraper waits at least this many times its last scrape's duration before the next.
const SCRAPE_SHARE: u32 = 40;

/// One object as the target reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerObject {
    pub class: String,
    pub id: String,
    pub name: Option<String>,
    pub live: bool,
    pub requests: u64,
    pub turns: u64,
    pub queue_depth: u64,
    pub overloaded: u64,
    pub billed_ms: f64,
    pub hibernated_ms: f64,
    pub avoided_ms: f64,
    pub sockets_open: u64,
    pub hibernations: u64,
    pub constructions: u64,
    pub alarms_set: u64,
    pub alarms_fired: u64,
    pub alarms_retried: u64,
    pub alarms_given_up: u64,
    /// Wall-clock ms in memory (billed or idle).
    pub active_ms: f64,
    /// ms with at least one socket open.
    pub socket_open_ms: f64,
    /// Incoming WebSocket messages delivered to it.
    pub ws_messages_in: u64,
    /// Size of its database, bytes.
    pub storage_bytes: u64,
    /// Storage rows its turns read and wrote (0 from runtimes that do not count them).
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub rows_written: u64,
    /// Mean virtual service time per turn on the ceiling's clock, ms.
    #[serde(default)]
    pub service_ms_per_turn: f64,
}

/// Runtime-wide alarm counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerAlarms {
    pub pending: u64,
    pub set: u64,
    pub fired: u64,
    pub retried: u64,
    pub given_up: u64,
}

/// Runtime-wide duration accounting and WebSocket hibernation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerHibernation {
    pub sockets_open: u64,
    pub sockets_hibernated: u64,
    pub objects_hibernated: u64,
    pub billed_ms: f64,
    pub hibernated_ms: f64,
    pub avoided_ms: f64,
    pub gb_s_billed: f64,
    pub gb_s_avoided: f64,
    pub usd_avoided: f64,
    pub saved_pct: f64,
    /// Requests served (refusals excluded) + alarm runs + incoming WebSocket messages ÷ 20.
    pub billable_requests: f64,
    /// Storage rows read and written by every object's turns.
    pub rows_read: u64,
    pub rows_written: u64,
    /// Bytes stored by every object's database.
    pub stored_bytes: u64,
}

/// One scrape of `/_dobench/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerStats {
    /// Seconds since the scraper started (0 for a one-shot fetch).
    pub scraped_at_s: f64,
    pub uptime_ms: f64,
    /// The target's per-object ceiling in turns/s (`None`: off or unknown).
    pub ceiling_rps: Option<u32>,
    pub live_objects: u64,
    /// Every object seen since the target started (`objects` lists the hottest of them).
    pub objects_total: u64,
    pub alarms: ServerAlarms,
    pub hibernation: ServerHibernation,
    /// Every object seen since the target started, hottest first.
    pub objects: Vec<ServerObject>,
}

impl ServerStats {
    /// The object of `class` named `name`, if the target has seen it.
    pub fn object(&self, class: &str, name: &str) -> Option<&ServerObject> {
        self.objects
            .iter()
            .find(|o| o.class == class && o.name.as_deref() == Some(name))
    }
}

/// A GET of the stats document on a (reusable) connection.
async fn get(conn: &mut HttpConn, spec: &RequestSpec, timeout: Duration) -> Result<ServerStats> {
    let url = spec.url.to_string();
    let resp = tokio::time::timeout(timeout, conn.send(spec))
        .await
        .map_err(|_| Error::Unreachable {
            target: url.clone(),
            reason: "stats request timed out".into(),
        })?
        .map_err(|e| Error::Unreachable {
            target: url.clone(),
            reason: e.message,
        })?;
    if resp.status != 200 {
        return Err(Error::Unreachable {
            target: url,
            reason: format!("status {} (not the reference runtime?)", resp.status),
        });
    }
    serde_json::from_slice(&resp.body).map_err(|e| Error::Unreachable {
        target: url,
        reason: format!("stats are not the reference runtime's JSON: {e}"),
    })
}

fn stats_spec(base: &str) -> Result<RequestSpec> {
    let url = format!("{}{STATS_PATH}", base.trim_end_matches('/'));
    RequestSpec::new("stats", http::Method::GET, &url)
}

/// One scrape of `{base}/_dobench/stats` (`base` like `http://127.0.0.1:8787`).
pub async fn fetch(base: &str, timeout: Duration) -> Result<ServerStats> {
    let spec = stats_spec(base)?;
    let mut conn = HttpConn::new(ClientConfig::default());
    get(&mut conn, &spec, timeout).await
}

/// Most hottest objects one scrape asks for (the reference runtime's own cap).
pub const MAX_TOP: usize = 10_000;

/// One scrape listing the `top` hottest objects (at most [`MAX_TOP`]) instead of the
/// target's default: what a run's summary reads its objects' service times from.
pub async fn fetch_hottest(base: &str, timeout: Duration, top: usize) -> Result<ServerStats> {
    let url = format!(
        "{}{STATS_PATH}?top={}",
        base.trim_end_matches('/'),
        top.clamp(1, MAX_TOP)
    );
    let spec = RequestSpec::new("stats", http::Method::GET, &url)?;
    let mut conn = HttpConn::new(ClientConfig::default());
    get(&mut conn, &spec, timeout).await
}

/// Polls `{base}/_dobench/stats` every `every` (less often when a scrape takes more than
/// 1/40th of that: see `SCRAPE_SHARE`) until `cancel` fires and publishes each good
/// scrape (`None` until the first). A failed scrape keeps the last value; the first failure
/// is logged once. The task ends with the token; the receiver then keeps the last value.
pub fn spawn_scraper(
    base: &str,
    every: Duration,
    cancel: CancellationToken,
) -> Result<watch::Receiver<Option<ServerStats>>> {
    let spec = stats_spec(base)?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let start = Instant::now();
        let mut conn = HttpConn::new(ClientConfig::default());
        let every = every.max(Duration::from_millis(50));
        let mut next = Instant::now();
        let mut warned = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = cancel.cancelled() => break,
            }
            let began = Instant::now();
            let scrape = tokio::select! {
                r = get(&mut conn, &spec, every.max(Duration::from_secs(2))) => r,
                _ = cancel.cancelled() => break,
            };
            // A scrape walks every object the target has seen: past a few hundred thousand
            // it takes milliseconds of the target's CPU, so the next waits long enough that
            // scraping takes at most 1/SCRAPE_SHARE of the target's time.
            next = began + every.max(began.elapsed() * SCRAPE_SHARE);
            match scrape {
                Ok(mut s) => {
                    s.scraped_at_s = start.elapsed().as_secs_f64();
                    tx.send_replace(Some(s));
                }
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!("server stats unavailable: {e}");
                }
                Err(_) => {}
            }
        }
    });
    Ok(rx)
}
/// The run's bus with the target's latest stats on it: re-publishes every snapshot with the
/// latest scrape in `server`, and the latest snapshot again whenever new stats arrive. When
/// the snapshot bus closes without a `done` snapshot, the last one is re-published as `done`,
/// so every reader (progress, TUI, store) sees an end. Ends after the `done` snapshot.
pub fn merge(
    mut snapshots: watch::Receiver<crate::Snapshot>,
    mut server: watch::Receiver<Option<ServerStats>>,
) -> watch::Receiver<crate::Snapshot> {
    let first = snapshots.borrow_and_update().clone();
    let (tx, rx) = watch::channel(first);
    tokio::spawn(async move {
        let mut server_open = true;
        loop {
            tokio::select! {
                changed = snapshots.changed() => {
                    let closed = changed.is_err();
                    let mut s = snapshots.borrow_and_update().clone();
                    if s.server.is_none() {
                        s.server = server.borrow().clone();
                    }
                    s.done |= closed;
                    let done = s.done;
                    tx.send_replace(s);
                    if done {
                        break;
                    }
                }
                changed = server.changed(), if server_open => {
                    if changed.is_err() {
                        server_open = false;
                        continue;
                    }
                    let stats = server.borrow_and_update().clone();
                    tx.send_modify(|s| s.server = stats);
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Snapshot;

    #[tokio::test]
    async fn merged_bus_carries_server_stats_and_ends_with_done() {
        let (stx, srx) = watch::channel(Snapshot::default());
        let (vtx, vrx) = watch::channel(None);
        let mut out = merge(srx, vrx);
        vtx.send_replace(Some(ServerStats {
            live_objects: 7,
            ..ServerStats::default()
        }));
        out.changed().await.unwrap();
        let live = |s: &Snapshot| s.server.as_ref().map(|v| v.live_objects);
        assert_eq!(live(&out.borrow_and_update()), Some(7));
        stx.send_replace(Snapshot {
            done: true,
            elapsed_s: 3.0,
            ..Snapshot::default()
        });
        loop {
            out.changed().await.unwrap();
            let s = out.borrow_and_update().clone();
            if s.done {
                assert_eq!(live(&s), Some(7));
                break;
            }
        }
    }

    #[tokio::test]
    async fn merge_attaches_the_latest_stats_and_always_ends_done() {
        let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
        let (stats_tx, stats_rx) = watch::channel(None);
        let mut merged = merge(snap_rx, stats_rx);
        stats_tx.send_replace(Some(ServerStats::default()));
        snap_tx.send_replace(Snapshot {
            requests: 7,
            ..Snapshot::default()
        });
        drop(snap_tx); // closed without a `done` snapshot
        let last = loop {
            merged.changed().await.unwrap();
            let s = merged.borrow_and_update().clone();
            if s.done {
                break s;
            }
        };
        assert_eq!(last.requests, 7);
        assert!(last.server.is_some(), "the stats ride along");
    }
}
