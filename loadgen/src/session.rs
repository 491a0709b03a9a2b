//! The WebSocket sessions the executor owns for a source that names them
//! (`RequestSource::sessions`): opened before the start instant (64 handshakes at once), one
//! sender per session shared by the workers whose sends go on it, one reader each that hands
//! every frame to the executor, a few reconnects before a session counts as lost, and a
//! bounded close at the end. Also the stamp the executor puts ahead of every frame body it
//! sends (`@<global index>.<sent µs>;`) so a delivery can be timed from its send's intended
//! time — unless the source speaks a frame format of its own (`RequestSource::stamps_frames`),
//! whose bodies go out as they are. `wss://` sessions trust what the run's HTTPS connections
//! trust. Never schedules, records or interprets a frame beyond that stamp.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::http::RequestError;
use crate::client::tls::Tls;
use crate::client::ws::{self, WsReceiver, WsSender};
use crate::error::{Error, Result};
use crate::recorder::ErrorKind;
use crate::request::{RequestSource, RequestSpec, SessionEvent};

/// Reconnects of one session before it counts as lost.
pub const MAX_RECONNECTS: u32 = 3;

/// One session: its sending half (taken by the worker whose send it is; replaced by its
/// reader on a reconnect; `None` while down), where it goes and the TLS trust for `wss://`
/// (`None`: the process-wide choice).
pub(crate) struct Session {
    tx: tokio::sync::Mutex<Option<WsSender>>,
    url: String,
    tls: Option<Tls>,
}

/// The stamp ahead of a frame body: global index and send offset (µs from the start).
pub fn stamp(global: u64, sent_us: u128) -> String {
    format!("@{global}.{sent_us};")
}

/// `@<global>.<sent µs>;` at the start of a frame body → (global index, sent offset µs).
pub fn parse_stamp(body: &str) -> Option<(u64, u64)> {
    let (stamp, _) = body.strip_prefix('@')?.split_once(';')?;
    let (global, us) = stamp.split_once('.')?;
    Some((global.parse().ok()?, us.parse().ok()?))
}

impl Session {
    /// Sends `spec`'s body as one text frame, stamped with `stamp` (global index, sent
    /// offset µs) when given.
    pub(crate) async fn send(
        &self,
        index: u32,
        spec: &RequestSpec,
        stamp_with: Option<(u64, u128)>,
    ) -> std::result::Result<(), RequestError> {
        let failed = |kind, message: String| RequestError { kind, message };
        let body = std::str::from_utf8(&spec.body)
            .map_err(|e| failed(ErrorKind::Other, format!("frame body is not UTF-8: {e}")))?;
        let text = match stamp_with {
            Some((global, sent_us)) => format!("{}{body}", stamp(global, sent_us)),
            None => body.to_string(),
        };
        let mut tx = self.tx.lock().await;
        let Some(sender) = tx.as_mut() else {
            return Err(failed(
                ErrorKind::Connect,
                format!("session {index} is not connected"),
            ));
        };
        sender
            .send_text(text)
            .await
            .map(|_| ())
            .map_err(|e| failed(ErrorKind::Other, e.to_string()))
    }

    /// Reads until `stop`: every text frame to `on_frame` with its arrival instant. A dropped
    /// session is opened again up to [`MAX_RECONNECTS`] times (the source hears of each),
    /// then lost.
    pub(crate) async fn read(
        &self,
        index: u32,
        mut rx: WsReceiver,
        stop: &CancellationToken,
        timeout: Duration,
        source: &dyn RequestSource,
        on_frame: impl Fn(&str, Instant),
    ) {
        let mut reconnects = 0;
        loop {
            let frame = tokio::select! {
                f = rx.recv_text() => f,
                _ = stop.cancelled() => return,
            };
            match frame {
                Some(Ok((arrived, text))) => on_frame(text.as_str(), arrived),
                _ if stop.is_cancelled() => return,
                _ => {
                    let again = if reconnects < MAX_RECONNECTS {
                        reconnects += 1;
                        // Boxed: inline, the handshake's state would be in every
                        // reader's task (~4 KiB each, for a reconnect that rarely comes).
                        Box::pin(ws::connect_with(&self.url, timeout, self.tls.as_ref()))
                            .await
                            .ok()
                    } else {
                        None
                    };
                    match again {
                        Some((tx, new_rx, _)) => {
                            *self.tx.lock().await = Some(tx);
                            rx = new_rx;
                            source.session_event(index, SessionEvent::Reconnected);
                        }
                        None => {
                            *self.tx.lock().await = None;
                            source.session_event(index, SessionEvent::Lost);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Sends a close frame (at most 200 ms) and drops the sender.
    async fn close(&self) {
        let taken = self.tx.lock().await.take();
        if let Some(mut tx) = taken {
            let _ = tokio::time::timeout(Duration::from_millis(200), tx.close()).await;
        }
    }
}

/// Opens every session of `source` (at most 64 handshakes at once; `wss://` trusting `tls`,
/// or the process-wide choice when `None`); one that cannot be opened is reported to the
/// source as failed and stays down. `Error::Unreachable` when none opened.
pub(crate) async fn open_all(
    source: &dyn RequestSource,
    timeout: Duration,
    tls: Option<&Tls>,
) -> Result<Vec<(Session, Option<WsReceiver>)>> {
    let specs = source.sessions();
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let opened: Vec<_> = futures_util::stream::iter(specs.into_iter().map(|spec| async move {
        let c = ws::connect_with(&spec.url, timeout, tls).await;
        (spec, c)
    }))
    .buffered(64)
    .collect()
    .await;
    let mut first_err = None;
    let mut out = Vec::with_capacity(opened.len());
    for (i, (spec, c)) in opened.into_iter().enumerate() {
        let (tx, rx) = match c {
            Ok((tx, rx, _)) => (Some(tx), Some(rx)),
            Err(e) => {
                first_err.get_or_insert(e.to_string());
                source.session_event(i as u32, SessionEvent::Failed);
                (None, None)
            }
        };
        out.push((
            Session {
                tx: tokio::sync::Mutex::new(tx),
                url: spec.url,
                tls: tls.cloned(),
            },
            rx,
        ));
    }
    if out.iter().all(|(_, rx)| rx.is_none()) {
        return Err(Error::Unreachable {
            target: out[0].0.url.clone(),
            reason: first_err.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Closes every session (bounded: a close frame each, 2 s in all).
pub(crate) async fn close_all(sessions: &[Session]) {
    let closing = futures_util::future::join_all(sessions.iter().map(Session::close));
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_strangers_are_not_stamps() {
        let body = format!("{}u7:xxxx", stamp(123_456, 789));
        assert_eq!(parse_stamp(&body), Some((123_456, 789)));
        for other in ["u7:xxxx", "@12;x", "@a.b;x", "@1.2", ""] {
            assert_eq!(parse_stamp(other), None, "{other:?}");
        }
    }
}
