//! One accepted WebSocket connection, pumped by the runtime (not by the object): a writer
//! task drains the socket's bounded queue to the wire, and the reader turns frames into
//! socket turns for the object — waking (re-constructing) it if it hibernated — except the
//! auto-response request and protocol pings, which never wake it. A frame over the message
//! limit is answered with close 1009, a protocol violation with 1002, a consumer that fell behind its send queue with 1008, a
//! runtime shutdown with 1001 (each best effort, within a second). Never holds an object.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering::Relaxed;

use crate::error::Error;
use crate::inflight::Reservation;
use crate::mailbox::Envelope;
use crate::object::SocketEvent;
use crate::object::{SocketId, WsMessage};
use crate::runtime::{ObjectRef, Runtime};
use crate::sockets::{close_frame, frame_bytes, Accepted, Outgoing};

/// Close code for a message over the size limit.
const CLOSE_TOO_BIG: u16 = 1009;

/// How long a reader keeps retrying an event its object's full mailbox refused, before it
/// gives up on the connection. Meanwhile it reads nothing: TCP pushes back on the client.
const DELIVERY_PATIENCE: Duration = Duration::from_secs(10);

/// Runs the connection until either side closes it.
pub(crate) async fn pump(rt: Runtime, object: ObjectRef, accepted: Accepted, ws: WebSocket) {
    let Accepted {
        socket,
        mut rx,
        kill,
        queue,
    } = accepted;
    let (mut sink, mut stream) = ws.split();
    let max_message = rt.config().max_ws_message_bytes;
    let writer_kill = kill.clone();
    let writer_queue = queue.clone();
    let writer = tokio::spawn(async move {
        let mut closed = false;
        loop {
            let next = tokio::select! {
                out = rx.recv() => out,
                _ = writer_kill.cancelled() => break,
            };
            let frame = match next {
                Some(Outgoing::Frame(m)) => m,
                Some(Outgoing::Close(code, reason)) => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        sink.send(close_frame(code, &reason)),
                    )
                    .await;
                    closed = true;
                    break;
                }
                None => break,
            };
            let size = frame_bytes(&frame);
            tokio::select! {
                r = sink.send(frame) => if r.is_err() { break },
                // Fallen behind: drop the connection rather than wait on it.
                _ = writer_kill.cancelled() => break,
            }
            writer_queue.bytes.fetch_sub(size, Relaxed);
        }
        let code = writer_queue.kill_code.load(Relaxed);
        let close = async {
            if !closed && code != 0 {
                let reason = match code {
                    CLOSE_TOO_BIG => {
                        format!("message over the {max_message}-byte limit")
                    }
                    1001 => "the server is shutting down".to_string(),
                    1002 => "protocol error".to_string(),
                    1007 => "text frame is not UTF-8".to_string(),
                    _ => "the socket fell behind its send queue".to_string(),
                };
                let _ = sink.send(close_frame(code, &reason)).await;
            }
            let _ = sink.close().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
    });

    let table = rt.sockets();
    let stats = rt.stats_for(&object);
    let (code, reason, was_clean, error) = loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = kill.cancelled() => break (1008, "the socket fell behind its send buffer".to_string(), false, None),
        };
        let msg = match frame {
            Some(Ok(Message::Text(t))) => {
                if table.auto_respond(&object.id(), socket, t.as_str()) {
                    continue;
                }
                WsMessage::Text(t.to_string())
            }
            Some(Ok(Message::Binary(b))) => WsMessage::Binary(b),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (f.code, f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                break (code, reason, true, None);
            }
            Some(Err(e)) if close_code_for(&e).is_some() => {
                let code = close_code_for(&e).unwrap_or(1002);
                let _ = queue.kill_code.compare_exchange(0, code, Relaxed, Relaxed);
                break (code, e.to_string(), false, None);
            }
            Some(Err(e)) => break (1006, String::new(), false, Some(e.to_string())),
            None => break (1006, String::new(), false, None),
        };
        table.counters.messages_in.fetch_add(1, Relaxed);
        stats.ws_messages_in.fetch_add(1, Relaxed);
        let size = match &msg {
            WsMessage::Text(t) => t.len(),
            WsMessage::Binary(b) => b.len(),
        } as u64;
        // Room for the message among the object's bytes in flight; meanwhile nothing more is
        // read from this socket, so TCP pushes back on the client.
        let Some(held) = reserve(&rt, &object, size).await else {
            break (
                1011,
                "the object's bytes in flight stayed full".to_string(),
                false,
                None,
            );
        };
        let event = SocketEvent::Message(msg);
        if !deliver_held(&rt, &object, socket, event, Some(held)).await {
            break (
                1011,
                "the object could not take the message".to_string(),
                false,
                None,
            );
        }
    };
    kill.cancel();
    table.remove(&object.id(), socket);
    let _ = writer.await;
    if let Some(e) = error {
        deliver(&rt, &object, socket, SocketEvent::Error(e)).await;
    }
    let event = SocketEvent::Close {
        code,
        reason,
        was_clean,
    };
    deliver(&rt, &object, socket, event).await;
}

/// The close code owed to the client for a failed read, if the failure was its own doing: a
/// message over the size limit (1009), a protocol violation (1002), text that is not UTF-8
/// (1007). Transport errors get none: there is no one left to tell.
fn close_code_for(e: &axum::Error) -> Option<u16> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        match err.downcast_ref::<tungstenite::Error>() {
            Some(tungstenite::Error::Capacity(_)) => return Some(CLOSE_TOO_BIG),
            Some(tungstenite::Error::Protocol(_)) => return Some(1002),
            Some(tungstenite::Error::Utf8(_)) => return Some(1007),
            Some(_) => return None,
            None => source = err.source(),
        }
    }
    None
}

/// Posts a socket event to the object, waiting (without reading more) while its mailbox is
/// full. False if it could not be delivered.
async fn deliver(rt: &Runtime, object: &ObjectRef, socket: SocketId, event: SocketEvent) -> bool {
    deliver_held(rt, object, socket, event, None).await
}

/// Holds `size` bytes in flight for the object, waiting (without reading more) while it or
/// the runtime is full, for at most [`DELIVERY_PATIENCE`].
async fn reserve(rt: &Runtime, object: &ObjectRef, size: u64) -> Option<Reservation> {
    let deadline = tokio::time::Instant::now() + DELIVERY_PATIENCE;
    loop {
        if let Some(held) = rt.inflight().try_reserve(&object.id(), size) {
            return Some(held);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// [`deliver`] with the event's bytes in flight riding along until its turn.
async fn deliver_held(
    rt: &Runtime,
    object: &ObjectRef,
    socket: SocketId,
    event: SocketEvent,
    held: Option<Reservation>,
) -> bool {
    let deadline = tokio::time::Instant::now() + DELIVERY_PATIENCE;
    let mut env = Envelope::Socket {
        socket,
        event,
        held,
    };
    loop {
        match rt.try_post(object, env) {
            Ok(()) => return true,
            Err((Error::Overloaded { .. }, back)) if tokio::time::Instant::now() < deadline => {
                env = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(_) => return false,
        }
    }
}
