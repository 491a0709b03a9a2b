//! # dobench (library): assembling a run, once
//!
//! The binary (`src/main.rs`, `src/cli.rs`, the TUI) turns flags into typed plans and prints;
//! everything between a plan and a finished, recorded `RunSummary` lives here, so `run`,
//! `compare`, `http` and tests share one path:
//! - [`run`]: a profile run end to end from a [`run::RunPlan`]: the embedded runtime (on its
//!   own threads) or the plan's target, the workload, the one stats relay onto the live bus,
//!   recording, summary finalisation, thresholds and [`run::run_failures`]; a caller-drawn
//!   live view is a [`run::View::Live`] hook;
//! - [`bill`]: what a run's use of the target costs and what its objects' turns cost,
//!   from the target's stats;
//! - [`record`]: the one recording path into the results store (`run` and `http`);
//! - [`segment`]: one segment of a split run from a shared start instant, written as a part
//!   file; [`merge`]: parts merged exactly into one recorded run; [`k8s`]: the Kubernetes
//!   manifests that run the segments as an Indexed Job and merge them;
//! - [`limits`]: the open-file limit, raised at start, and the refusal of a plan needing more
//!   sockets than it allows.
//!
//! The human summary is `dobench_reports::text::summary`, the one formatter. This library is
//! the binary's own (it uses `anyhow`, as the binary does); it never parses flags, listens for
//! signals or chooses an exit code.

pub mod bill;
pub mod k8s;
pub mod limits;
pub mod merge;
pub mod record;
pub mod run;
pub mod segment;
