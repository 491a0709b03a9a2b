//! Which objects stay in memory and which keep their database open. Objects stay in memory
//! until their idle timeout (the object task's own timer), as in production, but only within
//! a memory budget; open databases are capped apart (file descriptors, and ~40 KiB of SQLite
//! state each). Past either bound the least recently used object is asked to give up what
//! it holds: its task gets a flag and a wake-up, and acts on it between turns.
//!
//! Owns only bookkeeping (two LRU orders and the cost model); never touches an object's
//! instance or storage itself, and never blocks: every call is one short critical section.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::id::ObjectId;

/// Estimated memory of one object in memory without an open database: its task, mailbox,
/// instance, directory and LRU entries (measured at 100,000 objects by
/// `benches/examples/object_scale.rs`; see the README's numbers).
pub const LIVE_OBJECT_BYTES: u64 = 12 * 1024;
/// Estimated memory of one open object database (SQLite connection, page cache, statement
/// cache, wal-index), on top of [`LIVE_OBJECT_BYTES`].
pub const OPEN_DATABASE_BYTES: u64 = 48 * 1024;

const CLOSE_DATABASE: u8 = 1;
const LEAVE_MEMORY: u8 = 2;

/// What the runtime asks of one live object's task; shared by the task and [`Residency`].
#[derive(Debug, Default)]
pub(crate) struct TaskControl {
    flags: AtomicU8,
    /// Wakes the task when a flag is set (a stored permit if it is busy).
    pub(crate) wake: Notify,
}

/// What a task was asked to do, taken (and cleared) in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Requests {
    pub(crate) close_database: bool,
    pub(crate) leave_memory: bool,
}

impl TaskControl {
    fn ask(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// Takes the pending requests.
    pub(crate) fn take(&self) -> Requests {
        let f = self.flags.swap(0, Ordering::AcqRel);
        Requests {
            close_database: f & CLOSE_DATABASE != 0,
            leave_memory: f & LEAVE_MEMORY != 0,
        }
    }
}

/// Objects in least-recently-used order.
#[derive(Default)]
struct Lru {
    by_id: HashMap<ObjectId, (u64, Arc<TaskControl>)>,
    by_tick: BTreeMap<u64, ObjectId>,
}

impl Lru {
    fn touch(&mut self, id: ObjectId, tick: u64, control: &Arc<TaskControl>) {
        if let Some((old, _)) = self.by_id.insert(id, (tick, control.clone())) {
            self.by_tick.remove(&old);
        }
        self.by_tick.insert(tick, id);
    }

    fn remove(&mut self, id: &ObjectId) {
        if let Some((tick, _)) = self.by_id.remove(id) {
            self.by_tick.remove(&tick);
        }
    }

    /// Removes and returns the least recently used entry other than `except`.
    fn pop_oldest(&mut self, except: &ObjectId) -> Option<Arc<TaskControl>> {
        let (&tick, &id) = self.by_tick.iter().find(|(_, id)| *id != except)?;
        self.by_tick.remove(&tick);
        self.by_id.remove(&id).map(|(_, c)| c)
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[derive(Default)]
struct Inner {
    tick: u64,
    live: Lru,
    open: Lru,
}

/// Residency bookkeeping for the whole runtime.
pub(crate) struct Residency {
    inner: Mutex<Inner>,
    budget_bytes: u64,
    max_open: usize,
}

/// Counts for stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResidencyCounts {
    pub(crate) live: usize,
    pub(crate) open_databases: usize,
    pub(crate) estimated_bytes: u64,
}

impl Residency {
    pub(crate) fn new(budget_bytes: u64, max_open: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            budget_bytes,
            max_open: max_open.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section leaves both maps consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn estimate(live: usize, open: usize) -> u64 {
        live as u64 * LIVE_OBJECT_BYTES + open as u64 * OPEN_DATABASE_BYTES
    }

    /// The object just ran (or arrived): it is the most recently used. Asks the least
    /// recently used others to close their database or leave memory while a bound is
    /// exceeded.
    pub(crate) fn touch(&self, id: ObjectId, control: &Arc<TaskControl>, database_open: bool) {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.live.touch(id, tick, control);
        if database_open {
            inner.open.touch(id, tick, control);
        } else {
            inner.open.remove(&id);
        }
        while inner.open.len() > self.max_open {
            let Some(victim) = inner.open.pop_oldest(&id) else {
                break;
            };
            victim.ask(CLOSE_DATABASE);
        }
        while Self::estimate(inner.live.len(), inner.open.len()) > self.budget_bytes {
            let Some(victim) = inner.live.pop_oldest(&id) else {
                break;
            };
            victim.ask(LEAVE_MEMORY);
        }
        // A victim asked to leave memory also leaves the open list when it goes (`leave`).
    }

    /// The object closed its database.
    pub(crate) fn database_closed(&self, id: &ObjectId) {
        self.lock().open.remove(id);
    }

    /// The object left memory.
    pub(crate) fn leave(&self, id: &ObjectId) {
        let mut inner = self.lock();
        inner.live.remove(id);
        inner.open.remove(id);
    }

    pub(crate) fn counts(&self) -> ResidencyCounts {
        let inner = self.lock();
        ResidencyCounts {
            live: inner.live.len(),
            open_databases: inner.open.len(),
            estimated_bytes: Self::estimate(inner.live.len(), inner.open.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes([n; 32])
    }

    #[test]
    fn the_least_recently_used_close_their_database_first() {
        let r = Residency::new(u64::MAX, 2);
        let c: Vec<Arc<TaskControl>> = (0..3).map(|_| Arc::default()).collect();
        r.touch(id(0), &c[0], true);
        r.touch(id(1), &c[1], true);
        r.touch(id(0), &c[0], true); // 1 is now the oldest
        r.touch(id(2), &c[2], true);
        assert!(c[1].take().close_database);
        assert_eq!(c[0].take(), Requests::default());
        assert_eq!(r.counts().open_databases, 2);
    }

    #[test]
    fn past_the_budget_the_oldest_leave_memory() {
        let r = Residency::new(3 * LIVE_OBJECT_BYTES, 100);
        let c: Vec<Arc<TaskControl>> = (0..5).map(|_| Arc::default()).collect();
        for (i, ctl) in c.iter().enumerate() {
            r.touch(id(i as u8), ctl, false);
        }
        let asked: Vec<bool> = c.iter().map(|c| c.take().leave_memory).collect();
        assert_eq!(asked, [true, true, false, false, false]);
        r.leave(&id(0));
        r.leave(&id(1));
        assert_eq!(r.counts().live, 3);
    }
}
