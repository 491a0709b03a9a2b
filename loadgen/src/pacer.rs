//! Precise, batched wake-ups for open-model sends, inside the tokio runtime. tokio's timer
//! rounds deadlines up to whole milliseconds, which alone would make every send up to 1 ms
//! late; the pacer keeps the waiting workers' deadlines in one heap and arms one Linux
//! `timerfd` (nanosecond resolution) for the earliest, registered in tokio's own reactor: the
//! wake-up arrives through the same `epoll_wait` as the sockets' readiness, with no thread of
//! its own, no futex and no cross-thread hand-off. A firing wakes every worker whose send is
//! due, and every one due within [`SLACK`], so one wake-up issues a batch of sends instead of
//! one wake-up per send.
//!
//! It only wakes tasks: it never sends requests, never records anything, and never makes a
//! send late on purpose (a batch goes out at its *earliest* deadline; the rest of it at most
//! [`SLACK`] early, which the executor books as a send that latency counts from).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rustix::fd::OwnedFd;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

/// How far ahead of its intended time a send may go out with the batch of a wake-up (and
/// how close to it a worker sends at once instead of waiting): at 50,000 req/s, five sends
/// per wake-up.
pub const SLACK: Duration = Duration::from_micros(100);

struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// The deadline the timer is armed for (`None`: disarmed).
    armed: Option<Instant>,
}

struct Inner {
    timer: AsyncFd<OwnedFd>,
    state: Mutex<State>,
}

/// The pacer of one run. Dropping it stops its driver task.
pub struct Pacer {
    inner: Arc<Inner>,
    driver: JoinHandle<()>,
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Pacer {
    /// Creates the timer and spawns its driver on the current tokio runtime.
    pub fn start() -> std::io::Result<Pacer> {
        let fd = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // `AsyncFd::new` is deprecated because a generic `T` could hand tokio a different fd
        // later; an `OwnedFd` owned by the `AsyncFd` is one open fd for the whole life of it.
        #[allow(deprecated)]
        let timer = AsyncFd::new(fd)?;
        let inner = Arc::new(Inner {
            timer,
            state: Mutex::new(State::default()),
        });
        let driver = tokio::spawn(drive(inner.clone()));
        Ok(Pacer { inner, driver })
    }

    /// Resolves when `at` is at most [`SLACK`] away (at once if it already is).
    pub fn until(&self, at: Instant) -> Until<'_> {
        Until {
            inner: &self.inner,
            at,
        }
    }
}

/// The future of [`Pacer::until`].
pub struct Until<'a> {
    inner: &'a Inner,
    at: Instant,
}

impl Future for Until<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() + SLACK >= self.at {
            return Poll::Ready(());
        }
        let mut st = self.inner.lock();
        st.seq += 1;
        let seq = st.seq;
        st.heap.push(Reverse(Entry {
            at: self.at,
            seq,
            waker: cx.waker().clone(),
        }));
        if st.armed.is_none_or(|a| self.at < a) {
            self.inner.arm(&mut st, self.at);
        }
        Poll::Pending
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Arms the timer for `at` (one-shot, relative; a deadline already past fires at once).
    fn arm(&self, st: &mut State, at: Instant) {
        let left = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            }),
        };
        match rustix::time::timerfd_settime(self.timer.get_ref(), TimerfdTimerFlags::empty(), &spec)
        {
            Ok(_) => st.armed = Some(at),
            // Cannot happen with a valid timerfd; waking everyone at once beats a hang.
            Err(_) => st.armed = None,
        }
    }

    /// Pops every entry due within [`SLACK`] of `now` into `due` and re-arms for the next.
    fn fire(&self, now: Instant, due: &mut Vec<Waker>) {
        let mut st = self.lock();
        let horizon = now + SLACK;
        while st.heap.peek().is_some_and(|Reverse(e)| e.at <= horizon) {
            if let Some(Reverse(e)) = st.heap.pop() {
                due.push(e.waker);
            }
        }
        st.armed = None;
        if let Some(next) = st.heap.peek().map(|Reverse(e)| e.at) {
            self.arm(&mut st, next);
        }
    }
}

/// Waits for the timer and wakes what is due, until the pacer is dropped (aborted).
async fn drive(inner: Arc<Inner>) {
    let mut due = Vec::new();
    let mut buf = [0u8; 8];
    loop {
        let Ok(mut ready) = inner.timer.readable().await else {
            return;
        };
        // One read drains a timerfd; it stays quiet until it is armed again.
        let _ = rustix::io::read(inner.timer.get_ref(), &mut buf);
        ready.clear_ready();
        inner.fire(Instant::now(), &mut due);
        for w in due.drain(..) {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_close_to_the_deadline() {
        let pacer = Pacer::start().unwrap();
        let mut late = Vec::new();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_micros(1700);
            pacer.until(at).await;
            let now = Instant::now();
            assert!(now + SLACK >= at, "woke more than the slack early");
            late.push(now.saturating_duration_since(at));
        }
        late.sort();
        // Median well under tokio's 1 ms timer granularity (generous for a shared machine).
        assert!(late[10] < Duration::from_micros(900), "{late:?}");
    }

    struct Count(std::sync::atomic::AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn one_firing_wakes_every_send_due_within_the_slack_and_no_later_one() {
        let pacer = Pacer::start().unwrap();
        let due_at = Instant::now() + Duration::from_secs(5);
        let deadlines = [
            due_at,
            due_at + SLACK / 2,
            due_at + SLACK,
            due_at + SLACK * 3,
        ];
        let counts: Vec<Arc<Count>> = deadlines
            .iter()
            .map(|_| Arc::new(Count(Default::default())))
            .collect();
        for (at, count) in deadlines.iter().zip(&counts) {
            let waker = Waker::from(count.clone());
            let mut until = pacer.until(*at);
            let pending = Pin::new(&mut until).poll(&mut Context::from_waker(&waker));
            assert!(pending.is_pending(), "5 s away is not due");
        }
        assert_eq!(
            pacer.inner.lock().armed,
            Some(due_at),
            "armed for the earliest"
        );
        // The timer goes off at the first deadline: the three within the slack go together.
        let mut woken = Vec::new();
        pacer.inner.fire(due_at, &mut woken);
        woken.drain(..).for_each(Waker::wake);
        let n: Vec<usize> = counts
            .iter()
            .map(|c| c.0.load(std::sync::atomic::Ordering::SeqCst))
            .collect();
        assert_eq!(n, [1, 1, 1, 0]);
        assert_eq!(
            pacer.inner.lock().armed,
            Some(deadlines[3]),
            "re-armed for the rest"
        );
    }
}
