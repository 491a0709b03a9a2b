//! DNS-rebinding defence: which `Host` names the front answers. With a loopback bind only
//! `localhost`, `127.0.0.1`, `[::1]`, the bound address and the names given with
//! `--allow-host` are answered (any port); others get a JSON 421. With a non-loopback bind the
//! check is off unless names were given (the server cannot know its public names). A request
//! without a Host (HTTP/1.0 tools) is answered: browsers always send one. Never looks at
//! anything but the Host/authority.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header::HOST, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;

/// The Host names one server answers.
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    /// Lowercase host names without port; `None`: every Host is answered.
    allowed: Option<Arc<Vec<String>>>,
}

impl HostPolicy {
    /// The policy for a server bound at `bound` (`None`: not bound yet, treated as loopback).
    pub(crate) fn new(bound: Option<SocketAddr>, extra: &[String]) -> Self {
        let loopback = bound.is_none_or(|a| a.ip().is_loopback());
        if !loopback && extra.is_empty() {
            return HostPolicy { allowed: None };
        }
        let mut allowed: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(a) = bound {
            allowed.push(match a {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            });
        }
        allowed.extend(extra.iter().map(|h| normalize(h)));
        HostPolicy {
            allowed: Some(Arc::new(allowed)),
        }
    }

    /// True if a request naming `host` (a Host header value, port optional) is answered.
    pub(crate) fn allows(&self, host: &str) -> bool {
        match &self.allowed {
            None => true,
            Some(list) => list.contains(&normalize(host)),
        }
    }
}

/// `Host` value → lowercase host without port or trailing dot (`[::1]:80` → `[::1]`).
fn normalize(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Middleware: answers 421 to a request whose Host this server does not serve.
pub(crate) async fn check_host(
    State(policy): State<HostPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(HOST)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        });
    match host {
        Some(h) if !policy.allows(&h) => {
            let shown: String = h.chars().take(100).collect();
            ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "Host `{shown}` is not served here (DNS-rebinding guard); \
                     start `dobench serve --allow-host NAME` to answer it"
                ),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_any_port_and_extras_only() {
        let p = HostPolicy::new(Some("127.0.0.1:8787".parse().unwrap()), &["My.Box".into()]);
        for ok in [
            "localhost",
            "localhost:1",
            "127.0.0.1:8787",
            "[::1]:8787",
            "[::1]",
            "LOCALHOST.",
            "my.box:80",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:8787",
            "127.0.0.2",
            "localhost.evil.com",
            "",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        let v6 = HostPolicy::new(Some("[::1]:9".parse().unwrap()), &[]);
        assert!(v6.allows("[::1]:9") && !v6.allows("evil"));
        let other = HostPolicy::new(Some("127.0.0.9:1".parse().unwrap()), &[]);
        assert!(other.allows("127.0.0.9:1"));
    }

    #[test]
    fn non_loopback_bind_answers_everyone_unless_told() {
        let any = HostPolicy::new(Some("0.0.0.0:1".parse().unwrap()), &[]);
        assert!(any.allows("evil.com"));
        let told = HostPolicy::new(Some("0.0.0.0:1".parse().unwrap()), &["box".into()]);
        assert!(told.allows("box:1") && !told.allows("evil.com"));
    }
}
