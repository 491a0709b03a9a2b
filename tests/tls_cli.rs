//! HTTPS targets and the remote rule through the real binary (issue 15): `dobench http`
//! against a local TLS server with a self-signed certificate made here answers with
//! `--ca-file` or `--insecure` and is exit 2 (a TLS reason) without; a host off loopback is
//! refused naming `--allow-remote`, and with the flag the check is lifted (the test aims at
//! 0.0.0.0, which the kernel routes to this machine: no traffic leaves it).

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

/// A keep-alive HTTPS server answering `{}` on its own runtime; its port and certificate PEM.
fn tls_server(rt: &tokio::runtime::Runtime) -> (u16, String) {
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
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
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
    (port, cert.pem())
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
