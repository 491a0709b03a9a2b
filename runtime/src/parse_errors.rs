//! JSON bodies for the answers hyper writes on its own, before any service runs, to requests it
//! cannot parse: 400 (a malformed request line, method, URI, version or header), 414 (a
//! request line over hyper's 64 KiB URI limit) and 431 (headers over its buffer). hyper sends
//! those with an empty body; this stream wrapper replaces exactly such a response head
//! (status 400/414/431, `content-length: 0`) with the same status and a JSON
//! `{"error": ...}`, so every refusal of the front is JSON. Every other byte passes through
//! untouched; the front's own 414s (object names) already carry JSON and are never matched.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose bodiless 414/431 heads from hyper are rewritten as JSON answers.
pub(crate) struct JsonParseErrors<S> {
    inner: S,
    /// A replacement answer still being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonParseErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        JsonParseErrors {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> JsonParseErrors<S> {
    /// Writes what is left of a replacement answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, at)) = &mut self.pending {
            if *at >= bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *at += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` in place of writing it if it is a head to rewrite; returns its length.
    fn take_rewrite(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<usize> {
        let (used, answer) = rewrite(buf)?;
        self.pending = Some((answer, 0));
        // Errors surface on the next write or flush.
        let _ = self.drain(cx);
        Some(used)
    }
}

/// `(bytes of buf consumed, replacement)` if `buf` starts with hyper's bodiless 400, 414 or
/// 431 (the front's own refusals always carry a JSON body, so they never match).
fn rewrite(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    let status = buf.get(..13)?;
    if !(status.starts_with(b"HTTP/1.") && status[8] == b' ' && status[12] == b' ') {
        return None;
    }
    let (code, reason, message) = match &status[9..12] {
        b"400" => (
            400,
            "Bad Request",
            "the request is not valid HTTP/1.1 (request line, method, URI, version or a header)",
        ),
        b"414" => (
            414,
            "URI Too Long",
            "the request line is longer than this server reads (64 KiB); object names are \
             limited to --max-name-bytes",
        ),
        b"431" => (
            431,
            "Request Header Fields Too Large",
            "the request headers are larger than this server reads",
        ),
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = serde_json::json!({ "error": message }).to_string();
    let answer = format!(
        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    Some((end, answer.into_bytes()))
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(used) = self.take_rewrite(cx, buf) {
            return Poll::Ready(Ok(used));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if let Some(used) = self.take_rewrite(cx, first) {
                return Poll::Ready(Ok(used));
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_400_414_and_431_heads_are_rewritten() {
        let hyper414 = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let (used, answer) = rewrite(hyper414).unwrap();
        assert_eq!(used, hyper414.len());
        let answer = String::from_utf8(answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("64 KiB"));
        assert!(rewrite(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n"
        )
        .is_some());
        // The front's own JSON 414, other statuses, partial heads: untouched.
        assert!(rewrite(b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n").is_none());
        assert!(rewrite(b"{\"value\":1}").is_none());
    }
}
