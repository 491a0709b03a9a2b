//! WebSocket sessions via tokio-tungstenite: connect (timed), send text frames, receive text
//! frames, close. The executor opens and drives every session (`RequestSource::sessions`);
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
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bytes a session reads from its socket at a time (a larger frame reserves its own length).
pub const READ_BUFFER_BYTES: usize = 1024;

/// The sending half of a session.
pub struct WsSender(SplitSink<Stream, Message>);
/// The receiving half of a session.
pub struct WsReceiver(SplitStream<Stream>);

/// Connects to a loopback `ws://` URL; returns both halves and the connect latency
/// (TCP + upgrade handshake).
pub async fn connect(url: &str, timeout: Duration) -> Result<(WsSender, WsReceiver, Duration)> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
    crate::target::check_url(&uri)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0);
    if uri.scheme_str() != Some("ws") {
        return Err(Error::WebSocket(format!(
            "{url}: only ws:// URLs are supported here"
        )));
    }
    let t0 = Instant::now();
    let open = async {
        let addr = uri.authority().map_or("", |a| a.as_str());
        let addr = if uri.port().is_some() {
            addr.to_string()
        } else {
            format!("{addr}:80")
        };
        let tcp = TcpStream::connect(&addr)
            .await
            .map_err(|e| Error::WebSocket(format!("connect to {url}: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| Error::WebSocket(format!("connect to {url}: {e}")))?;
        super::upgrade::upgrade(MaybeTlsStream::Plain(tcp), &uri, config).await
    };
    let stream = tokio::time::timeout(timeout, open)
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
