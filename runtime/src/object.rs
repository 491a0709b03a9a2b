//! The public face object classes are written against: the async [`Object`] trait (fetch,
//! typed calls, alarm, WebSocket events), its boxed form [`AnyObject`] the runtime holds, and
//! the [`Request`]/[`Response`] a turn sees ([`Context`] lives in `context.rs`). Nothing here
//! knows about HTTP servers, mailboxes or tasks.

use bytes::Bytes;
use serde::Serialize;

use std::future::Future;

use crate::error::{Error, Result};

use crate::context::Context;

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

/// Something that happened on a socket an object accepted, delivered as a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    /// A message arrived.
    Message(WsMessage),
    /// The socket closed.
    Close {
        /// Close code (1006 for an abrupt drop).
        code: u16,
        /// Close reason.
        reason: String,
        /// False for an abrupt drop.
        was_clean: bool,
    },
    /// The socket failed.
    Error(String),
}

/// A handle to a runtime-held WebSocket, valid across hibernation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// A boxed handler future, as the runtime holds it.
pub type TurnFuture<'a, T> = futures_util::future::BoxFuture<'a, Result<T>>;

/// An object class's instance. One instance per live id. Handlers are `async` and take
/// `&self`: while one turn awaits something that opens the input gate (a call to another
/// object, [`Context::sleep`]) other events for the object may run, as in production, so
/// state shared by turns lives behind interior mutability (a `Mutex` held only between
/// awaits: a guard held across an await makes the future `!Send` and does not compile).
/// Storage calls are synchronous and never let another turn in. Nothing a turn produces
/// (response, frame, outgoing call) leaves before the writes made before it commit.
///
/// A handler's `Err` becomes a 500 for fetch (or the error's own status, e.g. a 503 for an
/// overloaded callee passed on with `?`), a retry for alarms. Writes made before the error
/// are still committed, as in production.
pub trait Object: Send + Sync + 'static {
    /// An HTTP request routed to this object, or a stub's `fetch` from another object.
    fn fetch(
        &self,
        ctx: &mut Context,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send;

    /// A typed call from another object's stub ([`crate::Stub::call`]): `method` with JSON
    /// `args`, answering JSON.
    fn call(
        &self,
        ctx: &mut Context,
        method: &str,
        args: serde_json::Value,
    ) -> impl Future<Output = Result<serde_json::Value>> + Send {
        let _ = (method, args);
        let class = ctx.class().to_string();
        async move {
            Err(Error::Unsupported {
                class,
                what: "RPC calls",
            })
        }
    }

    /// The object's alarm fired.
    fn alarm(&self, ctx: &mut Context, info: AlarmInfo) -> impl Future<Output = Result<()>> + Send {
        let _ = info;
        let class = ctx.class().to_string();
        async move {
            Err(Error::Unsupported {
                class,
                what: "alarms",
            })
        }
    }

    /// A message arrived on a socket this object accepted.
    fn websocket_message(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        msg: WsMessage,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (ws, msg);
        let class = ctx.class().to_string();
        async move {
            Err(Error::Unsupported {
                class,
                what: "WebSocket messages",
            })
        }
    }

    /// A socket this object accepted closed (`was_clean` false for an abrupt drop, code 1006).
    fn websocket_close(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        code: u16,
        reason: &str,
        was_clean: bool,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (ctx, ws, code, reason, was_clean);
        async { Ok(()) }
    }

    /// A socket this object accepted failed.
    fn websocket_error(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        error: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (ctx, ws, error);
        async { Ok(()) }
    }
}

/// An [`Object`] as the runtime holds it (boxed futures, so one instance type fits every
/// class). Implemented for every `Object`; constructors return `Box<dyn AnyObject>`, which a
/// `Box::new(MyClass { .. })` becomes by itself.
pub trait AnyObject: Send + Sync + 'static {
    #[doc(hidden)]
    fn fetch_dyn<'a>(&'a self, ctx: &'a mut Context, req: Request) -> TurnFuture<'a, Response>;
    #[doc(hidden)]
    fn call_dyn<'a>(
        &'a self,
        ctx: &'a mut Context,
        method: &'a str,
        args: serde_json::Value,
    ) -> TurnFuture<'a, serde_json::Value>;
    #[doc(hidden)]
    fn alarm_dyn<'a>(&'a self, ctx: &'a mut Context, info: AlarmInfo) -> TurnFuture<'a, ()>;
    #[doc(hidden)]
    fn socket_dyn<'a>(
        &'a self,
        ctx: &'a mut Context,
        ws: SocketId,
        event: &'a SocketEvent,
    ) -> TurnFuture<'a, ()>;
}

impl<T: Object> AnyObject for T {
    fn fetch_dyn<'a>(&'a self, ctx: &'a mut Context, req: Request) -> TurnFuture<'a, Response> {
        Box::pin(self.fetch(ctx, req))
    }
    fn call_dyn<'a>(
        &'a self,
        ctx: &'a mut Context,
        method: &'a str,
        args: serde_json::Value,
    ) -> TurnFuture<'a, serde_json::Value> {
        Box::pin(self.call(ctx, method, args))
    }
    fn alarm_dyn<'a>(&'a self, ctx: &'a mut Context, info: AlarmInfo) -> TurnFuture<'a, ()> {
        Box::pin(self.alarm(ctx, info))
    }
    fn socket_dyn<'a>(
        &'a self,
        ctx: &'a mut Context,
        ws: SocketId,
        event: &'a SocketEvent,
    ) -> TurnFuture<'a, ()> {
        match event {
            SocketEvent::Message(msg) => Box::pin(self.websocket_message(ctx, ws, msg.clone())),
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => Box::pin(self.websocket_close(ctx, ws, *code, reason, *was_clean)),
            SocketEvent::Error(e) => Box::pin(self.websocket_error(ctx, ws, e)),
        }
    }
}
