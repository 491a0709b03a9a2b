//! Precise wake-ups for open-model sends. tokio's timer rounds deadlines up to whole
//! milliseconds, which alone would make every send up to 1 ms late; the pacer is one OS thread
//! that keeps the pending deadlines in a heap and waits on a channel with a nanosecond
//! timeout (futex-backed, ~50–100 µs slack), then wakes the worker's `Notify`. It never sends
//! requests or records anything; it exits when every `Pacer` handle is gone.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

struct Entry {
    at: Instant,
    seq: u64,
    wake: Arc<Notify>,
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

/// Handle to the pacer thread (cheap to clone).
#[derive(Clone)]
pub struct Pacer {
    // Bounded: every worker has at most one pending wake-up, so `capacity = workers` never
    // fills; a full channel would mean a bug, and `wake_at` then falls back to "now".
    tx: SyncSender<(Instant, Arc<Notify>)>,
}

impl Pacer {
    /// Starts the pacer thread for up to `capacity` simultaneous pending wake-ups.
    pub fn start(capacity: usize) -> std::io::Result<Pacer> {
        let (tx, rx) = sync_channel::<(Instant, Arc<Notify>)>(capacity.max(1));
        std::thread::Builder::new()
            .name("dobench-pacer".into())
            .spawn(move || {
                let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
                let mut seq = 0u64;
                loop {
                    let now = Instant::now();
                    while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
                        if let Some(Reverse(e)) = heap.pop() {
                            e.wake.notify_one();
                        }
                    }
                    let next = match heap.peek() {
                        Some(Reverse(e)) => rx.recv_timeout(e.at.saturating_duration_since(now)),
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    match next {
                        Ok((at, wake)) => {
                            seq += 1;
                            heap.push(Reverse(Entry { at, seq, wake }));
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?;
        Ok(Pacer { tx })
    }

    /// Asks for `wake` to be notified at `at`. Returns false if it could not be queued (the
    /// caller should then proceed at once).
    pub fn wake_at(&self, at: Instant, wake: Arc<Notify>) -> bool {
        self.tx.try_send((at, wake)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_close_to_the_deadline() {
        let pacer = Pacer::start(4).unwrap();
        let wake = Arc::new(Notify::new());
        let mut late = Vec::new();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_micros(1700);
            assert!(pacer.wake_at(at, wake.clone()));
            wake.notified().await;
            late.push(Instant::now().saturating_duration_since(at));
        }
        late.sort();
        // Median well under tokio's 1 ms timer granularity (generous for a shared machine).
        assert!(late[10] < Duration::from_micros(900), "{late:?}");
    }
}
