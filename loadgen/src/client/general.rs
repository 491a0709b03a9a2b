//! The general HTTP client behind [`super::http::HttpConn`]: hyper's connection-level client
//! for everything the plain fast path ([`super::h1`]) does not speak: HTTP/2 (prior
//! knowledge, h2c; over TLS by ALPN) and `https://` over rustls ([`super::tls`]). One
//! connection per executor worker, so there is no shared pool lock on the hot path. Never
//! retries a request and never records stats.
//!
//! Why hyper and not reqwest here: reqwest's pool checkout, URL handling and boxed futures
//! cost a few µs per request; a per-worker connection is also what wrk and oha do.

use bytes::Bytes;
use http::header::HOST;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::http::RequestError;
use super::tls::Tls;
use crate::request::{RequestSpec, Response};

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One hyper connection (at most one request in flight on it).
pub struct GeneralConn {
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

impl GeneralConn {
    /// Speaks HTTP/1.1 or HTTP/2 on `tcp`, over TLS (`tls`: config and server name) when
    /// given. `host` is the `Host` header HTTP/1.1 requests carry unless they name one.
    pub async fn open(
        tcp: TcpStream,
        tls: Option<(Tls, rustls::pki_types::ServerName<'static>)>,
        http2: bool,
        host: HeaderValue,
    ) -> Result<Self, RequestError> {
        let sender = match tls {
            None => handshake(TokioIo::new(tcp), http2).await?,
            Some((tls, name)) => {
                let stream = tls
                    .connector(http2)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| RequestError::connect(format!("TLS: {e}")))?;
                handshake(TokioIo::new(stream), http2).await?
            }
        };
        Ok(GeneralConn { host, sender })
    }

    /// False once the peer closed the connection.
    pub fn is_open(&self) -> bool {
        !match &self.sender {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Sends `spec` and reads the whole response body.
    pub async fn exchange(&mut self, spec: &RequestSpec) -> Result<Response, RequestError> {
        let mut req = Request::new(Full::new(spec.body.clone()));
        *req.method_mut() = spec.method.clone();
        *req.headers_mut() = spec.headers.clone();
        let resp = match &mut self.sender {
            Sender::H1(s) => {
                // HTTP/1.1 wants origin-form plus a Host header.
                let pq = spec
                    .url
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| PathAndQuery::from_static("/"));
                *req.uri_mut() = Uri::from(pq);
                if !req.headers().contains_key(HOST) {
                    req.headers_mut().insert(HOST, self.host.clone());
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
