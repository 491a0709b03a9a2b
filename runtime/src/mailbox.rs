//! An object's mailbox: the bounded queue between the runtime's router and the object's task.
//! A full mailbox refuses at once (`Overloaded`); nothing is ever queued without bound.
//! Holds messages only; never runs them.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::error::Result;
use crate::object::{Request, Response};

/// What can wait in a mailbox.
#[derive(Debug)]
pub(crate) enum Envelope {
    /// An HTTP request; the reply leaves after the turn's writes commit.
    Fetch {
        req: Request,
        reply: oneshot::Sender<Result<Response>>,
    },
    /// The object's alarm is due. `permit` bounds alarm turns in flight runtime-wide.
    Alarm {
        scheduled_ms: i64,
        retry_count: u32,
        permit: Option<OwnedSemaphorePermit>,
    },
    /// Fault injection: hold the next turn for this long (not a turn itself).
    Stall { hold: Duration },
}

/// Why a message could not be posted.
#[derive(Debug)]
pub(crate) enum PostError {
    /// The mailbox is at its bound.
    Full,
    /// The object's task has ended (evicted or crashed); the message is handed back.
    Closed(Envelope),
}

/// The sending side, kept in the runtime's directory of live objects.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    tx: mpsc::Sender<Envelope>,
}

impl Mailbox {
    /// A mailbox holding at most `bound` messages, and the receiving end for the object task.
    pub(crate) fn new(bound: usize) -> (Self, mpsc::Receiver<Envelope>) {
        let (tx, rx) = mpsc::channel(bound);
        (Self { tx }, rx)
    }

    /// Posts without waiting.
    pub(crate) fn post(&self, env: Envelope) -> Result<(), PostError> {
        self.tx.try_send(env).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PostError::Full,
            mpsc::error::TrySendError::Closed(env) => PostError::Closed(env),
        })
    }

    /// Messages waiting now.
    pub(crate) fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The bound.
    pub(crate) fn bound(&self) -> usize {
        self.tx.max_capacity()
    }
}
