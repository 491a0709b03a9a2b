//! End-to-end checks of the `dobench http` binary: `--json` prints one run summary with the
//! DESIGN.md field names (and without the object/workload/correctness parts), and a bad or
//! unreachable target is one line on stderr with exit code 2; a rate no machine can send
//! exits 1 naming why.

use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal keep-alive HTTP/1.1 server answering `ok` to everything; returns its base URL.
fn spawn_ok_server(rt: &tokio::runtime::Runtime) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if sock.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

fn dobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn json_summary_follows_the_contract() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = spawn_ok_server(&rt);
    let out = dobench(&["http", &url, "--rate", "200", "--duration", "1s", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "dobench_version",
        "run_id",
        "profile",
        "target",
        "duration_s",
        "offered_rps",
        "achieved_rps",
        "requests",
        "missed",
        "latency_ms",
        "ops",
        "errors",
        "hibernation",
        "alarms",
        "thresholds",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    for absent in ["objects", "workload", "correctness"] {
        assert!(v.get(absent).is_none(), "dobench http must omit {absent}");
    }
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][p].is_number(), "latency_ms.{p}");
    }
    for e in ["total", "overloaded", "timeout", "connect", "status"] {
        assert!(v["errors"].get(e).is_some(), "errors.{e}");
    }
    // Every planned send is either sent or counted missed; how many were missed depends on
    // how busy the machine is (timing claims live in loadgen's release-build tests).
    let count = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
    assert_eq!(count("sent") + count("missed"), 200, "{v}");
    assert_eq!(
        count("requests"),
        count("sent"),
        "every sent request completed: {v}"
    );
    assert!(count("requests") > 0, "{v}");
    assert_eq!(v["offered_rps"], 200.0);
    assert_eq!(v["target"], url.as_str());
    assert!(v["hibernation"].is_null());
}

#[test]
fn closed_model_human_summary() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = spawn_ok_server(&rt);
    let out = dobench(&["http", &url, "-c", "4", "-d", "500ms"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["throughput", "latency", "status      200:", "missed"] {
        assert!(text.contains(needle), "{needle} not in {text}");
    }
}

#[test]
fn unreachable_target_is_one_line_and_exit_2() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dobench(&["http", &format!("http://127.0.0.1:{port}/"), "-d", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn non_loopback_and_bad_duration_are_refused() {
    let out = dobench(&["http", "http://example.com/", "-d", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
    let out = dobench(&["http", "http://127.0.0.1:9/", "-d", "10 parsecs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid duration"));
}

#[test]
fn an_impossible_rate_exits_1_with_the_reason() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = spawn_ok_server(&rt);
    let out = dobench(&[
        "http",
        &url,
        "--rate",
        "1e9",
        "-d",
        "1s",
        "--timeout",
        "500ms",
        "-c",
        "4",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("never made by the generator"), "{text}");
    assert!(text.contains("WARNING"), "generator-limited: {text}");
}
