//! The chat-fanout workload's object: a room. `GET /ws?user=U` accepts a WebSocket through
//! the runtime (hibernation-friendly: the user lives in the socket's tag and attachment, not
//! in instance memory); every text frame is stored with the room's next `seq` and broadcast
//! to every member, sender included. `GET /history?limit=N` returns the last N messages;
//! `GET /history?after_seq=S&limit=N` the first N after seq S (a page: read a whole history
//! by passing the last seq of each page). A room keeps its last [`ChatRoom::history`]
//! messages (retention, [`DEFAULT_HISTORY`] unless the registry says otherwise) and deletes
//! older ones as it stores new ones. `ping` is answered by the runtime's auto-response
//! without waking the room.

use dobench_runtime::{
    epoch_us, AnyObject, Context, Method, Object, Request, Response, Result, SocketId, SqlValue,
    WsMessage,
};
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "chat";
const MAX_USER_LEN: usize = 256;
/// Most messages one history read returns.
pub const MAX_HISTORY_PAGE: u64 = 1000;
/// Messages a room keeps by default (older ones are deleted as new ones are stored).
pub const DEFAULT_HISTORY: u64 = 100_000;
/// Largest message body stored (production caps values at 2 MB; a chat line needs less).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A chat room.
#[derive(Debug)]
pub struct ChatRoom {
    /// The next message's sequence number (turns of one room take it one at a time: no
    /// await between taking and storing it).
    next_seq: std::sync::atomic::AtomicI64,
    /// Messages kept (retention).
    history: u64,
}

impl ChatRoom {
    /// A room keeping [`DEFAULT_HISTORY`] messages.
    pub fn construct(ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        Self::construct_keeping(ctx, DEFAULT_HISTORY)
    }

    /// Restores the sequence from storage; sockets and users come back from the runtime.
    /// The room keeps its last `history` messages (at least 1).
    pub fn construct_keeping(ctx: &mut Context, history: u64) -> Result<Box<dyn AnyObject>> {
        let mut s = ctx.storage();
        s.sql(
            "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, from_user TEXT NOT NULL, \
             sent_at_us INTEGER NOT NULL, body TEXT NOT NULL)",
            &[],
        )?;
        let rows = s.sql("SELECT COALESCE(MAX(seq), 0) FROM messages", &[])?;
        let last = match rows.rows.first().map(Vec::as_slice) {
            Some([SqlValue::Integer(n)]) => *n,
            _ => 0,
        };
        drop(s);
        ctx.set_websocket_auto_response(Some(("ping", "pong")))?;
        Ok(Box::new(ChatRoom {
            next_seq: (last + 1).into(),
            history: history.max(1),
        }))
    }

    fn user_of(ctx: &Context, ws: SocketId) -> String {
        ctx.deserialize_attachment(ws)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["user"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn history(ctx: &mut Context, req: &Request) -> Result<Response> {
        let limit = match params::uint(req, "limit", Some(100), 1, MAX_HISTORY_PAGE) {
            Ok(l) => l as i64,
            Err(resp) => return Ok(resp),
        };
        let rows = match req.query("after_seq") {
            // A page: the first `limit` messages after `after_seq`, in seq order.
            Some(_) => {
                let after = match params::uint(req, "after_seq", None, 0, i64::MAX as u64) {
                    Ok(a) => a as i64,
                    Err(resp) => return Ok(resp),
                };
                ctx.storage().sql(
                    "SELECT seq, from_user, sent_at_us, body FROM messages WHERE seq > ?1 \
                     ORDER BY seq LIMIT ?2",
                    &[SqlValue::Integer(after), SqlValue::Integer(limit)],
                )?
            }
            // The last `limit` messages, in seq order.
            None => ctx.storage().sql(
                "SELECT seq, from_user, sent_at_us, body FROM \
                 (SELECT * FROM messages ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
                &[SqlValue::Integer(limit)],
            )?,
        };
        let messages: Vec<_> = rows
            .rows
            .iter()
            .filter_map(|r| match r.as_slice() {
                [SqlValue::Integer(seq), SqlValue::Text(from), SqlValue::Integer(at), SqlValue::Text(body)] => {
                    Some(json!({ "seq": seq, "from": from, "sent_at_us": at, "body": body }))
                }
                _ => None,
            })
            .collect();
        Ok(Response::json(200, &json!({ "messages": messages })))
    }
}

impl Object for ChatRoom {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::GET, "/ws") => {
                let user = match params::text(&req, "user", MAX_USER_LEN) {
                    Ok(u) => u.to_string(),
                    Err(resp) => return Ok(resp),
                };
                if !req.is_websocket_upgrade() {
                    return Ok(Response::error(426, "this route needs a WebSocket upgrade"));
                }
                let ws = ctx.accept_websocket(&[&user])?;
                ctx.serialize_attachment(ws, json!({ "user": user }).to_string().as_bytes())?;
                Ok(Response::switching_protocols())
            }
            (&Method::GET, "/history") => Self::history(ctx, &req),
            _ => Ok(params::no_route(
                &req,
                &[("GET", "/ws"), ("GET", "/history")],
            )),
        }
    }

    async fn websocket_message(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        msg: WsMessage,
    ) -> Result<()> {
        let WsMessage::Text(body) = msg else {
            ctx.send(
                ws,
                WsMessage::Text(json!({ "error": "send text frames" }).to_string()),
            );
            return Ok(());
        };
        if body.len() > MAX_BODY_BYTES {
            let e = format!(
                "message is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            );
            ctx.send(ws, WsMessage::Text(json!({ "error": e }).to_string()));
            return Ok(());
        }
        let from = Self::user_of(ctx, ws);
        let seq = self.next_seq.load(Relaxed);
        let sent_at_us = epoch_us();
        ctx.storage().sql(
            "INSERT INTO messages (seq, from_user, sent_at_us, body) VALUES (?1, ?2, ?3, ?4)",
            &[
                SqlValue::Integer(seq),
                SqlValue::Text(from.clone()),
                SqlValue::Integer(sent_at_us),
                SqlValue::Text(body.clone()),
            ],
        )?;
        let oldest_kept = seq - self.history as i64 + 1;
        if oldest_kept > 1 {
            ctx.storage().sql(
                "DELETE FROM messages WHERE seq < ?1",
                &[SqlValue::Integer(oldest_kept)],
            )?;
        }
        self.next_seq.store(seq + 1, Relaxed);
        let frame = json!({ "seq": seq, "from": from, "sent_at_us": sent_at_us, "body": body });
        let members = ctx.get_websockets(None);
        ctx.broadcast(&members, WsMessage::Text(frame.to_string()));
        Ok(())
    }
}
