//! An object's mailbox: the bounded queue between the runtime's router and the object's task.
//! A full mailbox refuses at once (`Overloaded`); nothing is ever queued without bound.
//! Holds messages only; never runs them.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::error::Result;
use crate::object::{Request, Response, SocketId, WsMessage};
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
        reply: oneshot::Sender<Result<Reply>>,
    },
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
    },
    /// Fault injection: hold the next turn for this long (not a turn itself).
    Stall { hold: Duration },
}

/// A socket event, delivered as a turn.
#[derive(Debug)]
pub(crate) enum SocketEvent {
    Message(WsMessage),
    Close {
        code: u16,
        reason: String,
        was_clean: bool,
    },
    Error(String),
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
    // The refused envelope travels back by value so the caller can retry it; boxing it would
    // allocate on every post to save a copy on the rare refusal.
    #[allow(clippy::result_large_err)]
    pub(crate) fn post(&self, env: Envelope) -> Result<(), PostError> {
        self.tx.try_send(env).map_err(|e| match e {
            mpsc::error::TrySendError::Full(env) => PostError::Full(env),
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
