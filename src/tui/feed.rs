//! Feeds the dashboard from a target that is the reference runtime: joins the executor's
//! `Snapshot` bus with the runtime's scraped `/_dobench/stats` into one `watch<Snapshot>`
//! whose `server` field carries the latest scrape. For callers that do not merge server stats
//! into the bus themselves (`dobench http --tui`). Never measures or computes anything.

use std::time::Duration;

use dobench_loadgen::server_stats;
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
        Ok(server) => server_stats::merge(snapshots, server),
        Err(_) => snapshots,
    }
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
}
