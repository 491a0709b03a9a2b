//! Feeds the dashboard from a target that is the reference runtime: joins the executor's
//! `Snapshot` bus with the runtime's scraped `/_dobench/stats` into one `watch<Snapshot>`
//! whose `server` field carries the latest scrape. For callers that do not merge server stats
//! into the bus themselves (`dobench http --tui`). Never measures or computes anything.

use std::time::Duration;

use dobench_loadgen::server_stats::{self, ServerStats};
use dobench_loadgen::Snapshot;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The scheme + authority of `url` (`http://127.0.0.1:8787/counter/x` → `http://127.0.0.1:8787`).
pub fn base_url(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// When `url`'s host answers `/_dobench/stats` like the reference runtime, a bus that carries
/// its stats alongside `snapshots` (scraped until `cancel`); otherwise `snapshots` unchanged.
pub async fn with_server_stats(
    url: &str,
    snapshots: watch::Receiver<Snapshot>,
    cancel: CancellationToken,
) -> watch::Receiver<Snapshot> {
    let base = base_url(url);
    if server_stats::fetch(base, Duration::from_secs(1))
        .await
        .is_err()
    {
        return snapshots;
    }
    match server_stats::spawn_scraper(base, server_stats::DEFAULT_EVERY, cancel) {
        Ok(server) => merge(snapshots, server),
        Err(_) => snapshots,
    }
}

/// Re-publishes every snapshot with the latest server stats, and the latest snapshot again
/// whenever new stats arrive. Ends when the snapshot bus closes.
pub fn merge(
    mut snapshots: watch::Receiver<Snapshot>,
    mut server: watch::Receiver<Option<ServerStats>>,
) -> watch::Receiver<Snapshot> {
    let first = snapshots.borrow_and_update().clone();
    let (tx, rx) = watch::channel(first);
    tokio::spawn(async move {
        let mut server_open = true;
        loop {
            tokio::select! {
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let mut s = snapshots.borrow_and_update().clone();
                    if s.server.is_none() {
                        s.server = server.borrow().clone();
                    }
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

    #[test]
    fn base_url_keeps_scheme_and_authority() {
        assert_eq!(
            base_url("http://127.0.0.1:8787/counter/x/increment"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(base_url("http://localhost:1"), "http://localhost:1");
    }

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
        assert_eq!(
            out.borrow_and_update()
                .server
                .as_ref()
                .unwrap()
                .live_objects,
            7
        );
        stx.send_replace(Snapshot {
            done: true,
            elapsed_s: 3.0,
            ..Snapshot::default()
        });
        loop {
            out.changed().await.unwrap();
            let s = out.borrow_and_update().clone();
            if s.done {
                assert_eq!(s.server.unwrap().live_objects, 7);
                break;
            }
        }
    }
}
