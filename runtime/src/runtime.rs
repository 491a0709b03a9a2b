//! The runtime handle: a cheap `Clone` that routes work to objects by id. Owns the directory
//! of live objects (one entry, one task, one instance per id), the id space, the stats of
//! every object seen, and shutdown. Never runs object code itself: that happens only in the
//! object's task (`object_task.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alarm::{AlarmIndex, AlarmScheduler, Due};
use crate::config::{Config, DataDir};
use crate::error::{Error, Result};
use crate::id::{IdSpace, ObjectId};
use crate::mailbox::{Envelope, Mailbox, PostError, Reply};
use crate::object::{Request, Response};
use crate::object_task::ObjectTask;
use crate::registry::Registry;
use crate::sockets::SocketTable;
use crate::stats::{
    AlarmTotals, HibernationTotals, ObjectStats, StatsPage, StatsQuery, StatsReport,
};
use crate::storage::Storage;

/// Names one object of one class: what the router needs to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    class: Arc<str>,
    id: ObjectId,
    name: Option<Arc<str>>,
}

impl ObjectRef {
    pub(crate) fn new(class: Arc<str>, id: ObjectId, name: Option<Arc<str>>) -> Self {
        Self { class, id, name }
    }

    /// The class name.
    pub fn class(&self) -> &str {
        &self.class
    }
    /// The id.
    pub fn id(&self) -> ObjectId {
        self.id
    }
    /// The name the id came from, if it came from one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// One live object in the directory.
pub(crate) struct LiveEntry {
    pub(crate) mailbox: Mailbox,
    pub(crate) stats: Arc<ObjectStats>,
}

/// Shards of the map of every object seen, so that spawning objects and a stats scrape
/// over a million of them do not queue behind one lock.
const STATS_SHARDS: usize = 64;

/// The threads that run object turns (and so their SQLite work), apart from the HTTP front
/// and, in embedded runs, the load generator. Shut down without waiting when the runtime is
/// dropped (objects have committed what they acknowledged by then).
struct ObjectThreads {
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl ObjectThreads {
    /// `threads` of their own, or with 0 the caller's runtime.
    fn start(threads: usize) -> Result<Self> {
        if threads == 0 {
            return Ok(Self {
                rt: None,
                handle: tokio::runtime::Handle::current(),
            });
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("dobench-object")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start object threads: {e}")))?;
        let handle = rt.handle().clone();
        Ok(Self {
            rt: Some(rt),
            handle,
        })
    }
}

impl Drop for ObjectThreads {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// State shared by the handle and every object task.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) registry: Registry,
    pub(crate) ids: IdSpace,
    /// Interned class names (so refs and stats share one allocation per class).
    classes: HashMap<String, Arc<str>>,
    /// Live objects. Senders post *while holding this lock*, and an evicting task removes its
    /// entry and closes its mailbox under it too: so a message is either in a mailbox whose
    /// task will run it, or refused — and never are two tasks live for one id.
    pub(crate) live: Mutex<HashMap<ObjectId, LiveEntry>>,
    /// Every object seen since start (survives eviction), sharded by the id's first byte.
    /// Insertion-ordered, so a scrape walks the stats in the order they were allocated
    /// (neighbours in memory) instead of hash order (a cache miss per object at 1M).
    stats: Vec<Mutex<StatsShard>>,
    /// Objects with at least this many requests keep their name after leaving memory (the
    /// request count of the last full stats listing's last entry): names are kept only for
    /// the objects a listing shows and for objects in memory. While at most
    /// [`StatsQuery::MAX_LIST`] objects exist every one of them can be listed, so all keep
    /// their names (see [`Shared::keeps_names_below`]).
    pub(crate) name_floor: std::sync::atomic::AtomicU64,
    /// Objects seen since start (entries in `stats`).
    objects_seen: std::sync::atomic::AtomicU64,
    /// Runtime-wide work counters a scrape reads once instead of summing every object.
    pub(crate) work: WorkTotals,
    /// Which objects stay in memory and keep their database open.
    pub(crate) residency: crate::residency::Residency,
    objects: ObjectThreads,
    /// Held while the runtime runs: no second process on one data directory.
    _data_lock: Option<crate::storage::DataDirLock>,
    /// RAM-only databases parked while their object is evicted (`DataDir::Memory`).
    pub(crate) parked: Mutex<HashMap<ObjectId, Storage>>,
    /// Every pending alarm of every object.
    pub(crate) alarms: AlarmScheduler,
    /// Every accepted WebSocket; outlives object instances (hibernation).
    pub(crate) sockets: Arc<SocketTable>,
    /// Request bodies and incoming messages read but not yet handled.
    pub(crate) inflight: Arc<crate::inflight::Inflight>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    started: Instant,
}

impl Shared {
    pub(crate) fn lock_live(&self) -> MutexGuard<'_, HashMap<ObjectId, LiveEntry>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts
        // and removes), so a poisoned lock is still usable.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database of `id`: un-parked (RAM-only) or not yet opened (file-backed).
    pub(crate) fn open_storage(&self, id: &ObjectId) -> Result<Storage> {
        match &self.config.data {
            DataDir::Memory => {
                let parked = self
                    .parked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id);
                match parked {
                    Some(s) => Ok(s),
                    None => Storage::open_in_memory(),
                }
            }
            DataDir::Path(dir) => Ok(Storage::at(crate::storage::object_db_path(dir, id))),
        }
    }

    /// The request count below which an object leaving memory forgets its name (0: none do).
    pub(crate) fn keeps_names_below(&self) -> u64 {
        if self.objects_seen.load(Relaxed) <= StatsQuery::MAX_LIST as u64 {
            0
        } else {
            self.name_floor.load(Relaxed)
        }
    }

    fn stats_shard(&self, id: &ObjectId) -> MutexGuard<'_, StatsShard> {
        self.stats[id.as_bytes()[0] as usize % STATS_SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// Storage rows and refusals over every object, kept as they happen.
#[derive(Debug, Default)]
pub(crate) struct WorkTotals {
    pub(crate) rows_read: std::sync::atomic::AtomicU64,
    pub(crate) rows_written: std::sync::atomic::AtomicU64,
    /// Requests refused as overloaded: never billed.
    pub(crate) refused: std::sync::atomic::AtomicU64,
}

/// One shard of every object's stats, in the order the objects were first seen.
type StatsShard = indexmap::IndexMap<ObjectId, Arc<ObjectStats>>;

/// An object's stats compared by address (heap entries need an order; ties never matter).
struct ByAddr(Arc<ObjectStats>);

impl PartialEq for ByAddr {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for ByAddr {}
impl PartialOrd for ByAddr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByAddr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        Arc::as_ptr(&self.0).cmp(&Arc::as_ptr(&other.0))
    }
}

/// The reference object runtime. Clone it freely; all clones are one runtime.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

const SECRET_FILE: &str = "namespace.key";
const ALARM_INDEX_FILE: &str = "alarms.sqlite";

/// The scheduler's firing loop: posts due alarms in time order, a bounded number in flight.
async fn fire_alarms(rt: Runtime) {
    let shared = rt.shared.clone();
    let alarms = &shared.alarms;
    loop {
        match alarms.take_due() {
            Ok(due) => {
                for d in due {
                    let permit = tokio::select! {
                        p = alarms.permit() => p,
                        _ = shared.shutdown.cancelled() => return,
                    };
                    let env = Envelope::Alarm {
                        scheduled_ms: d.scheduled_ms,
                        retry_count: d.retry_count,
                        permit,
                    };
                    match rt.post(&d.object, env) {
                        Ok(()) => {}
                        Err(Error::ShuttingDown) => return,
                        // Mailbox full: the alarm waits its turn, it is not lost.
                        Err(_) => alarms.defer(d),
                    }
                }
            }
            Err(next) => {
                // Nothing due: a good moment to write the queued index deletes.
                if let Some(index) = &alarms.index {
                    if let Err(e) = index.flush() {
                        tracing::warn!("alarm index flush failed: {e}");
                    }
                }
                tokio::select! {
                    _ = alarms.wait(next) => {}
                    _ = shared.shutdown.cancelled() => return,
                }
            }
        }
    }
}

impl Runtime {
    /// Starts a runtime (no listener: see [`crate::serve`]). Creates the data directory and
    /// its id-space secret if needed. Must be called inside a Tokio runtime.
    pub fn new(config: Config, registry: Registry) -> Result<Self> {
        config.validate()?;
        let data_lock = match &config.data {
            DataDir::Memory => None,
            DataDir::Path(dir) => {
                let lock = crate::storage::DataDirLock::acquire(dir)?;
                crate::storage::prepare_layout(dir)?;
                Some(lock)
            }
        };
        let ids = match &config.data {
            DataDir::Memory => IdSpace::random(),
            DataDir::Path(dir) => IdSpace::new(load_or_create_secret(dir)?),
        };
        let objects = ObjectThreads::start(config.object_threads)?;
        let residency =
            crate::residency::Residency::new(config.memory_budget_bytes, config.max_open_databases);
        let classes: HashMap<String, Arc<str>> = registry
            .classes()
            .map(|c| (c.to_string(), Arc::<str>::from(c)))
            .collect();
        let index = match &config.data {
            DataDir::Memory => None,
            DataDir::Path(dir) => Some(AlarmIndex::open(&dir.join(ALARM_INDEX_FILE))?),
        };
        let pending = match &index {
            Some(index) => index.load()?,
            None => Vec::new(),
        };
        let alarms = AlarmScheduler::new(index);
        let config_send_buffer = config.socket_send_buffer;
        let inflight_limits = config.inflight;
        for a in pending {
            let Some(class) = classes.get(&a.class) else {
                tracing::warn!("alarm for unknown class `{}` skipped", a.class);
                continue;
            };
            // Overdue alarms fire at once; the retry count starts over (it is not persisted).
            alarms.schedule(Due {
                object: ObjectRef::new(class.clone(), a.id, a.name.map(Arc::from)),
                scheduled_ms: a.at_ms,
                fire_at_ms: a.at_ms,
                retry_count: 0,
            });
        }
        let live_capacity = crate::residency::live_capacity(config.memory_budget_bytes);
        let runtime = Self {
            shared: Arc::new(Shared {
                config,
                registry,
                ids,
                classes,
                live: Mutex::new(HashMap::with_capacity(live_capacity)),
                stats: (0..STATS_SHARDS).map(|_| Mutex::default()).collect(),
                // Until a listing sets it, objects that leave memory forget their names.
                name_floor: std::sync::atomic::AtomicU64::new(u64::MAX),
                objects_seen: std::sync::atomic::AtomicU64::new(0),
                work: WorkTotals::default(),
                residency,
                objects,
                _data_lock: data_lock,
                parked: Mutex::new(HashMap::new()),
                alarms,
                sockets: Arc::new(SocketTable::new(config_send_buffer)),
                inflight: crate::inflight::Inflight::new(inflight_limits),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                started: Instant::now(),
            }),
        };
        runtime
            .shared
            .tracker
            .spawn_on(fire_alarms(runtime.clone()), &runtime.shared.objects.handle);
        Ok(runtime)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The id space (idFromName / newUniqueId / idFromString).
    pub fn ids(&self) -> &IdSpace {
        &self.shared.ids
    }

    /// True if `class` is registered.
    pub fn has_class(&self, class: &str) -> bool {
        self.shared.classes.contains_key(class)
    }

    pub(crate) fn class(&self, class: &str) -> Result<Arc<str>> {
        self.shared
            .classes
            .get(class)
            .cloned()
            .ok_or_else(|| Error::UnknownClass(class.to_string()))
    }

    /// The object `name` of `class` (idFromName). Constructs nothing.
    pub fn object_by_name(&self, class: &str, name: &str) -> Result<ObjectRef> {
        let class = self.class(class)?;
        Ok(ObjectRef {
            id: self.shared.ids.id_from_name(&class, name),
            class,
            name: Some(Arc::from(name)),
        })
    }

    /// The object with id string `id` of `class` (idFromString).
    pub fn object_by_id(&self, class: &str, id: &str) -> Result<ObjectRef> {
        let class = self.class(class)?;
        Ok(ObjectRef {
            id: self.shared.ids.id_from_string(&class, id)?,
            class,
            name: None,
        })
    }

    /// A new object with a random id (newUniqueId). Constructs nothing.
    pub fn new_unique_object(&self, class: &str) -> Result<ObjectRef> {
        let class = self.class(class)?;
        Ok(ObjectRef {
            id: self.shared.ids.new_unique_id(&class),
            class,
            name: None,
        })
    }

    /// Sends `req` to the object and waits for its committed response.
    pub async fn fetch(&self, object: &ObjectRef, req: Request) -> Result<Response> {
        Ok(self.fetch_turn(object, req, false).await?.response)
    }

    /// A fetch turn; with `upgrade`, the object may accept the request's WebSocket.
    pub(crate) async fn fetch_turn(
        &self,
        object: &ObjectRef,
        req: Request,
        upgrade: bool,
    ) -> Result<Reply> {
        let (reply, rx) = oneshot::channel();
        self.post(
            object,
            Envelope::Fetch {
                req: Box::new(req),
                upgrade,
                call: false,
                reply,
            },
        )?;
        rx.await.map_err(|_| {
            Error::ObjectReset("the object's task ended before answering (handler crashed)".into())
        })?
    }

    pub(crate) fn sockets(&self) -> &SocketTable {
        &self.shared.sockets
    }

    /// Bytes read for objects and not yet handled.
    pub(crate) fn inflight(&self) -> &Arc<crate::inflight::Inflight> {
        &self.shared.inflight
    }

    /// Fault injection: the object's next turn holds for `hold` before running.
    pub fn stall(&self, object: &ObjectRef, hold: Duration) -> Result<()> {
        self.post(object, Envelope::Stall { hold })
    }

    pub(crate) fn stats_for(&self, object: &ObjectRef) -> Arc<ObjectStats> {
        self.shared
            .stats_shard(&object.id)
            .entry(object.id)
            .or_insert_with(|| {
                self.shared.objects_seen.fetch_add(1, Relaxed);
                Arc::new(ObjectStats::new(object.class.clone()))
            })
            .clone()
    }

    /// Posts to the object's mailbox, starting its task if it is not live.
    fn post(&self, object: &ObjectRef, env: Envelope) -> Result<()> {
        self.try_post(object, env).map_err(|(e, _)| e)
    }

    /// Like `post`, but hands a refused envelope back (to retry when the mailbox was full,
    /// or to answer its caller).
    #[allow(clippy::result_large_err)] // see `Mailbox::post`
    pub(crate) fn try_post(
        &self,
        object: &ObjectRef,
        env: Envelope,
    ) -> std::result::Result<(), (Error, Envelope)> {
        if self.shared.shutdown.is_cancelled() {
            return Err((Error::ShuttingDown, env));
        }
        let is_request = matches!(env, Envelope::Fetch { .. } | Envelope::Call { .. });
        let is_call = matches!(
            env,
            Envelope::Fetch { call: true, .. } | Envelope::Call { .. }
        );
        let mut env = env;
        let mut live = self.shared.lock_live();
        // Two rounds: a task that ended on its own (a crashed handler) leaves a closed mailbox
        // behind; the second round replaces it with a fresh task.
        for _ in 0..2 {
            let back = {
                let entry = live.entry(object.id).or_insert_with(|| self.spawn(object));
                match entry.mailbox.post(env) {
                    Ok(()) => {
                        if is_request {
                            entry.stats.requests.fetch_add(1, Relaxed);
                        }
                        if is_call {
                            entry.stats.calls_in.fetch_add(1, Relaxed);
                        }
                        return Ok(());
                    }
                    Err(PostError::Full(back)) => {
                        if is_call {
                            entry.stats.calls_in.fetch_add(1, Relaxed);
                        }
                        if is_request {
                            entry.stats.requests.fetch_add(1, Relaxed);
                            entry.stats.overloaded.fetch_add(1, Relaxed);
                            self.shared.work.refused.fetch_add(1, Relaxed);
                        }
                        let e = Error::Overloaded {
                            capacity: entry.mailbox.bound(),
                        };
                        return Err((e, back));
                    }
                    Err(PostError::Closed(back)) => back,
                }
            };
            live.remove(&object.id);
            env = back;
        }
        Err((
            Error::ObjectReset("the object's task could not be started".into()),
            env,
        ))
    }

    /// Starts the task of a live object (caller holds the directory lock).
    fn spawn(&self, object: &ObjectRef) -> LiveEntry {
        let stats = self.stats_for(object);
        if let Some(name) = &object.name {
            stats.set_name(name);
        }
        let (mailbox, rx) = Mailbox::new(self.shared.config.mailbox);
        let ctor = self
            .shared
            .registry
            .get(&object.class)
            .cloned()
            .expect("ObjectRef classes come from the registry");
        let task = ObjectTask::new(self.shared.clone(), object.clone(), ctor, stats.clone(), rx);
        self.shared
            .tracker
            .spawn_on(task.run(), &self.shared.objects.handle);
        LiveEntry { mailbox, stats }
    }

    /// Totals and the hottest objects ([`StatsQuery::default`]).
    pub fn stats(&self) -> StatsReport {
        self.stats_with(&StatsQuery::default())
    }

    /// Totals over every object seen, the `top` hottest, and a page of the full listing when
    /// asked. One pass over the objects without building a view for each, so a scrape stays
    /// fast and small at a million objects.
    pub fn stats_with(&self, query: &StatsQuery) -> StatsReport {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let top_n = query.top.min(StatsQuery::MAX_LIST);
        let page_n = query.limit.min(StatsQuery::MAX_LIST);
        // Ids order as their bytes do, and so as their lowercase hex: compare bytes.
        let after: Option<ObjectId> = query.after.as_deref().and_then(parse_id_hex);
        let usage = self.shared.sockets.usage();
        let mut totals = HibernationTotals::default();
        let mut seen = 0u64;
        // Min-heap of the hottest so far; max-heap of the lowest ids after the cursor.
        let mut top: BinaryHeap<Reverse<(u64, Reverse<ObjectId>, ByAddr)>> = BinaryHeap::new();
        let mut page: BinaryHeap<(ObjectId, ByAddr)> = BinaryHeap::new();
        for shard in &self.shared.stats {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for (id, s) in shard.iter() {
                seen += 1;
                let sockets = if usage.is_empty() {
                    (0, 0)
                } else {
                    usage.get(id).copied().unwrap_or((0, 0))
                };
                s.add_to(&mut totals, sockets);
                let requests = s.requests.load(Relaxed);
                // Only an object that makes the list is cloned (a clone is an atomic write
                // on the object's own cache line: a million of them is most of a scrape).
                let hotter = |min: &Reverse<(u64, Reverse<ObjectId>, ByAddr)>| {
                    let (r, Reverse(i), _) = &min.0;
                    (requests, Reverse(*id)) > (*r, Reverse(*i))
                };
                if top_n > 0 && (top.len() < top_n || top.peek().is_some_and(hotter)) {
                    if top.len() == top_n {
                        top.pop();
                    }
                    top.push(Reverse((requests, Reverse(*id), ByAddr(s.clone()))));
                }
                if page_n > 0
                    && after.as_ref().is_none_or(|a| id > a)
                    && (page.len() < page_n || page.peek().is_some_and(|(max, _)| id < max))
                {
                    {
                        page.push((*id, ByAddr(s.clone())));
                        if page.len() > page_n {
                            page.pop();
                        }
                    }
                }
            }
        }
        let view = |id: &ObjectId, s: &ObjectStats| {
            let depth = self
                .shared
                .lock_live()
                .get(id)
                .map(|e| e.mailbox.depth())
                .unwrap_or(0);
            s.view(id, depth, usage.get(id).copied().unwrap_or((0, 0)))
        };
        // Sorted by `Reverse`: most requests first, ties by the lowest id.
        let hottest: Vec<_> = top
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((requests, Reverse(id), s))| (requests, id, s.0))
            .collect();
        if top_n > 0 {
            // A listing shorter than asked shows every object: all keep their names.
            let floor = match hottest.last() {
                Some((r, _, _)) if hottest.len() == top_n => *r,
                _ => 0,
            };
            self.shared.name_floor.store(floor, Relaxed);
        }
        let objects: Vec<_> = hottest.iter().map(|(_, id, s)| view(id, s)).collect();
        let page = (page_n > 0).then(|| {
            let full = page.len() == page_n;
            let listed: Vec<_> = page
                .into_sorted_vec()
                .into_iter()
                .map(|(id, s)| view(&id, &s.0))
                .collect();
            StatsPage {
                next_after: if full {
                    listed.last().map(|o| o.id.clone())
                } else {
                    None
                },
                objects: listed,
            }
        });
        let residency = self.shared.residency.counts();
        StatsReport {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_ms: self.shared.started.elapsed().as_secs_f64() * 1000.0,
            ceiling_rps: self.shared.config.ceiling.rate(),
            mailbox: self.shared.config.mailbox,
            live_objects: self.shared.lock_live().len() as u64,
            objects_total: seen,
            open_databases: residency.open_databases as u64,
            memory_estimate_bytes: residency.estimated_bytes,
            memory_budget_bytes: self.shared.config.memory_budget_bytes,
            hibernation: {
                let c = &self.shared.sockets.counters;
                let w = &self.shared.work;
                totals.rows_read = w.rows_read.load(Relaxed);
                totals.rows_written = w.rows_written.load(Relaxed);
                // Refused requests are not billed (each object's count includes them).
                totals.billable_requests =
                    (totals.billable_requests - w.refused.load(Relaxed) as f64).max(0.0);
                let mut h = totals.priced();
                h.messages_in = c.messages_in.load(Relaxed);
                h.messages_out = c.messages_out.load(Relaxed);
                h.auto_responses = c.auto_responses.load(Relaxed);
                h.fell_behind = c.fell_behind.load(Relaxed);
                h
            },
            alarms: {
                let c = &self.shared.alarms.counters;
                AlarmTotals {
                    pending: self.shared.alarms.pending() as u64,
                    set: c.set.load(Relaxed),
                    fired: c.fired.load(Relaxed),
                    retried: c.retried.load(Relaxed),
                    given_up: c.given_up.load(Relaxed),
                }
            },
            objects,
            page,
        }
    }

    /// Stops taking work, lets every object finish and commit what its mailbox holds, and
    /// waits for all object tasks to end.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.sockets.kill_all();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
        if let Some(index) = &self.shared.alarms.index {
            if let Err(e) = index.flush() {
                tracing::warn!("alarm index flush failed: {e}");
            }
        }
    }
}

/// An id from 64 hex characters (either case); None if it is not one.
fn parse_id_hex(hex: &str) -> Option<ObjectId> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(ObjectId::from_bytes(bytes))
}

fn load_or_create_secret(dir: &PathBuf) -> Result<[u8; 32]> {
    let io = |source| Error::DataDir {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = text.trim();
            let mut out = [0u8; 32];
            if text.len() != 64 {
                return Err(Error::Config(format!(
                    "{} is damaged: expected 64 hex characters",
                    path.display()
                )));
            }
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| {
                    Error::Config(format!("{} is damaged: not hex", path.display()))
                })?;
            }
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            // Write-then-rename so a crash never leaves a half-written secret.
            let tmp = dir.join(format!("{SECRET_FILE}.tmp"));
            std::fs::write(&tmp, hex).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            Ok(secret)
        }
        Err(e) => Err(io(e)),
    }
}
