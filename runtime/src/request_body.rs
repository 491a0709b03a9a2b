//! Reading one request's body for an object: under the body limit (413 past it, refused on
//! its `Content-Length` before a byte is read) and inside the bytes-in-flight bounds
//! (`inflight.rs`; 503 overloaded when the object or the runtime already holds too much),
//! the reservation being held by the caller until the object has answered. A body that
//! stops arriving fails with the body-read timeout's 408. Never interprets the bytes.

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};

use crate::body_deadline::BODY_TIMEOUT;
use crate::http::ApiError;
use crate::inflight::Reservation;
use crate::runtime::{ObjectRef, Runtime};

/// The body, and the bytes it holds in flight for `target` (`None` for an empty body).
pub(crate) async fn read(
    rt: &Runtime,
    target: &ObjectRef,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Option<Reservation>), ApiError> {
    let limit = rt.config().max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the {limit}-byte limit"),
        )
    };
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut held = match announced {
        Some(n) if n > 0 => Some(reserve(rt, target, n)?),
        _ => None,
    };
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let text = e.to_string();
        if text.contains(BODY_TIMEOUT) {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, BODY_TIMEOUT)
        } else if text.contains("length limit exceeded") {
            too_large()
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, format!("reading the body: {text}"))
        }
    })?;
    if held.is_none() && !bytes.is_empty() {
        held = Some(reserve(rt, target, bytes.len() as u64)?);
    }
    Ok((bytes, held))
}

fn reserve(rt: &Runtime, target: &ObjectRef, bytes: u64) -> Result<Reservation, ApiError> {
    rt.inflight().try_reserve(&target.id(), bytes).ok_or_else(|| {
        let l = rt.inflight().limits();
        ApiError::overloaded(format!(
            "too many bytes in flight: the object may hold {} bytes of request bodies and messages not yet handled ({} over the runtime); back off before retrying",
            l.per_object, l.total
        ))
    })
}
