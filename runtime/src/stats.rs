//! Per-object counters, kept for the runtime's lifetime (they survive eviction) and read by
//! `/_dobench/stats` and `/_dobench/metrics`. Written with relaxed atomics from the object's
//! own task; readers get a consistent-enough view. Never blocks a turn.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::id::ObjectId;

/// Live counters of one object. Kept for every object seen, a million of them at scale: the
/// rarely large counts are 32-bit (they saturate nothing a run can reach in practice).
///
/// `repr(C)` with the fields a stats scrape reads for every object first (`add_to`, the
/// request count), so a scrape over a million objects touches one or two cache lines of
/// each rather than four.
#[derive(Debug)]
#[repr(C)]
pub struct ObjectStats {
    pub(crate) requests: AtomicU64,
    /// Microseconds with work in flight (billed duration), and the part while sockets were open.
    pub(crate) billed_us: AtomicU64,
    pub(crate) billed_with_sockets_us: AtomicU64,
    pub(crate) hibernated_us_done: AtomicU64,
    /// When the current hibernation began ([`Since`]; unset unless hibernated with sockets).
    pub(crate) hibernated_since: Since,
    pub(crate) ws_messages_in: AtomicU64,
    pub(crate) alarm_runs: AtomicU32,
    pub(crate) live: AtomicBool,
    // Read only for the objects a listing shows.
    pub(crate) class: Arc<str>,
    pub(crate) name: Mutex<Option<Arc<str>>>,
    pub(crate) turns: AtomicU64,
    pub(crate) overloaded: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) storage_bytes: AtomicU64,
    /// Microseconds in memory, over finished residencies.
    pub(crate) active_us_done: AtomicU64,
    /// When the current residency began (unset while evicted).
    pub(crate) resident_since: Since,
    pub(crate) constructions: AtomicU32,
    pub(crate) evictions: AtomicU32,
    pub(crate) resets: AtomicU32,
    pub(crate) alarms_set: AtomicU32,
    pub(crate) alarm_retries: AtomicU32,
    pub(crate) alarms_given_up: AtomicU32,
    pub(crate) hibernations: AtomicU32,
    /// Storage rows read and written by this object's turns (billed as production does).
    pub(crate) rows_read: AtomicU64,
    pub(crate) rows_written: AtomicU64,
    /// Virtual service time charged to its turns by the ceiling's clock (µs).
    pub(crate) service_us: AtomicU64,
    /// Calls other objects' stubs made to it (refused ones included; also in `requests`),
    /// and calls it made through stubs.
    pub(crate) calls_in: AtomicU32,
    pub(crate) calls_out: AtomicU32,
}

impl ObjectStats {
    pub(crate) fn new(class: Arc<str>) -> Self {
        Self {
            class,
            name: Mutex::new(None),
            requests: AtomicU64::new(0),
            turns: AtomicU64::new(0),
            overloaded: AtomicU64::new(0),
            constructions: AtomicU32::new(0),
            evictions: AtomicU32::new(0),
            commits: AtomicU64::new(0),
            resets: AtomicU32::new(0),
            storage_bytes: AtomicU64::new(0),
            alarms_set: AtomicU32::new(0),
            alarm_runs: AtomicU32::new(0),
            alarm_retries: AtomicU32::new(0),
            alarms_given_up: AtomicU32::new(0),
            billed_us: AtomicU64::new(0),
            billed_with_sockets_us: AtomicU64::new(0),
            hibernations: AtomicU32::new(0),
            hibernated_us_done: AtomicU64::new(0),
            hibernated_since: Since::default(),
            ws_messages_in: AtomicU64::new(0),
            active_us_done: AtomicU64::new(0),
            resident_since: Since::default(),
            live: AtomicBool::new(false),
            rows_read: AtomicU64::new(0),
            rows_written: AtomicU64::new(0),
            service_us: AtomicU64::new(0),
            calls_in: AtomicU32::new(0),
            calls_out: AtomicU32::new(0),
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

    pub(crate) fn hibernated(&self) {
        self.hibernations.fetch_add(1, Relaxed);
        self.hibernated_since.start();
    }

    fn hibernated_us(&self) -> u64 {
        self.hibernated_us_done.load(Relaxed) + self.hibernated_since.running_us()
    }

    /// Forgets the name unless the object is among those a listing shows (at least
    /// `floor` requests): called when the object leaves memory.
    pub(crate) fn forget_name_below(&self, floor: u64) {
        if self.requests.load(Relaxed) < floor {
            *self.name.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Adds one stretch of work in flight to the billed duration.
    pub(crate) fn bill(&self, busy: std::time::Duration, with_sockets: bool) {
        let us = busy.as_micros() as u64;
        self.billed_us.fetch_add(us, Relaxed);
        if with_sockets {
            self.billed_with_sockets_us.fetch_add(us, Relaxed);
        }
    }

    pub(crate) fn became_resident(&self) {
        if let Some(us) = self.hibernated_since.stop() {
            self.hibernated_us_done.fetch_add(us, Relaxed);
        }
        self.resident_since.start();
        self.live.store(true, Relaxed);
        self.constructions.fetch_add(1, Relaxed);
    }

    pub(crate) fn left_memory(&self) {
        if let Some(us) = self.resident_since.stop() {
            self.active_us_done.fetch_add(us, Relaxed);
        }
        self.live.store(false, Relaxed);
    }

    fn active_ms(&self) -> f64 {
        (self.active_us_done.load(Relaxed) + self.resident_since.running_us()) as f64 / 1000.0
    }

    /// Adds this object's duration figures to runtime-wide totals without building a view
    /// (a scrape over a million objects does this for each).
    pub(crate) fn add_to(&self, t: &mut HibernationTotals, sockets: (usize, u64)) {
        let billed_ms = self.billed_us.load(Relaxed) as f64 / 1000.0;
        let socket_open_ms = sockets.1 as f64 / 1000.0;
        let with_sockets_ms = self.billed_with_sockets_us.load(Relaxed) as f64 / 1000.0;
        t.sockets_open += sockets.0 as u64;
        if sockets.0 > 0 {
            if self.live.load(Relaxed) {
                t.objects_with_sockets_live += 1;
            } else {
                t.objects_hibernated += 1;
                t.sockets_hibernated += sockets.0 as u64;
            }
        }
        t.billed_ms += billed_ms;
        t.hibernated_ms += self.hibernated_us() as f64 / 1000.0;
        t.avoided_ms += (socket_open_ms - with_sockets_ms).max(0.0);
        t.stored_bytes += self.storage_bytes.load(Relaxed);
        // Refusals are in `requests`; the caller takes the runtime-wide count of them off.
        t.billable_requests += crate::pricing::billable_requests(
            self.requests.load(Relaxed),
            u64::from(self.alarm_runs.load(Relaxed)),
            self.ws_messages_in.load(Relaxed),
        );
    }

    pub(crate) fn view(
        &self,
        id: &ObjectId,
        queue_depth: usize,
        sockets: (usize, u64),
    ) -> ObjectStatsView {
        let billed_ms = self.billed_us.load(Relaxed) as f64 / 1000.0;
        let socket_open_ms = sockets.1 as f64 / 1000.0;
        let billed_with_sockets_ms = self.billed_with_sockets_us.load(Relaxed) as f64 / 1000.0;
        let requests = self.requests.load(Relaxed);
        let alarm_runs = u64::from(self.alarm_runs.load(Relaxed));
        let ws_in = self.ws_messages_in.load(Relaxed);
        ObjectStatsView {
            billed_ms,
            hibernated_ms: self.hibernated_us() as f64 / 1000.0,
            avoided_ms: (socket_open_ms - billed_with_sockets_ms).max(0.0),
            sockets_open: sockets.0 as u64,
            socket_open_ms,
            hibernations: u64::from(self.hibernations.load(Relaxed)),
            ws_messages_in: ws_in,
            // Refused requests are not billed.
            billable_requests: crate::pricing::billable_requests(
                requests.saturating_sub(self.overloaded.load(Relaxed)),
                alarm_runs,
                ws_in,
            ),
            class: self.class.to_string(),
            id: id.to_hex(),
            name: self.name().map(|n| n.to_string()),
            live: self.live.load(Relaxed),
            requests: self.requests.load(Relaxed),
            turns: self.turns.load(Relaxed),
            queue_depth: queue_depth as u64,
            overloaded: self.overloaded.load(Relaxed),
            active_ms: self.active_ms(),
            constructions: u64::from(self.constructions.load(Relaxed)),
            evictions: u64::from(self.evictions.load(Relaxed)),
            commits: self.commits.load(Relaxed),
            resets: u64::from(self.resets.load(Relaxed)),
            storage_bytes: self.storage_bytes.load(Relaxed),
            alarms_set: u64::from(self.alarms_set.load(Relaxed)),
            alarms_fired: u64::from(self.alarm_runs.load(Relaxed)),
            alarms_retried: u64::from(self.alarm_retries.load(Relaxed)),
            alarms_given_up: u64::from(self.alarms_given_up.load(Relaxed)),
            rows_read: self.rows_read.load(Relaxed),
            rows_written: self.rows_written.load(Relaxed),
            service_ms_per_turn: match self.turns.load(Relaxed) {
                0 => 0.0,
                turns => self.service_us.load(Relaxed) as f64 / 1000.0 / turns as f64,
            },
            calls_in: u64::from(self.calls_in.load(Relaxed)),
            calls_out: u64::from(self.calls_out.load(Relaxed)),
        }
    }
}

/// A start time kept in one atomic (µs since the process's stats epoch, +1; 0 = unset), so
/// a scrape reads it without a lock.
#[derive(Debug, Default)]
pub(crate) struct Since(AtomicU64);

fn stats_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    stats_epoch().elapsed().as_micros() as u64 + 1
}

impl Since {
    pub(crate) fn start(&self) {
        self.0.store(now_us(), Relaxed);
    }

    /// Clears it; the µs since it was set, if it was.
    pub(crate) fn stop(&self) -> Option<u64> {
        match self.0.swap(0, Relaxed) {
            0 => None,
            at => Some(now_us().saturating_sub(at)),
        }
    }

    fn running_us(&self) -> u64 {
        match self.0.load(Relaxed) {
            0 => 0,
            at => now_us().saturating_sub(at),
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
    /// Billed duration: wall-clock ms with work in flight (shared by concurrent requests).
    pub billed_ms: f64,
    /// ms hibernated (out of memory with sockets open): not billed.
    pub hibernated_ms: f64,
    /// ms a non-hibernating object would have been billed for (sockets open) and was not.
    pub avoided_ms: f64,
    /// Sockets open now.
    pub sockets_open: u64,
    /// ms with at least one socket open.
    pub socket_open_ms: f64,
    /// Times it hibernated.
    pub hibernations: u64,
    /// Incoming WebSocket messages delivered to it (auto-responses excluded).
    pub ws_messages_in: u64,
    /// HTTP requests + alarm runs + incoming WebSocket messages / 20.
    pub billable_requests: f64,
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
    /// Storage rows its turns read and wrote (see `StorageUsage` for what counts).
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub rows_written: u64,
    /// Mean virtual service time per turn on the ceiling's clock, ms (base + the work the
    /// turns did); 0 with the ceiling off.
    #[serde(default)]
    pub service_ms_per_turn: f64,
    /// Calls from other objects' stubs (refused ones included; also counted in `requests`).
    #[serde(default)]
    pub calls_in: u64,
    /// Calls it made to other objects through stubs.
    #[serde(default)]
    pub calls_out: u64,
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
    /// Every object seen since start (the length of the full listing).
    pub objects_total: u64,
    /// Object databases open now.
    pub open_databases: u64,
    /// Memory the objects in memory take by the runtime's estimate, and the budget.
    pub memory_estimate_bytes: u64,
    pub memory_budget_bytes: u64,
    /// Runtime-wide alarm counters.
    pub alarms: AlarmTotals,
    /// Runtime-wide duration accounting and WebSocket hibernation.
    pub hibernation: HibernationTotals,
    /// The `top` objects with the most requests, hottest first (ties by id).
    pub objects: Vec<ObjectStatsView>,
    /// A page of the full listing in id order, when asked for (`?after=ID&limit=N`).
    pub page: Option<StatsPage>,
}

/// What a stats scrape asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// How many of the hottest objects to list.
    pub top: usize,
    /// A page of the full listing: objects with ids after this one (hex), in id order.
    pub after: Option<String>,
    /// Page size; no page when 0.
    pub limit: usize,
}

impl StatsQuery {
    /// Default number of hottest objects listed.
    pub const DEFAULT_TOP: usize = 64;
    /// Largest `top` or page a scrape may ask for.
    pub const MAX_LIST: usize = 10_000;
}

impl Default for StatsQuery {
    fn default() -> Self {
        Self {
            top: Self::DEFAULT_TOP,
            after: None,
            limit: 0,
        }
    }
}

/// One page of the full object listing, in id order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatsPage {
    pub objects: Vec<ObjectStatsView>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
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

/// Duration and hibernation over the whole runtime, priced at the published rates.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HibernationTotals {
    pub sockets_open: u64,
    /// Open sockets whose object is out of memory.
    pub sockets_hibernated: u64,
    /// Objects with sockets, in memory.
    pub objects_with_sockets_live: u64,
    /// Objects with sockets, hibernated.
    pub objects_hibernated: u64,
    pub billed_ms: f64,
    pub hibernated_ms: f64,
    pub avoided_ms: f64,
    pub gb_s_billed: f64,
    pub gb_s_avoided: f64,
    pub usd_billed: f64,
    pub usd_avoided: f64,
    /// avoided / (billed + avoided), in percent.
    pub saved_pct: f64,
    pub billable_requests: f64,
    pub usd_requests: f64,
    /// Storage rows read and written by every object's turns.
    #[serde(default)]
    pub rows_read: u64,
    #[serde(default)]
    pub rows_written: u64,
    /// Bytes stored by every object's database.
    #[serde(default)]
    pub stored_bytes: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub auto_responses: u64,
    /// Sockets closed because their consumer fell behind its send buffer.
    pub fell_behind: u64,
    /// Date of the rates used.
    pub rates_as_of: String,
}

impl HibernationTotals {
    /// Prices summed figures (see [`ObjectStats::add_to`]) at the published rates.
    pub(crate) fn priced(mut self) -> Self {
        use crate::pricing::{duration_usd, gb_s, requests_usd, RATES_AS_OF};
        let t = &mut self;
        t.rates_as_of = RATES_AS_OF.to_string();
        t.gb_s_billed = gb_s(t.billed_ms / 1000.0);
        t.gb_s_avoided = gb_s(t.avoided_ms / 1000.0);
        t.usd_billed = duration_usd(t.gb_s_billed);
        t.usd_avoided = duration_usd(t.gb_s_avoided);
        t.usd_requests = requests_usd(t.billable_requests);
        let total = t.billed_ms + t.avoided_ms;
        t.saved_pct = if total > 0.0 {
            t.avoided_ms / total * 100.0
        } else {
            0.0
        };
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_object_that_left_memory_costs_a_few_hundred_bytes() {
        // What every object seen keeps for the runtime's lifetime (plus its map slot).
        let size = std::mem::size_of::<super::ObjectStats>();
        assert!(size <= 208, "ObjectStats grew to {size} bytes");
    }
}
