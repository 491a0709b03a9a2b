//! A deadline on reading a request body: a request whose body has not fully arrived within
//! `body_read_timeout` of its head is answered 408 and its connection closed, so a client that
//! announces a body and trickles it (or never sends it) cannot hold a connection for ever —
//! the header-read timer (`conn_timer.rs`) only covers heads. Requests without a body are not
//! touched. Never looks at the bytes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;

/// The message a timed-out body read fails with; the front answers it with 408.
pub(crate) const BODY_TIMEOUT: &str =
    "the request body did not arrive within the body-read timeout";

/// A body that fails once its deadline passes.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BODY_TIMEOUT)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: puts the deadline on requests that carry a body.
pub(crate) async fn limit_body_time(
    State(timeout): State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    let has_body = req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return next.run(req).await;
    }
    let sleep = Box::pin(tokio::time::sleep(timeout));
    let req = req.map(|inner| Body::new(Deadline { inner, sleep }));
    next.run(req).await
}
