//! The plain HTTP/1.1 fast path (issue 17) against a raw loopback server that answers from a
//! script, one connection at a time: chunked bodies, `Connection: close`, an HTTP/1.0 body
//! that runs to the end of the connection, a keep-alive connection the server drops while
//! idle, and a malformed answer. Each case checks what `HttpConn::send` hands back and how
//! many connections the server saw (a reconnect where one is due, none where not).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::client::http::{ClientConfig, HttpConn};
use dobench_loadgen::http::Method;
use dobench_loadgen::RequestSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers the n-th request on each connection with `answers[n]` (the last
/// one for every later request) and closes the connection after an answer when `close`
/// says so. Returns the URL and the count of connections accepted.
async fn scripted(answers: Vec<&'static [u8]>, close_after: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/path?q=1", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let answers = answers.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut n = 0;
                loop {
                    let Ok(got) = s.read(&mut chunk).await else {
                        return;
                    };
                    if got == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..got]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        assert!(buf.starts_with(b"GET /path?q=1 HTTP/1.1\r\n"), "{buf:?}");
                        buf.drain(..end + 4);
                        let a = answers[n.min(answers.len() - 1)];
                        n += 1;
                        if s.write_all(a).await.is_err() {
                            return;
                        }
                        if close_after {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, accepted)
}

fn get(url: &str) -> RequestSpec {
    RequestSpec::new("GET", Method::GET, url).unwrap()
}

#[tokio::test]
async fn chunked_and_length_bodies_on_one_kept_alive_connection() {
    let (url, accepted) = scripted(
        vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nx-dobench-cold-start: 1\r\n\r\nhello",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ],
        false,
    )
    .await;
    let mut conn = HttpConn::new(ClientConfig::default());
    let spec = get(&url);
    assert!(conn.is_fast(&spec.url));
    let r = conn.send(&spec).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..], r.cold_start),
        (200, &b"abcde"[..], false)
    );
    let r = conn.send(&spec).await.unwrap();
    assert_eq!(
        (r.status, &r.body[..], r.cold_start),
        (201, &b"hello"[..], true)
    );
    for _ in 0..3 {
        let r = conn.send(&spec).await.unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "keep-alive: one connection"
    );
}

#[tokio::test]
async fn close_and_idle_drops_reconnect_instead_of_failing() {
    // `Connection: close`, then the server hangs up: the next request opens a new connection.
    let (url, accepted) = scripted(
        vec![b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy"],
        true,
    )
    .await;
    let mut conn = HttpConn::new(ClientConfig::default());
    for _ in 0..3 {
        let r = conn.send(&get(&url)).await.unwrap();
        assert_eq!((r.status, &r.body[..]), (503, &b"busy"[..]));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    // A kept-alive answer, then the server drops the idle connection: noticed before the
    // next send, which goes on a new connection.
    let (url, accepted) = scripted(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        true,
    )
    .await;
    let mut conn = HttpConn::new(ClientConfig::default());
    for _ in 0..3 {
        let r = conn.send(&get(&url)).await.unwrap();
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_body_without_length_runs_to_the_close() {
    let (url, _) = scripted(vec![b"HTTP/1.0 200 OK\r\n\r\nall of it"], true).await;
    let mut conn = HttpConn::new(ClientConfig::default());
    let r = conn.send(&get(&url)).await.unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"all of it"[..]));
}

#[tokio::test]
async fn malformed_and_cut_answers_are_errors() {
    let (url, _) = scripted(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"],
        false,
    )
    .await;
    let mut conn = HttpConn::new(ClientConfig::default());
    let e = conn.send(&get(&url)).await.unwrap_err();
    assert!(e.message.contains("Content-Length"), "{e}");

    let (url, _) = scripted(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
        true,
    )
    .await;
    let e = conn.send(&get(&url)).await.unwrap_err();
    assert!(e.message.contains("closed before"), "{e}");
}
