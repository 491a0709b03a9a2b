//! dobench-reports: the results store and the HTML report.
//!
//! A run is recorded as it goes: [`Store::open`] (migrating the schema, marking runs whose
//! process died `incomplete`) → [`Store::begin_run`] gives a [`RunWriter`] → [`record_live`]
//! feeds it the load generator's `watch<Snapshot>` bus, one SQLite transaction per closed
//! second ([`seconds::SecondTracker`] turns cumulative snapshots into per-second rows) →
//! [`RunWriter::finish`] stores the summary and the V2 HdrHistograms. Reading back:
//! [`Store::list`], [`Store::resolve`] (`latest`, id prefix, compare group),
//! [`Store::load`] → [`StoredRun`] → [`html::render`] (one self-contained HTML file) or
//! [`text`] (the terminal tables of `runs` and `show`).
//!
//! ```no_run
//! # async fn demo(handle: dobench_loadgen::RunHandle) -> Result<(), Box<dyn std::error::Error>> {
//! use dobench_reports::*;
//! let meta = RunMeta { profile: "sharded-counter".into(), target: "embedded".into(), ..Default::default() };
//! let writer = Store::open(DEFAULT_PATH)?.begin_run(&meta)?;
//! let live = record_live(writer, handle.snapshots.clone());
//! let outcome = handle.wait().await?;
//! let writer = join_live(live).await?;
//! let summary = dobench_loadgen::RunSummary::from_outcome(&outcome, Default::default());
//! let id = writer.finish(&summary, Some(&outcome.aggregate))?;
//! let store = Store::open(DEFAULT_PATH)?;
//! let html = html::render(&[store.load(&id)?], &html::ReportOptions::default())?;
//! # let _ = html; Ok(()) }
//! ```

pub mod diff;
pub mod error;
pub mod figures;
pub mod groups;
pub mod html;
pub mod liveness;
pub mod migrate;
pub mod model;
pub mod schema;
pub mod seconds;
pub mod store;
pub mod summary;
pub mod text;
pub mod writer;

pub use error::{Error, Result};
pub use model::{
    GroupKind, HostFacts, ObjectSecond, RunMeta, RunRow, RunStatus, SecondRow, ServerStats,
    StoredRun,
};
pub use store::{RunFilter, Store, DEFAULT_PATH};
pub use writer::{join_live, record_live, RunWriter, DEFAULT_TOP_N};
