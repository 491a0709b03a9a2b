//! Protocol clients the executor and workloads drive: one HTTP connection per worker
//! (`http.rs`: the plain HTTP/1.1 fast path in `h1.rs`, HTTP/2 and TLS through hyper in
//! `general.rs`, TLS settings in `tls.rs`) and WebSocket sessions (`ws.rs`, opened by the handshake in `upgrade.rs`). Clients send and
//! time; they never decide *when* to send (that is the schedule's and executor's job) and
//! never record stats.

pub(crate) mod general;
pub mod h1;
pub mod http;
pub mod tls;
pub mod upgrade;
pub mod ws;
