//! The fast path for plain (`http://`) HTTP/1.1: what wrk does. A request is serialized into
//! the connection's reused write buffer and written straight to the socket; the response is
//! read into the connection's reused read buffer and parsed in place with `httparse` (status,
//! `Content-Length` or chunked framing, keep-alive), its body handed back as a slice of that
//! buffer (no copy, no allocation once the buffer has grown). One request in flight per
//! connection, no pipelining. Never retries a request, never records stats and never speaks
//! TLS or HTTP/2 (those go through the general client, [`super::general`]).

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::RequestError;
use crate::request::{RequestSpec, Response, COLD_START_HEADER};

// The header names `parse_head` looks for have these lengths (it skips every other one).
const _: () = assert!(COLD_START_HEADER.len() == 20);

/// Most response headers one parse takes (more is a malformed answer for a load target).
const MAX_HEADERS: usize = 32;
/// Bytes reserved ahead of each socket read.
const READ_CHUNK: usize = 8 * 1024;

/// Writes `spec` as an HTTP/1.1 request in origin form into `out` (cleared first). `host` is
/// the `Host` header sent unless the spec names its own.
pub fn serialize(spec: &RequestSpec, host: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(spec.method.as_str().as_bytes());
    out.push(b' ');
    match spec.url.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => out.extend_from_slice(pq.as_str().as_bytes()),
        _ => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !spec.headers.contains_key(HOST) {
        header(out, b"host", host.as_bytes());
    }
    let chunked = spec.headers.contains_key(TRANSFER_ENCODING);
    for (name, value) in &spec.headers {
        header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let wants_length =
        !spec.body.is_empty() || matches!(spec.method, Method::POST | Method::PUT | Method::PATCH);
    if !chunked && wants_length && !spec.headers.contains_key(CONTENT_LENGTH) {
        out.extend_from_slice(b"content-length: ");
        push_decimal(out, spec.body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if chunked {
        if !spec.body.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", spec.body.len()).as_bytes());
            out.extend_from_slice(&spec.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(&spec.body);
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    Length(usize),
    Chunked,
    /// No length given: the body runs to the end of the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Bytes of the head (status line and headers, final CRLF included).
    pub len: usize,
    pub framing: Framing,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
    pub cold_start: bool,
}

/// Parses a response head at the start of `buf`: `Ok(None)` while it is incomplete.
pub fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(malformed(format!("invalid response head: {e}"))),
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let (mut length, mut chunked, mut cold_start) = (None, false, false);
    for h in resp.headers.iter() {
        // Only names of these lengths can matter: most headers are passed over unread.
        if !matches!(h.name.len(), 10 | 14 | 17 | 20) {
            continue;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(h.value)?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
            if !chunked {
                length = None;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case(COLD_START_HEADER) {
            cold_start = true;
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        cold_start,
    }))
}

fn parse_length(value: &[u8]) -> Result<usize, RequestError> {
    let v = value.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(malformed("invalid Content-Length"));
    }
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("invalid Content-Length"))
}

fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|&b| b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

fn malformed(message: impl Into<String>) -> RequestError {
    RequestError {
        kind: crate::recorder::ErrorKind::Other,
        message: message.into(),
    }
}

/// Decodes a chunked body at the start of `buf`: `Ok(None)` while incomplete, else the bytes
/// it spans (trailers included) and the body.
pub fn decode_chunked(buf: &[u8]) -> Result<Option<(usize, BytesMut)>, RequestError> {
    let mut pos = 0;
    let mut body = BytesMut::new();
    loop {
        let (skip, size) = match httparse::parse_chunk_size(&buf[pos..]) {
            Ok(httparse::Status::Complete(c)) => c,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(malformed("invalid chunk size")),
        };
        pos += skip;
        let size = usize::try_from(size).map_err(|_| malformed("chunk too large"))?;
        if size == 0 {
            // Trailers: header lines up to an empty line.
            loop {
                let rest = &buf[pos..];
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((pos, body)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(malformed("chunk not followed by CRLF"));
        }
        pos += size + 2;
    }
}

/// One plain HTTP/1.1 connection.
pub struct H1Conn {
    stream: TcpStream,
    write: Vec<u8>,
    read: BytesMut,
    /// The peer ended keep-alive (or the connection's state is unknown): reconnect.
    closed: bool,
}

impl H1Conn {
    pub fn new(stream: TcpStream) -> Self {
        H1Conn {
            stream,
            write: Vec::with_capacity(256),
            read: BytesMut::with_capacity(READ_CHUNK),
            closed: false,
        }
    }

    /// False once the connection cannot carry another request: the peer said `close`, ended
    /// the stream while idle, or sent bytes nobody asked for. Costs no system call while the
    /// socket has nothing to read.
    pub fn is_open(&mut self) -> bool {
        if self.closed {
            return false;
        }
        match self.stream.try_read_buf(&mut self.read) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            _ => {
                self.closed = true;
                false
            }
        }
    }

    /// Sends `spec` (with `host` as its `Host` unless it names one) and reads the whole
    /// response. On error the connection is marked closed.
    pub async fn exchange(
        &mut self,
        spec: &RequestSpec,
        host: &str,
    ) -> Result<Response, RequestError> {
        let result = self.exchange_inner(spec, host).await;
        if result.is_err() {
            self.closed = true;
        }
        result
    }

    async fn exchange_inner(
        &mut self,
        spec: &RequestSpec,
        host: &str,
    ) -> Result<Response, RequestError> {
        serialize(spec, host, &mut self.write);
        self.stream
            .write_all(&self.write)
            .await
            .map_err(|e| malformed(format!("write: {e}")))?;
        let head_request = spec.method == Method::HEAD;
        let head = loop {
            if self.read.is_empty() {
                self.fill("the response head").await?;
            }
            if let Some(h) = parse_head(&self.read, head_request)? {
                if (100..200).contains(&h.status) && h.status != 101 {
                    // An interim answer (100 Continue): the real one follows.
                    self.read.advance(h.len);
                    continue;
                }
                break h;
            }
            self.fill("the response head").await?;
        };
        let body = match head.framing {
            Framing::Empty => {
                self.read.advance(head.len);
                Bytes::new()
            }
            Framing::Length(n) => {
                while self.read.len() < head.len + n {
                    self.fill("the response body").await?;
                }
                self.read.advance(head.len);
                if n == 0 {
                    Bytes::new()
                } else {
                    self.read.split_to(n).freeze()
                }
            }
            Framing::Chunked => loop {
                if let Some((used, body)) = decode_chunked(&self.read[head.len..])? {
                    self.read.advance(head.len + used);
                    break body.freeze();
                }
                self.fill("the chunked body").await?;
            },
            Framing::UntilClose => {
                while self.read_more().await? > 0 {}
                self.read.advance(head.len);
                self.read.split().freeze()
            }
        };
        // Anything past this response was never asked for: the connection is out of step.
        if !head.keep_alive || !self.read.is_empty() || head.status == 101 {
            self.closed = true;
        }
        Ok(Response {
            status: head.status,
            body,
            cold_start: head.cold_start,
        })
    }

    /// Reads more bytes; the end of the stream is an error (`waiting_for` says what was due).
    async fn fill(&mut self, waiting_for: &str) -> Result<(), RequestError> {
        match self.read_more().await? {
            0 => Err(malformed(format!(
                "connection closed before {waiting_for} was complete"
            ))),
            _ => Ok(()),
        }
    }

    async fn read_more(&mut self) -> Result<usize, RequestError> {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
            self.read.reserve(READ_CHUNK);
        }
        self.stream
            .read_buf(&mut self.read)
            .await
            .map_err(|e| malformed(format!("read: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: Method, url: &str) -> RequestSpec {
        RequestSpec::new("t", method, url).unwrap()
    }

    #[test]
    fn serializes_origin_form_with_host_and_length() {
        let mut out = Vec::new();
        serialize(
            &spec(Method::GET, "http://127.0.0.1:8080/a?b=1"),
            "127.0.0.1:8080",
            &mut out,
        );
        assert_eq!(out, b"GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n");
        let s = spec(Method::POST, "http://127.0.0.1/x")
            .with_header_line("Host: other")
            .unwrap()
            .with_body("hello");
        serialize(&s, "h", &mut out);
        assert_eq!(
            out,
            b"POST /x HTTP/1.1\r\nhost: other\r\ncontent-length: 5\r\n\r\nhello"
        );
        serialize(&spec(Method::PUT, "http://127.0.0.1"), "h", &mut out);
        assert_eq!(
            out,
            b"PUT / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn chunked_request_bodies_are_encoded() {
        let mut out = Vec::new();
        let s = spec(Method::POST, "http://127.0.0.1/")
            .with_header_line("transfer-encoding: chunked")
            .unwrap()
            .with_body("abc");
        serialize(&s, "h", &mut out);
        assert!(out.ends_with(b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "{out:?}");
    }

    #[test]
    fn heads_frame_their_bodies() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let h = parse_head(ok, false).unwrap().unwrap();
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(2), true)
        );
        assert_eq!(&ok[h.len..], b"ok");
        assert_eq!(parse_head(&ok[..20], false).unwrap(), None);
        let close = b"HTTP/1.1 503 X\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n";
        assert!(!parse_head(close, false).unwrap().unwrap().keep_alive);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_head(old, false).unwrap().unwrap().keep_alive);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(
            parse_head(chunked, false).unwrap().unwrap().framing,
            Framing::Chunked
        );
        let open = b"HTTP/1.1 200 OK\r\n\r\n";
        let h = parse_head(open, false).unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        assert_eq!(
            parse_head(ok, true).unwrap().unwrap().framing,
            Framing::Empty
        );
        let cold = b"HTTP/1.1 204 No\r\nx-dobench-cold-start: 1\r\n\r\n";
        let h = parse_head(cold, false).unwrap().unwrap();
        assert!(h.cold_start && h.framing == Framing::Empty);
    }

    #[test]
    fn bad_heads_are_errors_not_panics() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"NOT HTTP\r\n\r\n",
        ] {
            assert!(parse_head(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chunked_bodies_decode_whole_or_wait() {
        let body = b"2\r\nok\r\n3;ext=1\r\n!!!\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let (used, b) = decode_chunked(body).unwrap().unwrap();
        assert_eq!(&b[..], b"ok!!!");
        assert_eq!(&body[used..], b"NEXT");
        for cut in 0..body.len() - 4 {
            assert!(decode_chunked(&body[..cut]).unwrap().is_none(), "cut {cut}");
        }
        assert!(decode_chunked(b"2\r\nokXX0\r\n\r\n").is_err());
    }
}
