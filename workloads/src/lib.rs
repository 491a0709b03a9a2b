//! # dobench-workloads: the object classes, their traffic, sharding and profiles
//!
//! Each workload family has an object class written only against `dobench-runtime`'s public
//! API: [`counter::Counter`] (`/counter/{object}`), [`ratelimit::RateLimiter`]
//! (`/ratelimit/{object}`), [`alarm::AlarmRecorder`] (`/alarm/{object}`),
//! [`chat::ChatRoom`] (`/chat/{object}`), and the patterns of objects that call objects:
//! [`aggregator::Aggregator`] (`/aggregator/{object}`), [`lock::Lock`] (`/lock/{object}`),
//! [`lost_update::LostUpdate`] (`/lostupdate/{object}`). [`register_all`] puts them in a registry under the
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
//! the optional counter invariants of [`invariant`]. WebSocket rooms of the user's design
//! (`workload = "ws"`): [`ws_spec`] compiles the `[ws]` section; [`traffic::ws`] opens the
//! members' sessions and sends and books messages in the API's own frame format.

pub mod aggregator;
pub mod alarm;
pub mod answer;
pub mod chat;
pub mod counter;
pub mod error;
pub mod http_spec;
pub mod invariant;
pub mod keyspace;
mod locate;
pub mod lock;
pub mod lost_update;
mod params;
pub mod probe;
pub mod profile;
pub mod ratelimit;
pub mod strategy;
pub mod template;
pub mod thresholds;
pub mod traffic;
pub mod ws_spec;

pub use error::{Error, Result};
pub use profile::{LoadedProfile, Profile, WorkloadKind};
pub use strategy::Strategy;
pub use thresholds::Threshold;

use dobench_runtime::Registry;

/// Options of the workload classes that a runtime fixes when it registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassOptions {
    /// Messages each chat room keeps (its history retention).
    pub chat_history: u64,
}

impl Default for ClassOptions {
    fn default() -> Self {
        ClassOptions {
            chat_history: chat::DEFAULT_HISTORY,
        }
    }
}

/// Registers every workload class under its protocol name, with default options.
pub fn register_all(registry: &mut Registry) -> &mut Registry {
    register_all_with(registry, ClassOptions::default())
}

/// Registers every workload class under its protocol name, with `options`.
pub fn register_all_with(registry: &mut Registry, options: ClassOptions) -> &mut Registry {
    let history = options.chat_history;
    registry
        .register(counter::CLASS, counter::Counter::construct)
        .register(ratelimit::CLASS, ratelimit::RateLimiter::construct)
        .register(alarm::CLASS, alarm::AlarmRecorder::construct)
        .register(chat::CLASS, move |ctx| {
            chat::ChatRoom::construct_keeping(ctx, history)
        })
        .register(aggregator::CLASS, aggregator::Aggregator::construct)
        .register(lock::CLASS, lock::Lock::construct)
        .register(lost_update::CLASS, lost_update::LostUpdate::construct)
        .register(probe::CLASS, probe::Probe::construct)
}

/// A registry holding every workload class, with default options.
pub fn registry() -> Registry {
    registry_with(ClassOptions::default())
}

/// A registry holding every workload class, with `options`.
pub fn registry_with(options: ClassOptions) -> Registry {
    let mut r = Registry::new();
    register_all_with(&mut r, options);
    r
}
