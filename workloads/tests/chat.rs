//! The chat room over real WebSockets on loopback: fan-out to every member once and in
//! order, hibernation (out of memory with sockets open, woken by the next frame), auto-response
//! without waking, and a member that never reads being closed while the others carry on.

mod common;

use std::time::Duration;

use common::{client, config, object_stats, stats, Server};
use dobench_runtime::Ceiling;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(s: &Server, room: &str, user: &str) -> Ws {
    let url = format!("ws://{}/chat/{room}/ws?user={user}", s.addr);
    let (ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// Reads frames until `n` chat messages arrived; returns their `seq`s.
async fn read_seqs(ws: &mut Ws, n: usize) -> Vec<i64> {
    let mut seqs = Vec::with_capacity(n);
    while seqs.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("frames stopped arriving")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            seqs.push(v["seq"].as_i64().unwrap());
        }
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_members_twenty_messages_each_everyone_gets_all_1000_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let mut members = Vec::new();
    for i in 0..50 {
        members.push(join(&s, "lobby", &format!("u{i}")).await);
    }
    let mut tasks = Vec::new();
    for (i, mut ws) in members.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for m in 0..20 {
                ws.send(Message::Text(format!("hello {m} from u{i}").into()))
                    .await
                    .unwrap();
            }
            read_seqs(&mut ws, 1000).await
        }));
    }
    for t in tasks {
        let seqs = t.await.unwrap();
        let expected: Vec<i64> = (1..=1000).collect();
        assert_eq!(seqs, expected, "every message once, in seq order");
    }
    // The room stored them all.
    let c = client();
    let h: serde_json::Value = c
        .get(s.url("/chat/lobby/history?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["messages"].as_array().unwrap().len(), 1000);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_room_hibernates_with_sockets_open_and_wakes_once_on_the_next_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.hibernate_after = Duration::from_secs(1);
    let s = Server::start(cfg).await;
    let c = client();
    let mut a = join(&s, "quiet", "a").await;
    let mut b = join(&s, "quiet", "b").await;
    let mut z = join(&s, "quiet", "z").await;
    a.send(Message::Text("first".into())).await.unwrap();
    for ws in [&mut a, &mut b, &mut z] {
        assert_eq!(read_seqs(ws, 1).await, [1]);
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let st = stats(&c, &s).await;
    let room = object_stats(&st, "chat", "quiet").clone();
    assert_eq!(room["live"], false, "{room}");
    assert_eq!(room["sockets_open"], 3, "{room}");
    assert_eq!(room["constructions"], 1, "{room}");
    assert!(room["hibernations"].as_u64().unwrap() >= 1, "{room}");
    assert_eq!(st["hibernation"]["sockets_hibernated"], 3);
    // While hibernated: hibernated time grows, billed time does not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st2 = stats(&c, &s).await;
    let room2 = object_stats(&st2, "chat", "quiet").clone();
    assert!(
        room2["hibernated_ms"].as_f64().unwrap() >= room["hibernated_ms"].as_f64().unwrap() + 400.0
    );
    assert_eq!(room2["billed_ms"], room["billed_ms"]);
    assert!(st2["hibernation"]["gb_s_avoided"].as_f64().unwrap() > 0.0);
    // Auto-response: answered by the runtime, the room stays asleep.
    b.send(Message::Text("ping".into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), b.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Text("pong".into()));
    let st3 = stats(&c, &s).await;
    assert_eq!(object_stats(&st3, "chat", "quiet")["constructions"], 1);
    assert_eq!(object_stats(&st3, "chat", "quiet")["live"], false);
    // The next real message reconstructs the room exactly once and reaches everyone.
    z.send(Message::Text("wake up".into())).await.unwrap();
    for ws in [&mut a, &mut b, &mut z] {
        assert_eq!(read_seqs(ws, 1).await, [2]);
    }
    let st4 = stats(&c, &s).await;
    let room4 = object_stats(&st4, "chat", "quiet");
    assert_eq!(room4["constructions"], 2, "{room4}");
    assert_eq!(room4["live"], true);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_that_never_reads_is_closed_and_the_others_keep_receiving() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.ceiling = Ceiling::Off;
    cfg.socket_send_buffer = 16;
    let s = Server::start(cfg).await;
    let c = client();
    let mut reader = join(&s, "busy", "reader").await;
    let mut stuck = join(&s, "busy", "stuck").await;
    let body = "x".repeat(32 * 1024);
    let n = 600;
    // Lockstep: the reader sends its next message only after its previous one came back,
    // so it never has more than one frame queued; the stuck member's queue only grows.
    let mut seqs = Vec::new();
    for _ in 0..n {
        reader
            .send(Message::Text(body.clone().into()))
            .await
            .unwrap();
        seqs.extend(read_seqs(&mut reader, 1).await);
    }
    assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>());
    let st = stats(&c, &s).await;
    assert!(
        st["hibernation"]["fell_behind"].as_u64().unwrap() >= 1,
        "{}",
        st["hibernation"]
    );
    assert_eq!(object_stats(&st, "chat", "busy")["sockets_open"], 1);
    // The stuck member's connection was dropped: draining it ends in a close or an error.
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = stuck.next().await {
            if let Message::Close(_) = m {
                break;
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the stuck member's connection stayed open");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chat_requests() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let r = c.get(s.url("/chat/r/ws?user=a")).send().await.unwrap();
    assert_eq!(r.status(), 426);
    let r = c
        .get(s.url("/chat/r/history?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err = tokio_tungstenite::connect_async(format!("ws://{}/chat/r/ws", s.addr))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    s.stop().await;
}
