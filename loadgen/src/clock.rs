//! This machine's clock against the target's, from the target's HTTP `Date` header: the parts
//! of a split run each measure theirs, so the merge can say how far apart the generators'
//! clocks were. `Date` has one-second resolution, so [`offset_from_date`] probes back to back
//! until the header's second ticks over: the tick happened between the last probe of the old
//! second being sent and the first probe of the new one being answered, which bounds the
//! offset to about two round trips. Bounded in requests and time; never sends load.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// This clock minus the target's, in ms, ± `error_ms`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClockOffset {
    pub offset_ms: f64,
    pub error_ms: f64,
}

/// At most this many probes (and [`offset_from_date`]'s time budget) per measurement.
const MAX_PROBES: usize = 400;

fn epoch_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Measures this clock against the `Date` header of `url`'s answers (any status will do),
/// probing for at most `budget` (a little over a second is enough). `None` when the target
/// sends no `Date`, cannot be reached over plain HTTP, or never ticked within the budget.
pub async fn offset_from_date(url: &str, budget: Duration) -> Option<ClockOffset> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let deadline = Instant::now() + budget;
    // (sent, date second) of the previous probe.
    let mut previous: Option<(f64, u64)> = None;
    for _ in 0..MAX_PROBES {
        if Instant::now() >= deadline {
            break;
        }
        let sent = epoch_ms(SystemTime::now());
        let resp = client.get(url).send().await.ok()?;
        let answered = epoch_ms(SystemTime::now());
        let date = resp
            .headers()
            .get(reqwest::header::DATE)?
            .to_str()
            .ok()
            .and_then(|d| httpdate::parse_http_date(d).ok())?;
        let second = date.duration_since(UNIX_EPOCH).ok()?.as_secs();
        if let Some((prev_sent, prev_second)) = previous {
            if second > prev_second {
                // The target's clock read `second * 1000` somewhere in [prev_sent, answered].
                let tick = second as f64 * 1000.0;
                let (lo, hi) = (prev_sent - tick, answered - tick);
                return Some(ClockOffset {
                    offset_ms: (lo + hi) / 2.0,
                    error_ms: (hi - lo) / 2.0,
                });
            }
        }
        previous = Some((sent, second));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that stamps `Date` from this machine's clock: the offset is ~0 and its error
    /// bound is honest (the true offset, 0, lies within it).
    #[tokio::test]
    async fn a_target_on_this_clock_is_within_the_error_bound() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let date = httpdate::fmt_http_date(SystemTime::now());
                        let resp =
                            format!("HTTP/1.1 200 OK\r\ndate: {date}\r\ncontent-length: 0\r\n\r\n");
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let o = offset_from_date(&format!("http://{addr}/"), Duration::from_millis(2500))
            .await
            .expect("measured");
        assert!(o.offset_ms.abs() <= o.error_ms + 1.0, "{o:?}");
        assert!(o.error_ms < 100.0, "{o:?}");
    }
}
