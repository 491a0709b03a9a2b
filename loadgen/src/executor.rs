//! The one executor loop for every load model. Workers (one per connection / virtual user)
//! claim the next planned index from a shared atomic cursor, sleep until its intended instant,
//! send, and record into their shard; a collector merges the shards every tick (~4 Hz) and
//! publishes a `Snapshot` on a `watch`. An open-model send that no worker could take within
//! `miss_grace` of its intended time is counted as *missed*, never sent late in silence and
//! never dropped from the books. Every run is bounded in count and time and stops by itself.
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
use crate::cpu;
use crate::error::{Error, Result};
use crate::pacer::Pacer;
use crate::recorder::{ErrorKind, Outcome, Recorder, Sample};
use crate::request::RequestSource;
use crate::schedule::{ClosedModel, OpenPlan, Schedule, Segment};
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
    /// Per-request bound (connect + send + whole response).
    pub timeout: Duration,
    pub client: ClientConfig,
    /// A planned send is *missed* when it could not start within this long after its
    /// intended time (no free worker, or the worker woke too late). Closed model: unused.
    pub miss_grace: Duration,
    /// Snapshot period.
    pub tick: Duration,
    /// Open every worker's connection before the start instant (and fail fast with
    /// `Error::Unreachable` when none can connect).
    pub preconnect: bool,
}

impl RunConfig {
    /// Defaults: whole schedule, 64 in flight, 10 s timeout, HTTP/1.1, 10 ms miss grace, 4 Hz.
    pub fn new(schedule: Schedule) -> Self {
        RunConfig {
            schedule,
            segment: Segment::WHOLE,
            max_in_flight: 64,
            timeout: Duration::from_secs(10),
            client: ClientConfig::default(),
            miss_grace: Duration::from_millis(10),
            tick: Duration::from_millis(250),
            preconnect: true,
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
    miss_grace: Duration,
    timeout: Duration,
    source: Arc<dyn RequestSource>,
    shards: Vec<Mutex<Recorder>>,
    stop: CancellationToken,
    /// Precise wake-ups (open model only; `None` if the thread could not start).
    pacer: Option<Pacer>,
}

impl Shared {
    fn claim(&self, own_iterations: &mut u64) -> Option<Ticket> {
        if self.stop.is_cancelled() {
            return None;
        }
        match &self.plan {
            Plan::Open(plan) => loop {
                let total = plan.len();
                let i = self.next.load(Ordering::Acquire);
                if i >= total {
                    return None;
                }
                let t = plan.send_time(i)?;
                let now = Instant::now().saturating_duration_since(self.start);
                if now > t + self.miss_grace {
                    // Nobody was free when these were due: skip them all at once, as missed.
                    let first_ok = plan.count_before(now - self.miss_grace).clamp(i + 1, total);
                    if self
                        .next
                        .compare_exchange(i, first_ok, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        self.missed.fetch_add(first_ok - i, Ordering::Relaxed);
                    }
                    continue;
                }
                if self
                    .next
                    .compare_exchange(i, i + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(Ticket {
                        global: plan.global(i),
                        intended: self.start + t,
                    });
                }
            },
            Plan::Closed { model, segment } => {
                let now = Instant::now();
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

    fn lock_shard(&self, id: usize) -> std::sync::MutexGuard<'_, Recorder> {
        self.shards[id % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves every shard's contents into `delta` (which is reset first).
    fn collect(&self, delta: &mut Recorder, spare: &mut Recorder) {
        delta.reset();
        for shard in &self.shards {
            std::mem::swap(
                &mut *shard.lock().unwrap_or_else(PoisonError::into_inner),
                spare,
            );
            delta.add(spare);
            spare.reset();
        }
    }
}

async fn worker(id: usize, sh: Arc<Shared>, mut conn: HttpConn) {
    let (think, is_open) = match &sh.plan {
        Plan::Closed { model, .. } => (model.think, false),
        Plan::Open(_) => (Duration::ZERO, true),
    };
    let mut iterations = 0;
    let wake = Arc::new(tokio::sync::Notify::new());
    while let Some(ticket) = sh.claim(&mut iterations) {
        let wait = ticket.intended.saturating_duration_since(Instant::now());
        if wait > Duration::from_micros(20) {
            // Open model: the pacer thread wakes us on time (tokio's timer is 1 ms coarse).
            let paced = sh
                .pacer
                .as_ref()
                .is_some_and(|p| p.wake_at(ticket.intended.into_std(), wake.clone()));
            tokio::select! {
                _ = wake.notified(), if paced => {}
                _ = sleep_until(ticket.intended), if !paced => {}
                _ = sh.stop.cancelled() => return,
            }
        }
        if is_open && Instant::now() > ticket.intended + sh.miss_grace {
            // Claimed in time but woke too late (an overloaded generator): the send did not
            // happen within the grace, so it is missed, never sent late in silence.
            sh.missed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let spec = sh.source.request(ticket.global);
        let sent = Instant::now();
        sh.sent.fetch_add(1, Ordering::Relaxed);
        sh.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            r = tokio::time::timeout(sh.timeout, conn.send(&spec)) => r,
            _ = sh.stop.cancelled() => {
                // Abandoned mid-flight by an early stop: not a completed request.
                sh.in_flight.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        let done = Instant::now();
        let outcome = match &result {
            Ok(Ok(resp)) => Outcome::from_response(resp.status, &resp.body),
            Ok(Err(RequestError { kind, .. })) => Outcome::Failed(*kind),
            Err(_) => {
                conn.reset();
                Outcome::Failed(ErrorKind::Timeout)
            }
        };
        let sample = Sample {
            op: &spec.op,
            object: spec.object.as_ref(),
            lateness: sent - ticket.intended,
            service: done - sent,
            latency: done - ticket.intended,
            outcome,
        };
        sh.lock_shard(id).record(&sample);
        sh.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Ok(Ok(resp)) = &result {
            sh.source.observe(ticket.global, &spec, resp);
        }
        if !think.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(think) => {}
                _ = sh.stop.cancelled() => return,
            }
        }
    }
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
    let conns = open_connections(&config, source.as_ref(), workers).await?;

    let stop = cancel.child_token();
    let start = Instant::now() + Duration::from_millis(20);
    let started_at = SystemTime::now() + Duration::from_millis(20);
    let pacer = match &plan {
        Plan::Open(_) => Pacer::start(workers)
            .map_err(|e| tracing::warn!("no pacer thread ({e}); using tokio timers"))
            .ok(),
        Plan::Closed { .. } => None,
    };
    let shard_count = workers.clamp(1, 2 * cpu::cores());
    let shared = Arc::new(Shared {
        plan,
        start,
        next: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        missed: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        miss_grace: config.miss_grace,
        timeout: config.timeout,
        source,
        shards: (0..shard_count)
            .map(|_| Mutex::new(Recorder::new()))
            .collect(),
        stop: stop.clone(),
        pacer,
    });
    let mut set = JoinSet::new();
    for (id, conn) in conns.into_iter().enumerate() {
        set.spawn(worker(id, shared.clone(), conn));
    }
    // Hard bound: the plan, plus one timeout for the last requests, plus a second of slack.
    let hard_bound = config
        .planned_duration()
        .map(|d| d + config.timeout + Duration::from_secs(1));
    let deadline = hard_bound.map(|b| start + b);

    let cpu0 = cpu::process_cpu_time();
    let wall0 = Instant::now();
    let mut agg = Aggregate::new();
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
        let cpu_pct = match (cpu0, cpu::process_cpu_time()) {
            (Some(a), Some(b)) => {
                let wall = now.saturating_duration_since(wall0).as_secs_f64().max(1e-3);
                ((b.saturating_sub(a)).as_secs_f64() / wall / cpu::cores() as f64 * 100.0)
                    .min(100.0)
            }
            _ => 0.0,
        };
        Live {
            elapsed,
            planned,
            planned_requests,
            offered_so_far,
            sent: shared.sent.load(Ordering::Relaxed),
            missed: shared.missed.load(Ordering::Relaxed),
            in_flight: shared.in_flight.load(Ordering::Relaxed),
            cpu_pct,
            done,
        }
    };
    let end = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let now = Instant::now();
                shared.collect(&mut delta, &mut spare);
                agg.push(&delta, now.saturating_duration_since(start));
                tx.send_replace(agg.snapshot(&live(false, now)));
            }
            joined = set.join_next() => {
                if joined.is_none() {
                    break Instant::now();
                }
            }
            _ = sleep_until(deadline.unwrap_or(start)), if deadline.is_some() && !stop.is_cancelled() => {
                tracing::warn!("run hit its hard time bound; stopping");
                stopped_early = true;
                stop.cancel();
            }
            _ = stop.cancelled(), if !stopped_early => {
                stopped_early = true;
            }
        }
    };
    shared.collect(&mut delta, &mut spare);
    agg.push(&delta, end.saturating_duration_since(start));
    agg.finish();
    let snapshot = agg.snapshot(&live(true, end));
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
    })
}

/// One connection per worker; connected up front when `preconnect` is set. Fails with
/// `Error::Unreachable` only when *every* attempt failed (one clear error, not a flood).
async fn open_connections(
    config: &RunConfig,
    source: &dyn RequestSource,
    workers: usize,
) -> Result<Vec<HttpConn>> {
    let fresh = (0..workers).map(|_| HttpConn::new(config.client.clone()));
    if !config.preconnect || workers == 0 {
        return Ok(fresh.collect());
    }
    let url = source.request(0).url;
    // At most 64 handshakes at once: a listener's accept backlog is finite.
    let results: Vec<(HttpConn, std::result::Result<(), RequestError>)> =
        futures_util::stream::iter(fresh.map(|mut c| {
            let url = url.clone();
            async move {
                let r = c.connect(&url).await;
                (c, r)
            }
        }))
        .buffer_unordered(64)
        .collect()
        .await;
    if results.iter().all(|(_, r)| r.is_err()) {
        if let Some((_, Err(e))) = results.first() {
            return Err(Error::Unreachable {
                target: url.to_string(),
                reason: e.message.clone(),
            });
        }
    }
    Ok(results.into_iter().map(|(c, _)| c).collect())
}
