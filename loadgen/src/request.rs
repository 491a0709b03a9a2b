//! What the executor sends and what it hands back: `RequestSpec`, `Response`, and the
//! `RequestSource` trait through which a workload (or `dobench http`) supplies requests and
//! checks answers. A source may also name WebSocket sessions ([`SessionSpec`]) that the
//! executor opens and owns: a request with `session` set is one text frame on that session,
//! and every frame arriving on a session is handed to [`RequestSource::frame`], which says
//! whether it is the delivery of one of the run's own sends (then the executor times it from
//! that send's intended time): recovered from the executor's stamp ([`Frame::Delivery`]), or,
//! for a source that renders its own frame format ([`RequestSource::stamps_frames`] false),
//! named by the source itself ([`Frame::Message`]). Must never do I/O: sources are called on the hot path of every
//! request and every frame.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::error::{Error, Result};

/// One request to send. Cheap to clone: `op`/`object` are shared strings, `body` is `Bytes`.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Operation name for per-op statistics (e.g. `"increment"`, `"GET"`).
    pub op: Arc<str>,
    /// Target object label for per-object statistics (`None` when not object-addressed).
    pub object: Option<Arc<str>>,
    pub method: Method,
    /// Absolute `http://` URL (loopback).
    pub url: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `Some(n)`: send `body` (UTF-8) as one text frame on WebSocket session `n` of
    /// [`RequestSource::sessions`] instead of an HTTP request; `method`/`url` only label it.
    pub session: Option<u32>,
}

impl RequestSpec {
    /// A request with no headers and no body; `url` must be an absolute `http://` URL.
    pub fn new(op: impl Into<Arc<str>>, method: Method, url: &str) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        crate::target::check_url(&uri)?;
        Ok(RequestSpec {
            op: op.into(),
            object: None,
            method,
            url: uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            session: None,
        })
    }

    /// One text frame `body` on WebSocket session `session` (see [`RequestSource::sessions`]).
    pub fn frame(op: impl Into<Arc<str>>, session: u32, url: Uri, body: String) -> Self {
        RequestSpec {
            op: op.into(),
            object: None,
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: Bytes::from(body),
            session: Some(session),
        }
    }

    /// Adds a header from `name: value` text (the curl/wrk `-H` form).
    pub fn with_header_line(mut self, line: &str) -> Result<Self> {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            Error::InvalidRequest(format!("header {line:?} is not `name: value`"))
        })?;
        let name = HeaderName::try_from(name.trim())
            .map_err(|e| Error::InvalidRequest(format!("{name:?}: {e}")))?;
        let value = HeaderValue::try_from(value.trim())
            .map_err(|e| Error::InvalidRequest(format!("{value:?}: {e}")))?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// Sets the object label for per-object statistics.
    pub fn with_object(mut self, object: impl Into<Arc<str>>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// Sets the request body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// A completed HTTP exchange as the observer sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    /// The target said this request brought its object into memory (the reference
    /// runtime's `x-dobench-cold-start` header): its latency is reported apart as well.
    pub cold_start: bool,
}

/// Response header with which a target marks a request that had to bring its object into
/// memory (construction, opening its storage).
pub const COLD_START_HEADER: &str = "x-dobench-cold-start";

/// A WebSocket session the executor opens before the start instant and keeps for the run
/// (reconnecting a dropped one a few times).
#[derive(Debug, Clone)]
pub struct SessionSpec {
    /// Absolute `ws://` URL (loopback). Per-object statistics come from the sends'
    /// `RequestSpec::object`, as for HTTP requests.
    pub url: String,
}

/// What a source makes of a frame that arrived on one of its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The delivery of one of the run's own sends: `body` is the text frame's body as the
    /// executor sent it (stamp included), recovered from whatever the target wrapped it in.
    Delivery { body: std::borrow::Cow<'a, str> },
    /// The delivery of send `global` in the source's own frame format (no executor stamp):
    /// timed from `intended_unix_us` (the intended send time the frame carries, µs since the
    /// Unix epoch, as [`RequestSource::request_at`] was told it) when given, else from the
    /// plan's intended time of `global`.
    Message {
        global: u64,
        intended_unix_us: Option<u64>,
    },
    /// Anything else (an error frame, a pong ...): counted, never timed.
    Other,
}

/// A session's life as the executor saw it (for a source's correctness books).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    /// The session could not be opened at the start.
    Failed,
    /// The session dropped and was opened again: frames from here on are a new connection.
    Reconnected,
    /// The session dropped and could not be opened again.
    Lost,
}

/// Supplies the request for each planned index and (optionally) checks each answer.
///
/// `index` is the *global* index in the schedule (stable across segments), so a source can
/// derive the key/object deterministically. Both methods run on the executor's hot path:
/// keep them cheap and non-blocking (no I/O, no long locks).
pub trait RequestSource: Send + Sync {
    /// The request to send for schedule index `index`.
    fn request(&self, index: u64) -> RequestSpec;

    /// Called with every response that arrived (any status), e.g. to record counter values
    /// for a correctness check. Failed requests (connect, timeout) are not observed.
    fn observe(&self, index: u64, request: &RequestSpec, response: &Response) {
        let _ = (index, request, response);
    }

    /// Called when a request built by [`RequestSource::request`] was never sent (it waited
    /// for a connection for a whole timeout and is booked as a timeout): a source that
    /// counted it as sent takes it back here.
    fn unsent(&self, index: u64, request: &RequestSpec) {
        let _ = (index, request);
    }

    /// The request for `index` as sent by executor worker `user` (a closed-model virtual
    /// user, or an open-model connection): a source that keeps per-user state (values
    /// captured from earlier answers) overrides this; the default ignores `user`.
    fn request_as(&self, user: usize, index: u64) -> RequestSpec {
        let _ = user;
        self.request(index)
    }

    /// The request for `index` as sent by worker `user`, told its intended send time (µs
    /// since the Unix epoch; closed model: the moment it was claimed), for sources whose
    /// requests carry it; the default ignores the time.
    fn request_at(&self, user: usize, index: u64, intended_unix_us: u64) -> RequestSpec {
        let _ = intended_unix_us;
        self.request_as(user, index)
    }

    /// Whether the executor stamps session frames (`@<index>.<µs>;` ahead of the body) and
    /// recovers the stamp from deliveries ([`Frame::Delivery`]). A source with a frame
    /// format of its own returns false: its bodies go out as rendered and its deliveries are
    /// [`Frame::Message`]s.
    fn stamps_frames(&self) -> bool {
        true
    }

    /// [`RequestSource::observe`] told which worker sent the request (see
    /// [`RequestSource::request_as`]); the default ignores `user`.
    fn observe_as(&self, user: usize, index: u64, request: &RequestSpec, response: &Response) {
        let _ = user;
        self.observe(index, request, response);
    }

    /// Called when a session frame built by [`RequestSource::request`] was handed to its
    /// socket (the frame counterpart of `observe`).
    fn frame_sent(&self, index: u64, request: &RequestSpec) {
        let _ = (index, request);
    }

    /// WebSocket sessions the executor opens before the start instant (none by default).
    fn sessions(&self) -> Vec<SessionSpec> {
        Vec::new()
    }

    /// A text frame arrived on session `session`.
    fn frame<'a>(&self, session: u32, text: &'a str) -> Frame<'a> {
        let _ = (session, text);
        Frame::Other
    }

    /// A session failed, dropped and came back, or was lost.
    fn session_event(&self, session: u32, event: SessionEvent) {
        let _ = (session, event);
    }

    /// Deliveries the source still expects (the executor waits for them, at most one request
    /// timeout, after the last send). 0 by default.
    fn awaiting(&self) -> u64 {
        0
    }

    /// Deliveries each send is expected to make (chat: the room's members); 0 for plain
    /// requests. Offered deliveries/s = offered rate × this.
    fn fan_out(&self) -> f64 {
        0.0
    }

    /// What one planned send is called in rates: `req/s` by default, `msg/s` for messages.
    fn rate_unit(&self) -> &'static str {
        "req/s"
    }
}

/// The same request every time (what `dobench http` sends).
#[derive(Debug, Clone)]
pub struct FixedRequest(pub RequestSpec);

impl RequestSource for FixedRequest {
    fn request(&self, _index: u64) -> RequestSpec {
        self.0.clone()
    }
}
