//! Hostile input at the HTTP front through a real server on loopback (issue 20): long and empty
//! object names, paths that are not UTF-8, wrong methods, unknown Host names, the admin gate
//! and oversized WebSocket frames. Each gets a precise JSON error (or close code) and nothing
//! is created for it.

mod common;

use std::time::Duration;

use common::{body_json, json, raw, Server};
use dobench_runtime::{AdminAccess, FrontConfig};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Issue 20 defect 1: a name over the limit is refused with a JSON 414 before the runtime
/// creates anything for it (no stats entry, no object), however many arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_long_names_get_414_json_and_leave_no_trace() {
    let s = Server::start(FrontConfig::default()).await;
    let c = reqwest::Client::new();
    let at_limit = "a".repeat(FrontConfig::DEFAULT_MAX_NAME_BYTES);
    let (status, v) = json(
        c.get(s.url(&format!("/room/{at_limit}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, v["ok"].as_bool()), (200, Some(true)), "{v}");
    for len in [2_049, 10_000, 60_000] {
        for i in 0..50 {
            let name = format!("{i}{}", "b".repeat(len));
            let (status, v) = json(
                c.post(s.url(&format!("/room/{name}/x")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 414, "{v}");
            let msg = v["error"].as_str().unwrap();
            assert!(msg.contains("limited to 2048 bytes"), "{msg}");
            assert!(
                msg.len() < 300,
                "the error echoes the name: {} bytes",
                msg.len()
            );
        }
    }
    // A multi-byte name is measured in bytes after percent-decoding.
    let snowmen = "%E2%98%83".repeat(683); // 683 × 3 = 2,049 bytes
    let (status, _) = json(
        c.get(s.url(&format!("/room/{snowmen}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 414);
    let (_, stats) = json(c.get(s.url("/_dobench/stats")).send().await.unwrap()).await;
    let names: Vec<&str> = stats["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [at_limit.as_str()],
        "only the accepted name is known"
    );
    // The admin route checks names the same way.
    let long = "c".repeat(3_000);
    let (status, v) = s
        .admin_post(&format!("/_dobench/stall?class=room&object={long}&ms=1"))
        .await;
    assert_eq!(status, 414, "{v}");
    s.stop.cancel();
}

/// Issue 20 defect 10: empty names, names that are not UTF-8 and wrong methods get JSON errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_bad_paths_and_methods_get_json_errors() {
    let s = Server::start(FrontConfig::default()).await;
    let c = reqwest::Client::new();
    let cases: [(&str, &str, u16, &str); 6] = [
        ("POST", "/room//increment", 400, "empty"),
        ("GET", "/room//", 400, "empty"),
        ("GET", "/room/%FF", 400, "UTF-8"),
        ("POST", "/room/ok%C3%28/x", 400, "UTF-8"),
        ("GET", "/_dobench/stall", 405, "GET is not allowed"),
        ("DELETE", "/_dobench/stats", 405, "DELETE is not allowed"),
    ];
    for (method, path, want, needle) in cases {
        let r = c
            .request(method.parse().unwrap(), s.url(path))
            .send()
            .await
            .unwrap();
        let (status, v) = json(r).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "{method} {path}: {msg:?} lacks {needle:?}"
        );
    }
    // Raw bytes that no client library would send: a non-UTF-8 byte, percent-encoded.
    let resp = raw(
        s.addr,
        b"GET /room/a%80b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(body_json(&resp)["error"].is_string());
    s.stop.cancel();
}

/// Issue 20 defect 10: a request line past hyper's own 64 KiB limit still gets a JSON 414
/// (hyper answers it before any handler runs; `parse_errors.rs` gives it a body). The 431 for
/// oversized headers is rewritten the same way (unit-tested there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_requests_hyper_cannot_parse_get_json_errors() {
    let s = Server::start(FrontConfig::default()).await;
    let long = format!(
        "GET /room/{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "x".repeat(70_000)
    );
    let resp = raw(s.addr, long.as_bytes()).await;
    assert!(
        resp.starts_with("HTTP/1.1 414"),
        "{}",
        &resp[..resp.len().min(200)]
    );
    assert!(
        body_json(&resp)["error"]
            .as_str()
            .unwrap()
            .contains("64 KiB"),
        "{resp}"
    );
    // Requests hyper cannot parse at all: a 400 with a JSON reason, never an empty body.
    for bad in [
        "GET /room/r HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n".to_string(),
        "GET /room/r HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n".to_string(),
        "G\u{1}T /room/r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_string(),
    ] {
        let resp = raw(s.addr, bad.as_bytes()).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{bad:?} -> {resp}");
        assert!(body_json(&resp)["error"].is_string(), "{bad:?} -> {resp}");
    }
    // Ordinary traffic on the same server is untouched.
    let (status, v) = json(reqwest::get(s.url("/room/r")).await.unwrap()).await;
    assert_eq!((status, v["ok"].as_bool()), (200, Some(true)));
    s.stop.cancel();
}

/// Issue 20 defect 6 (DNS rebinding): on a loopback bind only loopback names, the bound
/// address and `allowed_hosts` are answered; anything else gets a JSON 421.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_unknown_host_names_get_421() {
    let front = FrontConfig {
        allowed_hosts: vec!["bench.internal".into()],
        ..FrontConfig::default()
    };
    let s = Server::start(front).await;
    let port = s.addr.port();
    for (host, want) in [
        (format!("127.0.0.1:{port}"), "200"),
        (format!("localhost:{port}"), "200"),
        ("localhost".to_string(), "200"),
        (format!("[::1]:{port}"), "200"),
        (format!("bench.internal:{port}"), "200"),
        (format!("evil.example:{port}"), "421"),
        ("attacker.test".to_string(), "421"),
        ("127.0.0.1.nip.io".to_string(), "421"),
    ] {
        for path in ["/_dobench/stats", "/room/r", "/nowhere"] {
            let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let resp = raw(s.addr, req.as_bytes()).await;
            let status = &resp[9..12];
            let want = if want == "200" && path == "/nowhere" {
                "404"
            } else {
                want
            };
            assert_eq!(status, want, "Host {host} {path}: {resp}");
            if want == "421" {
                let msg = body_json(&resp)["error"].as_str().unwrap().to_string();
                assert!(msg.contains("--allow-host"), "{msg}");
            }
        }
    }
    s.stop.cancel();
}

/// Issue 20 defect 6: `stall` needs the token (or `--admin`), JSON, and no Origin; with all
/// three it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_admin_routes_are_closed_by_default() {
    let s = Server::start(FrontConfig::default()).await;
    let c = reqwest::Client::new();
    let url = s.url("/_dobench/stall?class=room&object=r&ms=600000");
    let bearer = format!("Bearer {}", s.token);
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], 403, "Authorization: Bearer"),
        (vec![("content-type", "application/json")], 403, "--admin"),
        (
            vec![
                ("authorization", "Bearer wrong"),
                ("content-type", "application/json"),
            ],
            403,
            "token",
        ),
        (vec![("authorization", &bearer)], 415, "application/json"),
        (
            vec![("authorization", &bearer), ("content-type", "text/plain")],
            415,
            "application/json",
        ),
        (
            vec![
                ("authorization", &bearer),
                ("content-type", "application/json"),
                ("origin", "http://evil.example"),
            ],
            403,
            "web pages",
        ),
    ];
    for (headers, want, needle) in cases {
        let mut req = c.post(&url);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let (status, v) = json(req.send().await.unwrap()).await;
        assert_eq!(status, want, "{headers:?}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(needle),
            "{headers:?}: {v}"
        );
    }
    // Nothing was stalled: the object answers at once.
    let t0 = std::time::Instant::now();
    let (status, _) = json(c.get(s.url("/room/r")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(t0.elapsed() < Duration::from_secs(5));
    // With the token, JSON and no Origin: accepted.
    let (status, v) = s
        .admin_post("/_dobench/stall?class=room&object=r&ms=10")
        .await;
    assert_eq!((status, v["stalled_ms"].as_u64()), (200, Some(10)), "{v}");
    s.stop.cancel();

    // `serve --admin` on loopback: no token needed, JSON and no Origin still are.
    let open = FrontConfig {
        admin: AdminAccess {
            open: true,
            ..AdminAccess::random()
        },
        ..FrontConfig::default()
    };
    let s = Server::start(open).await;
    let url = s.url("/_dobench/stall?class=room&object=r&ms=10");
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(&url)
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    s.stop.cancel();
}

/// Issue 20 defect 10: a WebSocket frame over the message limit is answered with close 1009,
/// not a dropped connection (1006), and the room keeps working for others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_oversized_frame_is_closed_1009() {
    let s = Server::start(FrontConfig::default()).await;
    let url = format!("ws://{}/room/big/ws", s.addr);
    let (mut bad, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut good, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let huge = "x".repeat(dobench_runtime::Config::DEFAULT_MAX_WS_MESSAGE + 1);
    // The server may close before the whole frame is written: a send error is fine.
    let _ = bad.send(Message::Text(huge.into())).await;
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match bad.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("no close frame within 10 s");
    assert_eq!(close, Some(1009));
    good.send(Message::Text("still here".into())).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), good.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echo, Message::Text("still here".into()));
    s.stop.cancel();
}
