//! Production's size limits as flags, and bytes in flight bounded (issue 19 must-have 2),
//! through a real server on loopback: a body past the configured limit is 413 before it is
//! read, a WebSocket message past it is closed 1009 naming the limit, and once an object
//! holds its share of bytes not yet handled a further body is 503 overloaded saying so,
//! while a socket's further messages wait (nothing read, nothing lost) until room frees.

mod common;

use std::time::Duration;

use common::{json, Server};
use dobench_runtime::inflight::InflightLimits;
use dobench_runtime::{Config, DataDir, FrontConfig};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn config(body: usize, message: usize, per_object: u64) -> Config {
    let mut c = Config::new(DataDir::Memory);
    c.max_body_bytes = body;
    c.max_ws_message_bytes = message;
    c.inflight = InflightLimits {
        per_object,
        total: per_object * 4,
    };
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_limit_are_413_and_past_the_bytes_in_flight_503() {
    let s = Server::start_with(config(4_096, 4_096, 1_000), FrontConfig::default()).await;
    let c = reqwest::Client::new();
    let (status, v) = json(
        c.post(s.url("/room/a"))
            .body(vec![b'x'; 4_097])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("4096-byte limit"),
        "{v}"
    );

    // Hold the object's next turn: a body sent now stays in flight until it has run.
    let (status, _) = s
        .admin_post("/_dobench/stall?class=room&object=a&ms=1500")
        .await;
    assert_eq!(status, 200);
    let first = tokio::spawn({
        let (c, url) = (c.clone(), s.url("/room/a"));
        async move {
            c.post(url)
                .body(vec![b'x'; 800])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, v) = json(
        c.post(s.url("/room/a"))
            .body(vec![b'y'; 800])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["overloaded"], true, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("bytes in flight"),
        "{v}"
    );
    // Another object has its own share.
    let other = c
        .post(s.url("/room/b"))
        .body(vec![b'z'; 800])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(first.await.unwrap(), 200);
    // Handled, the bytes are free again.
    let again = c
        .post(s.url("/room/a"))
        .body(vec![b'y'; 800])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    s.stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_limit_close_1009_and_a_full_object_makes_sockets_wait() {
    let s = Server::start_with(config(4_096, 4_096, 1_000), FrontConfig::default()).await;
    let url = format!("ws://{}/room/w/ws", s.addr);
    let (mut big, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let _ = big.send(Message::Text("x".repeat(4_097).into())).await;
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match big.next().await {
                Some(Ok(Message::Close(f))) => {
                    return f.map(|f| (u16::from(f.code), f.reason.to_string()))
                }
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("no close within 10 s")
    .expect("a close frame with a code");
    assert_eq!(close.0, 1009);
    assert!(close.1.contains("4096-byte limit"), "{close:?}");

    // Three 800-byte messages while the room's turns are held: the first is in flight, the
    // others wait on the socket; all arrive, in order, once the turns run.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (status, _) = s
        .admin_post("/_dobench/stall?class=room&object=w&ms=1500")
        .await;
    assert_eq!(status, 200);
    for i in 0..3u8 {
        let body = format!("{i}{}", "m".repeat(799));
        ws.send(Message::Text(body.into())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = reqwest::Client::new();
    let held = c
        .post(s.url("/room/w"))
        .body(vec![b'y'; 800])
        .send()
        .await
        .unwrap();
    assert_eq!(
        held.status(),
        503,
        "the socket's message holds the room's bytes"
    );
    let mut got = Vec::new();
    while got.len() < 3 {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("every message delivered within 15 s")
            .expect("open")
            .unwrap();
        if let Message::Text(t) = m {
            got.push(t.as_str().as_bytes()[0]);
        }
    }
    assert_eq!(got, b"012");
    s.stop.cancel();
}
