//! The loopback rule: dobench sends load only to 127.0.0.1, ::1 or localhost, unless the
//! process was told otherwise on purpose ([`allow_remote`], which only the binary calls, from
//! `--allow-remote`): a load test can harm a service. Schemes: `http`/`https` (and `ws`/`wss`
//! for WebSocket URLs). Checks URLs; never resolves names or opens sockets.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use http::Uri;

use crate::error::{Error, Result};

/// True for `localhost` (and `*.localhost`), and any loopback IP literal.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

static REMOTE_ALLOWED: AtomicBool = AtomicBool::new(false);

/// Lets this process send load to non-loopback hosts (the binary's `--allow-remote`; never
/// called by tests or libraries).
pub fn allow_remote() {
    REMOTE_ALLOWED.store(true, Ordering::Relaxed);
}

/// True once [`allow_remote`] was called.
pub fn remote_allowed() -> bool {
    REMOTE_ALLOWED.load(Ordering::Relaxed)
}

/// Accepts absolute `http(s)://` (or `ws(s)://`) URLs to a loopback host, and to any host
/// once remote targets are allowed.
pub fn check_url(uri: &Uri) -> Result<()> {
    check_url_with(uri, remote_allowed())
}

/// [`check_url`] with the remote choice given.
pub fn check_url_with(uri: &Uri, allow_remote: bool) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidUrl {
            url: uri.to_string(),
            reason: reason.to_string(),
        })
    };
    match uri.scheme_str() {
        Some("http") | Some("https") | Some("ws") | Some("wss") => {}
        Some(s) => {
            return bad(&format!(
                "scheme {s:?} is not supported (http://, https://, ws:// or wss://)"
            ))
        }
        None => return bad("not an absolute URL (expected http://127.0.0.1:PORT/...)"),
    }
    let Some(host) = uri.host() else {
        return bad("missing host");
    };
    if !allow_remote && !is_loopback_host(host) {
        return Err(Error::NonLoopback {
            host: host.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        for ok in [
            "http://127.0.0.1:8080/",
            "http://localhost/x",
            "http://[::1]:9/",
            "http://127.5.0.1/",
        ] {
            assert!(check_url(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/",
            "http://10.0.0.1/",
            "https://example.com/",
            "ftp://127.0.0.1/",
            "/relative",
        ] {
            assert!(
                check_url_with(&bad.parse().unwrap(), false).is_err(),
                "{bad}"
            );
        }
        let e = check_url_with(&"http://example.com/".parse().unwrap(), false).unwrap_err();
        assert!(matches!(e, Error::NonLoopback { .. }));
        assert!(e.to_string().contains("--allow-remote"), "{e}");
        // https to loopback, and anything once remote targets are allowed on purpose.
        assert!(check_url_with(&"https://127.0.0.1:8443/".parse().unwrap(), false).is_ok());
        for ok in [
            "https://example.com/",
            "http://10.0.0.1/",
            "wss://example.com/ws",
        ] {
            assert!(check_url_with(&ok.parse().unwrap(), true).is_ok(), "{ok}");
        }
        assert!(check_url_with(&"ftp://example.com/".parse().unwrap(), true).is_err());
    }
}
