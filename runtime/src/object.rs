//! The public face object classes are written against: the [`Object`] trait (fetch, alarm,
//! WebSocket events), the [`Request`]/[`Response`] a turn sees, and the [`Context`] that
//! gives a turn its id and storage. Handlers are synchronous on purpose: a turn is exclusive
//! and its effects (responses, frames) leave only after commit, so there is nothing to await.
//! Nothing here knows about HTTP servers, mailboxes or tasks.

use bytes::Bytes;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::storage::Storage;

pub use axum::http::Method;

/// What a `fetch` turn receives.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// The path below `/{class}/{object}`, starting with `/` (`/` when empty).
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Request headers (lowercase names).
    pub headers: Vec<(String, String)>,
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
            headers: Vec::new(),
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

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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
    ) -> Self {
        Self {
            id,
            class,
            name,
            storage,
            alarm_effect: None,
        }
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
