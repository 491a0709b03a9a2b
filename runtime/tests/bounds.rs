//! The front's resource bounds through a real server on loopback (issue 20): slowloris heads and
//! idle keep-alive connections are closed on time while idle WebSockets are not, the
//! connection cap answers a JSON 503, the drain after shutdown has a deadline and a force, and a
//! consumer that never reads is closed without slowing the room. Timing bounds are generous so
//! they hold on a loaded two-core machine.

mod common;

use std::time::{Duration, Instant};

use common::{body_json, json, read_to_close, Server};
use dobench_runtime::FrontConfig;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn front(header: u64, keep_alive: u64) -> FrontConfig {
    FrontConfig {
        header_read_timeout: Duration::from_millis(header),
        keep_alive_timeout: Duration::from_millis(keep_alive),
        ..FrontConfig::default()
    }
}

/// Issue 20 defect 5: a head sent one byte at a time is cut off `header_read_timeout` after its
/// first byte, and a connection that sends nothing after `keep_alive_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_slowloris_heads_and_silent_connections_are_closed() {
    let s = Server::start(front(1_000, 3_000)).await;
    // Slowloris: many connections, each trickling a head that never ends.
    let mut loris = Vec::new();
    for _ in 0..50 {
        loris.push(TcpStream::connect(s.addr).await.unwrap());
    }
    let t0 = Instant::now();
    let trickle = async {
        for byte in b"GET /room/r HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa" {
            for tcp in loris.iter_mut() {
                if tcp.write_all(&[*byte]).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), trickle).await;
    for tcp in loris.iter_mut() {
        read_to_close(tcp, Duration::from_secs(5))
            .await
            .expect("a slowloris connection outlived the header-read timeout");
    }
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "slowloris connections lasted {took:?} with a 1 s header-read timeout"
    );
    // Silent: no byte at all. Closed after the keep-alive timeout (3 s), not the header one.
    let t0 = Instant::now();
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    read_to_close(&mut silent, Duration::from_secs(15))
        .await
        .expect("a silent connection stayed open");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(10),
        "a silent connection lasted {took:?} (keep-alive 3 s)"
    );
    s.stop.cancel();
}

/// Issue 20 defect 5 (the body variant of slowloris): a body announced and never finished is
/// answered 408 JSON at the body-read timeout and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_a_body_that_never_arrives_gets_408() {
    let s = Server::start(FrontConfig {
        body_read_timeout: Duration::from_secs(1),
        ..FrontConfig::default()
    })
    .await;
    let t0 = Instant::now();
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"POST /room/r/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap();
    let resp = read_to_close(&mut tcp, Duration::from_secs(10))
        .await
        .expect("a half-sent body held the connection");
    let took = t0.elapsed();
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(body_json(&resp)["error"]
        .as_str()
        .unwrap()
        .contains("body-read timeout"));
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(6),
        "answered after {took:?} (timeout 1 s)"
    );
    // A body that does arrive is unaffected.
    let r = reqwest::Client::new()
        .post(s.url("/room/r/x"))
        .body("x".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop.cancel();
}

/// Issue 20 defect 5: a kept-alive HTTP connection with no next request is closed after the
/// keep-alive timeout; a WebSocket idle for longer stays open and works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_idle_keep_alive_closes_but_idle_websockets_stay() {
    let s = Server::start(front(500, 1_500)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/room/w/ws", s.addr))
        .await
        .unwrap();
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET /room/r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let got = read_to_close(&mut tcp, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection stayed open");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1_000) && took < Duration::from_secs(6),
        "idle keep-alive lasted {took:?} (1.5 s timeout)"
    );
    // The WebSocket has been idle 4× the header timeout and longer than keep-alive.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    ws.send(Message::Text("awake".into())).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echo, Message::Text("awake".into()));
    s.stop.cancel();
}

/// Issue 20 defect 5: past the connection cap a new connection gets a JSON 503 at once and the
/// server stays reachable once a slot frees; WebSockets count against the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_connection_cap_answers_503_json() {
    let s = Server::start(FrontConfig {
        max_connections: 8,
        ..FrontConfig::default()
    })
    .await;
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/room/w/ws", s.addr))
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..7 {
        held.push(TcpStream::connect(s.addr).await.unwrap());
    }
    // Let the server accept all of them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    let resp = common::raw(
        s.addr,
        b"GET /room/r HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    assert!(
        body_json(&resp)["error"]
            .as_str()
            .unwrap()
            .contains("--max-connections"),
        "{resp}"
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    drop(held.pop());
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = json(
        reqwest::Client::new()
            .get(s.url("/room/r"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    s.stop.cancel();
}

/// Issue 20 defect 4: after the shutdown signal a stalled object, a half-sent request and a
/// client that never reads do not hold the server past the drain deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_drain_has_a_deadline() {
    let s = Server::start(FrontConfig {
        drain_deadline: Duration::from_secs(1),
        ..FrontConfig::default()
    })
    .await;
    let (status, _) = s
        .admin_post("/_dobench/stall?class=room&object=stuck&ms=600000")
        .await;
    assert_eq!(status, 200);
    let stuck = tokio::spawn({
        let url = s.url("/room/stuck");
        async move { reqwest::get(url).await.map(|r| r.status()) }
    });
    let mut half = TcpStream::connect(s.addr).await.unwrap();
    half.write_all(b"POST /room/r/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap();
    let mut pipeliner = TcpStream::connect(s.addr).await.unwrap();
    let many = b"GET /room/p HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(2_000);
    let _ = tokio::time::timeout(Duration::from_millis(500), pipeliner.write_all(&many)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    s.stop.cancel();
    let done = tokio::time::timeout(Duration::from_secs(8), s.task).await;
    let took = t0.elapsed();
    assert!(
        done.is_ok(),
        "serve still running 8 s after shutdown (deadline 1 s)"
    );
    assert!(
        took >= Duration::from_millis(900),
        "returned in {took:?}: no drain at all?"
    );
    // The stalled request was never acknowledged.
    let answer = tokio::time::timeout(Duration::from_secs(5), stuck)
        .await
        .unwrap();
    assert!(!matches!(answer, Ok(Ok(s)) if s == 200), "{answer:?}");
}

/// Issue 20 defect 4: a second signal (`force`) ends a long drain at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue20_force_ends_the_drain_at_once() {
    let s = Server::start(FrontConfig {
        drain_deadline: Duration::from_secs(300),
        ..FrontConfig::default()
    })
    .await;
    s.admin_post("/_dobench/stall?class=room&object=stuck&ms=600000")
        .await;
    let url = s.url("/room/stuck");
    tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!s.task.is_finished(), "the drain should still be waiting");
    let t0 = Instant::now();
    s.force.cancel();
    tokio::time::timeout(Duration::from_secs(3), s.task)
        .await
        .expect("force did not end the drain")
        .unwrap()
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3));
}

/// Issue 20 defect 7: members that never read are closed (1008 when they finally look) once
/// their queue passes the byte bound, while the sender and the members that read get every
/// message promptly: the room never waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue20_slow_consumers_are_closed_without_stalling_the_room() {
    let s = Server::start(FrontConfig::default()).await;
    let url = format!("ws://{}/room/busy/ws", s.addr);
    let mut stuck = Vec::new();
    for _ in 0..150 {
        stuck.push(tokio_tungstenite::connect_async(&url).await.unwrap().0);
    }
    let (reader, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (sender, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let n = 400;
    let body = "m".repeat(16 * 1024);
    let count = |mut ws: tokio_tungstenite::WebSocketStream<_>| async move {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => got += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        (got, Instant::now(), ws)
    };
    let (mut sink, rx) = sender.split();
    let sender_reads = tokio::spawn(async move {
        let mut rx = rx;
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(20), rx.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => got += 1,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        (got, Instant::now())
    });
    let reader_task = tokio::spawn(count(reader));
    let t0 = Instant::now();
    for _ in 0..n {
        sink.send(Message::Text(body.clone().into())).await.unwrap();
    }
    let sent = t0.elapsed();
    let (got, reader_done, _reader) = reader_task.await.unwrap();
    let (sender_got, sender_done) = sender_reads.await.unwrap();
    eprintln!(
        "sent in {:?}, reader done +{:?}, sender done +{:?}",
        sent,
        reader_done - t0,
        sender_done - t0
    );
    assert_eq!(
        (got, sender_got),
        (n, n),
        "a reading member missed messages"
    );
    let last = t0 + sent;
    let lag = reader_done.max(sender_done).saturating_duration_since(last);
    assert!(
        sent < Duration::from_secs(15) && lag < Duration::from_secs(5),
        "sending {n} × 16 KiB took {sent:?}; readers finished {lag:?} after the last send"
    );
    let (_, st) = json(reqwest::get(s.url("/_dobench/stats")).await.unwrap()).await;
    let fell = st["hibernation"]["fell_behind"].as_u64().unwrap_or(0);
    assert!(
        fell >= 140,
        "only {fell} of 150 stuck members were closed: {}",
        st["hibernation"]
    );
    // A stuck member that finally reads finds the end of its connection (a 1008 close frame
    // when it fit in the socket buffer), never an endless stream.
    let mut codes = Vec::new();
    for ws in stuck.iter_mut().take(10) {
        let end = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await
        .expect("a stuck member's connection stayed open");
        codes.push(end);
    }
    assert!(
        codes.iter().all(|c| c.is_none() || *c == Some(1008)),
        "{codes:?}"
    );
    s.stop.cancel();
}
