//! The public face object classes are written against: the [`Object`] trait (fetch, alarm,
//! WebSocket events), the [`Request`]/[`Response`] a turn sees, and the [`Context`] that
//! gives a turn its id and storage. Handlers are synchronous on purpose: a turn is exclusive
//! and its effects (responses, frames) leave only after commit, so there is nothing to await.
//! Nothing here knows about HTTP servers, mailboxes or tasks.

use bytes::Bytes;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::sockets::{Accepted, SocketTable};
use crate::storage::Storage;
use std::sync::Arc;

pub use axum::http::{HeaderMap, Method};

/// What a `fetch` turn receives.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// The path below `/{class}/{object}`, starting with `/` (`/` when empty).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// A request with no query, headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a query pair (builder style).
    pub fn with_query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// The first value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// True if the request asks for a WebSocket upgrade.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a `fetch` turn answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|e| {
            format!("{{\"error\":\"response did not serialize: {e}\"}}").into_bytes()
        });
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.into() }))
    }

    /// The answer to an accepted WebSocket upgrade.
    pub fn switching_protocols() -> Self {
        Self {
            status: 101,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The body parsed as JSON (for tests and clients).
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What an alarm turn is told about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmInfo {
    /// 0 on the first run, 1 on the first retry, ...
    pub retry_count: u32,
    /// `retry_count > 0`.
    pub is_retry: bool,
    /// The epoch-ms time the alarm was set for.
    pub scheduled_ms: i64,
}

/// One WebSocket message as an object sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

/// A handle to a runtime-held WebSocket, valid across hibernation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// An object class's instance. One instance per live id; the runtime calls one method at a
/// time (a turn) and commits the turn's storage writes before anything it produced leaves.
///
/// A handler's `Err` becomes a 500 for fetch, a retry for alarms. Writes made before the error
/// are still committed, as in production.
pub trait Object: Send + 'static {
    /// An HTTP request routed to this object.
    fn fetch(&mut self, ctx: &mut Context, req: Request) -> Result<Response>;

    /// The object's alarm fired.
    fn alarm(&mut self, ctx: &mut Context, info: AlarmInfo) -> Result<()> {
        let _ = (info, &ctx);
        Err(Error::Unsupported {
            class: ctx.class().to_string(),
            what: "alarms",
        })
    }

    /// A message arrived on a socket this object accepted.
    fn websocket_message(&mut self, ctx: &mut Context, ws: SocketId, msg: WsMessage) -> Result<()> {
        let _ = (ws, msg);
        Err(Error::Unsupported {
            class: ctx.class().to_string(),
            what: "WebSocket messages",
        })
    }

    /// A socket this object accepted closed (`was_clean` false for an abrupt drop, code 1006).
    fn websocket_close(
        &mut self,
        ctx: &mut Context,
        ws: SocketId,
        code: u16,
        reason: &str,
        was_clean: bool,
    ) -> Result<()> {
        let _ = (ctx, ws, code, reason, was_clean);
        Ok(())
    }

    /// A socket this object accepted failed.
    fn websocket_error(&mut self, ctx: &mut Context, ws: SocketId, error: &str) -> Result<()> {
        let _ = (ctx, ws, error);
        Ok(())
    }
}

/// A turn's view of its object: identity and storage. Owned by the object's task and lent to
/// each handler call.
pub struct Context {
    pub(crate) id: ObjectId,
    pub(crate) class: std::sync::Arc<str>,
    pub(crate) name: Option<std::sync::Arc<str>>,
    pub(crate) storage: Storage,
    /// The alarm change this batch of turns made, applied to the scheduler after commit.
    pub(crate) alarm_effect: Option<AlarmEffect>,
    pub(crate) sockets: Arc<SocketTable>,
    pub(crate) attachment_limit: usize,
    /// The current fetch turn carries a real WebSocket upgrade.
    pub(crate) upgrade: bool,
    /// The socket the current fetch turn accepted.
    pub(crate) accepted: Option<Accepted>,
    /// Frames and closes of this batch, released after its commit (the output gate).
    pub(crate) outgoing: Vec<OutFrame>,
}

/// A frame or close a turn produced, waiting for the commit.
#[derive(Debug)]
pub(crate) enum OutFrame {
    Send(Vec<SocketId>, axum::extract::ws::Message),
    Close(SocketId, u16, String),
}

/// What a batch did to the object's alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlarmEffect {
    /// Set for `at_ms`; `retry_count` > 0 when the runtime set it as a retry.
    Set { at_ms: i64, retry_count: u32 },
    /// Removed (deleted, or ran to completion, or given up).
    Clear,
}

impl Context {
    pub(crate) fn new(
        id: ObjectId,
        class: std::sync::Arc<str>,
        name: Option<std::sync::Arc<str>>,
        storage: Storage,
        sockets: Arc<SocketTable>,
        attachment_limit: usize,
    ) -> Self {
        Self {
            id,
            class,
            name,
            storage,
            alarm_effect: None,
            sockets,
            attachment_limit,
            upgrade: false,
            accepted: None,
            outgoing: Vec::new(),
        }
    }

    /// Hands the request's WebSocket to the runtime, which owns it from now on (so the
    /// object can hibernate while it stays open). Only in a fetch turn whose request is a
    /// WebSocket upgrade; answer it with [`Response::switching_protocols`]. Tags: at most 10
    /// distinct, each 1..=256 characters.
    pub fn accept_websocket(&mut self, tags: &[&str]) -> Result<SocketId> {
        if !self.upgrade {
            return Err(Error::Limit(
                "accept_websocket needs a WebSocket upgrade request".into(),
            ));
        }
        if self.accepted.is_some() {
            return Err(Error::Limit(
                "this request's WebSocket was already accepted".into(),
            ));
        }
        let accepted = self.sockets.accept(&self.id, tags)?;
        let socket = accepted.socket;
        self.accepted = Some(accepted);
        Ok(socket)
    }

    /// The object's open sockets, all or those with `tag`.
    pub fn get_websockets(&self, tag: Option<&str>) -> Vec<SocketId> {
        self.sockets.ids(&self.id, tag)
    }

    /// The tags a socket was accepted with.
    pub fn get_tags(&self, ws: SocketId) -> Vec<String> {
        self.sockets.tags(&self.id, ws).unwrap_or_default()
    }

    /// Stores bytes with the socket; they survive hibernation. At most the attachment limit
    /// (16,384 bytes by default).
    pub fn serialize_attachment(&mut self, ws: SocketId, bytes: &[u8]) -> Result<()> {
        self.sockets
            .set_attachment(&self.id, ws, bytes, self.attachment_limit)
    }

    /// The socket's attachment.
    pub fn deserialize_attachment(&self, ws: SocketId) -> Option<Bytes> {
        self.sockets.attachment(&self.id, ws)
    }

    /// Sends a message on one socket once the turn commits.
    pub fn send(&mut self, ws: SocketId, msg: WsMessage) {
        self.broadcast(&[ws], msg);
    }

    /// Sends one message to many sockets once the turn commits; serialized once and shared.
    pub fn broadcast(&mut self, sockets: &[SocketId], msg: WsMessage) {
        use axum::extract::ws::Message;
        let frame = match msg {
            WsMessage::Text(t) => Message::Text(t.into()),
            WsMessage::Binary(b) => Message::Binary(b),
        };
        self.outgoing.push(OutFrame::Send(sockets.to_vec(), frame));
    }

    /// Closes a socket once the turn commits.
    pub fn close(&mut self, ws: SocketId, code: u16, reason: &str) {
        self.outgoing
            .push(OutFrame::Close(ws, code, reason.to_string()));
    }

    /// Sets (or clears) the request/response pair the runtime answers by itself, on an
    /// exact text match, without waking the object. Each side at most 2,048 bytes.
    pub fn set_websocket_auto_response(&mut self, pair: Option<(&str, &str)>) -> Result<()> {
        self.sockets.set_auto_response(&self.id, pair)
    }

    /// When the runtime last auto-responded on this socket (epoch ms).
    pub fn get_websocket_auto_response_timestamp(&self, ws: SocketId) -> Option<i64> {
        self.sockets.last_auto_response_ms(&self.id, ws)
    }

    /// This object's id.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// This object's class name.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The name the id was derived from, when the runtime saw it.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// This object's storage; writes belong to the current turn's transaction.
    pub fn storage(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// Sets the object's one alarm for `at_ms` (epoch ms), replacing any earlier one. A time
    /// in the past fires at once. Takes effect when the turn commits.
    pub fn set_alarm(&mut self, at_ms: i64) -> Result<()> {
        self.storage.set_alarm(at_ms)?;
        self.alarm_effect = Some(AlarmEffect::Set {
            at_ms,
            retry_count: 0,
        });
        Ok(())
    }

    /// The pending alarm's time, if any. While an alarm handler runs this is `None` unless
    /// the handler set a new one.
    pub fn get_alarm(&mut self) -> Result<Option<i64>> {
        self.storage.alarm()
    }

    /// Removes the pending alarm, if any.
    pub fn delete_alarm(&mut self) -> Result<()> {
        self.storage.delete_alarm()?;
        self.alarm_effect = Some(AlarmEffect::Clear);
        Ok(())
    }

    /// Wall-clock time in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        crate::clock::epoch_ms()
    }
}
