//! Alarms: one [`AlarmScheduler`] for the whole runtime holds every pending alarm in one
//! ordered map (never a task or timer per alarm) and fires due ones in time order by posting
//! an alarm turn to the object's mailbox, with a bounded number in flight. The
//! [`AlarmIndex`] is the runtime-wide SQLite index that lets a restart find every pending
//! alarm without opening each object's database. The object's own storage stays the truth:
//! the index may hold stale entries (they are skipped at fire time), never miss one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::clock::epoch_ms;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::runtime::ObjectRef;

/// Retries after a failing handler: `2 << n` seconds for n = 0..=5 (2, 4, 8, 16, 32, 64 s).
pub const MAX_RETRIES: u32 = 6;
/// Random extra delay on each retry, as a share of the backoff (0–25 %).
pub const RETRY_JITTER: f64 = 0.25;
/// Alarm turns posted but not finished at any one time; keeps an alarm storm from opening
/// every object at once.
pub const MAX_IN_FLIGHT: usize = 1024;
/// How long to wait before re-posting an alarm whose object's mailbox was full.
const OVERLOADED_RETRY_MS: i64 = 20;
/// Most due alarms taken from the queue per lock.
const POP_CHUNK: usize = 1024;

/// The backoff before retry number `retry` (1-based), without jitter, scaled by `scale`.
pub fn retry_delay(retry: u32, scale: f64) -> Duration {
    let secs = (2u64 << (retry.saturating_sub(1)).min(5)) as f64;
    Duration::from_secs_f64(secs * scale)
}

/// One pending alarm.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    pub(crate) object: ObjectRef,
    /// The time the alarm was set for (epoch ms); also the key the object checks at fire time.
    pub(crate) scheduled_ms: i64,
    /// When to post it (≥ scheduled_ms when its mailbox was full).
    pub(crate) fire_at_ms: i64,
    pub(crate) retry_count: u32,
}

#[derive(Default)]
struct Queue {
    by_time: BTreeMap<(i64, ObjectId), Due>,
    by_object: HashMap<ObjectId, i64>,
}

impl Queue {
    fn insert(&mut self, due: Due) -> bool {
        let id = due.object.id();
        if let Some(old) = self.by_object.insert(id, due.fire_at_ms) {
            self.by_time.remove(&(old, id));
        }
        let key = (due.fire_at_ms, id);
        self.by_time.insert(key, due);
        self.by_time.keys().next() == Some(&key)
    }

    fn remove(&mut self, id: &ObjectId) {
        if let Some(at) = self.by_object.remove(id) {
            self.by_time.remove(&(at, *id));
        }
    }

    fn pop_due(&mut self, now_ms: i64, max: usize) -> Vec<Due> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(entry) = self.by_time.first_entry() else {
                break;
            };
            if entry.key().0 > now_ms {
                break;
            }
            let due = entry.remove();
            self.by_object.remove(&due.object.id());
            out.push(due);
        }
        out
    }

    fn next_at(&self) -> Option<i64> {
        self.by_time.keys().next().map(|(at, _)| *at)
    }
}

/// Runtime-wide alarm counters.
#[derive(Debug, Default)]
pub(crate) struct AlarmCounters {
    pub(crate) set: AtomicU64,
    pub(crate) fired: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) given_up: AtomicU64,
}

/// The one timer structure for every alarm of the runtime.
pub(crate) struct AlarmScheduler {
    queue: Mutex<Queue>,
    /// Woken when an alarm earlier than the current earliest arrives.
    wake: Notify,
    pub(crate) index: Option<AlarmIndex>,
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) counters: AlarmCounters,
}

impl AlarmScheduler {
    pub(crate) fn new(index: Option<AlarmIndex>) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            index,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            counters: AlarmCounters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Schedules (or replaces) the object's alarm.
    pub(crate) fn schedule(&self, due: Due) {
        if self.lock().insert(due) {
            self.wake.notify_one();
        }
    }

    /// Drops the object's pending alarm, if any.
    pub(crate) fn cancel(&self, id: &ObjectId) {
        self.lock().remove(id);
    }

    /// Pending alarms.
    pub(crate) fn pending(&self) -> usize {
        self.lock().by_object.len()
    }

    /// Takes up to one chunk of due alarms, or says when to look again.
    pub(crate) fn take_due(&self) -> std::result::Result<Vec<Due>, Option<i64>> {
        let mut q = self.lock();
        let due = q.pop_due(epoch_ms(), POP_CHUNK);
        if due.is_empty() {
            Err(q.next_at())
        } else {
            Ok(due)
        }
    }

    /// Waits until `next_at` (epoch ms), a wake-up, or forever if nothing is pending.
    pub(crate) async fn wait(&self, next_at: Option<i64>) {
        let notified = self.wake.notified();
        match next_at {
            Some(at) => {
                let ms = (at - epoch_ms()).max(0) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    _ = notified => {}
                }
            }
            None => notified.await,
        }
    }

    /// Puts back an alarm whose object could not take it now.
    pub(crate) fn defer(&self, mut due: Due) {
        due.fire_at_ms = epoch_ms() + OVERLOADED_RETRY_MS;
        self.schedule(due);
    }

    /// A permit for one alarm turn (waits while `MAX_IN_FLIGHT` are running).
    pub(crate) async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.clone().acquire_owned().await.ok()
    }
}

/// The runtime-wide index of pending alarms (`<data>/alarms.sqlite`). Upserts are written
/// ahead of the object's commit, each in its own transaction; deletes (an alarm ran or was
/// removed) only tidy up, so they wait in a queue and go out together: before the next
/// upsert, in the same transaction and in order, or when [`DELETE_BATCH`] are waiting.
pub(crate) struct AlarmIndex {
    inner: Mutex<IndexInner>,
}

struct IndexInner {
    conn: Connection,
    /// Deletes not yet written, in the order they were asked for.
    pending_deletes: Vec<ObjectId>,
}

/// Deletes written together at most.
const DELETE_BATCH: usize = 512;

impl IndexInner {
    /// Writes the waiting deletes (inside the caller's transaction).
    fn apply_deletes(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM alarms WHERE id = ?1")?;
        for id in self.pending_deletes.drain(..) {
            stmt.execute(params![&id.as_bytes()[..]])?;
        }
        Ok(())
    }

    fn in_transaction(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        match f(self) {
            Ok(()) => Ok(self.conn.execute_batch("COMMIT")?),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// One row of the index.
#[derive(Debug, Clone)]
pub(crate) struct IndexedAlarm {
    pub(crate) class: String,
    pub(crate) id: ObjectId,
    pub(crate) name: Option<String>,
    pub(crate) at_ms: i64,
}

impl AlarmIndex {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::OpenStorage {
            path: path.to_path_buf(),
            source,
        };
        // One connection in one process (the data directory is locked): no file locks (the
        // unix-none VFS, as object databases use) and exclusive mode, which saves the -shm
        // file. SQLite's unix VFS keeps a list of files opened with locks and `stat`s the path
        // of every database opened after one is on it, so this index with locks cost each
        // object's open one more system call.
        let conn =
            Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), c"unix-none")
                .map_err(err)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS alarms (
                id BLOB PRIMARY KEY, class TEXT NOT NULL, name TEXT, at_ms INTEGER NOT NULL
             ) WITHOUT ROWID;",
        )
        .map_err(err)?;
        Ok(Self {
            inner: Mutex::new(IndexInner {
                conn,
                pending_deletes: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexInner> {
        // A panic inside leaves at most an open transaction, which the next BEGIN reports.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `object` may have an alarm at `at_ms` (written before the object commits),
    /// after the deletes asked for before it.
    pub(crate) fn upsert(&self, object: &ObjectRef, at_ms: i64) -> Result<()> {
        self.lock().in_transaction(|inner| {
            inner.apply_deletes()?;
            inner
                .conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO alarms (id, class, name, at_ms) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    &object.id().as_bytes()[..],
                    object.class(),
                    object.name(),
                    at_ms
                ])?;
            Ok(())
        })
    }

    /// Forgets the object's alarm (after the object committed its removal). Queued: a row
    /// left behind by a crash only costs a skipped fire after the restart.
    pub(crate) fn delete(&self, id: &ObjectId) -> Result<()> {
        let mut inner = self.lock();
        inner.pending_deletes.push(*id);
        if inner.pending_deletes.len() >= DELETE_BATCH {
            inner.in_transaction(IndexInner::apply_deletes)?;
        }
        Ok(())
    }

    /// Writes the queued deletes now.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut inner = self.lock();
        if inner.pending_deletes.is_empty() {
            return Ok(());
        }
        inner.in_transaction(IndexInner::apply_deletes)
    }

    /// Every indexed alarm.
    pub(crate) fn load(&self) -> Result<Vec<IndexedAlarm>> {
        let inner = self.lock();
        let conn = &inner.conn;
        let mut stmt = conn.prepare("SELECT id, class, name, at_ms FROM alarms ORDER BY at_ms")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, class, name, at_ms) = row?;
            let Ok(bytes) = <[u8; 32]>::try_from(id.as_slice()) else {
                continue;
            };
            out.push(IndexedAlarm {
                class,
                id: ObjectId::from_bytes(bytes),
                name,
                at_ms,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_2_4_8_16_32_64_seconds() {
        let secs: Vec<u64> = (1..=MAX_RETRIES)
            .map(|r| retry_delay(r, 1.0).as_secs())
            .collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64]);
        assert_eq!(retry_delay(1, 0.5), Duration::from_secs(1));
    }
}
