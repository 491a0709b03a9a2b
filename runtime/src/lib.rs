//! # dobench-runtime: a reference Durable Object runtime on one machine
//!
//! A tour: a [`Registry`] maps class names to constructors of [`Object`]s. The [`Runtime`]
//! handle maps names to [`ObjectId`]s ([`IdSpace`]: idFromName / newUniqueId /
//! idFromString) and routes each request to the object's task through a bounded mailbox
//! (full → [`Error::Overloaded`]). The task owns the instance and its SQLite [`Storage`],
//! polls its turns one at a time under the emulated ceiling ([`Ceiling`]) and the input
//! gate ([`InputGate`]), commits what ran between two points where every turn is parked
//! once, and only then releases their responses, frames and calls (the output gate); a
//! [`Context`] reaches other objects through a [`Namespace`] and its [`Stub`]s. Idle objects are
//! evicted and rebuilt from storage on the next request; `residency.rs` keeps objects in
//! memory within a memory budget and caps open databases (least recently used go first),
//! and `storage/file.rs` says how a database lives on disk. Stats are totals plus the
//! hottest objects and a paged listing ([`StatsQuery`]), at any number of objects.
//! [`http::app`] puts the workload
//! protocol and `/_dobench/{health,stats,metrics,stall}` in front; [`serve`] runs it, and
//! [`serve_with`] runs it with a [`FrontConfig`]: name, connection, timeout, drain and
//! send-queue bounds, the admin gate and the Host allow-list.
//!
//! Handlers are async, with production's gates: storage calls are synchronous and never let
//! another event in; awaiting another object ([`Stub`], reached through a [`Namespace`]) or a
//! timer opens the input gate, so other events interleave there, unless the turn holds it
//! closed with [`InputGate::block_concurrency`]; the output gate holds every answer, frame
//! and outgoing call until the writes before it commit.

mod admin;
mod alarm;
mod body_deadline;
mod ceiling;
mod clock;
mod config;
mod conn_timer;
mod context;
mod error;
mod front;
mod gate;
mod host_check;
pub mod http;
mod id;
pub mod inflight;
pub mod limits;
mod mailbox;
pub mod metrics;
mod object;
mod object_task;
pub use object_task::COLD_START_HEADER;
mod parse_errors;
pub mod pricing;
mod registry;
mod request_body;
mod residency;
mod runtime;
mod server;
mod sockets;
mod stats;
mod storage;
mod stub;
mod ws_conn;

pub use alarm::{retry_delay, MAX_RETRIES};
pub use ceiling::{ServiceClock, TurnCosts};
pub use clock::{epoch_ms, epoch_us};
pub use config::{
    default_max_open_databases, open_files_limit, parse_bytes, Ceiling, Config, DataDir,
};
pub use context::{Context, StorageGuard};
pub use error::{Error, Result};
pub use front::{AdminAccess, FrontConfig};
pub use gate::InputGate;
pub use id::{IdSpace, ObjectId};
pub use object::{
    AlarmInfo, AnyObject, HeaderMap, Method, Object, Request, Response, SocketEvent, SocketId,
    TurnFuture, WsMessage,
};
pub use registry::{Constructor, Registry};
pub use residency::{LIVE_OBJECT_BYTES, OPEN_DATABASE_BYTES};
pub use runtime::{ObjectRef, Runtime};
pub use server::{serve, serve_with};
pub use stats::{
    AlarmTotals, HibernationTotals, ObjectStatsView, StatsPage, StatsQuery, StatsReport,
};
pub use storage::{
    object_db_path, ListOptions, SqlRows, SqlValue, Storage, StorageUsage, MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
};
pub use stub::{Namespace, Stub};
