//! The HTTP front (axum): routes `/{class}/{object}/...` to objects and serves the runtime's
//! own `/_dobench/` endpoints. `app()` builds the router and is tested without a socket;
//! serving lives in `server.rs`. One `ApiError` maps every runtime error to a status and a
//! JSON body. Never runs object code: it only posts to the runtime and waits.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::Error;
use crate::limits::{MAX_WS_MESSAGE_BYTES, WS_READ_BUFFER_BYTES};
use crate::object::{Request, Response};
use crate::runtime::{ObjectRef, Runtime};

/// The router of the reference runtime.
pub fn app(runtime: Runtime) -> Router {
    let limit = runtime.config().max_body_bytes;
    Router::new()
        .route("/_dobench/health", get(health))
        .route("/_dobench/stats", get(stats))
        .route("/_dobench/metrics", get(metrics))
        .route("/_dobench/stall", post(stall))
        .route("/{class}/{object}", any(object_route))
        .route("/{class}/{object}/{*rest}", any(object_route))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(runtime)
}

/// An error answered as `{"error": ...}` with a fitting status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    overloaded: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            overloaded: false,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Overloaded { .. } => {
                return Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: "overloaded".into(),
                    overloaded: true,
                }
            }
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
            json!({ "error": "overloaded", "overloaded": true,
                    "detail": "the object's mailbox is full; back off before retrying" })
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

async fn stats(
    State(rt): State<Runtime>,
    axum::extract::Query(p): axum::extract::Query<StatsParams>,
) -> Result<Json<crate::stats::StatsReport>, ApiError> {
    let q = p.query()?;
    Ok(Json(rt.stats_with(&q)))
}

async fn metrics(
    State(rt): State<Runtime>,
    axum::extract::Query(p): axum::extract::Query<StatsParams>,
) -> Result<impl IntoResponse, ApiError> {
    let q = p.query()?;
    Ok((
        [("content-type", "text/plain; version=0.0.4")],
        crate::metrics::render(&rt.stats_with(&q)),
    ))
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

/// Resolves the `{object}` path segment: a name, or `id:<64 hex>` for idFromString.
fn resolve(rt: &Runtime, class: &str, object: &str) -> Result<ObjectRef, ApiError> {
    if !rt.has_class(class) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown object class `{class}`"),
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
    Path(params): Path<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<AxumResponse, ApiError> {
    let class = params.get("class").map(String::as_str).unwrap_or("");
    let object = params.get("object").map(String::as_str).unwrap_or("");
    let target = resolve(&rt, class, object)?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad query string: {}", e.body_text()),
        )
    })?;
    let body = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "request body is larger than the {}-byte limit",
                    rt.config().max_body_bytes
                ),
            )
        } else {
            ApiError::new(status, e.body_text())
        }
    })?;
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
                .max_message_size(MAX_WS_MESSAGE_BYTES)
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
