//! # dobench-workloads: the object classes, their traffic, sharding and profiles
//!
//! Each workload family has an object class written only against `dobench-runtime`'s public
//! API: [`counter::Counter`] (`/counter/{object}`), [`ratelimit::RateLimiter`]
//! (`/ratelimit/{object}`), [`alarm::AlarmRecorder`] (`/alarm/{object}`),
//! [`chat::ChatRoom`] (`/chat/{object}`). [`register_all`] puts them in a registry under the
//! class names the workload protocol uses.
//!
//! The load side: a [`profile::Profile`] (TOML, built in or from a file) names the workload,
//! load model, [`keyspace::Keyspace`], [`strategy::Strategy`] and
//! [`thresholds::Threshold`]s; [`traffic::start`] drives any target that speaks the
//! protocol through `dobench-loadgen` and ends with a correctness verdict;
//! [`thresholds::evaluate`] judges the finished `RunSummary`.
//!
//! Traffic of the user's own design (`workload = "http"`): [`http_spec`] holds the `[http]`
//! section and compiles it once into templates ([`template`]) and answer checks
//! ([`answer`]); [`traffic::http`] renders it per request through the same executor, with
//! the optional counter invariants of [`invariant`].

pub mod alarm;
pub mod answer;
pub mod chat;
pub mod counter;
pub mod error;
pub mod http_spec;
pub mod invariant;
pub mod keyspace;
mod locate;
mod params;
pub mod profile;
pub mod ratelimit;
pub mod strategy;
pub mod template;
pub mod thresholds;
pub mod traffic;

pub use error::{Error, Result};
pub use profile::{LoadedProfile, Profile, WorkloadKind};
pub use strategy::Strategy;
pub use thresholds::Threshold;

use dobench_runtime::Registry;

/// Registers every workload class under its protocol name.
pub fn register_all(registry: &mut Registry) -> &mut Registry {
    registry
        .register(counter::CLASS, counter::Counter::construct)
        .register(ratelimit::CLASS, ratelimit::RateLimiter::construct)
        .register(alarm::CLASS, alarm::AlarmRecorder::construct)
        .register(chat::CLASS, chat::ChatRoom::construct)
}

/// A registry holding every workload class.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    register_all(&mut r);
    r
}
