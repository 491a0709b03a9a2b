//! WebSocket sessions via tokio-tungstenite: connect (timed; `wss://` over rustls with the
//! same trust as HTTPS, [`super::tls`]), send text frames, receive text frames, close. The executor opens and drives every session (`RequestSource::sessions`);
//! this module only speaks the protocol and never interprets frame contents or schedules
//! anything. Each session's read buffer is kept small ([`READ_BUFFER_BYTES`]): tungstenite's
//! default zero-fills 128 KiB per socket, which at 5,000 members is 640 MiB of nothing; and
//! the opening handshake is ours ([`super::upgrade`]), because tungstenite's keeps its 4 KiB
//! handshake buffer as every session's read buffer.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::either::Either;

use super::tls::{self, Tls};
use crate::error::{Error, Result};

/// Plain TCP (`ws://`) or TLS (`wss://`).
type Stream = WebSocketStream<Either<TcpStream, TlsStream<TcpStream>>>;

/// Bytes a session reads from its socket at a time (a larger frame reserves its own length).
pub const READ_BUFFER_BYTES: usize = 1024;

/// The sending half of a session.
pub struct WsSender(SplitSink<Stream, Message>);
/// The receiving half of a session.
pub struct WsReceiver(SplitStream<Stream>);

/// Connects to a `ws://` or `wss://` URL (loopback unless remote targets are allowed), with
/// the process-wide TLS trust; returns both halves and the connect latency (TCP + TLS +
/// upgrade handshake).
pub async fn connect(url: &str, timeout: Duration) -> Result<(WsSender, WsReceiver, Duration)> {
    connect_with(url, timeout, None).await
}

/// [`connect`] trusting `tls` for `wss://` (`None`: the process-wide choice,
/// [`tls::process`]).
pub async fn connect_with(
    url: &str,
    timeout: Duration,
    tls: Option<&Tls>,
) -> Result<(WsSender, WsReceiver, Duration)> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
    crate::target::check_url(&uri)?;
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(Error::InvalidUrl {
                url: url.into(),
                reason: "a WebSocket URL starts with ws:// or wss://".into(),
            })
        }
    };
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tls = match (secure, tls) {
        (false, _) => None,
        (true, Some(t)) => Some(t.clone()),
        (true, None) => Some(tls::process()?),
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0);
    let failed = |e: String| Error::WebSocket(format!("connect to {url}: {e}"));
    let t0 = Instant::now();
    let handshake = async {
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| failed(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| failed(e.to_string()))?;
        let io = match tls {
            None => Either::Left(tcp),
            Some(tls) => Either::Right(
                tls.connector(false)
                    .connect(tls::server_name(&host)?, tcp)
                    .await
                    .map_err(|e| failed(format!("TLS: {e}")))?,
            ),
        };
        super::upgrade::upgrade(io, &uri, config).await
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::WebSocket(format!("connect to {url} timed out")))??;
    let took = t0.elapsed();
    let (sink, stream) = stream.split();
    Ok((WsSender(sink), WsReceiver(stream), took))
}

impl WsSender {
    /// Sends one text frame (flushed); returns the instant it was handed to the socket.
    pub async fn send_text(&mut self, text: String) -> Result<Instant> {
        let at = Instant::now();
        self.0
            .send(Message::text(text))
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))?;
        Ok(at)
    }

    /// Sends a close frame and flushes.
    pub async fn close(&mut self) -> Result<()> {
        self.0
            .close()
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))
    }
}

impl WsReceiver {
    /// Next text frame (its bytes as received, not copied) and its arrival instant; `None`
    /// once the peer closed.
    pub async fn recv_text(&mut self) -> Option<Result<(Instant, Utf8Bytes)>> {
        loop {
            match self.0.next().await? {
                Ok(Message::Text(t)) => return Some(Ok((Instant::now(), t))),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(e) => return Some(Err(Error::WebSocket(e.to_string()))),
            }
        }
    }
}
