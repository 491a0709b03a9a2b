//! The loopback rule: dobench only sends load to 127.0.0.1, ::1 or localhost over plain
//! `http://`. Checks URLs; never resolves names or opens sockets.

use std::net::IpAddr;

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

/// Accepts only absolute `http://` URLs to a loopback host; WebSocket `ws://` is accepted too.
pub fn check_url(uri: &Uri) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidUrl {
            url: uri.to_string(),
            reason: reason.to_string(),
        })
    };
    match uri.scheme_str() {
        Some("http") | Some("ws") => {}
        Some(s) => {
            return bad(&format!(
                "scheme {s:?} is not supported (plain http:// or ws:// on loopback)"
            ))
        }
        None => return bad("not an absolute URL (expected http://127.0.0.1:PORT/...)"),
    }
    let Some(host) = uri.host() else {
        return bad("missing host");
    };
    if !is_loopback_host(host) {
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
            "https://127.0.0.1/",
            "/relative",
        ] {
            assert!(check_url(&bad.parse().unwrap()).is_err(), "{bad}");
        }
        let e = check_url(&"http://example.com/".parse().unwrap()).unwrap_err();
        assert!(matches!(e, Error::NonLoopback { .. }));
    }
}
