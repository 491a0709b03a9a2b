//! Serving the HTTP front on a listener with graceful shutdown: stop accepting, let in-flight
//! requests finish, then let every object finish and commit its queued turns. The shutdown
//! trigger is an argument; this module never listens for signals.

use std::future::Future;

use tokio::net::TcpListener;

use crate::http::app;
use crate::runtime::Runtime;

/// Serves `runtime` on `listener` until `shutdown` resolves, then drains and stops it.
pub async fn serve(
    listener: TcpListener,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let result = axum::serve(listener, app(runtime.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    runtime.shutdown().await;
    result
}
