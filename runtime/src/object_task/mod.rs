//! The task of one live object: owns the instance, its storage and its mailbox's receiving
//! end, and runs its turns (fetches, calls, alarms, socket events) on this one task, polling
//! one at a time. The input gate: a new event starts only while every running turn is
//! parked at an await that lets others in (another object, a timer) and none holds a
//! `block_concurrency` section; storage calls are synchronous and never let anyone in.
//! Whatever ran between two commit points shares one transaction (group commit); answers,
//! frames and outgoing calls are released only after it commits (the output gate). A failed
//! commit resets the object and fails what it held with 5xx — never a 200. Never polls two
//! turns at once and never lets anything out before the writes made before it are durable.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::alarm::Due;
use crate::ceiling::ServiceClock;
use crate::config::DataDir;
use crate::context::{Context, Core};
use crate::error::Error;
use crate::mailbox::{Envelope, Inbox};
use crate::object::AnyObject;
use crate::registry::Constructor;
use crate::residency::TaskControl;
use crate::runtime::{ObjectRef, Runtime, Shared};
use crate::sockets::Accepted;
use crate::stats::ObjectStats;
use crate::storage::Storage;
use std::panic::{catch_unwind, AssertUnwindSafe};

mod alarm_turn;
mod commit;
mod turns;

use turns::{Answer, InFlight, Step};

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
    /// Receiving end of the mailbox (taken by `run`); the sender lives in the runtime's
    /// directory entry.
    inbox: Option<Inbox>,
    clock: ServiceClock,
    /// Fault injection: hold the next turn this long.
    stall_next: Option<Duration>,
    /// What the runtime asks of this task (close the database, leave memory); the other
    /// end is held by the runtime's residency bookkeeping.
    control: Arc<TaskControl>,
    /// No commit since the task started: turns admitted now brought the object into memory.
    cold: bool,
    /// The last turn id handed out (the gate's 0 means nobody).
    next_turn: u64,
    /// A turn wrote since the last commit point.
    written_since_commit: bool,
}

/// Close code for the sockets of an object reset after going past its CPU budget (1011:
/// the server met a condition that kept it from fulfilling the request).
pub const RESET_CLOSE_CODE: u16 = 1011;

fn over_budget_message(shared: &Shared) -> String {
    Error::CpuExceeded {
        budget_ms: shared.config.cpu_budget.unwrap_or_default().as_millis() as u64,
    }
    .to_string()
}

/// What the turns since the last commit produced that may leave only after it.
#[derive(Default)]
struct Outbox {
    answers: Vec<Answer>,
    /// Alarm-turn permits, released once the turn's effects are settled.
    permits: Vec<OwnedSemaphorePermit>,
    /// A turn panicked: the instance is rebuilt after the commit.
    crashed: bool,
    /// A turn went past the CPU budget: everything since the last commit is thrown away.
    over_budget: bool,
    /// Turns admitted since the last commit.
    admitted: usize,
}

/// What the idle wait came to.
enum Idle {
    Event(Envelope),
    /// Woken for something else; look again.
    Again,
    /// The object left memory.
    Left,
    /// The mailbox is closed and empty.
    Closed,
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
            inbox: Some(rx),
            clock,
            stall_next: None,
            control: Arc::default(),
            cold: true,
            next_turn: 0,
            written_since_commit: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let Some(mut rx) = self.inbox.take() else {
            return;
        };
        let mut storage = match self.shared.open_storage(&self.object.id()) {
            Ok(s) => s,
            Err(e) => return self.refuse_all(rx, e).await,
        };
        // A size measured in an earlier stay means the file is there (only a database that
        // was never written is removed, and its size stays 0).
        if self.stats.storage_bytes.load(Relaxed) > 0 {
            storage.known_to_exist();
        }
        let core = Arc::new(Core::new(
            self.object.clone(),
            storage,
            self.shared.sockets.clone(),
            self.shared.config.attachment_limit,
            Runtime {
                shared: self.shared.clone(),
            },
        ));
        self.stats.became_resident();
        let id = self.object.id();
        self.shared.residency.touch(id, &self.control, false);
        let mut instance: Option<Arc<dyn AnyObject>> = None;
        let mut closing = false;
        loop {
            let first = match self.idle(&core, &mut rx, &mut closing).await {
                Idle::Event(env) => env,
                Idle::Again => continue,
                Idle::Left => {
                    drop(instance);
                    return;
                }
                Idle::Closed => break,
            };
            // Billed duration: wall-clock time with work in flight, from the first event
            // (clock waits included) until the last answer is released.
            let busy_since = Instant::now();
            self.busy(&core, &mut rx, &mut instance, &mut closing, first)
                .await;
            let with_sockets = self.shared.sockets.count(&id) > 0;
            self.stats.bill(busy_since.elapsed(), with_sockets);
            let open = core.tx().storage.is_open();
            self.shared.residency.touch(id, &self.control, open);
        }
        self.stats.left_memory();
        self.shared.residency.leave(&id);
        drop(instance);
        let live = self.shared.lock_live();
        let storage = self.park(&core);
        drop(live);
        drop(storage);
    }

    /// Waits for the next event with nothing in flight, doing what the runtime asks
    /// meanwhile (close the database, leave memory, shut down).
    async fn idle(&mut self, core: &Core, rx: &mut Inbox, closing: &mut bool) -> Idle {
        let as_event = |msg: Option<Envelope>| msg.map_or(Idle::Closed, Idle::Event);
        if *closing {
            return as_event(rx.recv().await);
        }
        // With sockets open the object hibernates (its sockets stay with the runtime);
        // without, it is evicted after the longer idle timeout.
        let idle = if self.shared.sockets.count(&self.object.id()) > 0 {
            self.shared.config.hibernate_after
        } else {
            self.shared.config.idle_timeout
        };
        tokio::select! {
            msg = rx.recv() => as_event(msg),
            _ = self.control.wake.notified() => {
                if self.act_on_requests(core, rx) { Idle::Left } else { Idle::Again }
            }
            _ = tokio::time::sleep(idle) => {
                if self.try_evict(core, rx) { Idle::Left } else { Idle::Again }
            }
            _ = self.shared.shutdown.cancelled() => {
                // Take nothing new; what is already queued still runs and commits.
                *closing = true;
                rx.close();
                Idle::Again
            }
        }
    }

    /// Runs turns from `first` until nothing is in flight and everything is committed:
    /// admits what waits while the input gate is open, commits at each point where every
    /// running turn is parked, and resumes parked turns as what they await arrives.
    async fn busy(
        &mut self,
        core: &Arc<Core>,
        rx: &mut Inbox,
        instance: &mut Option<Arc<dyn AnyObject>>,
        closing: &mut bool,
        first: Envelope,
    ) {
        let mut turns: Vec<InFlight> = Vec::new();
        let mut out = Outbox::default();
        let mut next = Some(first);
        let mut drained = false;
        let shutdown = self.shared.shutdown.clone();
        loop {
            while let Some(env) = next.take() {
                self.admit(core, instance, &mut turns, &mut out, env).await;
                if self.may_admit(core, &turns, &out) {
                    next = rx.try_recv();
                }
            }
            // Every running turn is parked (or none runs): the commit point.
            self.settle(core, instance, &mut turns, &mut out);
            if turns.is_empty() {
                return;
            }
            if let Err(e) = core.tx().storage.begin() {
                let why = format!("storage failed under turns in flight: {e}");
                Self::drop_in_flight(&mut turns, || Error::ObjectReset(why.clone()));
                self.stats.resets.fetch_add(1, Relaxed);
                *instance = None;
                return;
            }
            let open = !drained && self.may_admit(core, &turns, &out);
            tokio::select! {
                _ = std::future::poll_fn(|cx| {
                    if self.poll_turns(core, &mut turns, cx, &mut out) {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                }) => {}
                msg = rx.recv(), if open => match msg {
                    Some(env) => next = Some(env),
                    None => drained = true,
                },
                _ = shutdown.cancelled(), if !*closing => {
                    *closing = true;
                    rx.close();
                }
            }
        }
    }

    /// The input gate is open to a new event: no turn holds it closed, nothing crashed,
    /// and the group, the turns in flight and the ceiling's clock have room.
    fn may_admit(&self, core: &Core, turns: &[InFlight], out: &Outbox) -> bool {
        core.gate.holder().is_none()
            && !out.crashed
            && !out.over_budget
            && out.admitted < self.shared.config.max_batch
            && turns.len() < self.shared.config.mailbox
            && (out.admitted == 0 || self.clock.ready_at(Instant::now()).is_none())
    }

    /// Starts one event as a turn and polls it once: a turn that never awaits anything but
    /// storage runs to its end here, back to back with the others of its group.
    async fn admit(
        &mut self,
        core: &Arc<Core>,
        instance: &mut Option<Arc<dyn AnyObject>>,
        turns: &mut Vec<InFlight>,
        out: &mut Outbox,
        env: Envelope,
    ) {
        if let Envelope::Stall { hold } = env {
            self.stall_next = Some(hold);
            return;
        }
        if out.admitted == 0 {
            // The first turn of a group waits for the clock; later ones only join if the
            // clock already allows them (`may_admit`).
            if let Some(at) = self.clock.ready_at(Instant::now()) {
                tokio::time::sleep_until(at).await;
            }
        }
        self.clock.book(Instant::now());
        if let Some(hold) = self.stall_next.take() {
            tokio::time::sleep(hold).await;
        }
        if out.over_budget {
            // The object is being reset: what arrives before it is gets the error too.
            return self.fail_batch(std::iter::once(env), &over_budget_message(&self.shared));
        }
        let begun = core.tx().storage.begin();
        if let Err(e) = begun {
            return self.fail_batch(std::iter::once(env), &e.to_string());
        }
        let obj = match instance {
            Some(obj) => obj.clone(),
            None => match self.construct(core) {
                Ok(obj) => instance.insert(obj).clone(),
                Err(why) => {
                    core.tx().storage.rollback();
                    return self.fail_batch(std::iter::once(env), &why);
                }
            },
        };
        out.admitted += 1;
        if out.crashed {
            if let Envelope::Fetch { reply, .. } = env {
                self.stats.turns.fetch_add(1, Relaxed);
                let e = Error::ObjectReset("an earlier turn crashed".into());
                out.answers.push(Answer::Fetch(reply, Err(e)));
            }
            return;
        }
        let Some(mut turn) = self.start(core, &obj, env, out) else {
            return;
        };
        let step = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(self.poll_one(core, &mut turn, cx, out))
        })
        .await;
        match step {
            Step::Parked => turns.push(turn),
            Step::Done(result) => self.finish(core, turn, *result, out),
            Step::Panicked => {}
        }
    }

    /// Builds the instance. Synchronous, so it runs with the input gate closed (what
    /// production's `blockConcurrencyWhile` in a constructor is for).
    fn construct(&self, core: &Arc<Core>) -> std::result::Result<Arc<dyn AnyObject>, String> {
        let mut ctx = Context::new(core.clone(), false);
        match catch_unwind(AssertUnwindSafe(|| (self.ctor)(&mut ctx))) {
            Ok(Ok(obj)) => Ok(Arc::from(obj)),
            Ok(Err(e)) => Err(format!("constructor failed: {e}")),
            Err(_) => Err("constructor panicked".to_string()),
        }
    }

    /// Does what the runtime asked between turns. True if the object left memory.
    fn act_on_requests(&mut self, core: &Core, rx: &mut Inbox) -> bool {
        let asked = self.control.take();
        if asked.leave_memory {
            if self.try_evict(core, rx) {
                return true;
            }
            // Work arrived meanwhile: stay, and be counted as recently used again.
            let open = core.tx().storage.is_open();
            self.shared
                .residency
                .touch(self.object.id(), &self.control, open);
        }
        if asked.close_database && core.tx().storage.close() {
            self.shared.residency.database_closed(&self.object.id());
        }
        false
    }

    /// Forgets a socket accepted by a turn whose answer will not be a 101.
    fn drop_accepted(&self, accepted: Option<Accepted>) {
        if let Some(a) = accepted {
            self.shared.sockets.remove(&self.object.id(), a.socket);
        }
    }

    fn fail_batch(&self, batch: impl Iterator<Item = Envelope>, why: &str) {
        self.stats.resets.fetch_add(1, Relaxed);
        for env in batch {
            match env {
                Envelope::Fetch { reply, .. } => {
                    let _ = reply.send(Err(Error::ObjectReset(why.to_string())));
                }
                Envelope::Call { call } => {
                    let _ = call.reply.send(Err(Error::ObjectReset(why.to_string())));
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
    fn try_evict(&mut self, core: &Core, rx: &mut Inbox) -> bool {
        let mut live = self.shared.lock_live();
        if !rx.is_empty() {
            return false;
        }
        live.remove(&self.object.id());
        rx.close();
        self.shared.residency.leave(&self.object.id());
        self.stats.left_memory();
        self.stats
            .forget_name_below(self.shared.keeps_names_below());
        self.stats.evictions.fetch_add(1, Relaxed);
        if self.shared.sockets.count(&self.object.id()) > 0 {
            self.stats.hibernated();
        }
        let storage = self.park(core);
        drop(live);
        // A file-backed database closes outside the lock (closing may checkpoint the WAL).
        drop(storage);
        true
    }

    /// Hands a RAM-only database to the runtime so the next instance finds it (call under
    /// the directory lock); hands a file-backed one back to be closed.
    fn park(&self, core: &Core) -> Option<Storage> {
        let storage = std::mem::replace(&mut core.tx().storage, Storage::placeholder());
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
    async fn refuse_all(self, mut rx: Inbox, e: Error) {
        let why = e.to_string();
        {
            let mut live = self.shared.lock_live();
            live.remove(&self.object.id());
            rx.close();
        }
        let mut batch = Vec::new();
        while let Some(env) = rx.recv().await {
            batch.push(env);
        }
        self.fail_batch(batch.into_iter(), &why);
    }
}
