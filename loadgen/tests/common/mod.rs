//! Test servers for the load generator's integration tests (each binds 127.0.0.1:0 and
//! returns its base URL) and the one way they run a plan to its end. Never used outside tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::time::Instant;

/// Runs `run` over `source` to its end and returns its final snapshot.
pub async fn run_to_end(
    run: dobench_loadgen::RunConfig,
    source: Arc<dyn dobench_loadgen::RequestSource>,
) -> dobench_loadgen::Snapshot {
    dobench_loadgen::executor::start(run, source, tokio_util::sync::CancellationToken::new())
        .unwrap()
        .wait()
        .await
        .unwrap()
        .snapshot
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Answers `ok` at once.
pub async fn fast_server() -> String {
    serve(Router::new().route("/", get(|| async { "ok" }))).await
}

/// Answers `ok` after exactly `delay`. Sleeps on a blocking thread: tokio's timer would
/// round the delay up to the next whole millisecond and add its own jitter.
pub async fn delay_server(delay: Duration) -> String {
    serve(Router::new().route(
        "/",
        get(move || async move {
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(delay)).await;
            "ok"
        }),
    ))
    .await
}

/// A window during which every request (already waiting or arriving) is held until its end.
#[derive(Clone, Default)]
pub struct Stall(Arc<Mutex<Option<(Instant, Instant)>>>);

impl Stall {
    pub fn set(&self, from: Instant, len: Duration) {
        *self.0.lock().unwrap() = Some((from, from + len));
    }
}

/// Answers `ok` at once, except inside the stall window, where it holds requests until the
/// window ends.
pub async fn stall_server(stall: Stall) -> String {
    async fn handler(State(stall): State<Stall>) -> &'static str {
        let window = *stall.0.lock().unwrap();
        if let Some((from, to)) = window {
            let now = Instant::now();
            if now >= from && now < to {
                tokio::time::sleep_until(to).await;
            }
        }
        "ok"
    }
    serve(Router::new().route("/", get(handler)).with_state(stall)).await
}

/// WebSocket echo at `/ws` (returns a `ws://` URL).
pub async fn ws_echo_server() -> String {
    async fn ws(upgrade: WebSocketUpgrade) -> impl IntoResponse {
        upgrade.on_upgrade(|mut socket: WebSocket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                if let Message::Text(_) = msg {
                    if socket.send(msg).await.is_err() {
                        break;
                    }
                } else if let Message::Close(_) = msg {
                    break;
                }
            }
        })
    }
    let base = serve(Router::new().route("/ws", get(ws))).await;
    format!("{}/ws", base.replacen("http://", "ws://", 1))
}
