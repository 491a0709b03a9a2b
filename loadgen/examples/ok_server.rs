//! A trivial loopback HTTP server for benchmarks: `GET /` (any path) answers `ok`. Prints
//! its port on the first line of stdout, then serves until killed. Bench tooling only.
//! Usage: `cargo run --release -p dobench-loadgen --example ok_server [PORT]`.

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{}", listener.local_addr()?.port());
    let app = Router::new().fallback(get(|| async { "ok" }));
    axum::serve(listener, app).await
}
