//! The input gate of one object: open while every running turn is parked at an await that
//! lets others in (a call to another object, a timer), closed while one turn runs a
//! [`InputGate::block_concurrency`] section. The object's task reads it to decide what to
//! admit and which turns to poll; a critical section marks itself here. Never wakes or
//! polls anything itself.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The object's input gate (cheap to clone). See [`InputGate::block_concurrency`].
#[derive(Debug, Clone, Default)]
pub struct InputGate {
    inner: Arc<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// The turn the task is polling now (set by the task before each poll).
    current: AtomicU64,
    /// The turn holding the gate closed, 0 when open.
    holder: AtomicU64,
    /// Nested critical sections of the holder.
    depth: AtomicU64,
}

/// Releases a critical section when it ends (or is dropped with its turn).
struct Held(Arc<GateState>);

impl Drop for Held {
    fn drop(&mut self) {
        if self.0.depth.fetch_sub(1, Relaxed) == 1 {
            self.0.holder.store(0, Relaxed);
        }
    }
}

impl InputGate {
    /// Runs `section` with the input gate closed: until it completes no other event for
    /// this object starts and no other turn resumes, even while `section` awaits another
    /// object or a timer (production's `blockConcurrencyWhile`). A read → await → write in
    /// here cannot lose an update. Calling back into this object from inside waits for the
    /// section to end, so an A → B → A call inside it never completes: keep sections short.
    pub async fn block_concurrency<F: Future>(&self, section: F) -> F::Output {
        let current = self.inner.current.load(Relaxed);
        if self.inner.holder.load(Relaxed) == 0 {
            self.inner.holder.store(current, Relaxed);
        }
        self.inner.depth.fetch_add(1, Relaxed);
        let _held = Held(self.inner.clone());
        section.await
    }

    /// The task is about to poll turn `turn` (never 0).
    pub(crate) fn polling(&self, turn: u64) {
        self.inner.current.store(turn, Relaxed);
    }

    /// The turn holding the gate closed, if any.
    pub(crate) fn holder(&self) -> Option<u64> {
        match self.inner.holder.load(Relaxed) {
            0 => None,
            t => Some(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_section_holds_the_gate_until_it_ends_and_nests() {
        let gate = InputGate::default();
        gate.polling(7);
        assert_eq!(gate.holder(), None);
        let g = gate.clone();
        gate.block_concurrency(async {
            assert_eq!(g.holder(), Some(7));
            g.block_concurrency(async { assert_eq!(g.holder(), Some(7)) })
                .await;
            assert_eq!(
                g.holder(),
                Some(7),
                "an inner section keeps the outer's hold"
            );
        })
        .await;
        assert_eq!(gate.holder(), None);
    }

    #[test]
    fn a_dropped_section_opens_the_gate() {
        let gate = InputGate::default();
        gate.polling(3);
        let mut section = Box::pin(gate.block_concurrency(std::future::pending::<()>()));
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(section.as_mut().poll(&mut cx).is_pending());
        assert_eq!(gate.holder(), Some(3));
        drop(section);
        assert_eq!(gate.holder(), None);
    }
}
