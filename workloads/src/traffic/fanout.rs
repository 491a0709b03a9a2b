//! The fan-out books of the room workloads (chat, ws): per room, the messages handed to a
//! socket and the members still connected, and the deliveries counted, so the executor knows
//! how many deliveries are still owed after the last send. Atomics only (called from the
//! executor's hot path); never keeps one entry per message.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Per-room sends and live members, and the deliveries seen.
#[derive(Debug)]
pub(crate) struct Fanout {
    sent: Vec<AtomicU64>,
    live: Vec<AtomicU64>,
    received: AtomicU64,
}

impl Fanout {
    /// Books for rooms holding these many members each.
    pub(crate) fn new(members: impl IntoIterator<Item = u64>) -> Fanout {
        let live: Vec<AtomicU64> = members.into_iter().map(AtomicU64::new).collect();
        Fanout {
            sent: live.iter().map(|_| AtomicU64::new(0)).collect(),
            live,
            received: AtomicU64::new(0),
        }
    }

    /// A message to `room` was handed to its sender's socket.
    pub(crate) fn sent(&self, room: usize) {
        self.sent[room].fetch_add(1, Relaxed);
    }

    /// A member of `room` is gone for good (failed to connect, or lost).
    pub(crate) fn left(&self, room: usize) {
        self.live[room].fetch_sub(1, Relaxed);
    }

    /// One delivery of one of the run's messages arrived.
    pub(crate) fn delivered(&self) {
        self.received.fetch_add(1, Relaxed);
    }

    /// Messages sent to `room`.
    pub(crate) fn sent_to(&self, room: usize) -> u64 {
        self.sent[room].load(Relaxed)
    }

    /// Messages sent to every room.
    pub(crate) fn sent_total(&self) -> u64 {
        self.sent.iter().map(|s| s.load(Relaxed)).sum()
    }

    /// Deliveries counted.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Relaxed)
    }

    /// Deliveries still owed: every message to every member of its room still connected,
    /// less those counted.
    pub(crate) fn awaiting(&self) -> u64 {
        let expected: u64 = self
            .sent
            .iter()
            .zip(&self.live)
            .map(|(s, l)| s.load(Relaxed) * l.load(Relaxed))
            .sum();
        expected.saturating_sub(self.received())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owed_deliveries_follow_sends_members_and_leavers() {
        let f = Fanout::new([3, 2]);
        f.sent(0);
        f.sent(1);
        assert_eq!(f.awaiting(), 5);
        f.left(0);
        f.delivered();
        assert_eq!((f.awaiting(), f.sent_total(), f.sent_to(1)), (3, 2, 1));
    }
}
