//! `https://` and `wss://` through the one executor (issue 15): against a local TLS server
//! with a self-signed certificate made here (rcgen), a connection that trusts the
//! certificate's CA file, or runs `Insecure`, gets its answers (HTTP) or its echoes
//! (WebSocket sessions the executor opens); one that trusts only the Mozilla roots fails to
//! connect, with a TLS reason. A non-loopback `wss://` URL is refused before any socket.
//! Loopback only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::client::http::{ClientConfig, HttpConn};
use dobench_loadgen::client::tls::{Tls, Trust};
use dobench_loadgen::http::Method;
use dobench_loadgen::{executor, ClosedModel, FixedRequest, RequestSpec, RunConfig, Schedule};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A TLS acceptor with a fresh self-signed certificate for localhost and 127.0.0.1, and the
/// CA (= the certificate itself) as PEM.
fn acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
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

/// A keep-alive HTTPS server answering `ok`; returns its port and the CA as PEM.
async fn tls_server() -> (u16, String) {
    let (acceptor, pem) = acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
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

/// A `wss://` server echoing every text frame on its socket; returns its port and the CA.
async fn wss_echo_server() -> (u16, String) {
    use futures_util::{SinkExt, StreamExt};
    let (acceptor, pem) = acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
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
    (port, pem)
}

fn config(trust: Trust) -> ClientConfig {
    ClientConfig {
        tls: Some(Tls::new(trust).unwrap()),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn https_with_the_ca_file_or_insecure_answers_and_without_it_fails() {
    let (port, pem) = tls_server().await;
    let dir = tempfile_dir();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let spec =
            RequestSpec::new("get", Method::GET, &format!("https://{host}:{port}/")).unwrap();
        for trust in [Trust::CaFile(ca.clone()), Trust::Insecure] {
            let mut conn = HttpConn::new(config(trust.clone()));
            let r = conn
                .send(&spec)
                .await
                .unwrap_or_else(|e| panic!("{host} {trust:?}: {e}"));
            assert_eq!((r.status, &r.body[..]), (200, &b"ok"[..]));
            // keep-alive: the second request reuses the TLS connection
            assert_eq!(conn.send(&spec).await.unwrap().status, 200);
        }
        let mut conn = HttpConn::new(config(Trust::WebPkiRoots));
        let e = conn.send(&spec).await.unwrap_err();
        assert!(e.message.contains("TLS"), "{e}");
    }
    assert!(Tls::new(Trust::CaFile(dir.join("missing.pem"))).is_err());
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    let e = Tls::new(Trust::CaFile(dir.join("empty.pem"))).unwrap_err();
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_drives_https_like_http() {
    let (port, _) = tls_server().await;
    let spec = RequestSpec::new("get", Method::GET, &format!("https://127.0.0.1:{port}/")).unwrap();
    let mut run = RunConfig::new(Schedule::Closed(ClosedModel {
        users: 4,
        think: Duration::ZERO,
        iterations: Some(25),
        duration: None,
    }));
    run.client = config(Trust::Insecure);
    let out = executor::start(run, Arc::new(FixedRequest(spec)), CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap();
    let s = out.snapshot;
    assert_eq!(s.requests, 100, "{s:?}");
    assert_eq!(s.errors.total, 0, "{:?}", s.errors);
    assert_eq!(s.statuses.get("200"), Some(&100));
}

#[tokio::test]
async fn wss_with_the_ca_file_or_insecure_echoes_and_without_it_fails() {
    use dobench_loadgen::client::ws;
    let (port, pem) = wss_echo_server().await;
    let dir = tempfile_dir();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let t = Duration::from_secs(5);
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("wss://{host}:{port}/room");
        for trust in [Trust::CaFile(ca.clone()), Trust::Insecure] {
            let tls = Tls::new(trust.clone()).unwrap();
            let (mut tx, mut rx, _) = ws::connect_with(&url, t, Some(&tls))
                .await
                .unwrap_or_else(|e| panic!("{host} {trust:?}: {e}"));
            tx.send_text("over tls".into()).await.unwrap();
            let (_, echo) = rx.recv_text().await.unwrap().unwrap();
            assert_eq!(echo.as_str(), "over tls");
        }
        let roots = Tls::new(Trust::WebPkiRoots).unwrap();
        let e = ws::connect_with(&url, t, Some(&roots)).await.err().unwrap();
        assert!(e.to_string().contains("TLS"), "{e}");
    }
    // Not loopback, and remote targets were not allowed: refused before any socket.
    let e = ws::connect_with("wss://example.com/room", t, None)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("--allow-remote"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Sessions over `wss://`: each send echoed back, a delivery in the source's own format.
struct WssEcho {
    url: String,
    sessions: u32,
    sent: AtomicU64,
    received: AtomicU64,
}

impl WssEcho {
    fn new(url: String, sessions: u32) -> Arc<WssEcho> {
        Arc::new(WssEcho {
            url,
            sessions,
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }
}

impl dobench_loadgen::RequestSource for WssEcho {
    fn request(&self, index: u64) -> RequestSpec {
        let session = (index % u64::from(self.sessions)) as u32;
        RequestSpec::frame(
            "say",
            session,
            "https://127.0.0.1/".parse().unwrap(),
            format!("{{\"id\":{index}}}"),
        )
    }
    fn sessions(&self) -> Vec<dobench_loadgen::request::SessionSpec> {
        (0..self.sessions)
            .map(|_| dobench_loadgen::request::SessionSpec {
                url: self.url.clone(),
            })
            .collect()
    }
    fn stamps_frames(&self) -> bool {
        false
    }
    fn frame_sent(&self, _index: u64, _request: &RequestSpec) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
    /// The echoes still owed: the executor waits for them after the last send.
    fn awaiting(&self) -> u64 {
        let got = self.received.load(Ordering::Relaxed);
        self.sent.load(Ordering::Relaxed).saturating_sub(got)
    }
    fn frame<'a>(&self, _session: u32, text: &'a str) -> dobench_loadgen::request::Frame<'a> {
        self.received.fetch_add(1, Ordering::Relaxed);
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        dobench_loadgen::request::Frame::Message {
            global: v["id"].as_u64().unwrap(),
            intended_unix_us: None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_opens_wss_sessions_with_the_run_s_trust() {
    let (port, _) = wss_echo_server().await;
    let source = WssEcho::new(format!("wss://127.0.0.1:{port}/room"), 8);
    let mut run = RunConfig::new(Schedule::Open(dobench_loadgen::OpenSchedule::Constant {
        rate: 200.0,
        duration: Duration::from_millis(500),
    }));
    run.client = config(Trust::Insecure);
    run.timeout = Duration::from_secs(5);
    let out = executor::start(run, source, CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap();
    let s = out.snapshot;
    assert_eq!(s.requests, 100, "{s:?}");
    assert_eq!(s.errors.total, 0, "{:?}", s.errors);
    // Every frame went out unstamped (the echo parses as JSON) and came back timed.
    assert_eq!(s.deliveries, 100, "{s:?}");
    assert_eq!(s.frames_other, 0);

    // Trusting only the Mozilla roots, no session opens: the target is unreachable.
    let mut run = RunConfig::new(Schedule::Open(dobench_loadgen::OpenSchedule::Constant {
        rate: 10.0,
        duration: Duration::from_millis(200),
    }));
    run.client = config(Trust::WebPkiRoots);
    let source = WssEcho::new(format!("wss://127.0.0.1:{port}/room"), 2);
    let e = executor::start(run, source, CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("TLS"), "{e}");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "dobench-tls-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
