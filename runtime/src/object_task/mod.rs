//! The task of one live object: owns the instance, its storage and its mailbox's receiving
//! end, and runs turns (fetches and alarms) one at a time. Turns waiting together run back
//! to back in one transaction (group commit); their replies are released only after that
//! commit (the output gate). A failed commit resets the object and fails the batch with 5xx
//! — never a 200. Never runs two turns at once and never answers before its writes are durable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;

use crate::alarm::Due;
use crate::ceiling::ServiceClock;
use crate::config::DataDir;
use crate::error::{Error, Result};
use crate::mailbox::{Envelope, Inbox, Reply, SocketEvent};
use crate::object::{AlarmEffect, Context, Object, OutFrame, SocketId};
use crate::registry::Constructor;
use crate::residency::TaskControl;
use crate::runtime::{ObjectRef, Shared};
use crate::sockets::Accepted;
use crate::stats::ObjectStats;
use crate::storage::CpuBudget;
use crate::storage::Storage;

mod alarm_turn;

/// Response header on requests that brought their object into memory (construction, and
/// for file-backed objects, opening the database), so a load generator can report their
/// latency apart.
pub const COLD_START_HEADER: &str = "x-dobench-cold-start";

/// Refresh the storage-size stat every this many commits (it costs two stat calls).
const SIZE_EVERY_COMMITS: u64 = 32;

pub(crate) struct ObjectTask {
    shared: Arc<Shared>,
    object: ObjectRef,
    ctor: Constructor,
    stats: Arc<ObjectStats>,
    /// Receiving end of the mailbox; the sender lives in the runtime's directory entry.
    rx: Inbox,
    clock: ServiceClock,
    /// Fault injection: hold the next turn this long.
    stall_next: Option<Duration>,
    /// What the runtime asks of this task (close the database, leave memory); the other
    /// end is held by the runtime's residency bookkeeping.
    control: Arc<TaskControl>,
    /// No turn has run since the task started: the next batch brings the object into memory.
    cold: bool,
}

/// A reply waiting for the batch's commit.
type Pending = (oneshot::Sender<Result<Reply>>, Result<Reply>);

/// Close code for the sockets of an object reset after going past its CPU budget (1011:
/// the server met a condition that kept it from fulfilling the request).
pub const RESET_CLOSE_CODE: u16 = 1011;

fn over_budget_message(shared: &Shared) -> String {
    Error::CpuExceeded {
        budget_ms: shared.config.cpu_budget.unwrap_or_default().as_millis() as u64,
    }
    .to_string()
}

/// Where one turn's measurement started ([`ObjectTask::start_turn`]).
struct TurnMeter {
    budget: Option<CpuBudget>,
    cpu: Option<Duration>,
    rows: crate::storage::StorageUsage,
}

/// What the batch produced that may leave only after its commit.
#[derive(Default)]
struct Outbox {
    replies: Vec<Pending>,
    /// Alarm-turn permits, released once the turn's effects are settled.
    permits: Vec<OwnedSemaphorePermit>,
    crashed: bool,
}

impl ObjectTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        object: ObjectRef,
        ctor: Constructor,
        stats: Arc<ObjectStats>,
        rx: Inbox,
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
            control: Arc::default(),
            cold: true,
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
            self.shared.sockets.clone(),
            self.shared.config.attachment_limit,
        );
        self.stats.became_resident();
        let id = self.object.id();
        self.shared.residency.touch(id, &self.control, false);
        let mut instance: Option<Box<dyn Object>> = None;
        // Grows on the first turn: an object in memory that never ran holds no batch room.
        let mut batch: Vec<Envelope> = Vec::new();
        let mut closing = false;
        loop {
            // With sockets open the object hibernates (its sockets stay with the runtime);
            // without, it is evicted after the longer idle timeout.
            let idle = if self.shared.sockets.count(&id) > 0 {
                self.shared.config.hibernate_after
            } else {
                self.shared.config.idle_timeout
            };
            let first = if closing {
                self.rx.recv().await
            } else {
                tokio::select! {
                    msg = self.rx.recv() => msg,
                    _ = self.control.wake.notified() => {
                        if self.act_on_requests(&mut ctx) {
                            drop(instance);
                            return;
                        }
                        continue;
                    }
                    _ = tokio::time::sleep(idle) => {
                        if self.try_evict(&mut ctx) {
                            drop(instance);
                            return;
                        }
                        continue;
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
            // Billed duration: wall-clock time with work in flight, from the first message
            // of a batch (clock waits included) until its replies are released.
            let busy_since = Instant::now();
            self.gather(first, &mut batch).await;
            if batch.is_empty() {
                continue;
            }
            self.run_batch(&mut ctx, &mut instance, &mut batch).await;
            let with_sockets = self.shared.sockets.count(&id) > 0;
            self.stats.bill(busy_since.elapsed(), with_sockets);
            self.shared
                .residency
                .touch(id, &self.control, ctx.storage.is_open());
        }
        self.stats.left_memory();
        self.shared.residency.leave(&id);
        drop(instance);
        let live = self.shared.lock_live();
        let storage = self.park(&mut ctx);
        drop(live);
        drop(storage);
    }

    /// Does what the runtime asked between turns. True if the object left memory.
    fn act_on_requests(&mut self, ctx: &mut Context) -> bool {
        let asked = self.control.take();
        if asked.leave_memory {
            if self.try_evict(ctx) {
                return true;
            }
            // Work arrived meanwhile: stay, and be counted as recently used again.
            self.shared
                .residency
                .touch(self.object.id(), &self.control, ctx.storage.is_open());
        }
        if asked.close_database && ctx.storage.close() {
            self.shared.residency.database_closed(&self.object.id());
        }
        false
    }

    /// Collects the turns to run together: `first`, then whatever else is already waiting,
    /// as far as the batch size and the ceiling's clock allow.
    async fn gather(&mut self, first: Envelope, batch: &mut Vec<Envelope>) {
        let mut next = Some(first);
        while let Some(env) = next.take() {
            match env {
                Envelope::Stall { hold } => self.stall_next = Some(hold),
                turn => {
                    if batch.is_empty() {
                        // The first turn waits for the clock; later ones only join if the
                        // clock already allows them.
                        if let Some(at) = self.clock.ready_at(Instant::now()) {
                            tokio::time::sleep_until(at).await;
                        }
                    }
                    self.clock.book(Instant::now());
                    batch.push(turn);
                }
            }
            if batch.len() >= self.shared.config.max_batch || self.stall_next.is_some() {
                break;
            }
            if !batch.is_empty() && self.clock.ready_at(Instant::now()).is_some() {
                break;
            }
            next = self.rx.try_recv();
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
        if let Err(e) = ctx.storage.begin() {
            return self.fail_batch(batch.drain(..), &e.to_string());
        }
        ctx.alarm_effect = None;
        if instance.is_none() {
            let built = match catch_unwind(AssertUnwindSafe(|| (self.ctor)(ctx))) {
                Ok(Ok(obj)) => Ok(obj),
                Ok(Err(e)) => Err(format!("constructor failed: {e}")),
                Err(_) => Err("constructor panicked".to_string()),
            };
            match built {
                Ok(obj) => *instance = Some(obj),
                Err(why) => {
                    ctx.storage.rollback();
                    return self.fail_batch(batch.drain(..), &why);
                }
            }
        }
        let Some(obj) = instance.as_mut() else { return };
        let mut out = Outbox::default();
        let mut over_budget = false;
        for env in batch.drain(..) {
            if over_budget {
                // The object is being reset: what is left of the batch gets the error too.
                self.fail_batch(std::iter::once(env), &over_budget_message(&self.shared));
                continue;
            }
            let meter = self.start_turn(ctx);
            match env {
                Envelope::Fetch {
                    req,
                    upgrade,
                    reply,
                } => {
                    self.stats.turns.fetch_add(1, Relaxed);
                    if out.crashed {
                        let e = Error::ObjectReset("an earlier turn crashed".into());
                        out.replies.push((reply, Err(e)));
                        continue;
                    }
                    ctx.upgrade = upgrade;
                    let result = catch_unwind(AssertUnwindSafe(|| obj.fetch(ctx, *req)));
                    ctx.upgrade = false;
                    let accepted = ctx.accepted.take();
                    let result = match result {
                        Ok(Ok(mut response)) => {
                            if self.cold {
                                // This request waited for the object to come into memory.
                                response
                                    .headers
                                    .push((COLD_START_HEADER.into(), "1".into()));
                            }
                            Ok(Reply { response, accepted })
                        }
                        Ok(Err(e)) => {
                            self.drop_accepted(accepted);
                            Err(e)
                        }
                        Err(_) => {
                            self.drop_accepted(accepted);
                            out.crashed = true;
                            Err(Error::Handler("the handler panicked".into()))
                        }
                    };
                    out.replies.push((reply, result));
                }
                Envelope::Socket {
                    socket,
                    event,
                    held,
                } => {
                    // The turn has the message: its bytes are no longer waiting in flight.
                    drop(held);
                    if !out.crashed {
                        self.socket_turn(ctx, obj.as_mut(), socket, event, &mut out);
                    }
                }
                Envelope::Alarm {
                    scheduled_ms,
                    retry_count,
                    permit,
                } => {
                    out.permits.extend(permit);
                    if !out.crashed {
                        self.alarm_turn(ctx, obj.as_mut(), scheduled_ms, retry_count, &mut out);
                    }
                }
                Envelope::Stall { .. } => {}
            }
            over_budget = self.end_turn(ctx, meter);
        }
        self.stats
            .service_us
            .fetch_add(self.clock.take_charged().as_micros() as u64, Relaxed);
        self.cold = false;
        if over_budget {
            let budget = self.shared.config.cpu_budget.unwrap_or_default();
            self.reset_after_cpu_limit(ctx, &mut out, budget);
            self.stats.resets.fetch_add(1, Relaxed);
            *instance = None;
            return;
        }
        if self.commit(ctx, out) {
            // The instance may hold state that no longer matches storage: rebuild it from
            // storage on the next turn, as production does after an exception resets it.
            self.stats.resets.fetch_add(1, Relaxed);
            *instance = None;
        }
    }

    /// What a turn's cost is measured from: the thread's CPU time (only when the clock
    /// counts it) and the rows its storage had read and written.
    fn start_turn(&self, ctx: &mut Context) -> TurnMeter {
        let budget = self.shared.config.cpu_budget.map(CpuBudget::starting_now);
        ctx.storage.set_budget(budget);
        let costs = &self.shared.config.costs;
        TurnMeter {
            budget,
            cpu: (self.clock.is_on() && costs.cpu_factor > 0.0).then(crate::ceiling::thread_cpu),
            rows: ctx.storage.usage(),
        }
    }

    /// Charges what the turn did to the clock (later turns wait for it) and to the stats.
    /// True if the turn went past its CPU budget (whether or not its handler noticed).
    fn end_turn(&mut self, ctx: &mut Context, meter: TurnMeter) -> bool {
        ctx.storage.set_budget(None);
        let over_budget = meter.budget.is_some_and(|b| b.exceeded());
        let rows = ctx.storage.usage().since(meter.rows);
        self.stats.rows_read.fetch_add(rows.rows_read, Relaxed);
        let work = &self.shared.work;
        if rows.rows_read > 0 {
            work.rows_read.fetch_add(rows.rows_read, Relaxed);
        }
        if rows.rows_written > 0 {
            work.rows_written.fetch_add(rows.rows_written, Relaxed);
        }
        self.stats
            .rows_written
            .fetch_add(rows.rows_written, Relaxed);
        if !self.clock.is_on() {
            return over_budget;
        }
        let cpu = meter.cpu.map_or(Duration::ZERO, |at| {
            crate::ceiling::thread_cpu()
                .saturating_sub(at)
                .mul_f64(crate::ceiling::cpu_scale())
        });
        let extra = self
            .shared
            .config
            .costs
            .extra(cpu, rows.rows_read, rows.rows_written);
        self.clock.charge(extra);
        over_budget
    }

    /// Delivers a socket event to its handler.
    fn socket_turn(
        &self,
        ctx: &mut Context,
        obj: &mut dyn Object,
        socket: SocketId,
        event: SocketEvent,
        out: &mut Outbox,
    ) {
        self.stats.turns.fetch_add(1, Relaxed);
        let result = catch_unwind(AssertUnwindSafe(|| match event {
            SocketEvent::Message(msg) => obj.websocket_message(ctx, socket, msg),
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => obj.websocket_close(ctx, socket, code, &reason, was_clean),
            SocketEvent::Error(e) => obj.websocket_error(ctx, socket, &e),
        }));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(object = %self.object.id(), "socket handler failed: {e}"),
            Err(_) => out.crashed = true,
        }
    }

    /// Forgets a socket accepted by a turn whose answer will not be a 101.
    fn drop_accepted(&self, accepted: Option<Accepted>) {
        if let Some(a) = accepted {
            self.shared.sockets.remove(&self.object.id(), a.socket);
        }
    }

    /// Commits the batch, then releases its replies and applies its alarm change; or, if the
    /// commit fails, fails every reply. True if the instance must be reset.
    fn commit(&self, ctx: &mut Context, mut out: Outbox) -> bool {
        let effect = ctx.alarm_effect.take();
        // Write-ahead into the runtime-wide index: it may briefly list an alarm the object
        // does not hold (skipped at fire time), but never misses one the object committed.
        let indexed = match (effect, &self.shared.alarms.index) {
            (Some(AlarmEffect::Set { at_ms, .. }), Some(index)) => {
                index.upsert(&self.object, at_ms)
            }
            _ => Ok(()),
        };
        let committed = indexed.and_then(|()| ctx.storage.commit());
        match committed {
            Ok(()) => {
                let commits = self.stats.commits.fetch_add(1, Relaxed) + 1;
                if commits % SIZE_EVERY_COMMITS == 1 {
                    self.stats
                        .storage_bytes
                        .store(ctx.storage.size_bytes(), Relaxed);
                }
                for (reply, result) in out.replies.drain(..) {
                    let _ = reply.send(result);
                }
                for frame in ctx.outgoing.drain(..) {
                    match frame {
                        OutFrame::Send(to, msg) => {
                            self.shared.sockets.send(&self.object.id(), &to, &msg)
                        }
                        OutFrame::Close(ws, code, reason) => {
                            self.shared
                                .sockets
                                .close(&self.object.id(), ws, code, &reason)
                        }
                    }
                }
                self.apply_alarm(effect);
            }
            Err(e) => {
                let msg = format!("commit failed, nothing of this batch was stored: {e}");
                self.abandon(ctx, &mut out, || Error::ObjectReset(msg.clone()));
            }
        }
        out.crashed
    }

    /// Throws a batch away: rolls its writes back, answers its requests with `why`, drops
    /// its frames, and reschedules the alarm storage still holds.
    fn abandon(&self, ctx: &mut Context, out: &mut Outbox, why: impl Fn() -> Error) {
        ctx.storage.rollback();
        out.crashed = true;
        ctx.outgoing.clear();
        for (reply, result) in out.replies.drain(..) {
            if let Ok(r) = result {
                self.drop_accepted(r.accepted);
            }
            let _ = reply.send(Err(why()));
        }
        // The alarm row rolled back with the batch, so a pending alarm still stands:
        // reschedule what storage holds.
        if let Ok(Some(at_ms)) = ctx.storage.alarm() {
            self.apply_alarm(Some(AlarmEffect::Set {
                at_ms,
                retry_count: 0,
            }));
        }
    }

    /// A turn went past the CPU budget: as in production the object is reset. The batch is
    /// thrown away (its requests get the CPU-limit error) and its sockets are closed with
    /// [`RESET_CLOSE_CODE`]; the next event constructs the object again from storage.
    fn reset_after_cpu_limit(&self, ctx: &mut Context, out: &mut Outbox, budget: Duration) {
        let budget_ms = budget.as_millis() as u64;
        self.abandon(ctx, out, || Error::CpuExceeded { budget_ms });
        let id = self.object.id();
        let reason = "the object exceeded its CPU time limit and was reset";
        for socket in self.shared.sockets.ids(&id, None) {
            self.shared
                .sockets
                .close(&id, socket, RESET_CLOSE_CODE, reason);
        }
    }

    fn fail_batch(&self, batch: impl Iterator<Item = Envelope>, why: &str) {
        self.stats.resets.fetch_add(1, Relaxed);
        for env in batch {
            match env {
                Envelope::Fetch { reply, .. } => {
                    let _ = reply.send(Err(Error::ObjectReset(why.to_string())));
                }
                // The socket stays open; the event is lost with the reset, as a crashed
                // handler would lose it.
                Envelope::Socket { .. } => {}
                Envelope::Alarm {
                    scheduled_ms,
                    retry_count,
                    ..
                } => {
                    // Not run: put it back so it is not lost.
                    self.shared.alarms.defer(Due {
                        object: self.object.clone(),
                        scheduled_ms,
                        fire_at_ms: scheduled_ms,
                        retry_count,
                    });
                }
                Envelope::Stall { .. } => {}
            }
        }
    }

    /// Leaves memory if nothing is waiting. Under the directory lock: remove the entry,
    /// close the mailbox and park RAM-only storage, so no sender reaches this task afterwards
    /// and the next request starts a fresh task that finds the parked database.
    fn try_evict(&mut self, ctx: &mut Context) -> bool {
        let mut live = self.shared.lock_live();
        if !self.rx.is_empty() {
            return false;
        }
        live.remove(&self.object.id());
        self.rx.close();
        self.shared.residency.leave(&self.object.id());
        self.stats.left_memory();
        self.stats
            .forget_name_below(self.shared.keeps_names_below());
        self.stats.evictions.fetch_add(1, Relaxed);
        if self.shared.sockets.count(&self.object.id()) > 0 {
            self.stats.hibernated();
        }
        let storage = self.park(ctx);
        drop(live);
        // A file-backed database closes outside the lock (closing may checkpoint the WAL).
        drop(storage);
        true
    }

    /// Hands a RAM-only database to the runtime so the next instance finds it (call under
    /// the directory lock); hands a file-backed one back to be closed.
    fn park(&self, ctx: &mut Context) -> Option<Storage> {
        let storage = std::mem::replace(&mut ctx.storage, Storage::placeholder());
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
        let mut batch = Vec::new();
        while let Some(env) = self.rx.recv().await {
            batch.push(env);
        }
        self.fail_batch(batch.into_iter(), &why);
    }
}
