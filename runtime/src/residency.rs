//! Which objects stay in memory and which keep their database open. Objects stay in memory
//! until their idle timeout (the object task's own timer), as in production, but only within
//! a memory budget; open databases are capped apart (file descriptors, and ~40 KiB of SQLite
//! state each). Past either bound the least recently used object is asked to give up what
//! it holds: its task gets a flag and a wake-up, and acts on it between turns.
//!
//! Open databases are kept in two orders. A database opened for the first time in its
//! object's stay in memory waits on a short *probation* list; only an object used again
//! (while on it, or later, reopening) moves to the main list. So a stream of objects used
//! once each (new keys, a scan) cycles through a few hundred connections whose memory is
//! still in the CPU's caches, instead of pushing thousands of open databases through RAM
//! and out of the main list the objects used again and again.
//!
//! Owns only bookkeeping (two LRU orders and the cost model); never touches an object's
//! instance or storage itself, and never blocks: every call is one short critical section.

use std::collections::HashMap;
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

/// Objects `budget_bytes` holds in memory, at most a million: what the lists of live
/// objects are sized for up front (the budget bounds them; past it objects leave).
pub(crate) fn live_capacity(budget_bytes: u64) -> usize {
    (budget_bytes / LIVE_OBJECT_BYTES).min(1 << 20) as usize
}

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

/// Databases on probation at most (see the module doc), fewer when the cap on open
/// databases is small: measured in `benches/activation.sh`, a few hundred connections
/// recycled while their memory is warm cost ~20 % less CPU per new object than thousands.
const PROBATION_DATABASES: usize = 128;

/// No node (the end of the list).
const NIL: u32 = u32::MAX;

/// One listed object: its neighbours in recency order, its mark and its task's control.
struct Node {
    id: ObjectId,
    older: u32,
    newer: u32,
    mark: bool,
    /// `None` once the node is free (so a task that left is not kept alive by its slot).
    control: Option<Arc<TaskControl>>,
}

/// Objects in least-recently-used order, each with a mark ([`Lru::touch`]): a doubly linked
/// list in a slab of nodes, so touching, removing and taking the oldest cost a hash lookup
/// and a few index writes, never a tree rebalance or an allocation once the slab has grown.
struct Lru {
    slot: HashMap<ObjectId, u32>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    oldest: u32,
    newest: u32,
}

impl Default for Lru {
    fn default() -> Self {
        Lru {
            slot: HashMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            oldest: NIL,
            newest: NIL,
        }
    }
}

impl Lru {
    /// Room for `n` entries from the start: the lists live under one lock that every turn
    /// takes, and doubling a list of tens of thousands there stalls them all.
    fn with_capacity(n: usize) -> Self {
        Lru {
            slot: HashMap::with_capacity(n),
            nodes: Vec::with_capacity(n),
            ..Lru::default()
        }
    }

    fn node(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    fn unlink(&mut self, i: u32) {
        let (older, newer) = (self.node(i).older, self.node(i).newer);
        match older {
            NIL => self.oldest = newer,
            o => self.node(o).newer = newer,
        }
        match newer {
            NIL => self.newest = older,
            n => self.node(n).older = older,
        }
    }

    fn push_newest(&mut self, i: u32) {
        let newest = self.newest;
        let n = self.node(i);
        n.older = newest;
        n.newer = NIL;
        match newest {
            NIL => self.oldest = i,
            t => self.node(t).newer = i,
        }
        self.newest = i;
    }

    /// Makes `id` the most recently used; its mark becomes `mark` or stays set. Returns
    /// the mark it had (false if it was not listed).
    fn touch(&mut self, id: ObjectId, control: &Arc<TaskControl>, mark: bool) -> bool {
        if let Some(&i) = self.slot.get(&id) {
            let n = self.node(i);
            let had = n.mark;
            n.mark = had || mark;
            if !n.control.as_ref().is_some_and(|c| Arc::ptr_eq(c, control)) {
                n.control = Some(control.clone());
            }
            if self.newest != i {
                self.unlink(i);
                self.push_newest(i);
            }
            return had;
        }
        let node = Node {
            id,
            older: NIL,
            newer: NIL,
            mark,
            control: Some(control.clone()),
        };
        let i = match self.free.pop() {
            Some(i) => {
                *self.node(i) = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.slot.insert(id, i);
        self.push_newest(i);
        false
    }

    /// Unlinks node `i` and frees it, handing back its control.
    fn release(&mut self, i: u32) -> Option<Arc<TaskControl>> {
        self.unlink(i);
        self.free.push(i);
        self.node(i).control.take()
    }

    /// True if `id` was listed.
    fn remove(&mut self, id: &ObjectId) -> bool {
        match self.slot.remove(id) {
            Some(i) => {
                self.release(i);
                true
            }
            None => false,
        }
    }

    fn contains(&self, id: &ObjectId) -> bool {
        self.slot.contains_key(id)
    }

    /// Removes and returns the least recently used entry other than `except`.
    fn pop_oldest(&mut self, except: &ObjectId) -> Option<Arc<TaskControl>> {
        let mut i = self.oldest;
        while i != NIL && self.nodes[i as usize].id == *except {
            i = self.nodes[i as usize].newer;
        }
        if i == NIL {
            return None;
        }
        let id = self.nodes[i as usize].id;
        self.slot.remove(&id);
        self.release(i)
    }

    fn len(&self) -> usize {
        self.slot.len()
    }
}

impl Inner {
    fn open_count(&self) -> usize {
        self.open.len() + self.probation.len()
    }
}

#[derive(Default)]
struct Inner {
    /// Objects in memory; marked once their database has been open during this stay.
    live: Lru,
    /// Open databases of objects used again (the main list).
    open: Lru,
    /// Open databases opened once and not used since.
    probation: Lru,
}

/// Residency bookkeeping for the whole runtime.
pub(crate) struct Residency {
    inner: Mutex<Inner>,
    budget_bytes: u64,
    /// Cap of the main list; with `probation_cap`, the cap on open databases.
    main_cap: usize,
    probation_cap: usize,
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
        let max_open = max_open.max(1);
        let probation_cap = PROBATION_DATABASES.min(max_open / 4);
        let main_cap = (max_open - probation_cap).max(1);
        Self {
            inner: Mutex::new(Inner {
                live: Lru::with_capacity(live_capacity(budget_bytes)),
                open: Lru::with_capacity(main_cap + 1),
                probation: Lru::with_capacity(probation_cap + 1),
            }),
            budget_bytes,
            main_cap,
            probation_cap,
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
        let opened_before = inner.live.touch(id, control, database_open);
        if !database_open {
            inner.open.remove(&id);
            inner.probation.remove(&id);
        } else if inner.probation.remove(&id) || opened_before || self.probation_cap == 0 {
            // Used again with its database open (or reopened): the main list.
            inner.open.touch(id, control, false);
        } else if !inner.open.contains(&id) {
            inner.probation.touch(id, control, false);
        }
        while inner.probation.len() > self.probation_cap {
            let Some(victim) = inner.probation.pop_oldest(&id) else {
                break;
            };
            victim.ask(CLOSE_DATABASE);
        }
        while inner.open.len() > self.main_cap {
            let Some(victim) = inner.open.pop_oldest(&id) else {
                break;
            };
            victim.ask(CLOSE_DATABASE);
        }
        while Self::estimate(inner.live.len(), inner.open_count()) > self.budget_bytes {
            let Some(victim) = inner.live.pop_oldest(&id) else {
                break;
            };
            victim.ask(LEAVE_MEMORY);
        }
        // A victim asked to leave memory also leaves the open list when it goes (`leave`).
    }

    /// The object closed its database.
    pub(crate) fn database_closed(&self, id: &ObjectId) {
        let mut inner = self.lock();
        inner.open.remove(id);
        inner.probation.remove(id);
    }

    /// The object left memory.
    pub(crate) fn leave(&self, id: &ObjectId) {
        let mut inner = self.lock();
        inner.live.remove(id);
        inner.open.remove(id);
        inner.probation.remove(id);
    }

    pub(crate) fn counts(&self) -> ResidencyCounts {
        let inner = self.lock();
        ResidencyCounts {
            live: inner.live.len(),
            open_databases: inner.open_count(),
            estimated_bytes: Self::estimate(inner.live.len(), inner.open_count()),
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
    fn the_list_keeps_recency_order_through_touches_removals_and_reused_slots() {
        let ids: Vec<ObjectId> = (0..6u8).map(id).collect();
        let c: Arc<TaskControl> = Arc::default();
        let mut l = Lru::default();
        for id in &ids[..4] {
            assert!(!l.touch(*id, &c, false));
        }
        assert!(!l.touch(ids[0], &c, true), "no mark before");
        assert!(l.touch(ids[0], &c, false), "the mark stays set");
        assert!(l.remove(&ids[2]));
        assert!(!l.remove(&ids[2]));
        l.touch(ids[4], &c, false); // takes the freed slot
        assert_eq!(l.nodes.len(), 4);
        assert_eq!(l.len(), 4);
        // Oldest first: 1, 3, 0, 4. `except` is skipped, not taken.
        assert!(l.pop_oldest(&ids[1]).is_some());
        assert!(!l.contains(&ids[3]) && l.contains(&ids[1]));
        for (next, after) in [(1, [0, 4].as_slice()), (0, &[4]), (4, &[])] {
            assert!(l.pop_oldest(&ids[5]).is_some());
            assert!(!l.contains(&ids[next]));
            assert!(after.iter().all(|&k| l.contains(&ids[k])));
        }
        assert_eq!(l.len(), 0);
        assert!(l.pop_oldest(&ids[5]).is_none());
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
    fn databases_opened_once_wait_on_probation_and_used_again_stay_open() {
        // 8 open at most: 2 on probation, 6 on the main list.
        let r = Residency::new(u64::MAX, 8);
        let c: Vec<Arc<TaskControl>> = (0..20).map(|_| Arc::default()).collect();
        // Object 0 is used twice: it reaches the main list.
        r.touch(id(0), &c[0], true);
        r.touch(id(0), &c[0], true);
        // A stream of objects used once each passes through probation only.
        for i in 1..20u8 {
            r.touch(id(i), &c[i as usize], true);
        }
        assert_eq!(
            c[0].take(),
            Requests::default(),
            "the object used again stays open"
        );
        let closed: Vec<u8> = (1..20u8)
            .filter(|&i| c[i as usize].take().close_database)
            .collect();
        assert_eq!(
            closed,
            (1..18).collect::<Vec<u8>>(),
            "all but the last two closed"
        );
        for i in 1..18u8 {
            r.database_closed(&id(i));
        }
        assert_eq!(r.counts().open_databases, 3);
        // Closed on probation, used again: it reopens onto the main list.
        r.touch(id(5), &c[5], true);
        for i in 18..20u8 {
            r.touch(id(i), &c[i as usize], true);
        }
        assert_eq!(c[5].take(), Requests::default());
        assert_eq!(r.counts().open_databases, 4);
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
