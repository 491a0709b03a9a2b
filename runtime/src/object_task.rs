//! The task of one live object: owns the instance, its storage and its mailbox's receiving
//! end, and runs turns one at a time. Turns waiting together run back to back in one
//! transaction (group commit); their replies are released only after that commit (the output
//! gate). A failed commit resets the object and fails the batch with 5xx — never a 200.
//! Never runs two turns at once and never answers before its writes are durable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::ceiling::ServiceClock;
use crate::config::DataDir;
use crate::error::{Error, Result};
use crate::mailbox::Envelope;
use crate::object::{Context, Object, Response};
use crate::registry::Constructor;
use crate::runtime::{ObjectRef, Shared};
use crate::stats::ObjectStats;

/// Refresh the storage-size stat every this many commits (it costs two pragma reads).
const SIZE_EVERY_COMMITS: u64 = 32;

pub(crate) struct ObjectTask {
    shared: Arc<Shared>,
    object: ObjectRef,
    ctor: Constructor,
    stats: Arc<ObjectStats>,
    /// Receiving end of the mailbox; the sender lives in the runtime's directory entry.
    rx: mpsc::Receiver<Envelope>,
    clock: ServiceClock,
    /// Fault injection: hold the next turn this long.
    stall_next: Option<Duration>,
}

/// A reply waiting for the batch's commit.
type Pending = (oneshot::Sender<Result<Response>>, Result<Response>);

impl ObjectTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        object: ObjectRef,
        ctor: Constructor,
        stats: Arc<ObjectStats>,
        rx: mpsc::Receiver<Envelope>,
    ) -> Self {
        let clock = ServiceClock::new(shared.config.ceiling, Instant::now());
        Self {
            shared,
            object,
            ctor,
            stats,
            rx,
            clock,
            stall_next: None,
        }
    }

    pub(crate) async fn run(mut self) {
        let storage = match self.shared.open_storage(&self.object.id()) {
            Ok(s) => s,
            Err(e) => return self.refuse_all(e).await,
        };
        let mut ctx = Context::new(
            self.object.id(),
            self.object.class().into(),
            self.object.name().map(Into::into),
            storage,
        );
        self.stats.became_resident();
        let mut instance: Option<Box<dyn Object>> = None;
        let mut batch: Vec<Envelope> = Vec::with_capacity(self.shared.config.max_batch);
        let mut closing = false;
        loop {
            let first = if closing {
                self.rx.recv().await
            } else {
                tokio::select! {
                    msg = self.rx.recv() => msg,
                    _ = tokio::time::sleep(self.shared.config.idle_timeout) => {
                        // Evict only if nothing is waiting. Under the directory lock: remove
                        // the entry, close the mailbox and park RAM-only storage, so no sender
                        // reaches this task afterwards and the next request starts a fresh
                        // task that finds the parked database.
                        let mut live = self.shared.lock_live();
                        if !self.rx.is_empty() {
                            continue;
                        }
                        live.remove(&self.object.id());
                        self.rx.close();
                        self.stats.left_memory();
                        self.stats.evictions.fetch_add(1, Relaxed);
                        drop(instance);
                        let storage = self.park(ctx.storage);
                        drop(live);
                        // A file-backed database closes outside the lock (closing may
                        // checkpoint the WAL).
                        drop(storage);
                        return;
                    }
                    _ = self.shared.shutdown.cancelled() => {
                        // Take nothing new; what is already queued still runs and commits.
                        closing = true;
                        self.rx.close();
                        continue;
                    }
                }
            };
            let Some(first) = first else { break };
            self.gather(first, &mut batch).await;
            if batch.is_empty() {
                continue;
            }
            self.run_batch(&mut ctx, &mut instance, &mut batch).await;
        }
        self.stats.left_memory();
        drop(instance);
        let live = self.shared.lock_live();
        let storage = self.park(ctx.storage);
        drop(live);
        drop(storage);
    }

    /// Collects the turns to run together: `first`, then whatever else is already waiting,
    /// as far as the batch size and the ceiling's clock allow.
    async fn gather(&mut self, first: Envelope, batch: &mut Vec<Envelope>) {
        let mut next = Some(first);
        while let Some(env) = next.take() {
            match env {
                Envelope::Stall { hold } => self.stall_next = Some(hold),
                fetch @ Envelope::Fetch { .. } => {
                    if batch.is_empty() {
                        // The first turn waits for the clock; later ones only join if the
                        // clock already allows them.
                        if let Some(at) = self.clock.ready_at(Instant::now()) {
                            tokio::time::sleep_until(at).await;
                        }
                    }
                    self.clock.book(Instant::now());
                    batch.push(fetch);
                }
            }
            if batch.len() >= self.shared.config.max_batch || self.stall_next.is_some() {
                break;
            }
            if !batch.is_empty() && self.clock.ready_at(Instant::now()).is_some() {
                break;
            }
            next = self.rx.try_recv().ok();
        }
    }

    async fn run_batch(
        &mut self,
        ctx: &mut Context,
        instance: &mut Option<Box<dyn Object>>,
        batch: &mut Vec<Envelope>,
    ) {
        if let Some(hold) = self.stall_next.take() {
            tokio::time::sleep(hold).await;
        }
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        if let Err(e) = ctx.storage.begin() {
            return self.fail_batch(batch.drain(..), &e.to_string());
        }
        let mut crashed = false;
        if instance.is_none() {
            match catch_unwind(AssertUnwindSafe(|| (self.ctor)(ctx))) {
                Ok(Ok(obj)) => *instance = Some(obj),
                Ok(Err(e)) => {
                    ctx.storage.rollback();
                    return self.fail_batch(batch.drain(..), &format!("constructor failed: {e}"));
                }
                Err(_) => {
                    ctx.storage.rollback();
                    return self.fail_batch(batch.drain(..), "constructor panicked");
                }
            }
        }
        let Some(obj) = instance.as_mut() else { return };
        for env in batch.drain(..) {
            let Envelope::Fetch { req, reply } = env else {
                continue;
            };
            self.stats.turns.fetch_add(1, Relaxed);
            if crashed {
                pending.push((reply, Err(Error::ObjectReset("an earlier turn crashed".into()))));
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| obj.fetch(ctx, req)));
            match outcome {
                Ok(result) => pending.push((reply, result)),
                Err(_) => {
                    crashed = true;
                    pending.push((reply, Err(Error::Handler("the handler panicked".into()))));
                }
            }
        }
        match ctx.storage.commit() {
            Ok(()) => {
                let commits = self.stats.commits.fetch_add(1, Relaxed) + 1;
                if commits % SIZE_EVERY_COMMITS == 1 {
                    self.stats
                        .storage_bytes
                        .store(ctx.storage.size_bytes(), Relaxed);
                }
                for (reply, result) in pending {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                crashed = true;
                let msg = format!("commit failed, nothing of this batch was stored: {e}");
                for (reply, _) in pending {
                    let _ = reply.send(Err(Error::ObjectReset(msg.clone())));
                }
            }
        }
        if crashed {
            // The instance may hold state that no longer matches storage: rebuild it from
            // storage on the next turn, as production does after an exception resets it.
            self.stats.resets.fetch_add(1, Relaxed);
            *instance = None;
        }
    }

    fn fail_batch(&self, batch: impl Iterator<Item = Envelope>, why: &str) {
        self.stats.resets.fetch_add(1, Relaxed);
        for env in batch {
            if let Envelope::Fetch { reply, .. } = env {
                let _ = reply.send(Err(Error::ObjectReset(why.to_string())));
            }
        }
    }

    /// Hands a RAM-only database to the runtime so the next instance finds it (call under
    /// the directory lock); gives a file-backed one back to be closed.
    fn park(&self, storage: crate::storage::Storage) -> Option<crate::storage::Storage> {
        if self.shared.config.data != DataDir::Memory {
            return Some(storage);
        }
        self.shared
            .parked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.object.id(), storage);
        None
    }

    /// Storage could not be opened: answer everything queued with the reason, and leave.
    async fn refuse_all(mut self, e: Error) {
        let why = e.to_string();
        {
            let mut live = self.shared.lock_live();
            live.remove(&self.object.id());
            self.rx.close();
        }
        while let Some(env) = self.rx.recv().await {
            if let Envelope::Fetch { reply, .. } = env {
                let _ = reply.send(Err(Error::ObjectReset(why.clone())));
            }
        }
    }
}
