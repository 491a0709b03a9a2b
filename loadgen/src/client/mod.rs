//! Protocol clients the executor and workloads drive: one HTTP connection per worker
//! (`http.rs`, with TLS from `tls.rs`) and WebSocket sessions (`ws.rs`). Clients send and time; they never decide
//! *when* to send (that is the schedule's and executor's job) and never record stats.

pub mod http;
pub mod tls;
pub mod ws;
