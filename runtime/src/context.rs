//! What a turn sees of its object: the per-turn [`Context`] (id, storage, sockets, alarm,
//! namespaces of other classes, timers, the input gate) and the object-wide core every
//! turn of one object shares (its storage transaction and what waits for its commit).
//! Turns of one object are polled by one task, one at a time, so the core's lock is never
//! contended; it is held only inside a poll, never across an await (a guard is `!Send`).
//! Never commits, posts or sends anything itself: the object's task does that after commit.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::gate::InputGate;
use crate::id::ObjectId;
use crate::mailbox::Envelope;
use crate::object::{SocketId, WsMessage};
use crate::runtime::{ObjectRef, Runtime};
use crate::sockets::{Accepted, SocketTable};
use crate::storage::Storage;
use crate::stub::Namespace;

/// What every turn of one live object shares. Owned by the object's task; each turn's
/// [`Context`] holds a clone.
pub(crate) struct Core {
    pub(crate) object: ObjectRef,
    pub(crate) sockets: Arc<SocketTable>,
    pub(crate) attachment_limit: usize,
    /// Reaches other objects (namespaces, stubs).
    pub(crate) runtime: Runtime,
    pub(crate) gate: InputGate,
    tx: Mutex<Tx>,
}

/// The open transaction of the object and what waits for it to commit (the output gate).
pub(crate) struct Tx {
    pub(crate) storage: Storage,
    /// The alarm change these turns made, applied to the scheduler after commit.
    pub(crate) alarm_effect: Option<AlarmEffect>,
    /// Bumped by every `set_alarm`/`delete_alarm` a handler makes (an alarm turn compares
    /// it before and after its handler to see whether the handler chose the next alarm).
    pub(crate) alarm_changes: u64,
    /// Frames and closes, released after commit.
    pub(crate) outgoing: Vec<OutFrame>,
    /// Calls to other objects, posted after commit, in the order they were made (E-order).
    pub(crate) calls: Vec<OutCall>,
}

/// A frame or close a turn produced, waiting for the commit.
#[derive(Debug)]
pub(crate) enum OutFrame {
    Send(Vec<SocketId>, axum::extract::ws::Message),
    Close(SocketId, u16, String),
}

/// A call to another object, waiting for the caller's commit.
pub(crate) struct OutCall {
    pub(crate) to: ObjectRef,
    pub(crate) env: Envelope,
}

/// What a batch did to the object's alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlarmEffect {
    /// Set for `at_ms`; `retry_count` > 0 when the runtime set it as a retry.
    Set { at_ms: i64, retry_count: u32 },
    /// Removed (deleted, or ran to completion, or given up).
    Clear,
}

impl Core {
    pub(crate) fn new(
        object: ObjectRef,
        storage: Storage,
        sockets: Arc<SocketTable>,
        attachment_limit: usize,
        runtime: Runtime,
    ) -> Self {
        Self {
            object,
            sockets,
            attachment_limit,
            runtime,
            gate: InputGate::default(),
            tx: Mutex::new(Tx {
                storage,
                alarm_effect: None,
                alarm_changes: 0,
                outgoing: Vec::new(),
                calls: Vec::new(),
            }),
        }
    }

    /// The transaction state. Never held across an await.
    pub(crate) fn tx(&self) -> MutexGuard<'_, Tx> {
        // Every critical section leaves `Tx` consistent before it could panic.
        self.tx.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn id(&self) -> ObjectId {
        self.object.id()
    }
}

/// A turn's view of its object: identity, storage, sockets, alarm, other objects. One per
/// turn; every turn of the object shares its storage transaction.
pub struct Context {
    pub(crate) core: Arc<Core>,
    /// The current fetch turn carries a real WebSocket upgrade.
    pub(crate) upgrade: bool,
    /// The socket the current fetch turn accepted.
    pub(crate) accepted: Option<Accepted>,
}

/// The object's storage, borrowed for synchronous calls (storage never opens the input
/// gate). Drop it before awaiting: it cannot be held across an await.
pub struct StorageGuard<'a>(MutexGuard<'a, Tx>);

impl std::ops::Deref for StorageGuard<'_> {
    type Target = Storage;
    fn deref(&self) -> &Storage {
        &self.0.storage
    }
}

impl std::ops::DerefMut for StorageGuard<'_> {
    fn deref_mut(&mut self) -> &mut Storage {
        &mut self.0.storage
    }
}

impl Context {
    pub(crate) fn new(core: Arc<Core>, upgrade: bool) -> Self {
        Self {
            core,
            upgrade,
            accepted: None,
        }
    }

    /// Hands the request's WebSocket to the runtime, which owns it from now on (so the
    /// object can hibernate while it stays open). Only in a fetch turn whose request is a
    /// WebSocket upgrade; answer it with [`crate::Response::switching_protocols`]. Tags: at
    /// most 10 distinct, each 1..=256 characters.
    pub fn accept_websocket(&mut self, tags: &[&str]) -> Result<SocketId> {
        if !self.upgrade {
            return Err(Error::Limit(
                "accept_websocket needs a WebSocket upgrade request".into(),
            ));
        }
        if self.accepted.is_some() {
            return Err(Error::Limit(
                "this request's WebSocket was already accepted".into(),
            ));
        }
        let accepted = self.core.sockets.accept(&self.core.id(), tags)?;
        let socket = accepted.socket;
        self.accepted = Some(accepted);
        Ok(socket)
    }

    /// The object's open sockets, all or those with `tag`.
    pub fn get_websockets(&self, tag: Option<&str>) -> Vec<SocketId> {
        self.core.sockets.ids(&self.core.id(), tag)
    }

    /// The tags a socket was accepted with.
    pub fn get_tags(&self, ws: SocketId) -> Vec<String> {
        self.core
            .sockets
            .tags(&self.core.id(), ws)
            .unwrap_or_default()
    }

    /// Stores bytes with the socket; they survive hibernation. At most the attachment limit
    /// (16,384 bytes by default).
    pub fn serialize_attachment(&mut self, ws: SocketId, bytes: &[u8]) -> Result<()> {
        self.core
            .sockets
            .set_attachment(&self.core.id(), ws, bytes, self.core.attachment_limit)
    }

    /// The socket's attachment.
    pub fn deserialize_attachment(&self, ws: SocketId) -> Option<Bytes> {
        self.core.sockets.attachment(&self.core.id(), ws)
    }

    /// Sends a message on one socket once the writes before it commit.
    pub fn send(&mut self, ws: SocketId, msg: WsMessage) {
        self.broadcast(&[ws], msg);
    }

    /// Sends one message to many sockets once the writes before it commit; serialized once
    /// and shared.
    pub fn broadcast(&mut self, sockets: &[SocketId], msg: WsMessage) {
        use axum::extract::ws::Message;
        let frame = match msg {
            WsMessage::Text(t) => Message::Text(t.into()),
            WsMessage::Binary(b) => Message::Binary(b),
        };
        self.core
            .tx()
            .outgoing
            .push(OutFrame::Send(sockets.to_vec(), frame));
    }

    /// Closes a socket once the writes before it commit.
    pub fn close(&mut self, ws: SocketId, code: u16, reason: &str) {
        self.core
            .tx()
            .outgoing
            .push(OutFrame::Close(ws, code, reason.to_string()));
    }

    /// Sets (or clears) the request/response pair the runtime answers by itself, on an
    /// exact text match, without waking the object. Each side at most 2,048 bytes.
    pub fn set_websocket_auto_response(&mut self, pair: Option<(&str, &str)>) -> Result<()> {
        self.core.sockets.set_auto_response(&self.core.id(), pair)
    }

    /// When the runtime last auto-responded on this socket (epoch ms).
    pub fn get_websocket_auto_response_timestamp(&self, ws: SocketId) -> Option<i64> {
        self.core.sockets.last_auto_response_ms(&self.core.id(), ws)
    }

    /// This object's id.
    pub fn id(&self) -> ObjectId {
        self.core.id()
    }

    /// This object's class name.
    pub fn class(&self) -> &str {
        self.core.object.class()
    }

    /// The name the id was derived from, when the runtime saw it.
    pub fn name(&self) -> Option<&str> {
        self.core.object.name()
    }

    /// This object's storage; writes belong to the open transaction, which commits before
    /// anything produced after them leaves. Synchronous: never lets another turn in.
    pub fn storage(&mut self) -> StorageGuard<'_> {
        StorageGuard(self.core.tx())
    }

    /// Sets the object's one alarm for `at_ms` (epoch ms), replacing any earlier one. A time
    /// in the past fires at once. Takes effect when the turn commits.
    pub fn set_alarm(&mut self, at_ms: i64) -> Result<()> {
        let mut tx = self.core.tx();
        tx.storage.set_alarm(at_ms)?;
        tx.alarm_effect = Some(AlarmEffect::Set {
            at_ms,
            retry_count: 0,
        });
        tx.alarm_changes += 1;
        Ok(())
    }

    /// The pending alarm's time, if any. While an alarm handler runs this is `None` unless
    /// the handler set a new one.
    pub fn get_alarm(&mut self) -> Result<Option<i64>> {
        self.core.tx().storage.alarm()
    }

    /// Removes the pending alarm, if any.
    pub fn delete_alarm(&mut self) -> Result<()> {
        let mut tx = self.core.tx();
        tx.storage.delete_alarm()?;
        tx.alarm_effect = Some(AlarmEffect::Clear);
        tx.alarm_changes += 1;
        Ok(())
    }

    /// Wall-clock time in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        crate::clock::epoch_ms()
    }

    /// Waits `for_`. Opens the input gate: other events for this object may run meanwhile.
    pub fn sleep(&self, for_: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(for_)
    }

    /// The input gate, for [`InputGate::block_concurrency`].
    pub fn input_gate(&self) -> InputGate {
        self.core.gate.clone()
    }

    /// The objects of `class`, to get ids and stubs from (production's namespace binding).
    pub fn namespace(&self, class: &str) -> Result<Namespace> {
        Namespace::new(self.core.clone(), class)
    }
}
