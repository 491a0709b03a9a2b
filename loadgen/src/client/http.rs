//! One worker's HTTP connection, driven through hyper's connection-level client: HTTP/1.1
//! keep-alive by default, HTTP/2 (prior knowledge, h2c; over TLS by ALPN) on request;
//! `https://` over rustls ([`super::tls`]). Each executor worker owns
//! one `HttpConn`, so there is no shared pool lock on the hot path. Reconnects lazily after a
//! failure. Never retries a request and never records stats (the caller classifies the error).
//!
//! Why hyper and not reqwest here: reqwest's pool checkout, URL handling and boxed futures
//! cost a few µs per request, which matters at 50k+ req/s on two cores (see the comparison in
//! `benches/http_compare.sh`); a per-worker connection is also what wrk and oha do.

use std::time::Duration;

use bytes::Bytes;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::tls::{self, Tls};
use crate::recorder::ErrorKind;
use crate::request::{RequestSpec, Response};

/// Connection settings shared by every worker.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Speak HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    pub http2: bool,
    /// Bound on TCP connect + handshake.
    pub connect_timeout: Duration,
    /// TLS for `https://` URLs; `None`: the process-wide choice ([`super::tls::process`]).
    pub tls: Option<Tls>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            http2: false,
            connect_timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// A failed exchange, classified for the recorder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct RequestError {
    pub kind: ErrorKind,
    pub message: String,
}

impl RequestError {
    fn connect(e: impl std::fmt::Display) -> Self {
        RequestError {
            kind: ErrorKind::Connect,
            message: e.to_string(),
        }
    }
    fn other(e: impl std::fmt::Display) -> Self {
        RequestError {
            kind: ErrorKind::Other,
            message: e.to_string(),
        }
    }
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

struct Conn {
    authority: Authority,
    host: HeaderValue,
    sender: Sender,
}

/// The HTTP handshake on an open stream (plain TCP or TLS). The connection futures are
/// driven by their own tasks and end when the sender (owned by the caller) is dropped or the
/// peer closes.
async fn handshake<I>(io: I, http2: bool) -> Result<Sender, RequestError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    Ok(if http2 {
        let (s, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(RequestError::connect)?;
        tokio::spawn(conn);
        Sender::H2(s)
    } else {
        let (s, conn) = http1::handshake(io).await.map_err(RequestError::connect)?;
        tokio::spawn(conn);
        Sender::H1(s)
    })
}

/// One worker's connection (at most one request in flight on it).
pub struct HttpConn {
    config: ClientConfig,
    conn: Option<Conn>,
}

impl HttpConn {
    pub fn new(config: ClientConfig) -> Self {
        HttpConn { config, conn: None }
    }

    /// Opens (or reuses) the connection to `url`'s authority.
    pub async fn connect(&mut self, url: &Uri) -> Result<(), RequestError> {
        let authority = url
            .authority()
            .ok_or_else(|| RequestError::connect("URL has no host"))?;
        if let Some(c) = &self.conn {
            if &c.authority == authority && !c.sender.is_closed() {
                return Ok(());
            }
        }
        self.conn = None;
        let https = url.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority.host();
        let addr = format!("{host}:{port}");
        let http2 = self.config.http2;
        let tls = match (https, &self.config.tls) {
            (false, _) => None,
            (true, Some(t)) => Some((t.clone(), tls::server_name(host))),
            (true, None) => Some((
                tls::process().map_err(RequestError::connect)?,
                tls::server_name(host),
            )),
        };
        let handshake = async move {
            let tcp = TcpStream::connect(&addr)
                .await
                .map_err(RequestError::connect)?;
            tcp.set_nodelay(true).map_err(RequestError::connect)?;
            match tls {
                None => handshake(TokioIo::new(tcp), http2).await,
                Some((tls, name)) => {
                    let name = name.map_err(RequestError::connect)?;
                    let stream = tls
                        .connector(http2)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| RequestError::connect(format!("TLS: {e}")))?;
                    handshake(TokioIo::new(stream), http2).await
                }
            }
        };
        let sender = tokio::time::timeout(self.config.connect_timeout, handshake)
            .await
            .map_err(|_| RequestError::connect("connect timed out"))??;
        let host = HeaderValue::from_str(authority.as_str()).map_err(RequestError::connect)?;
        self.conn = Some(Conn {
            authority: authority.clone(),
            host,
            sender,
        });
        Ok(())
    }

    /// Drops the connection (after a timeout or cancellation its state is unknown).
    pub fn reset(&mut self) {
        self.conn = None;
    }

    /// Sends `spec` and reads the whole response body. On error the connection is dropped.
    pub async fn send(&mut self, spec: &RequestSpec) -> Result<Response, RequestError> {
        self.connect(&spec.url).await?;
        let result = self.exchange(spec).await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn exchange(&mut self, spec: &RequestSpec) -> Result<Response, RequestError> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| RequestError::connect("not connected"))?;
        let mut req = Request::new(Full::new(spec.body.clone()));
        *req.method_mut() = spec.method.clone();
        *req.headers_mut() = spec.headers.clone();
        let resp = match &mut conn.sender {
            Sender::H1(s) => {
                // HTTP/1.1 wants origin-form plus a Host header.
                let pq = spec
                    .url
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/"));
                *req.uri_mut() = Uri::from(pq);
                if !req.headers().contains_key(HOST) {
                    req.headers_mut().insert(HOST, conn.host.clone());
                }
                s.ready().await.map_err(RequestError::other)?;
                s.send_request(req).await.map_err(RequestError::other)?
            }
            Sender::H2(s) => {
                *req.uri_mut() = spec.url.clone();
                s.ready().await.map_err(RequestError::other)?;
                s.send_request(req).await.map_err(RequestError::other)?
            }
        };
        let status = resp.status().as_u16();
        let cold_start = resp
            .headers()
            .contains_key(crate::request::COLD_START_HEADER);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(RequestError::other)?
            .to_bytes();
        Ok(Response {
            status,
            body,
            cold_start,
        })
    }
}
