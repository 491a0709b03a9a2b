//! WebSocket limits through a real socket: an oversized attachment and too many tags are
//! refused with messages naming the limit, and the socket (and the object) carry on.

use std::time::Duration;

use dobench_runtime::{
    AnyObject, Config, Context, DataDir, Object, Registry, Request, Response, Result, Runtime,
    SocketId, WsMessage,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Accepts with `?tags=N` tags; on `attach:N` stores an N-byte attachment and answers
/// `ok`/the error; on anything else answers `echo:<text>` and its tags.
struct Probe;

impl Object for Probe {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        let n: usize = req.query("tags").and_then(|t| t.parse().ok()).unwrap_or(1);
        let tags: Vec<String> = (0..n).map(|i| format!("tag{i}")).collect();
        let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
        match ctx.accept_websocket(&refs) {
            Ok(_) => Ok(Response::switching_protocols()),
            Err(e) => Ok(Response::error(400, e.to_string())),
        }
    }

    async fn websocket_message(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        msg: WsMessage,
    ) -> Result<()> {
        let WsMessage::Text(text) = msg else {
            return Ok(());
        };
        let answer = match text.strip_prefix("attach:") {
            Some(n) => {
                let n: usize = n.parse().unwrap_or(0);
                match ctx.serialize_attachment(ws, &vec![b'a'; n]) {
                    Ok(()) => format!(
                        "ok {}",
                        ctx.deserialize_attachment(ws).map_or(0, |a| a.len())
                    ),
                    Err(e) => e.to_string(),
                }
            }
            None => format!("echo:{text} tags:{}", ctx.get_tags(ws).len()),
        };
        ctx.send(ws, WsMessage::Text(answer));
        Ok(())
    }
}

async fn start() -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
    let mut reg = Registry::new();
    reg.register("probe", |_| Ok(Box::new(Probe) as Box<dyn AnyObject>));
    let rt = Runtime::new(Config::new(DataDir::Memory), reg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(dobench_runtime::serve(listener, rt, async move {
        s.cancelled().await
    }));
    (addr, stop)
}

async fn ask<S>(ws: &mut S, text: &str) -> String
where
    S: SinkExt<Message> + StreamExt<Item = tokio_tungstenite::tungstenite::Result<Message>> + Unpin,
    <S as futures_util::Sink<Message>>::Error: std::fmt::Debug,
{
    ws.send(Message::Text(text.to_string().into()))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    reply.into_text().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_attachment_is_refused_and_the_socket_is_unharmed() {
    let (addr, stop) = start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/probe/p/ws"))
        .await
        .unwrap();
    assert_eq!(ask(&mut ws, "attach:16384").await, "ok 16384");
    let err = ask(&mut ws, "attach:16385").await;
    assert!(err.contains("at most 16384 bytes; got 16385"), "{err}");
    // The earlier attachment is intact and the socket still works.
    assert_eq!(ask(&mut ws, "attach:10").await, "ok 10");
    assert_eq!(ask(&mut ws, "hi").await, "echo:hi tags:1");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_tags_are_refused_with_a_clear_message_ten_are_fine() {
    let (addr, stop) = start().await;
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/probe/p/ws?tags=11"))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 400);
            let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("at most 10 tags; got 11"), "{body}");
        }
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/probe/p/ws?tags=10"))
        .await
        .unwrap();
    assert_eq!(ask(&mut ws, "x").await, "echo:x tags:10");
    stop.cancel();
}
