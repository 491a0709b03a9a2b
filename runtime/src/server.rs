//! Serving the HTTP front on a listener, with the front's bounds: a cap on open connections
//! (past it a new connection gets a JSON 503 and is closed, logged at most once a second),
//! header-read and keep-alive timeouts (`conn_timer.rs`), JSON bodies on hyper's own parse
//! refusals (`parse_errors.rs`), and a shutdown with a deadline:
//! stop accepting, let in-flight requests finish, then let every object finish and commit its
//! queued turns — all within `drain_deadline`; past it, or when `force` resolves, whatever is
//! left is dropped (nothing unacknowledged is promised, so durability holds). The shutdown and
//! force triggers are arguments; this module never listens for signals.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn_timer::{ConnTimer, Counted};
use crate::front::FrontConfig;
use crate::http::app_with;
use crate::parse_errors::JsonParseErrors;
use crate::runtime::Runtime;

/// Serves `runtime` on `listener` with the default [`FrontConfig`] until `shutdown`
/// resolves, then drains (within the default deadline) and stops it.
pub async fn serve(
    listener: TcpListener,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(
        listener,
        runtime,
        FrontConfig::default(),
        shutdown,
        std::future::pending(),
    )
    .await
}

/// Serves `runtime` on `listener` with `front`'s bounds until `shutdown` resolves, then
/// drains within `front.drain_deadline`; `force` resolving (a second signal) ends the drain at
/// once. Returns when the runtime has stopped or the drain was cut short.
pub async fn serve_with(
    listener: TcpListener,
    runtime: Runtime,
    front: FrontConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    force: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    front
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let bound = listener.local_addr()?;
    let router = app_with(runtime.clone(), &front, Some(bound));
    let slots = Arc::new(Semaphore::new(front.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let drain = CancellationToken::new();
    let hard = CancellationToken::new();
    let conns = TaskTracker::new();
    let forcer = {
        let hard = hard.clone();
        tokio::spawn(async move {
            force.await;
            hard.cancel();
        })
    };
    let warned = WarnEvery::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            _ = hard.cancelled() => break,
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e, bound, &warned).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            warned.warn(|| {
                tracing::warn!(
                    "refusing connections: {} open, the limit (--max-connections)",
                    front.max_connections
                )
            });
            refuse_full(tcp, front.max_connections, &refusals);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (io, read) = Counted::new(JsonParseErrors::new(tcp), permit);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(ConnTimer::new(
                read,
                front.header_read_timeout,
                front.keep_alive_timeout,
            ))
            .header_read_timeout(front.header_read_timeout);
        let service = TowerToHyperService::new(router.clone());
        let (drain, hard) = (drain.clone(), hard.clone());
        conns.spawn(async move {
            let conn = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = drain.cancelled() => {}
                _ = hard.cancelled() => return,
            }
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = hard.cancelled() => {}
            }
        });
    }
    drop(listener);
    let deadline = tokio::time::Instant::now() + front.drain_deadline;
    drain.cancel();
    conns.close();
    let drained = tokio::select! {
        _ = conns.wait() => true,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = hard.cancelled() => false,
    };
    if !drained {
        tracing::warn!(
            "shutdown: {} connections still busy at the drain deadline or a second signal; dropping them",
            conns.len()
        );
        hard.cancel();
    }
    let stopped = tokio::select! {
        _ = runtime.shutdown() => true,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = hard.cancelled() => false,
    };
    if !stopped {
        tracing::warn!(
            "shutdown: objects still busy at the drain deadline or a second signal; \
             their unacknowledged work is dropped"
        );
    }
    forcer.abort();
    Ok(())
}

/// Refused connections being answered at once; past it they are closed without an answer.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Answers a connection over the cap with a JSON 503 and closes it, in the background and
/// within half a second: it first takes the request (so closing does not reset the
/// connection and lose the answer), then answers, then waits briefly for the client to close.
/// Past [`REFUSALS_IN_FLIGHT`] such answers at once, a connection is closed unanswered.
fn refuse_full(mut tcp: TcpStream, limit: usize, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let _permit = permit;
        let patience = Duration::from_millis(250);
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(patience, async {
            let mut buf = [0u8; 2048];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        let body = format!(
            "{{\"error\":\"too many connections: this server holds at most {limit} (--max-connections); retry later\"}}"
        );
        let resp = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(patience, async {
            tcp.write_all(resp.as_bytes()).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 1024];
            while tcp.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}

/// A failed `accept`: per-connection errors are skipped; running out of file descriptors (or
/// anything else) is logged at most once a second and backed off, never silent.
async fn accept_failed(e: &io::Error, bound: SocketAddr, warned: &WarnEvery) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    warned.warn(|| {
        tracing::warn!(
            "accept on {bound} failed: {e} (out of file descriptors? raise `ulimit -n` or lower --max-connections)"
        )
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Runs a log statement at most once a second.
#[derive(Default)]
struct WarnEvery {
    last_s: AtomicU64,
}

impl WarnEvery {
    fn warn(&self, log: impl FnOnce()) {
        let now = crate::clock::epoch_ms() as u64 / 1000;
        if self.last_s.swap(now, Relaxed) != now {
            log();
        }
    }
}
