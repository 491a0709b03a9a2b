//! The one executor loop for every load model. Workers (one per connection / virtual user)
//! claim the next planned index from a shared atomic cursor, sleep until its intended instant,
//! send, and record into their shard; a collector merges the shards every tick (~4 Hz) and
//! publishes a `Snapshot` on a `watch`. Every run is bounded in count and time and stops by
//! itself. Workers run on lanes (`lanes`: a current-thread runtime per core, each with its own
//! pacer); the collector and the sessions' readers on the caller's runtime.
//!
//! The books of an open-model send (wrk2's and oha's `--latency-correction` rule):
//! - a send whose intended time comes while every connection is busy is *queued*: it goes
//!   out on the first free connection and keeps its intended time, so its wait is in its
//!   latency; the wait itself is booked as `queue_wait`;
//! - a queued send that could not start within the request timeout is a *timeout* error
//!   whose latency (≥ the timeout) is recorded: no stalled request leaves the latency;
//! - *lateness* is the generator's own delay: actual send − the later of the intended time
//!   and the moment a connection was free (never the wait for a connection);
//! - a send due within the pacer's slack (100 µs) of a wake-up goes out with that wake-up's
//!   batch, a little early: its latency counts from the earlier of its intended time and its
//!   actual send (never below its service time), its lateness is zero;
//! - *missed* is only what the generator itself failed to send: its own delay exceeded the
//!   timeout, or the run was stopped (signal, hard time bound) with sends still planned;
//! - `requests + missed = planned`, always.
//!
//! WebSocket workloads (chat) go through the same loop: the source names sessions, which the
//! executor opens before the start instant and owns; a planned send with `session` set is a
//! text frame on that session, stamped `@<index>.<sent µs>;` ahead of the source's body, with
//! the same intended time, queueing, lateness and missed books as an HTTP request. One reader
//! task per session hands every arriving frame to the source; a frame that carries one of the
//! run's stamps is a *delivery*, timed from its send's intended time (never the actual send:
//! a late sender cannot hide). A source with a frame format of its own (a user's chat API)
//! renders the intended time into its frames itself (`request_at`), gets no stamp, and names
//! the send a frame delivers ([`Frame::Message`]). After the last send the executor waits, at most one request
//! timeout, for the deliveries the source still expects.
//!
//! Must never hold a shard lock across an await or sleep one request at a time on a timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::aggregate::{Aggregate, Live};
use crate::client::http::{ClientConfig, HttpConn, RequestError};
use crate::client::ws::WsReceiver;
use crate::cpu;
use crate::error::{Error, Result};
use crate::lanes::{self, Lane};
use crate::pacer::{Pacer, SLACK};
use crate::recorder::{ErrorKind, Outcome, Recorder, Sample, Tracking};
use crate::request::{Frame, RequestSource, RequestSpec, Response};
use crate::schedule::{ClosedModel, OpenPlan, Schedule, Segment};
use crate::session::{self, Session};
use crate::snapshot::Snapshot;

/// Everything the executor needs besides the request source.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub schedule: Schedule,
    /// Which interleaved segment of the schedule this process runs.
    pub segment: Segment,
    /// Open model: workers (= connections = max requests in flight). Closed model: ignored
    /// (one worker per virtual user).
    pub max_in_flight: usize,
    /// Per-request bound (connect + send + whole response), and the longest an open-model
    /// send may wait for a free connection before it is booked as a timeout.
    pub timeout: Duration,
    pub client: ClientConfig,
    /// Snapshot period.
    pub tick: Duration,
    /// Open every worker's connection before the start instant (and fail fast with
    /// `Error::Unreachable` when none can connect).
    pub preconnect: bool,
    /// Objects that keep a latency histogram (the ones with most requests); every object
    /// keeps exact counts whatever this says.
    pub track_objects: usize,
    /// The shared start instant (wall clock) of a run split across machines: the schedule's
    /// offsets count from it, so a process that reaches it late sends late and books it
    /// (lateness, missed), never shifts its plan. `None`: start 20 ms from now.
    pub start_at: Option<SystemTime>,
}

impl RunConfig {
    /// Defaults: whole schedule, 64 in flight, 10 s timeout, HTTP/1.1, 4 Hz.
    pub fn new(schedule: Schedule) -> Self {
        RunConfig {
            schedule,
            segment: Segment::WHOLE,
            max_in_flight: 64,
            timeout: Duration::from_secs(10),
            client: ClientConfig::default(),
            tick: Duration::from_millis(250),
            preconnect: true,
            track_objects: crate::aggregate::DEFAULT_TRACKED_OBJECTS,
            start_at: None,
        }
    }

    /// Planned length of the run (`None`: closed model bounded only by iterations).
    pub fn planned_duration(&self) -> Option<Duration> {
        match &self.schedule {
            Schedule::Open(s) => Some(s.planned_duration()),
            Schedule::Closed(m) => m.duration,
        }
    }
}

/// A run in progress: read `snapshots` for live stats, `wait` for the outcome.
pub struct RunHandle {
    /// The live stats bus (~4 Hz; the last value has `done == true`).
    pub snapshots: watch::Receiver<Snapshot>,
    task: JoinHandle<Result<RunOutcome>>,
}

impl RunHandle {
    /// Waits for the run to end (by plan, hard time bound, or cancellation).
    pub async fn wait(self) -> Result<RunOutcome> {
        self.task
            .await
            .map_err(|e| Error::InvalidPlan(format!("executor task failed: {e}")))?
    }
}

/// What a finished run leaves behind.
pub struct RunOutcome {
    /// The final snapshot (`done == true`).
    pub snapshot: Snapshot,
    /// Cumulative histograms, per-second intervals and per-object per-second counts.
    pub aggregate: Aggregate,
    /// Wall-clock time the schedule started.
    pub started_at: SystemTime,
    /// From the start instant to the last completion (or stop).
    pub elapsed: Duration,
    /// Average planned rate (open model) or achieved send rate (closed model).
    pub offered_rps: f64,
    /// True when the run was stopped by its token or its hard time bound.
    pub stopped_early: bool,
    /// Deliveries each send was expected to make (the source's fan-out; 0 for requests).
    pub fan_out: f64,
    /// How far past its start instant the executor was ready to send (zero when it was ready
    /// before it): a split run's segment that started late.
    pub start_late: Duration,
}

enum Plan {
    Open(OpenPlan),
    Closed {
        model: ClosedModel,
        segment: Segment,
    },
}

struct Ticket {
    global: u64,
    intended: Instant,
}

/// State shared by workers and the collector. The cursor and counters are atomics; the
/// only locks are the per-shard recorder mutexes (each taken by a few workers for a few
/// hundred ns, and by the collector once per tick).
struct Shared {
    plan: Plan,
    start: Instant,
    next: AtomicU64,
    sent: AtomicU64,
    missed: AtomicU64,
    in_flight: AtomicU64,
    timeout: Duration,
    source: Arc<dyn RequestSource>,
    shards: Vec<Mutex<Recorder>>,
    stop: CancellationToken,
    /// The threads this run's workers, session readers and collector ran on (the
    /// generator's CPU).
    threads: cpu::ThreadSet,
    /// The source's WebSocket sessions (empty for HTTP workloads).
    sessions: Vec<Session>,
    /// `start` as µs since the Unix epoch (intended times handed to `request_at`).
    start_unix_us: u64,
    /// The source's frames carry the executor's stamp.
    stamps: bool,
}

impl Shared {
    /// The next send of this worker, `now` being the moment it asks.
    fn claim(&self, own_iterations: &mut u64, now: Instant) -> Option<Ticket> {
        if self.stop.is_cancelled() {
            return None;
        }
        match &self.plan {
            Plan::Open(plan) => {
                // In order, never skipped: a send due while every worker was busy is taken
                // by the first worker to come free (it is then *queued*).
                let i = self.next.fetch_add(1, Ordering::AcqRel);
                if i >= plan.len() {
                    return None;
                }
                let t = plan.send_time(i)?;
                Some(Ticket {
                    global: plan.global(i),
                    intended: self.start + t,
                })
            }
            Plan::Closed { model, segment } => {
                if model.duration.is_some_and(|d| now >= self.start + d) {
                    return None;
                }
                if model.iterations.is_some_and(|n| *own_iterations >= n) {
                    return None;
                }
                *own_iterations += 1;
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                Some(Ticket {
                    global: segment.global(i),
                    intended: now.max(self.start),
                })
            }
        }
    }

    /// Intended offset of global index `global` (open model), for timing its deliveries.
    fn intended_offset(&self, global: u64) -> Option<Duration> {
        match &self.plan {
            Plan::Open(p) => p.schedule.send_time(global),
            Plan::Closed { .. } => None,
        }
    }

    /// `at` as µs since the Unix epoch (by the run's one mapping of `start`).
    fn unix_us(&self, at: Instant) -> u64 {
        let after = at.saturating_duration_since(self.start).as_micros() as u64;
        let before = self.start.saturating_duration_since(at).as_micros() as u64;
        (self.start_unix_us + after).saturating_sub(before)
    }

    /// The instant of `us` µs since the Unix epoch (inverse of [`Shared::unix_us`]).
    fn instant_of_unix_us(&self, us: u64) -> Instant {
        if us >= self.start_unix_us {
            self.start + Duration::from_micros(us - self.start_unix_us)
        } else {
            let before = Duration::from_micros(self.start_unix_us - us);
            self.start.checked_sub(before).unwrap_or(self.start)
        }
    }

    /// Sends one session frame, stamped with its global index and send offset (unless the
    /// source has a frame format of its own).
    async fn send_frame(
        &self,
        session: u32,
        spec: &RequestSpec,
        global: u64,
        sent: Instant,
    ) -> std::result::Result<(), RequestError> {
        let Some(s) = self.sessions.get(session as usize) else {
            return Err(RequestError {
                kind: ErrorKind::Other,
                message: format!("no session {session}"),
            });
        };
        let sent_us = sent.saturating_duration_since(self.start).as_micros();
        let stamp = self.stamps.then_some((global, sent_us));
        s.send(session, spec, stamp).await
    }

    /// Books a frame that arrived on `session` at `arrived`.
    fn on_frame(&self, session: u32, text: &str, arrived: Instant) {
        let timed = match self.source.frame(session, text) {
            Frame::Delivery { body } => session::parse_stamp(&body).map(|(global, sent_us)| {
                // From the intended send, or the actual one when it went out early with a batch.
                let sent = Duration::from_micros(sent_us);
                let offset = self.intended_offset(global).map_or(sent, |o| o.min(sent));
                arrived.saturating_duration_since(self.start + offset)
            }),
            Frame::Message {
                global,
                intended_unix_us,
            } => match intended_unix_us {
                Some(us) => Some(self.instant_of_unix_us(us)),
                None => self.intended_offset(global).map(|o| self.start + o),
            }
            .map(|intended| arrived.saturating_duration_since(intended)),
            Frame::Other => None,
        };
        let mut shard = self.lock_shard(session as usize);
        match timed {
            Some(latency) => shard.record_delivery(latency),
            None => shard.record_other_frame(),
        }
    }

    fn lock_shard(&self, id: usize) -> std::sync::MutexGuard<'_, Recorder> {
        self.shards[id % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves every shard's contents into `delta` (which is reset first); each shard gets a
    /// fresh recorder that keeps object latency as `tracking` says.
    fn collect(&self, delta: &mut Recorder, spare: &mut Recorder, tracking: &Tracking) {
        delta.reset();
        for shard in &self.shards {
            spare.tracking = tracking.clone();
            std::mem::swap(
                &mut *shard.lock().unwrap_or_else(PoisonError::into_inner),
                spare,
            );
            delta.add(spare);
            spare.reset();
        }
    }
}

/// One worker on its lane: `pacer` is the lane's (open model only; `None`: tokio's timer).
async fn worker(id: usize, sh: Arc<Shared>, mut conn: HttpConn, pacer: Option<Arc<Pacer>>) {
    let (think, is_open) = match &sh.plan {
        Plan::Closed { model, .. } => (model.think, false),
        Plan::Open(_) => (Duration::ZERO, true),
    };
    let mut iterations = 0;
    // Free since before the start instant: a worker task first polled late is the
    // generator's own delay (lateness), never a wait for a connection (queued).
    let mut free_since = Some(sh.start);
    // One stop future for the worker's life: polling a fresh `cancelled()` per request
    // would register (and unregister) a waiter under the token's lock every time.
    let stopped = sh.stop.cancelled();
    tokio::pin!(stopped);
    loop {
        // This worker's connection is free from here on.
        let now = Instant::now();
        let free_at = free_since.take().map_or(now, |s| s.min(now));
        sh.threads.note_current();
        let Some(ticket) = sh.claim(&mut iterations, now) else {
            break;
        };
        let queue_wait = (is_open && free_at > ticket.intended).then(|| free_at - ticket.intended);
        let wait = ticket.intended.saturating_duration_since(free_at);
        // Due within the pacer's slack: it goes now, with the batch (a little early).
        let slept = wait > SLACK;
        if slept {
            // Open model: the pacer wakes us on time, with every other send then due (tokio's
            // timer is 1 ms coarse, the fallback when there is no pacer).
            tokio::select! {
                biased;
                _ = &mut stopped => return,
                _ = async {
                    match &pacer {
                        Some(p) => p.until(ticket.intended.into_std()).await,
                        None => sleep_until(ticket.intended).await,
                    }
                } => {}
            }
        }
        // When the send could go: its intended time, or when a connection came free.
        let ready = ticket.intended.max(free_at);
        let now = if slept {
            sh.threads.note_current();
            Instant::now()
        } else {
            now
        };
        if is_open && now.saturating_duration_since(ready) >= sh.timeout {
            // The generator itself could not send within a timeout of when it could have
            // (its threads starved): the one kind of send booked as missed.
            sh.missed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let intended_us = sh.unix_us(ticket.intended);
        let spec = sh.source.request_at(id, ticket.global, intended_us);
        if is_open && now.saturating_duration_since(ticket.intended) >= sh.timeout {
            // Waited for a connection for a whole timeout: a timeout error, with its wait as
            // latency, never dropped.
            let sample = Sample {
                op: &spec.op,
                object: spec.object.as_ref(),
                lateness: Duration::ZERO,
                service: None,
                latency: now - ticket.intended,
                queue_wait,
                outcome: Outcome::Failed(ErrorKind::Timeout),
            };
            sh.lock_shard(id).record(&sample);
            sh.source.unsent(ticket.global, &spec);
            // No await on this path: let the collector and the other workers run (a backlog
            // of millions would otherwise hold the thread until it is drained).
            tokio::task::yield_now().await;
            continue;
        }
        let sent = Instant::now();
        sh.sent.fetch_add(1, Ordering::Relaxed);
        sh.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            biased;
            r = tokio::time::timeout(sh.timeout, send(&sh, &mut conn, &spec, ticket.global, sent)) => r,
            _ = &mut stopped => {
                // Abandoned mid-flight by an early stop: not a completed request.
                sh.in_flight.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        let done = Instant::now();
        let outcome = match &result {
            Ok(Ok(Some(resp))) => Outcome::from_http(resp),
            Ok(Ok(None)) => Outcome::Frame,
            Ok(Err(RequestError { kind, .. })) => Outcome::Failed(*kind),
            Err(_) => {
                conn.reset();
                Outcome::Failed(ErrorKind::Timeout)
            }
        };
        let sample = Sample {
            op: &spec.op,
            object: spec.object.as_ref(),
            lateness: sent.saturating_duration_since(ready),
            service: Some(done - sent),
            // From the intended time, or from the send when it went out early with a batch
            // (never less than the service time).
            latency: done - ticket.intended.min(sent),
            queue_wait,
            outcome,
        };
        sh.lock_shard(id).record(&sample);
        sh.in_flight.fetch_sub(1, Ordering::Relaxed);
        match &result {
            Ok(Ok(Some(resp))) => sh.source.observe_as(id, ticket.global, &spec, resp),
            Ok(Ok(None)) => sh.source.frame_sent(ticket.global, &spec),
            _ => {}
        }
        if !think.is_zero() {
            tokio::select! {
                biased;
                _ = &mut stopped => return,
                _ = tokio::time::sleep(think) => {}
            }
        }
    }
}

/// One send: an HTTP request on the worker's connection (`Some(response)`), or a text frame
/// on the request's session (`None`).
async fn send(
    sh: &Shared,
    conn: &mut HttpConn,
    spec: &RequestSpec,
    global: u64,
    sent: Instant,
) -> std::result::Result<Option<Response>, RequestError> {
    match spec.session {
        None => conn.send(spec).await.map(Some),
        Some(s) => sh.send_frame(s, spec, global, sent).await.map(|()| None),
    }
}

/// Reads session `index` until the run's readers stop, booking every frame.
async fn read_session(sh: Arc<Shared>, index: u32, rx: WsReceiver, stop: CancellationToken) {
    let s = &sh.sessions[index as usize];
    let on_frame = |text: &str, arrived: Instant| {
        sh.threads.note_current();
        sh.on_frame(index, text, arrived);
    };
    s.read(index, rx, &stop, sh.timeout, sh.source.as_ref(), on_frame)
        .await;
}

/// Starts a run on the current tokio runtime. Returns at once; the run stops by itself when
/// its plan is done, at its hard time bound, or when `cancel` fires.
pub fn start(
    config: RunConfig,
    source: Arc<dyn RequestSource>,
    cancel: CancellationToken,
) -> Result<RunHandle> {
    let plan = match &config.schedule {
        Schedule::Open(s) => {
            s.validate()?;
            Plan::Open(s.clone().segment(config.segment))
        }
        Schedule::Closed(m) => {
            m.validate()?;
            Plan::Closed {
                model: m.clone(),
                segment: config.segment,
            }
        }
    };
    if config.max_in_flight == 0 {
        return Err(Error::InvalidPlan(
            "max in-flight must be at least 1".into(),
        ));
    }
    let (tx, rx) = watch::channel(Snapshot::default());
    let task = tokio::spawn(run(config, plan, source, cancel, tx));
    Ok(RunHandle {
        snapshots: rx,
        task,
    })
}

async fn run(
    config: RunConfig,
    plan: Plan,
    source: Arc<dyn RequestSource>,
    cancel: CancellationToken,
    tx: watch::Sender<Snapshot>,
) -> Result<RunOutcome> {
    let workers = match &plan {
        Plan::Open(p) => (config.max_in_flight as u64).min(p.len()) as usize,
        Plan::Closed { model, segment } => model.users_in(*segment) as usize,
    };
    let (planned_requests, planned) = match &plan {
        Plan::Open(p) => (Some(p.len()), p.schedule.planned_duration()),
        Plan::Closed { model, .. } => (None, model.duration.unwrap_or_default()),
    };
    // Each worker, its connection and its pacer live on one lane (a current-thread runtime
    // per core); the collector and the sessions' readers stay on the caller's runtime.
    let lanes =
        lanes::start(lane_count(&plan, workers)).map_err(|e| Error::Threads(e.to_string()))?;
    let conns = open_connections(&config, source.as_ref(), workers, &lanes).await?;
    let opened =
        session::open_all(source.as_ref(), config.timeout, config.client.tls.as_ref()).await?;
    let (sessions, receivers): (Vec<Session>, Vec<Option<WsReceiver>>) = opened.into_iter().unzip();
    let (fan_out, rate_unit) = (source.fan_out(), source.rate_unit());
    let source_stamps = source.stamps_frames();

    let stop = cancel.child_token();
    let (start, started_at) = start_instant(config.start_at);
    let start_late = Instant::now().saturating_duration_since(start);
    let pacers: Vec<Option<Arc<Pacer>>> = lanes
        .iter()
        .map(|lane| match &plan {
            Plan::Open(_) => start_pacer(lane),
            Plan::Closed { .. } => None,
        })
        .collect();
    let shard_count = workers.clamp(1, 2 * cpu::cores());
    let shared = Arc::new(Shared {
        plan,
        start,
        next: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        missed: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        timeout: config.timeout,
        source,
        shards: (0..shard_count)
            .map(|_| Mutex::new(Recorder::new()))
            .collect(),
        stop: stop.clone(),
        threads: cpu::ThreadSet::new(),
        sessions,
        start_unix_us: started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64),
        stamps: source_stamps,
    });
    shared.threads.note_current();
    let mut set = JoinSet::new();
    for (id, conn) in conns.into_iter().enumerate() {
        let lane = id % lanes.len();
        let pacer = pacers[lane].clone();
        set.spawn_on(
            worker(id, shared.clone(), conn, pacer),
            lanes[lane].handle(),
        );
    }
    let readers_stop = CancellationToken::new();
    let mut readers = JoinSet::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        if let Some(rx) = rx {
            readers.spawn(read_session(
                shared.clone(),
                i as u32,
                rx,
                readers_stop.clone(),
            ));
        }
    }
    // Hard bound: the plan, plus one timeout for the last requests, plus a second of slack.
    // With sessions, one more timeout for the last deliveries to arrive.
    let timeouts = if shared.sessions.is_empty() { 1 } else { 2 };
    let hard_bound = config
        .planned_duration()
        .map(|d| d + config.timeout * timeouts + Duration::from_secs(1));
    let deadline = hard_bound.map(|b| start + b);

    let cpu0 = shared.threads.usage();
    let wall0 = Instant::now();
    let mut agg = Aggregate::tracking_objects(config.track_objects);
    let initial = agg.tracking();
    for shard in &shared.shards {
        shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tracking = initial.clone();
    }
    let (mut delta, mut spare) = (Recorder::new(), Recorder::new());
    let mut ticker = tokio::time::interval_at(start + config.tick, config.tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut stopped_early = false;
    let live = |done: bool, now: Instant| {
        let elapsed = now.saturating_duration_since(start);
        let offered_so_far = match &shared.plan {
            Plan::Open(p) => p.count_before(elapsed),
            Plan::Closed { .. } => shared.sent.load(Ordering::Relaxed),
        };
        let shares = cpu::Shares::between(
            &cpu0,
            &shared.threads.usage(),
            now.saturating_duration_since(wall0),
        );
        let sent = shared.sent.load(Ordering::Relaxed);
        let missed = shared.missed.load(Ordering::Relaxed);
        Live {
            elapsed,
            planned,
            planned_requests,
            offered_so_far,
            sent,
            missed,
            in_flight: shared.in_flight.load(Ordering::Relaxed),
            cpu_pct: shares.cpu_pct,
            busy_pct: shares.busy_pct,
            done,
            fan_out,
            rate_unit,
        }
    };
    // Set once every worker is done while deliveries are still expected: the drain's end.
    let mut drain_until: Option<Instant> = None;
    let mut workers_done = false;
    let end = loop {
        tokio::select! {
            _ = ticker.tick() => {
                shared.threads.note_current();
                let now = Instant::now();
                shared.collect(&mut delta, &mut spare, &agg.tracking());
                agg.push(&delta, now.saturating_duration_since(start));
                tx.send_replace(agg.snapshot(&live(false, now)));
                if let Some(until) = drain_until {
                    if shared.source.awaiting() == 0 || now >= until || stop.is_cancelled() {
                        break now;
                    }
                }
            }
            joined = set.join_next(), if !workers_done => {
                if joined.is_none() {
                    workers_done = true;
                    if shared.sessions.is_empty()
                        || stop.is_cancelled()
                        || shared.source.awaiting() == 0
                    {
                        break Instant::now();
                    }
                    drain_until = Some(Instant::now() + config.timeout);
                }
            }
            _ = sleep_until(deadline.unwrap_or(start)), if deadline.is_some() && !stop.is_cancelled() => {
                tracing::warn!("run hit its hard time bound; stopping");
                stopped_early = true;
                stop.cancel();
            }
            _ = stop.cancelled(), if !stopped_early => {
                stopped_early = true;
                if workers_done {
                    break Instant::now();
                }
            }
        }
    };
    readers_stop.cancel();
    close_sessions(&shared, &mut readers).await;
    shared.collect(&mut delta, &mut spare, &agg.tracking());
    agg.push(&delta, end.saturating_duration_since(start));
    agg.finish();
    let mut last = live(true, end);
    if let Some(planned) = planned_requests {
        // Whatever was planned and did not end as a request was not sent by the generator:
        // stopped before its time, or abandoned in flight by the stop. `requests + missed =
        // planned`, always.
        last.missed = planned.saturating_sub(agg.total.requests);
    }
    let snapshot = agg.snapshot(&last);
    tx.send_replace(snapshot.clone());
    let elapsed = end.saturating_duration_since(start);
    let offered_rps = match &shared.plan {
        Plan::Open(p) if !planned.is_zero() => p.len() as f64 / planned.as_secs_f64(),
        _ => snapshot.offered_rps,
    };
    Ok(RunOutcome {
        snapshot,
        aggregate: agg,
        started_at,
        elapsed,
        offered_rps,
        stopped_early,
        fan_out,
        start_late,
    })
}

/// The run's start as a monotonic instant and a wall-clock time: `at` (possibly in the past)
/// or 20 ms from now.
fn start_instant(at: Option<SystemTime>) -> (Instant, SystemTime) {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match at {
        None => (
            now + Duration::from_millis(20),
            wall + Duration::from_millis(20),
        ),
        Some(at) => match at.duration_since(wall) {
            Ok(ahead) => (now + ahead, at),
            Err(past) => (now.checked_sub(past.duration()).unwrap_or(now), at),
        },
    }
}

/// Closes every session (a close frame each, bounded) and waits briefly for its reader.
async fn close_sessions(sh: &Shared, readers: &mut JoinSet<()>) {
    session::close_all(&sh.sessions).await;
    if tokio::time::timeout(Duration::from_secs(2), async {
        while readers.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        readers.abort_all();
    }
}

/// One connection per worker (worker `id`'s opened on lane `id % lanes`, whose reactor then
/// serves it); connected up front when `preconnect` is set. Fails with `Error::Unreachable`
/// only when *every* attempt failed (one clear error, not a flood).
async fn open_connections(
    config: &RunConfig,
    source: &dyn RequestSource,
    workers: usize,
    lanes: &[Lane],
) -> Result<Vec<HttpConn>> {
    let fresh = (0..workers).map(|_| HttpConn::new(config.client.clone()));
    if !config.preconnect || workers == 0 {
        return Ok(fresh.collect());
    }
    let first = source.request(0);
    // Built only for its URL, never sent: the source must not book it as a send (a counter
    // would count it among its unanswered increments, once per segment of a split run).
    source.unsent(0, &first);
    if first.session.is_some() {
        // Its sends go on sessions: the HTTP connections stay unopened.
        return Ok(fresh.collect());
    }
    let url = first.url;
    // At most 64 handshakes at once in all: a listener's accept backlog is finite.
    let n = lanes.len();
    let at_once = (64 / n).max(1);
    let mut per_lane = Vec::with_capacity(n);
    for lane in 0..n {
        let (url, client) = (url.clone(), config.client.clone());
        per_lane.push(lanes::run_on(lanes, lane, async move {
            let mine = (lane..workers).step_by(n);
            futures_util::stream::iter(mine.map(|id| {
                let (url, mut c) = (url.clone(), HttpConn::new(client.clone()));
                async move {
                    let r = c.connect(&url).await;
                    (id, c, r)
                }
            }))
            .buffer_unordered(at_once)
            .collect::<Vec<_>>()
            .await
        }));
    }
    let mut results = Vec::with_capacity(workers);
    for opened in futures_util::future::join_all(per_lane).await {
        results
            .extend(opened.ok_or_else(|| Error::Threads("a lane failed while connecting".into()))?);
    }
    results.sort_by_key(|(id, _, _)| *id);
    if results.iter().all(|(_, _, r)| r.is_err()) {
        if let Some((_, _, Err(e))) = results.first() {
            return Err(Error::Unreachable {
                target: url.to_string(),
                reason: e.message.clone(),
            });
        }
    }
    Ok(results.into_iter().map(|(_, c, _)| c).collect())
}

/// Planned open-model requests per second one lane is given (a lane's fast path, paced, costs
/// ~8 µs of CPU per request here: 50,000 req/s keep it under half a core busy).
const OPEN_RATE_PER_LANE: f64 = 50_000.0;

/// Lanes for a run: one per core (never more than workers); an open plan gets only one per
/// [`OPEN_RATE_PER_LANE`] of its peak rate, since every lane wakes for its own batches and a
/// paced lane's cost is its wake-ups (at 50,000 req/s, one lane took ~30 % less CPU per
/// request than two).
fn lane_count(plan: &Plan, workers: usize) -> usize {
    let cores = cpu::cores();
    let wanted = match plan {
        Plan::Open(p) => {
            let n = (p.peak_rate() / OPEN_RATE_PER_LANE).ceil();
            if n.is_finite() {
                n as usize
            } else {
                cores
            }
        }
        Plan::Closed { .. } => cores,
    };
    wanted.clamp(1, cores).min(workers.max(1))
}

/// The pacer of one lane: its timer in that lane's reactor, its driver on that lane.
fn start_pacer(lane: &Lane) -> Option<Arc<Pacer>> {
    let _on_lane = lane.handle().enter();
    Pacer::start()
        .map(Arc::new)
        .map_err(|e| tracing::warn!("no pacer timer ({e}); using tokio timers"))
        .ok()
}
