//! The admin gate in front of the state-changing `/_dobench/` routes (fault injection such as
//! `stall`): a request must carry `Authorization: Bearer <token>` (printed by `dobench serve`
//! at start), or the server must run with `--admin` on a loopback bind; it must not come from a
//! browser page (`Origin` or a cross-site `Sec-Fetch-Site`) and must say
//! `Content-Type: application/json`, which a cross-origin form or `text/plain` fetch cannot
//! send without a preflight this server never answers. Read-only routes (`health`, `stats`,
//! `metrics`) and the workload protocol are not gated here. Never logs the token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::front::AdminAccess;
use crate::http::ApiError;

/// What one server requires of an admin request.
#[derive(Clone)]
pub(crate) struct AdminGate {
    /// No token needed (`--admin` and a loopback bind).
    open: bool,
    token: Arc<str>,
}

impl AdminGate {
    /// The gate for a server bound at `bound` (`None`: not bound yet, treated as loopback).
    /// `--admin` never opens a non-loopback server: there the token is always required.
    pub(crate) fn new(access: &AdminAccess, bound: Option<SocketAddr>) -> Self {
        let loopback = bound.is_none_or(|a| a.ip().is_loopback());
        AdminGate {
            open: access.open && loopback,
            token: Arc::from(access.token.as_str()),
        }
    }

    /// Why `headers` may not use an admin route, if they may not.
    pub(crate) fn refuse(&self, headers: &HeaderMap) -> Option<ApiError> {
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|v| !matches!(v.as_bytes(), b"none" | b"same-origin"));
        if headers.contains_key(ORIGIN) || cross_site {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin routes refuse requests from web pages (an Origin header was sent)",
            ));
        }
        let authorized = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), self.token.as_bytes()));
        if !(self.open || authorized) {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin route: send `Authorization: Bearer <token>` with the token \
                 `dobench serve` printed at start, or start it with `--admin` (loopback only)",
            ));
        }
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Some(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "admin routes take `Content-Type: application/json`",
            ));
        }
        None
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware for the admin routes.
pub(crate) async fn gate(State(gate): State<AdminGate>, req: Request, next: Next) -> Response {
    match gate.refuse(req.headers()) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn token_json_and_no_origin() {
        let access = AdminAccess {
            open: false,
            token: "t".repeat(32),
        };
        let g = AdminGate::new(&access, Some("127.0.0.1:1".parse().unwrap()));
        let bearer = format!("Bearer {}", "t".repeat(32));
        let good = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json; charset=utf-8"),
        ];
        assert!(g.refuse(&headers(&good)).is_none());
        let status = |h: &[(&'static str, &str)]| g.refuse(&headers(h)).map(|e| e.status());
        assert_eq!(status(&good[1..]), Some(StatusCode::FORBIDDEN));
        assert_eq!(status(&good[..1]), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        let text = [good[0], ("content-type", "text/plain")];
        assert_eq!(status(&text), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        let origin = [good[0], good[1], ("origin", "http://evil.example")];
        assert_eq!(status(&origin), Some(StatusCode::FORBIDDEN));
        let wrong = [("authorization", "Bearer nope"), good[1]];
        assert_eq!(status(&wrong), Some(StatusCode::FORBIDDEN));
    }

    #[test]
    fn admin_flag_opens_only_loopback() {
        let access = AdminAccess {
            open: true,
            token: "t".repeat(32),
        };
        let json = headers(&[("content-type", "application/json")]);
        let lo = AdminGate::new(&access, Some("127.0.0.1:1".parse().unwrap()));
        assert!(lo.refuse(&json).is_none());
        let public = AdminGate::new(&access, Some("0.0.0.0:1".parse().unwrap()));
        assert_eq!(
            public.refuse(&json).map(|e| e.status()),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
