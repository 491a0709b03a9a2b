//! # dobench-workloads: the object classes the workloads drive
//!
//! Each workload family has an object class written only against `dobench-runtime`'s public
//! API: [`counter::Counter`] (`/counter/{object}`), [`ratelimit::RateLimiter`]
//! (`/ratelimit/{object}`),
//! [`alarm::AlarmRecorder`] (`/alarm/{object}`), [`chat::ChatRoom`] (`/chat/{object}`). [`register_all`] puts them in a registry under the class names
//! the workload protocol uses.

pub mod alarm;
pub mod chat;
pub mod counter;
mod params;
pub mod ratelimit;

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
