//! HTTPS targets and the remote rule through the real binary (issue 15): `dobench http`
//! against a local TLS server with a self-signed certificate made here answers with
//! `--ca-file` or `--insecure` and is exit 2 (a TLS reason) without; a host off loopback is
//! refused naming `--allow-remote`, and with the flag the check is lifted (the test aims at
//! 0.0.0.0, which the kernel routes to this machine: no traffic leaves it). A `workload =
//! "ws"` profile runs over `wss://` against a local TLS WebSocket server the same way.

mod common;

use std::process::{Command, Output};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn dobench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .output()
        .unwrap()
}

/// A TLS acceptor with a fresh self-signed certificate for localhost, and its PEM.
fn acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let der = CertificateDer::from(cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        cert.pem(),
    )
}

/// A keep-alive HTTPS server answering `{}` on its own runtime; its port and certificate PEM.
fn tls_server(rt: &tokio::runtime::Runtime) -> (u16, String) {
    let (acceptor, pem) = acceptor();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (port, pem)
}

/// A `wss://` server on its own runtime echoing every text frame back on its socket (each
/// socket a room of one); its port.
fn wss_echo_server(rt: &tokio::runtime::Runtime) -> u16 {
    use futures_util::{SinkExt, StreamExt};
    let (acceptor, _) = acceptor();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_ws_profile_runs_over_wss_with_insecure_and_fails_without() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = wss_echo_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("echo.toml");
    std::fs::write(
        &profile,
        r#"name = "echo"
workload = "ws"
strategy = "per-key"
[keyspace]
keys = 3
[load]
duration = "1s"
timeout = "3s"
[ws]
object_name = "echo-{shard}"
members = 1
rate = 20
connect = "/rooms/{object}?m={member}"
send = '{"id": {msg_id}, "sent": {intended_us}}'
id = "/id"
stamp = "/sent"
"#,
    )
    .unwrap();
    let profile = profile.display().to_string();
    let target = format!("https://localhost:{port}");
    let db = dir.path().join("r.db").display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", &profile, "--target", &target, "--db", &db, "--json"];
        args.extend(extra);
        dobench(&args)
    };
    let out = run(&["--insecure"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["correctness"]["passed"], true, "{v}");
    assert_eq!(v["requests"], 60, "{v}");
    assert_eq!(v["deliveries"], 60, "every echo a delivery: {v}");
    let mut names: Vec<&str> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["echo-0", "echo-1", "echo-2"]);
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn https_answers_with_the_ca_file_or_insecure_and_fails_without() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (port, pem) = tls_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = format!("https://localhost:{port}/v1/{{object}}");
    let ca = ca.display().to_string();
    for trust in [vec!["--ca-file", ca.as_str()], vec!["--insecure"]] {
        let mut args = vec![
            "http",
            &url,
            "--strategy",
            "hash:2",
            "--rate",
            "50",
            "-d",
            "500ms",
            "--json",
        ];
        args.extend(&trust);
        let out = dobench(&args);
        assert!(
            out.status.success(),
            "{trust:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["errors"]["total"], 0, "{v}");
        assert_eq!(v["statuses"]["200"], v["requests"], "{v}");
        assert_eq!(v["objects"].as_array().unwrap().len(), 2, "{v}");
    }
    let out = dobench(&["http", &url, "--strategy", "hash:2", "-d", "500ms"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.contains("TLS"),
        "{err}"
    );
    let out = dobench(&["http", &url, "--insecure", "--ca-file", &ca, "-d", "500ms"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_remote_host_needs_allow_remote() {
    let base = common::tiny_server();
    let port = base.rsplit(':').next().unwrap();
    let url = format!("http://0.0.0.0:{port}/");
    let out = dobench(&["http", &url, "-d", "500ms", "--rate", "20"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("non-loopback") && err.contains("--allow-remote"),
        "{err}"
    );
    let out = dobench(&[
        "http",
        &url,
        "-d",
        "500ms",
        "--rate",
        "20",
        "--allow-remote",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["statuses"]["200"], v["requests"], "{v}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aim it only at a service you run"), "{err}");
}
