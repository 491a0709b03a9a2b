//! The client side of the WebSocket opening handshake (RFC 6455 §4.1) over an open stream:
//! one `GET` with the upgrade headers, the `101` answer read and checked with `httparse`
//! (status, `Upgrade`, `Sec-WebSocket-Accept`), then the session built over the stream with
//! a read buffer of exactly the size asked for. Why not tungstenite's own client handshake:
//! it hands its 4 KiB handshake buffer on to the session as the session's read buffer, so
//! every socket keeps 4 KiB whatever `read_buffer_size` says (at 10,000 sockets, 30 MiB of
//! nothing). Never sends a frame and never retries.

use http::Uri;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::error::{Error, Result};

/// Longest answer head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;

fn failed(url: &Uri, what: impl std::fmt::Display) -> Error {
    Error::WebSocket(format!("upgrade of {url}: {what}"))
}

/// The upgrade request for `url` with key `key`.
pub fn request(url: &Uri, key: &str) -> String {
    let host = url.authority().map_or("", |a| a.as_str());
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
}

/// Checks an upgrade answer at the start of `buf`: `Ok(None)` while its head is incomplete,
/// else the head's length.
pub fn check_answer(url: &Uri, buf: &[u8], key: &str) -> Result<Option<usize>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(failed(url, format!("invalid answer: {e}"))),
    };
    if resp.code != Some(101) {
        return Err(failed(
            url,
            format!("answered {} instead of 101", resp.code.unwrap_or(0)),
        ));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if !header("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket")) {
        return Err(failed(url, "answer lacks `Upgrade: websocket`"));
    }
    if header("sec-websocket-accept").map(<[u8]>::trim_ascii)
        != Some(derive_accept_key(key.as_bytes()).as_bytes())
    {
        return Err(failed(url, "wrong or missing Sec-WebSocket-Accept"));
    }
    Ok(Some(len))
}

/// Upgrades `stream` (already connected to `url`'s host) to a client WebSocket session.
pub async fn upgrade<S>(
    mut stream: S,
    url: &Uri,
    config: WebSocketConfig,
) -> Result<WebSocketStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    stream
        .write_all(request(url, &key).as_bytes())
        .await
        .map_err(|e| failed(url, e))?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let head = loop {
        let n = stream.read(&mut chunk).await.map_err(|e| failed(url, e))?;
        if n == 0 {
            return Err(failed(url, "connection closed during the handshake"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(len) = check_answer(url, &buf, &key)? {
            break len;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(failed(url, "answer head too long"));
        }
    };
    Ok(if buf.len() == head {
        WebSocketStream::from_raw_socket(stream, Role::Client, Some(config)).await
    } else {
        // Frames that came with the answer: the session starts with them.
        let rest = buf[head..].to_vec();
        WebSocketStream::from_partially_read(stream, rest, Role::Client, Some(config)).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked() {
        let url: Uri = "ws://127.0.0.1:9/chat/r/ws?user=u1".parse().unwrap();
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let req = request(&url, key);
        assert!(req.starts_with("GET /chat/r/ws?user=u1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
        let good = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi";
        assert_eq!(check_answer(&url, good, key).unwrap(), Some(good.len() - 4));
        assert_eq!(check_answer(&url, &good[..30], key).unwrap(), None);
        let wrong_key = b"HTTP/1.1 101 S\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n";
        let refused = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let no_upgrade =
            b"HTTP/1.1 101 S\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        for bad in [&wrong_key[..], refused, no_upgrade] {
            assert!(check_answer(&url, bad, key).is_err());
        }
    }
}
