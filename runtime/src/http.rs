//! The HTTP front (axum): routes `/{class}/{object}/...` to objects and serves the runtime's
//! own `/_dobench/` endpoints. `app()` builds the router and is tested without a socket;
//! serving lives in `server.rs`. One `ApiError` maps every runtime error to a status and a
//! JSON body. Never runs object code: it only posts to the runtime and waits.
//!
//! Bounds enforced here, before anything is created: object names are 1..=`max_name_bytes`
//! valid UTF-8 (else 400/414), unknown Hosts get 421 (`host_check.rs`), state-changing
//! `/_dobench/` routes pass the admin gate (`admin.rs`); every refusal, including a wrong
//! method (405) and a path that is not UTF-8, is a JSON `{"error": ...}`.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::Error;
use crate::front::FrontConfig;
use crate::limits::WS_READ_BUFFER_BYTES;
use crate::object::{Request, Response};
use crate::runtime::{ObjectRef, Runtime};

/// The router of the reference runtime with the default [`FrontConfig`] (admin routes need its
/// random token, which nobody knows: closed) for a server on a loopback address.
pub fn app(runtime: Runtime) -> Router {
    app_with(runtime, &FrontConfig::default(), None)
}

/// The router with `front`'s bounds and access policy, for a server bound at `bound` (`None`:
/// not bound to a socket yet, treated as loopback). Also sets the runtime's per-socket send
/// queue bound to `front.ws_send_queue_bytes`.
pub fn app_with(
    runtime: Runtime,
    front: &FrontConfig,
    bound: Option<std::net::SocketAddr>,
) -> Router {
    let limit = runtime.config().max_body_bytes;
    runtime
        .sockets()
        .set_queue_bytes_limit(front.ws_send_queue_bytes);
    let names = NameLimit(front.max_name_bytes);
    let gate = crate::admin::AdminGate::new(&front.admin, bound);
    let hosts = crate::host_check::HostPolicy::new(bound, &front.allowed_hosts);
    let admin = Router::new()
        .route("/_dobench/stall", post(stall))
        .route_layer(axum::middleware::from_fn_with_state(
            gate,
            crate::admin::gate,
        ));
    Router::new()
        .route("/_dobench/health", get(health))
        .route("/_dobench/stats", get(stats))
        .route("/_dobench/metrics", get(metrics))
        .merge(admin)
        .route("/{class}/{object}", any(object_route))
        .route("/{class}/{object}/{*rest}", any(object_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(names))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            front.body_read_timeout,
            crate::body_deadline::limit_body_time,
        ))
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            crate::host_check::check_host,
        ))
        .with_state(runtime)
}

/// The longest object name this router accepts, in bytes.
#[derive(Debug, Clone, Copy)]
struct NameLimit(usize);

impl NameLimit {
    /// Refuses an empty name (400) or one over the limit (414), before anything exists for it.
    fn check(self, object: &str) -> Result<(), ApiError> {
        if object.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the object name is empty (a path like `/counter//increment`)",
            ));
        }
        if object.len() > self.0 {
            return Err(ApiError::new(
                StatusCode::URI_TOO_LONG,
                format!(
                    "the object name is {} bytes; names are limited to {} bytes (--max-name-bytes)",
                    object.len(),
                    self.0
                ),
            ));
        }
        Ok(())
    }
}

/// An error answered as `{"error": ...}` with a fitting status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    overloaded: bool,
}

/// Why an overloaded object refused when its mailbox is full.
const MAILBOX_FULL: &str = "the object's mailbox is full; back off before retrying";

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            overloaded: false,
        }
    }

    /// 503 overloaded, saying why in `detail`.
    pub(crate) fn overloaded(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: detail.into(),
            overloaded: true,
        }
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Overloaded { .. } => return Self::overloaded(MAILBOX_FULL),
            Error::InvalidId(_)
            | Error::KeyTooLarge { .. }
            | Error::ValueTooLarge { .. }
            | Error::Limit(_) => StatusCode::BAD_REQUEST,
            Error::UnknownClass(_) => StatusCode::NOT_FOUND,
            Error::Unsupported { .. } => StatusCode::NOT_IMPLEMENTED,
            Error::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> AxumResponse {
        let body = if self.overloaded {
            json!({ "error": "overloaded", "overloaded": true, "detail": self.message })
        } else {
            json!({ "error": self.message })
        };
        (self.status, Json(body)).into_response()
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "ok": true }))
}

/// `?top=N&after=ID&limit=N` of the stats routes.
#[derive(Debug, Default, serde::Deserialize)]
struct StatsParams {
    top: Option<usize>,
    after: Option<String>,
    limit: Option<usize>,
}

impl StatsParams {
    fn query(self) -> Result<crate::stats::StatsQuery, ApiError> {
        use crate::stats::StatsQuery;
        let max = StatsQuery::MAX_LIST;
        for (name, v) in [("top", self.top), ("limit", self.limit)] {
            if v.is_some_and(|v| v > max) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("`{name}` is at most {max}"),
                ));
            }
        }
        if let Some(a) = &self.after {
            if a.len() != 64 || !a.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "`after` must be an object id (64 hex characters)",
                ));
            }
        }
        Ok(StatsQuery {
            top: self.top.unwrap_or(StatsQuery::DEFAULT_TOP),
            after: self.after,
            limit: self.limit.unwrap_or(0),
        })
    }
}

/// A scrape walks every object seen (tens of milliseconds at a million): it runs on the
/// blocking pool, so the worker threads keep running object turns meanwhile.
async fn scrape(
    rt: Runtime,
    q: crate::stats::StatsQuery,
) -> Result<crate::stats::StatsReport, ApiError> {
    tokio::task::spawn_blocking(move || rt.stats_with(&q))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("stats: {e}")))
}

async fn stats(
    State(rt): State<Runtime>,
    axum::extract::Query(p): axum::extract::Query<StatsParams>,
) -> Result<Json<crate::stats::StatsReport>, ApiError> {
    let q = p.query()?;
    Ok(Json(scrape(rt, q).await?))
}

async fn metrics(
    State(rt): State<Runtime>,
    axum::extract::Query(p): axum::extract::Query<StatsParams>,
) -> Result<impl IntoResponse, ApiError> {
    let q = p.query()?;
    Ok((
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(&scrape(rt, q).await?),
    ))
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    // `/{class}/` and `/{class}//...`: an object route with an empty name.
    let mut segments = uri.path().trim_start_matches('/').splitn(2, '/');
    if let (Some(class), Some(rest)) = (segments.next(), segments.next()) {
        if !class.is_empty() && (rest.is_empty() || rest.starts_with('/')) {
            return NameLimit(usize::MAX).check("").unwrap_err();
        }
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", shorten(uri.path())),
    )
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", shorten(uri.path())),
    )
}

/// At most 200 characters of `s` for an error message (names can be long).
fn shorten(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A path whose segments are not UTF-8 after percent-decoding, as JSON.
fn path_error(e: PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("bad path: {}", shorten(&e.body_text())),
    )
}

/// Resolves the `{object}` path segment: a name, or `id:<64 hex>` for idFromString.
fn resolve(rt: &Runtime, class: &str, object: &str) -> Result<ObjectRef, ApiError> {
    if !rt.has_class(class) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown object class `{}`", shorten(class)),
        ));
    }
    let r = match object.strip_prefix("id:") {
        Some(hex) => rt.object_by_id(class, hex),
        None => rt.object_by_name(class, object),
    };
    r.map_err(ApiError::from)
}

/// `POST /_dobench/stall?class=C&object=NAME&ms=N`: hold that object's next turn N ms.
async fn stall(
    State(rt): State<Runtime>,
    axum::Extension(names): axum::Extension<NameLimit>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let param = |name: &str| {
        q.get(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("missing query parameter `{name}`"),
            )
        })
    };
    let class = param("class")?;
    let object = param("object")?;
    names.check(object)?;
    let ms: u64 = param("ms")?
        .parse()
        .ok()
        .filter(|ms| *ms <= 600_000)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "`ms` must be a whole number of milliseconds in 0..=600000",
            )
        })?;
    let target = resolve(&rt, class, object)?;
    rt.stall(&target, Duration::from_millis(ms))?;
    Ok(Json(json!({ "stalled_ms": ms })))
}

#[allow(clippy::too_many_arguments)] // axum extractors, one per part of the request
async fn object_route(
    State(rt): State<Runtime>,
    axum::Extension(names): axum::Extension<NameLimit>,
    params: Result<Path<HashMap<String, String>>, PathRejection>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Body,
) -> Result<AxumResponse, ApiError> {
    let Path(params) = params.map_err(path_error)?;
    let class = params.get("class").map(String::as_str).unwrap_or("");
    let object = params.get("object").map(String::as_str).unwrap_or("");
    names.check(object)?;
    let target = resolve(&rt, class, object)?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })?;
    // Held until the object has answered: the body's bytes count as in flight for it.
    let (body, _held) = crate::request_body::read(&rt, &target, &headers, body).await?;
    let path = match params.get("rest") {
        Some(rest) => format!("/{rest}"),
        None => "/".to_string(),
    };
    let req = Request {
        method,
        path,
        query,
        headers,
        body,
    };
    let upgrade = ws.ok();
    let reply = rt.fetch_turn(&target, req, upgrade.is_some()).await?;
    match (reply.accepted, upgrade) {
        (Some(accepted), Some(ws)) => {
            let (rt2, target2, socket) = (rt.clone(), target.clone(), accepted.socket);
            let resp = ws
                .max_message_size(rt.config().max_ws_message_bytes)
                // The default 128 KiB read buffer is allocated (and touched) per socket:
                // 10,000 idle sockets would cost 1.3 GB. Larger frames still arrive, in chunks.
                .read_buffer_size(WS_READ_BUFFER_BYTES)
                .on_failed_upgrade(move |_| {
                    // The client went away mid-handshake: forget the socket.
                    rt2.sockets().remove(&target2.id(), socket);
                })
                .on_upgrade(move |socket| crate::ws_conn::pump(rt, target, accepted, socket));
            Ok(resp)
        }
        (None, _) if reply.response.status == 101 => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the object answered 101 without accepting a WebSocket",
        )),
        (_, _) => Ok(into_axum(reply.response)),
    }
}

fn into_axum(resp: Response) -> AxumResponse {
    let mut out = AxumResponse::new(Body::from(resp.body));
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            out.headers_mut().append(k, v);
        }
    }
    out
}
