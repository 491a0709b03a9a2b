//! Lanes: one OS thread per core, each driving a current-thread tokio runtime, that host a
//! run's workers, their connections and their pacer. A worker's socket readiness, its timer
//! wake-ups and its task wakes all stay on its lane's thread: no work stealing, no cross-
//! thread unpark per request (the multi-threaded runtime woke a second worker thread for
//! nearly every paced send). Lanes share nothing but what the executor shares anyway (the
//! plan's cursor, the recorder shards), so an open model's free worker on any lane takes the
//! next send.
//!
//! A lane only runs what it is handed; it never sends, records or decides anything itself.
//! It stops when its [`Lane`] is dropped (tasks still on it are dropped with its runtime).

use std::future::Future;
use std::sync::mpsc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Period of the timer that keeps every lane's timer wheel armed (shorter than any usual
/// request timeout, long enough to cost nothing: 4 wake-ups a second).
const KEEP_TIMER: std::time::Duration = std::time::Duration::from_millis(250);

/// One lane thread and its runtime's handle. Dropping it stops the thread.
pub struct Lane {
    handle: Handle,
    _stop: oneshot::Sender<()>,
}

impl Lane {
    /// The lane's runtime (spawn on it, or enter it to create I/O resources there).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

/// Starts `n` lanes (at least one).
pub fn start(n: usize) -> std::io::Result<Vec<Lane>> {
    (0..n.max(1)).map(start_one).collect()
}

fn start_one(i: usize) -> std::io::Result<Lane> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    // tokio's timer wakes its own driver (an eventfd write) for every timer that is earlier
    // than the earliest it knows, and an idle lane knows none: without this one short timer
    // every request's timeout, armed as the request goes out, would pay that write.
    handle.spawn(async {
        loop {
            tokio::time::sleep(KEEP_TIMER).await;
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let (up_tx, up_rx) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name(format!("dobench-lane-{i}"))
        .spawn(move || {
            let _ = up_tx.send(());
            // Runs every task spawned on the lane until the `Lane` is dropped.
            let _ = rt.block_on(stopped);
        })?;
    // Wait until the thread drives the runtime (spawned tasks start at once from here on).
    let _ = up_rx.recv();
    Ok(Lane {
        handle,
        _stop: stop,
    })
}

/// Runs `f` on lane `i % lanes.len()` and waits for its result (from any runtime).
pub async fn run_on<F>(lanes: &[Lane], i: usize, f: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    lanes[i % lanes.len()].handle.spawn(f).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_their_lanes_own_thread() {
        let lanes = start(2).unwrap();
        let a = run_on(&lanes, 0, async {
            std::thread::current().name().map(String::from)
        });
        let b = run_on(&lanes, 1, async {
            std::thread::current().name().map(String::from)
        });
        assert_eq!(a.await.flatten().as_deref(), Some("dobench-lane-0"));
        assert_eq!(b.await.flatten().as_deref(), Some("dobench-lane-1"));
    }
}
