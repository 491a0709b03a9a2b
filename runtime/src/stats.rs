//! Per-object counters, kept for the runtime's lifetime (they survive eviction) and read by
//! `/_dobench/stats` and `/_dobench/metrics`. Written with relaxed atomics from the object's
//! own task; readers get a consistent-enough view. Never blocks a turn.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::id::ObjectId;

/// Live counters of one object.
#[derive(Debug)]
pub struct ObjectStats {
    pub(crate) class: Arc<str>,
    pub(crate) id: ObjectId,
    pub(crate) name: Mutex<Option<Arc<str>>>,
    pub(crate) requests: AtomicU64,
    pub(crate) turns: AtomicU64,
    pub(crate) overloaded: AtomicU64,
    pub(crate) constructions: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) resets: AtomicU64,
    pub(crate) storage_bytes: AtomicU64,
    pub(crate) alarms_set: AtomicU64,
    pub(crate) alarm_runs: AtomicU64,
    pub(crate) alarm_retries: AtomicU64,
    pub(crate) alarms_given_up: AtomicU64,
    /// Microseconds in memory, over finished residencies.
    pub(crate) active_us_done: AtomicU64,
    /// When the current residency began (None while evicted).
    pub(crate) resident_since: Mutex<Option<Instant>>,
    pub(crate) live: AtomicBool,
}

impl ObjectStats {
    pub(crate) fn new(class: Arc<str>, id: ObjectId) -> Self {
        Self {
            class,
            id,
            name: Mutex::new(None),
            requests: AtomicU64::new(0),
            turns: AtomicU64::new(0),
            overloaded: AtomicU64::new(0),
            constructions: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            storage_bytes: AtomicU64::new(0),
            alarms_set: AtomicU64::new(0),
            alarm_runs: AtomicU64::new(0),
            alarm_retries: AtomicU64::new(0),
            alarms_given_up: AtomicU64::new(0),
            active_us_done: AtomicU64::new(0),
            resident_since: Mutex::new(None),
            live: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_name(&self, name: &Arc<str>) {
        let mut slot = self.name.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(name.clone());
        }
    }

    pub(crate) fn name(&self) -> Option<Arc<str>> {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn became_resident(&self) {
        *self
            .resident_since
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.live.store(true, Relaxed);
        self.constructions.fetch_add(1, Relaxed);
    }

    pub(crate) fn left_memory(&self) {
        if let Some(since) = self
            .resident_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            self.active_us_done
                .fetch_add(since.elapsed().as_micros() as u64, Relaxed);
        }
        self.live.store(false, Relaxed);
    }

    fn active_ms(&self) -> f64 {
        let running = self
            .resident_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|s| s.elapsed().as_micros() as u64)
            .unwrap_or(0);
        (self.active_us_done.load(Relaxed) + running) as f64 / 1000.0
    }

    pub(crate) fn view(&self, queue_depth: usize) -> ObjectStatsView {
        ObjectStatsView {
            class: self.class.to_string(),
            id: self.id.to_hex(),
            name: self.name().map(|n| n.to_string()),
            live: self.live.load(Relaxed),
            requests: self.requests.load(Relaxed),
            turns: self.turns.load(Relaxed),
            queue_depth: queue_depth as u64,
            overloaded: self.overloaded.load(Relaxed),
            active_ms: self.active_ms(),
            constructions: self.constructions.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            commits: self.commits.load(Relaxed),
            resets: self.resets.load(Relaxed),
            storage_bytes: self.storage_bytes.load(Relaxed),
            alarms_set: self.alarms_set.load(Relaxed),
            alarms_fired: self.alarm_runs.load(Relaxed),
            alarms_retried: self.alarm_retries.load(Relaxed),
            alarms_given_up: self.alarms_given_up.load(Relaxed),
        }
    }
}

/// One object's stats as served by `/_dobench/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectStatsView {
    pub class: String,
    pub id: String,
    pub name: Option<String>,
    /// In memory right now.
    pub live: bool,
    /// Requests routed to it (refused ones included).
    pub requests: u64,
    /// Turns run (fetches, alarms, socket events).
    pub turns: u64,
    /// Requests waiting in its mailbox now.
    pub queue_depth: u64,
    /// Requests refused with 503 overloaded.
    pub overloaded: u64,
    /// Wall-clock ms in memory.
    pub active_ms: f64,
    /// Times the instance was constructed.
    pub constructions: u64,
    /// Times it was evicted from memory.
    pub evictions: u64,
    /// Transactions committed (one per group of turns).
    pub commits: u64,
    /// Times it was reset after a failed commit or a crashed handler.
    pub resets: u64,
    /// Size of its database.
    pub storage_bytes: u64,
    /// Alarms set (retries not counted).
    pub alarms_set: u64,
    /// Alarm handler runs (every attempt).
    pub alarms_fired: u64,
    /// Retries scheduled after failing handlers.
    pub alarms_retried: u64,
    /// Alarms given up after the last retry failed.
    pub alarms_given_up: u64,
}

/// The runtime's stats document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatsReport {
    /// dobench version that served it.
    pub version: String,
    /// ms since the runtime started.
    pub uptime_ms: f64,
    /// Configured ceiling in turns/s; null when off.
    pub ceiling_rps: Option<u32>,
    /// Mailbox bound.
    pub mailbox: usize,
    /// Objects in memory now.
    pub live_objects: u64,
    /// Runtime-wide alarm counters.
    pub alarms: AlarmTotals,
    /// Every object seen since start, hottest (most requests) first.
    pub objects: Vec<ObjectStatsView>,
}

/// Alarm counters over the whole runtime.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AlarmTotals {
    /// Alarms waiting to fire now.
    pub pending: u64,
    pub set: u64,
    /// Handler runs (every attempt).
    pub fired: u64,
    pub retried: u64,
    pub given_up: u64,
}
