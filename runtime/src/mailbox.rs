//! An object's mailbox: the bounded queue between the runtime's router and the object's task.
//! A full mailbox refuses at once (`Overloaded`); nothing is ever queued without bound.
//! Holds messages only; never runs them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, Notify, OwnedSemaphorePermit};

use crate::error::Result;
use crate::object::{Request, Response, SocketEvent, SocketId};
use crate::sockets::Accepted;

/// What can wait in a mailbox.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// An HTTP request; the reply leaves after the turn's writes commit.
    Fetch {
        /// Boxed so an envelope stays small: every mailbox allocates room for a block of
        /// envelopes, and a million objects each have a mailbox.
        req: Box<Request>,
        /// The HTTP front holds a real WebSocket upgrade for this request.
        upgrade: bool,
        /// Sent by another object's stub (counted as a call in both objects' stats).
        call: bool,
        reply: oneshot::Sender<Result<Reply>>,
    },
    /// A typed call from another object's stub. Boxed for the same reason as `req`.
    Call { call: Box<RpcCall> },
    /// The object's alarm is due. `permit` bounds alarm turns in flight runtime-wide.
    Alarm {
        scheduled_ms: i64,
        retry_count: u32,
        permit: Option<OwnedSemaphorePermit>,
    },
    /// Something happened on a socket the object accepted.
    Socket {
        socket: SocketId,
        event: SocketEvent,
        /// The message's bytes, in flight until the turn takes the envelope.
        held: Option<crate::inflight::Reservation>,
    },
    /// Fault injection: hold the next turn for this long (not a turn itself).
    Stall { hold: Duration },
}

/// A typed call: method, JSON arguments, and where its JSON answer goes after commit.
#[derive(Debug)]
pub(crate) struct RpcCall {
    pub(crate) method: String,
    pub(crate) args: serde_json::Value,
    pub(crate) reply: oneshot::Sender<Result<serde_json::Value>>,
}

/// A fetch turn's answer: the response, and the socket it accepted, if any.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) response: Response,
    pub(crate) accepted: Option<Accepted>,
}

/// Why a message could not be posted.
#[derive(Debug)]
pub(crate) enum PostError {
    /// The mailbox is at its bound; the message is handed back.
    Full(Envelope),
    /// The object's task has ended (evicted or crashed); the message is handed back.
    Closed(Envelope),
}

/// The sending side, kept in the runtime's directory of live objects.
///
/// Not a `tokio::sync::mpsc` channel: that one allocates a block of 32 envelope slots per
/// channel up front (~1.6 KiB), and every object in memory has a mailbox. Here the queue
/// allocates on its first message and holds what waits, nothing more.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    inner: Arc<Inner>,
}

/// The receiving end, owned by the object's task.
#[derive(Debug)]
pub(crate) struct Inbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: Mutex<Queue>,
    /// Woken on every post (a stored permit if the task is not waiting yet).
    posted: Notify,
    bound: usize,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Envelope>,
    closed: bool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section leaves the queue consistent before it could panic.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Mailbox {
    /// A mailbox holding at most `bound` messages, and the receiving end for the object task.
    pub(crate) fn new(bound: usize) -> (Self, Inbox) {
        let inner = Arc::new(Inner {
            queue: Mutex::default(),
            posted: Notify::new(),
            bound: bound.max(1),
        });
        (
            Self {
                inner: inner.clone(),
            },
            Inbox { inner },
        )
    }

    /// Posts without waiting.
    // The refused envelope travels back by value so the caller can retry it; boxing it would
    // allocate on every post to save a copy on the rare refusal.
    #[allow(clippy::result_large_err)]
    pub(crate) fn post(&self, env: Envelope) -> Result<(), PostError> {
        {
            let mut q = self.inner.lock();
            if q.closed {
                return Err(PostError::Closed(env));
            }
            if q.waiting.len() >= self.inner.bound {
                return Err(PostError::Full(env));
            }
            q.waiting.push_back(env);
        }
        self.inner.posted.notify_one();
        Ok(())
    }

    /// Messages waiting now.
    pub(crate) fn depth(&self) -> usize {
        self.inner.lock().waiting.len()
    }

    /// The bound.
    pub(crate) fn bound(&self) -> usize {
        self.inner.bound
    }
}

impl Inbox {
    /// The next message; `None` once the inbox is closed and empty. Cancel-safe: a message
    /// is only taken in the poll that returns it.
    pub(crate) async fn recv(&mut self) -> Option<Envelope> {
        loop {
            {
                let mut q = self.inner.lock();
                if let Some(env) = q.waiting.pop_front() {
                    return Some(env);
                }
                if q.closed {
                    return None;
                }
            }
            self.inner.posted.notified().await;
        }
    }

    /// The next message if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Envelope> {
        self.inner.lock().waiting.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.lock().waiting.is_empty()
    }

    /// Refuses every later post (`PostError::Closed`); what already waits can still be taken.
    pub(crate) fn close(&mut self) {
        self.inner.lock().closed = true;
    }
}

impl Drop for Inbox {
    /// Closes, and drops what still waits (outside the lock), so its callers hear at once
    /// that their reply will never come.
    fn drop(&mut self) {
        let left = {
            let mut q = self.inner.lock();
            q.closed = true;
            std::mem::take(&mut q.waiting)
        };
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stall() -> Envelope {
        Envelope::Stall {
            hold: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn bounded_then_closed_and_drained() {
        let (tx, mut rx) = Mailbox::new(2);
        assert!(tx.post(stall()).is_ok());
        assert!(tx.post(stall()).is_ok());
        assert!(matches!(tx.post(stall()), Err(PostError::Full(_))));
        assert_eq!(tx.depth(), 2);
        rx.close();
        assert!(matches!(tx.post(stall()), Err(PostError::Closed(_))));
        assert!(rx.recv().await.is_some());
        assert!(rx.try_recv().is_some());
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_task_wakes_on_post() {
        let (tx, mut rx) = Mailbox::new(4);
        let waiter = tokio::spawn(async move { rx.recv().await.is_some() });
        tokio::task::yield_now().await;
        tx.post(stall()).unwrap();
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_dropped_inbox_refuses_and_drops_what_waited() {
        let (tx, rx) = Mailbox::new(4);
        let (reply, answer) = oneshot::channel();
        tx.post(Envelope::Fetch {
            req: Box::new(Request::new(crate::object::Method::GET, "/")),
            upgrade: false,
            call: false,
            reply,
        })
        .unwrap();
        drop(rx);
        assert!(answer.await.is_err(), "the waiting caller hears at once");
        assert!(matches!(tx.post(stall()), Err(PostError::Closed(_))));
    }
}
