//! CPU use of the generator's *own* threads, to tell whether the generator (and not the
//! target, nor an embedded runtime sharing the process) set a run's numbers.
//!
//! A [`ThreadSet`] is the set of OS threads a run's tasks were seen running on: the executor
//! calls [`ThreadSet::note_current`] from its workers and collector (a thread-local check, a
//! few ns), so threads of another tokio runtime in the same process (the embedded reference
//! runtime) are never in it. [`ThreadSet::usage`] sums each thread's on-CPU and run-queue
//! wait time from `/proc/self/task/<tid>/schedstat` (Linux). `cpu-time` would only read the
//! *calling* thread's clock, which is why this reads `/proc` for the others.
//!
//! Best effort: off Linux, or when `/proc` is unreadable, usage stays zero and nothing is
//! claimed. Never affects the run, only the `generator_*` figures and flag.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Number of CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

static NEXT_SET: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Id of the last `ThreadSet` this thread was added to (0: none).
    static LAST_SET: Cell<u64> = const { Cell::new(0) };
}

/// Cumulative time of a set of threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadUsage {
    /// Time the threads ran on a CPU.
    pub on_cpu: Duration,
    /// Time the threads were runnable but waited for a CPU (another process or thread had it).
    pub waiting: Duration,
    /// Threads in the set.
    pub threads: usize,
}

/// The OS threads one run's generator tasks ran on.
#[derive(Debug)]
pub struct ThreadSet {
    id: u64,
    /// tid → (reading when it joined, last reading), each (on-CPU ns, wait ns); the last
    /// reading is kept after a thread exits, so its time is not lost.
    threads: Mutex<HashMap<u32, [(u64, u64); 2]>>,
}

impl Default for ThreadSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadSet {
    /// An empty set.
    pub fn new() -> Self {
        ThreadSet {
            id: NEXT_SET.fetch_add(1, Ordering::Relaxed),
            threads: Mutex::new(HashMap::new()),
        }
    }

    /// Adds the calling thread (cheap when it is already in: one thread-local compare).
    pub fn note_current(&self) {
        if LAST_SET.with(Cell::get) == self.id {
            return;
        }
        LAST_SET.with(|c| c.set(self.id));
        if let Some(tid) = current_tid() {
            let start = read_schedstat(tid).unwrap_or((0, 0));
            self.lock().entry(tid).or_insert([start, start]);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, [(u64, u64); 2]>> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cumulative usage of every thread in the set, each counted from the moment it joined.
    pub fn usage(&self) -> ThreadUsage {
        let mut set = self.lock();
        let mut usage = ThreadUsage {
            threads: set.len(),
            ..ThreadUsage::default()
        };
        let (mut cpu, mut wait) = (0u64, 0u64);
        for (tid, [start, last]) in set.iter_mut() {
            if let Some(now) = read_schedstat(*tid) {
                *last = (last.0.max(now.0), last.1.max(now.1));
            }
            cpu += last.0.saturating_sub(start.0);
            wait += last.1.saturating_sub(start.1);
        }
        usage.on_cpu = Duration::from_nanos(cpu);
        usage.waiting = Duration::from_nanos(wait);
        usage
    }
}

/// Usage between two readings of one set, as shares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shares {
    /// On-CPU time as a share of all cores over the wall time (0–100).
    pub cpu_pct: f64,
    /// On-CPU plus run-queue wait as a share of the set's threads over the wall time
    /// (0–100): near 100 when every generator thread always had work to do, whether it got
    /// a CPU or not. The generator's saturation figure.
    pub busy_pct: f64,
}

impl Shares {
    /// Shares from two cumulative readings `wall` apart.
    pub fn between(a: &ThreadUsage, b: &ThreadUsage, wall: Duration) -> Shares {
        let wall = wall.as_secs_f64().max(1e-3);
        let cpu = b.on_cpu.saturating_sub(a.on_cpu).as_secs_f64();
        let wait = b.waiting.saturating_sub(a.waiting).as_secs_f64();
        let threads = b.threads.max(1) as f64;
        Shares {
            cpu_pct: (cpu / wall / cores() as f64 * 100.0).min(100.0),
            busy_pct: ((cpu + wait) / wall / threads * 100.0).min(100.0),
        }
    }
}

/// The calling thread's OS id.
fn current_tid() -> Option<u32> {
    u32::try_from(rustix::thread::gettid().as_raw_nonzero().get()).ok()
}

/// (on-CPU ns, run-queue wait ns) of thread `tid` of this process.
fn read_schedstat(tid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut f = text.split_whitespace();
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_threads_it_was_told_about() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let set = ThreadSet::new();
        set.note_current();
        set.note_current();
        // Another thread burns CPU in a set of its own: it must not show in ours. On a loaded
        // VM a blocked thread's reading still moves (stale self-readings, steal time), so
        // ours is bounded by a share of what the other thread measurably burnt.
        let a = set.usage();
        let other = std::thread::spawn(|| {
            let theirs = ThreadSet::new();
            theirs.note_current();
            // Until it has burnt 150 ms of CPU (a loaded machine gives it a fraction of a
            // core), within 10 s of wall time.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while theirs.usage().on_cpu < Duration::from_millis(150)
                && std::time::Instant::now() < deadline
            {
                spin(Duration::from_millis(20));
            }
            theirs.usage().on_cpu
        });
        let burnt = other.join().unwrap();
        let b = set.usage();
        assert_eq!(b.threads, 1);
        assert!(burnt >= Duration::from_millis(100), "{burnt:?}");
        assert!(
            b.on_cpu - a.on_cpu < burnt / 2,
            "{a:?} {b:?} beside {burnt:?}"
        );
        // This thread burns CPU: it must show. On a loaded machine a thread gets a fraction
        // of a core, so it spins until its reading moves, within 10 s of wall time.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut c = set.usage();
        while c.on_cpu - b.on_cpu < Duration::from_millis(50)
            && std::time::Instant::now() < deadline
        {
            spin(Duration::from_millis(20));
            c = set.usage();
        }
        assert!(
            c.on_cpu - b.on_cpu >= Duration::from_millis(50),
            "10 s of spinning never showed: {b:?} {c:?}"
        );
    }

    fn spin(d: Duration) {
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < d {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}
