//! One worker's HTTP connection, [`HttpConn`]: the one client interface the executor, the
//! workloads and the stats scraper use. Plain `http://` HTTP/1.1 goes through the fast path
//! ([`super::h1`]: pre-serialized request bytes, in-place response parse); HTTP/2 and
//! `https://` through the general hyper client ([`super::general`]), chosen automatically
//! from the URL and [`ClientConfig`]. Each executor worker owns one `HttpConn`, so there is
//! no shared pool lock on the hot path. Reconnects lazily after a failure or a `close`.
//! Never retries a request and never records stats (the caller classifies the error).

use std::time::Duration;

use http::uri::Authority;
use http::{HeaderValue, Uri};
use tokio::net::TcpStream;

use super::general::GeneralConn;
use super::h1::H1Conn;
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
    /// Plain HTTP/1.1 through the fast path (true by default); false sends it through the
    /// general client as well (for comparisons).
    pub fast_h1: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            http2: false,
            connect_timeout: Duration::from_secs(5),
            tls: None,
            fast_h1: true,
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
    pub(crate) fn connect(e: impl std::fmt::Display) -> Self {
        RequestError {
            kind: ErrorKind::Connect,
            message: e.to_string(),
        }
    }
    pub(crate) fn other(e: impl std::fmt::Display) -> Self {
        RequestError {
            kind: ErrorKind::Other,
            message: e.to_string(),
        }
    }
}

enum Client {
    Fast(H1Conn),
    General(GeneralConn),
}

struct Conn {
    authority: Authority,
    client: Client,
}

impl Conn {
    fn is_open(&mut self) -> bool {
        match &mut self.client {
            Client::Fast(c) => c.is_open(),
            Client::General(c) => c.is_open(),
        }
    }
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

    /// True when requests to `url` take the plain HTTP/1.1 fast path.
    pub fn is_fast(&self, url: &Uri) -> bool {
        self.config.fast_h1 && !self.config.http2 && url.scheme_str() != Some("https")
    }

    /// Opens (or reuses) the connection to `url`'s authority.
    pub async fn connect(&mut self, url: &Uri) -> Result<(), RequestError> {
        let authority = url
            .authority()
            .ok_or_else(|| RequestError::connect("URL has no host"))?;
        if let Some(c) = &mut self.conn {
            // Exact bytes first: the same URL every time is the common case.
            let same = c.authority.as_str() == authority.as_str() || &c.authority == authority;
            if same && c.is_open() {
                return Ok(());
            }
        }
        self.conn = None;
        let https = url.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority.host();
        let addr = format!("{host}:{port}");
        let http2 = self.config.http2;
        let fast = self.is_fast(url);
        let tls = match (https, &self.config.tls) {
            (false, _) => None,
            (true, Some(t)) => Some((t.clone(), tls::server_name(host))),
            (true, None) => Some((
                tls::process().map_err(RequestError::connect)?,
                tls::server_name(host),
            )),
        };
        let host = HeaderValue::from_str(authority.as_str()).map_err(RequestError::connect)?;
        let open = async move {
            let tcp = TcpStream::connect(&addr)
                .await
                .map_err(RequestError::connect)?;
            tcp.set_nodelay(true).map_err(RequestError::connect)?;
            if fast {
                return Ok(Client::Fast(H1Conn::new(tcp)));
            }
            let tls = match tls {
                Some((t, name)) => Some((t, name.map_err(RequestError::connect)?)),
                None => None,
            };
            GeneralConn::open(tcp, tls, http2, host)
                .await
                .map(Client::General)
        };
        let client = tokio::time::timeout(self.config.connect_timeout, open)
            .await
            .map_err(|_| RequestError::connect("connect timed out"))??;
        self.conn = Some(Conn {
            authority: authority.clone(),
            client,
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
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| RequestError::connect("not connected"))?;
        let result = match &mut conn.client {
            Client::Fast(c) => c.exchange(spec, conn.authority.as_str()).await,
            Client::General(c) => c.exchange(spec).await,
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }
}
