//! dobench-loadgen: the load generator engine every workload and `dobench http` drive.
//!
//! Data moves one way: a [`Schedule`] (pure data) says when each request is meant to go;
//! [`executor::start`] runs one worker per connection (open model) or virtual user (closed
//! model) that claims the next planned index, asks the workload's [`RequestSource`] for the
//! request, sends it with [`client::http::HttpConn`] and records latency from the *intended*
//! send time into its shard [`Recorder`]. A collector merges shards into an [`Aggregate`]
//! each tick and publishes a [`Snapshot`] on a `watch` (the live stats bus); the finished
//! [`RunOutcome`] becomes a [`RunSummary`] (the `--json` contract). WebSocket workloads go
//! through the same executor: a source names sessions ([`session`], over [`client::ws`]),
//! its sends are frames on them, and frames that come back are deliveries timed from their
//! send's intended time. A run split across machines runs one [`Segment`] per process from
//! a shared start instant; each leaves a [`part::Part`], and [`part::merge`] adds the parts
//! back into one outcome exactly. This crate knows nothing of the reference runtime, TUIs or stores.
//!
//! Driving it from a workload:
//! ```no_run
//! # async fn demo() -> dobench_loadgen::Result<()> {
//! use std::{sync::Arc, time::Duration};
//! use dobench_loadgen::*;
//! let spec = RequestSpec::new("get", http::Method::GET, "http://127.0.0.1:8787/counter/a")?;
//! let schedule = Schedule::Open(OpenSchedule::Constant { rate: 500.0, duration: Duration::from_secs(10) });
//! let handle = executor::start(RunConfig::new(schedule), Arc::new(FixedRequest(spec)), Default::default())?;
//! let mut live = handle.snapshots.clone(); // read-only: progress line, TUI, store
//! let outcome = handle.wait().await?;
//! let summary = RunSummary::from_outcome(&outcome, SummaryMeta::default());
//! # let _ = (live.borrow_and_update().clone(), summary); Ok(()) }
//! ```

pub mod aggregate;
pub mod best;
pub mod client;
pub mod clock;
pub mod cpu;
pub mod duration;
pub mod error;
pub mod executor;
pub mod hist;
pub mod lanes;
pub mod object_map;
pub mod pacer;
pub mod part;
pub mod recorder;
pub mod request;
pub mod schedule;
pub mod server_stats;
pub mod session;
pub mod snapshot;
pub mod summary;
pub mod target;
pub mod verdict;

pub use aggregate::{Aggregate, IntervalStats};
pub use error::{Error, Result};
pub use executor::{RunConfig, RunHandle, RunOutcome};
pub use hist::Percentiles;
pub use recorder::{ErrorCounts, ErrorKind, Outcome, Recorder};
pub use request::{FixedRequest, RequestSource, RequestSpec, Response};
pub use schedule::{ClosedModel, OpenSchedule, Schedule, Segment, Stage};
pub use server_stats::ServerStats;
pub use snapshot::{ObjectSnapshot, OpSnapshot, Snapshot};
pub use summary::{RunSummary, SummaryMeta};

/// Re-exported so workloads build requests without naming the `http` crate themselves.
pub use http;
