//! The runtime's table of accepted WebSockets, per object: tags, attachments, the auto-response
//! pair, and each socket's bounded outgoing queue. It outlives object instances, which is what
//! lets an object hibernate while its sockets stay open. Never blocks: a socket whose queue is
//! full — in frames or in bytes, whichever comes first — has fallen behind and is closed 1008,
//! so one slow consumer cannot stall a room or hold its backlog in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::epoch_ms;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::limits::{
    DEFAULT_SEND_QUEUE_BYTES, MAX_AUTO_RESPONSE_BYTES, MAX_SOCKETS_PER_OBJECT, MAX_TAGS,
    MAX_TAG_CHARS,
};
use crate::object::SocketId;

/// What a socket's writer task sends next.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(Message),
    Close(u16, String),
}

struct SocketEntry {
    tags: Vec<String>,
    attachment: Option<Bytes>,
    /// To the socket's writer task.
    out: mpsc::Sender<Outgoing>,
    /// Cancelled to drop the connection at once (fallen-behind consumer, shutdown).
    kill: CancellationToken,
    /// Shared with the writer: why the socket is killed, and the bytes still queued.
    queue: Arc<QueueState>,
    last_auto_response_ms: Option<i64>,
}

impl SocketEntry {
    /// Kills the connection; the writer sends `code` as its close frame if it can.
    fn kill_with(&self, code: u16) {
        if !self.kill.is_cancelled() {
            let _ = self
                .queue
                .kill_code
                .compare_exchange(0, code, Relaxed, Relaxed);
            self.kill.cancel();
        }
    }
}

/// One socket's queue accounting, shared between the table (which adds) and the writer task
/// (which subtracts once a frame is on the wire).
#[derive(Debug, Default)]
pub(crate) struct QueueState {
    /// Bytes of frames queued and not yet written.
    pub(crate) bytes: AtomicUsize,
    /// The close code the writer should send when killed (0: none chosen, drop quietly).
    pub(crate) kill_code: AtomicU16,
}

/// Close code for a consumer that fell behind its send queue.
pub(crate) const CLOSE_FELL_BEHIND: u16 = 1008;
/// Close code when the runtime shuts down.
pub(crate) const CLOSE_GOING_AWAY: u16 = 1001;

/// Payload bytes of a frame, as counted against the queue bound.
pub(crate) fn frame_bytes(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Close(_) => 0,
    }
}

#[derive(Default)]
struct ObjectSockets {
    sockets: BTreeMap<SocketId, SocketEntry>,
    auto_response: Option<(String, Utf8Bytes)>,
    /// Since when at least one socket has been open.
    open_since: Option<Instant>,
    open_us_done: u64,
}

impl ObjectSockets {
    fn open_us(&self) -> u64 {
        self.open_us_done
            + self
                .open_since
                .map_or(0, |s| s.elapsed().as_micros() as u64)
    }
}

/// Runtime-wide socket counters.
#[derive(Debug, Default)]
pub(crate) struct SocketCounters {
    pub(crate) accepted: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) auto_responses: AtomicU64,
    pub(crate) fell_behind: AtomicU64,
}

/// A socket the table just accepted: the writer's end of its queue and its kill switch.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) socket: SocketId,
    pub(crate) rx: mpsc::Receiver<Outgoing>,
    pub(crate) kill: CancellationToken,
    pub(crate) queue: Arc<QueueState>,
}

/// Every accepted socket of every object.
pub(crate) struct SocketTable {
    objects: Mutex<HashMap<ObjectId, ObjectSockets>>,
    next_id: AtomicU64,
    send_buffer: usize,
    /// Bytes queued per socket before it counts as fallen behind (set by the HTTP front).
    queue_bytes_limit: AtomicUsize,
    pub(crate) counters: SocketCounters,
}

impl SocketTable {
    pub(crate) fn new(send_buffer: usize) -> Self {
        Self {
            objects: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            send_buffer: send_buffer.max(1),
            queue_bytes_limit: AtomicUsize::new(DEFAULT_SEND_QUEUE_BYTES),
            counters: SocketCounters::default(),
        }
    }

    /// Sets the per-socket queue bound in bytes (at least 1) for every socket.
    pub(crate) fn set_queue_bytes_limit(&self, bytes: usize) {
        self.queue_bytes_limit.store(bytes.max(1), Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectId, ObjectSockets>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a socket for `object` with `tags`, checking every limit first.
    pub(crate) fn accept(&self, object: &ObjectId, tags: &[&str]) -> Result<Accepted> {
        if tags.len() > MAX_TAGS {
            return Err(Error::Limit(format!(
                "a WebSocket takes at most {MAX_TAGS} tags; got {}",
                tags.len()
            )));
        }
        let mut distinct: Vec<String> = Vec::with_capacity(tags.len());
        for t in tags {
            let chars = t.chars().count();
            if chars == 0 || chars > MAX_TAG_CHARS {
                return Err(Error::Limit(format!(
                    "a WebSocket tag is 1..={MAX_TAG_CHARS} characters; got {chars}"
                )));
            }
            if !distinct.iter().any(|d| d == t) {
                distinct.push(t.to_string());
            }
        }
        let mut all = self.lock();
        let entry = all.entry(*object).or_default();
        if entry.sockets.len() >= MAX_SOCKETS_PER_OBJECT {
            return Err(Error::Limit(format!(
                "an object holds at most {MAX_SOCKETS_PER_OBJECT} WebSockets"
            )));
        }
        let socket = SocketId(self.next_id.fetch_add(1, Relaxed));
        let (out, rx) = mpsc::channel(self.send_buffer);
        let kill = CancellationToken::new();
        let queue = Arc::new(QueueState::default());
        entry.sockets.insert(
            socket,
            SocketEntry {
                tags: distinct,
                attachment: None,
                out,
                kill: kill.clone(),
                queue: queue.clone(),
                last_auto_response_ms: None,
            },
        );
        if entry.open_since.is_none() {
            entry.open_since = Some(Instant::now());
        }
        self.counters.accepted.fetch_add(1, Relaxed);
        Ok(Accepted {
            socket,
            rx,
            kill,
            queue,
        })
    }

    /// Forgets a socket (closed, dropped, or never upgraded).
    pub(crate) fn remove(&self, object: &ObjectId, socket: SocketId) {
        let mut all = self.lock();
        if let Some(o) = all.get_mut(object) {
            if o.sockets.remove(&socket).is_some() {
                self.counters.closed.fetch_add(1, Relaxed);
            }
            if o.sockets.is_empty() {
                if let Some(since) = o.open_since.take() {
                    o.open_us_done += since.elapsed().as_micros() as u64;
                }
            }
        }
    }

    /// Sockets open for `object`.
    pub(crate) fn count(&self, object: &ObjectId) -> usize {
        self.lock().get(object).map_or(0, |o| o.sockets.len())
    }

    /// Sockets of `object`, all or those carrying `tag`.
    pub(crate) fn ids(&self, object: &ObjectId, tag: Option<&str>) -> Vec<SocketId> {
        self.lock().get(object).map_or_else(Vec::new, |o| {
            o.sockets
                .iter()
                .filter(|(_, e)| tag.is_none_or(|t| e.tags.iter().any(|x| x == t)))
                .map(|(id, _)| *id)
                .collect()
        })
    }

    /// The tags of a socket.
    pub(crate) fn tags(&self, object: &ObjectId, socket: SocketId) -> Option<Vec<String>> {
        self.lock()
            .get(object)
            .and_then(|o| o.sockets.get(&socket))
            .map(|e| e.tags.clone())
    }

    pub(crate) fn set_attachment(
        &self,
        object: &ObjectId,
        socket: SocketId,
        bytes: &[u8],
        limit: usize,
    ) -> Result<()> {
        if bytes.len() > limit {
            return Err(Error::Limit(format!(
                "a WebSocket attachment is at most {limit} bytes; got {}",
                bytes.len()
            )));
        }
        let mut all = self.lock();
        let entry = all
            .get_mut(object)
            .and_then(|o| o.sockets.get_mut(&socket))
            .ok_or_else(|| Error::Limit(format!("socket {} is not open", socket.0)))?;
        entry.attachment = Some(Bytes::copy_from_slice(bytes));
        Ok(())
    }

    pub(crate) fn attachment(&self, object: &ObjectId, socket: SocketId) -> Option<Bytes> {
        self.lock()
            .get(object)
            .and_then(|o| o.sockets.get(&socket))
            .and_then(|e| e.attachment.clone())
    }

    pub(crate) fn set_auto_response(
        &self,
        object: &ObjectId,
        pair: Option<(&str, &str)>,
    ) -> Result<()> {
        if let Some((req, resp)) = pair {
            for (side, s) in [("request", req), ("response", resp)] {
                if s.is_empty() || s.len() > MAX_AUTO_RESPONSE_BYTES {
                    return Err(Error::Limit(format!(
                        "an auto-response {side} is 1..={MAX_AUTO_RESPONSE_BYTES} bytes; got {}",
                        s.len()
                    )));
                }
            }
        }
        self.lock().entry(*object).or_default().auto_response =
            pair.map(|(a, b)| (a.to_string(), Utf8Bytes::from(b.to_string())));
        Ok(())
    }

    /// Answers `text` on `socket` without waking the object, if it is the object's
    /// auto-response request. True if answered.
    pub(crate) fn auto_respond(&self, object: &ObjectId, socket: SocketId, text: &str) -> bool {
        let mut all = self.lock();
        let Some(o) = all.get_mut(object) else {
            return false;
        };
        let Some((req, resp)) = &o.auto_response else {
            return false;
        };
        if req != text {
            return false;
        }
        let resp = resp.clone();
        let Some(e) = o.sockets.get_mut(&socket) else {
            return false;
        };
        e.last_auto_response_ms = Some(epoch_ms());
        self.counters.auto_responses.fetch_add(1, Relaxed);
        let frame = Message::Text(resp);
        if !self.enqueue(e, &frame) {
            self.counters.fell_behind.fetch_add(1, Relaxed);
            e.kill_with(CLOSE_FELL_BEHIND);
        }
        true
    }

    pub(crate) fn last_auto_response_ms(&self, object: &ObjectId, socket: SocketId) -> Option<i64> {
        self.lock()
            .get(object)
            .and_then(|o| o.sockets.get(&socket))
            .and_then(|e| e.last_auto_response_ms)
    }

    /// Queues `frame` on `e` unless its queue is full in frames or bytes (false: fell behind;
    /// a closed queue counts as queued, its connection is going anyway). Never waits.
    fn enqueue(&self, e: &SocketEntry, frame: &Message) -> bool {
        if e.kill.is_cancelled() {
            return true;
        }
        let size = frame_bytes(frame);
        let limit = self.queue_bytes_limit.load(Relaxed);
        let queued = e.queue.bytes.load(Relaxed);
        if queued > 0 && queued.saturating_add(size) > limit {
            return false;
        }
        e.queue.bytes.fetch_add(size, Relaxed);
        match e.out.try_send(Outgoing::Frame(frame.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                e.queue.bytes.fetch_sub(size, Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                e.queue.bytes.fetch_sub(size, Relaxed);
                true
            }
        }
    }

    /// Queues `msg` on each socket; a socket whose queue is full (frames or bytes) has fallen
    /// behind and is closed 1008. Frames are shared, not copied, between sockets.
    pub(crate) fn send(&self, object: &ObjectId, sockets: &[SocketId], msg: &Message) {
        let all = self.lock();
        let Some(o) = all.get(object) else { return };
        for s in sockets {
            let Some(e) = o.sockets.get(s) else { continue };
            if e.kill.is_cancelled() {
                continue;
            }
            if self.enqueue(e, msg) {
                self.counters.messages_out.fetch_add(1, Relaxed);
            } else {
                self.counters.fell_behind.fetch_add(1, Relaxed);
                e.kill_with(CLOSE_FELL_BEHIND);
            }
        }
    }

    /// Closes a socket with `code` and `reason` (after frames already queued).
    pub(crate) fn close(&self, object: &ObjectId, socket: SocketId, code: u16, reason: &str) {
        let all = self.lock();
        if let Some(e) = all.get(object).and_then(|o| o.sockets.get(&socket)) {
            if e.out
                .try_send(Outgoing::Close(code, reason.to_string()))
                .is_err()
            {
                e.kill_with(code);
            }
        }
    }

    /// Drops every connection at once (runtime shutdown).
    pub(crate) fn kill_all(&self) {
        for o in self.lock().values() {
            for e in o.sockets.values() {
                e.kill_with(CLOSE_GOING_AWAY);
            }
        }
    }

    /// Per object: (open sockets, µs with at least one socket open).
    pub(crate) fn usage(&self) -> HashMap<ObjectId, (usize, u64)> {
        self.lock()
            .iter()
            .map(|(id, o)| (*id, (o.sockets.len(), o.open_us())))
            .collect()
    }
}

/// A close frame with `code` and `reason`.
pub(crate) fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ObjectId {
        crate::id::IdSpace::new([1; 32]).id_from_name("chat", "room")
    }

    #[test]
    fn tag_limits_name_the_limit_and_leave_the_table_alone() {
        let t = SocketTable::new(4);
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
        let err = t.accept(&id(), &refs).unwrap_err().to_string();
        assert!(err.contains("at most 10 tags"), "{err}");
        let long = "x".repeat(257);
        let err = t.accept(&id(), &[&long]).unwrap_err().to_string();
        assert!(err.contains("1..=256"), "{err}");
        assert_eq!(t.count(&id()), 0);
        let a = t.accept(&id(), &refs[..10]).unwrap();
        assert_eq!(t.ids(&id(), Some("t9")), vec![a.socket]);
        assert!(t.ids(&id(), Some("t10")).is_empty());
    }

    #[test]
    fn attachment_limit() {
        let t = SocketTable::new(4);
        let a = t.accept(&id(), &[]).unwrap();
        let err = t
            .set_attachment(&id(), a.socket, &vec![0; 16_385], 16_384)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 16384 bytes"), "{err}");
        t.set_attachment(&id(), a.socket, &vec![7; 16_384], 16_384)
            .unwrap();
        assert_eq!(t.attachment(&id(), a.socket).unwrap().len(), 16_384);
    }

    #[test]
    fn a_full_queue_closes_only_that_socket() {
        let t = SocketTable::new(2);
        let slow = t.accept(&id(), &[]).unwrap();
        let mut fast = t.accept(&id(), &[]).unwrap();
        let all = t.ids(&id(), None);
        for i in 0..3 {
            t.send(&id(), &all, &Message::Text(format!("m{i}").into()));
            // The fast one keeps reading.
            assert!(fast.rx.try_recv().is_ok());
        }
        assert!(slow.kill.is_cancelled());
        assert!(!fast.kill.is_cancelled());
        assert_eq!(t.counters.fell_behind.load(Relaxed), 1);
        assert_eq!(slow.queue.kill_code.load(Relaxed), CLOSE_FELL_BEHIND);
    }

    #[test]
    fn the_byte_bound_closes_a_slow_socket_before_the_frame_bound() {
        let t = SocketTable::new(1024);
        t.set_queue_bytes_limit(10_000);
        let slow = t.accept(&id(), &[]).unwrap();
        let mut fast = t.accept(&id(), &[]).unwrap();
        let all = t.ids(&id(), None);
        let frame = Message::Text("x".repeat(4_000).into());
        for _ in 0..3 {
            t.send(&id(), &all, &frame);
            // The fast one's writer takes the frame and puts it on the wire.
            assert!(fast.rx.try_recv().is_ok());
            fast.queue.bytes.fetch_sub(4_000, Relaxed);
        }
        // 8,000 bytes fit; the third 4,000 would make 12,000 > 10,000.
        assert!(slow.kill.is_cancelled());
        assert_eq!(slow.queue.kill_code.load(Relaxed), CLOSE_FELL_BEHIND);
        assert_eq!(slow.queue.bytes.load(Relaxed), 8_000);
        assert!(!fast.kill.is_cancelled());
        // One frame larger than the bound still goes to an empty queue.
        let big = Message::Text("y".repeat(20_000).into());
        t.send(&id(), &[fast.socket], &big);
        assert!(!fast.kill.is_cancelled());
    }

    #[test]
    fn auto_response_exact_match_only() {
        let t = SocketTable::new(4);
        let mut a = t.accept(&id(), &[]).unwrap();
        t.set_auto_response(&id(), Some(("ping", "pong"))).unwrap();
        assert!(!t.auto_respond(&id(), a.socket, "Ping"));
        assert!(t.auto_respond(&id(), a.socket, "ping"));
        assert!(
            matches!(a.rx.try_recv(), Ok(Outgoing::Frame(Message::Text(m))) if m.as_str() == "pong")
        );
        assert!(t.last_auto_response_ms(&id(), a.socket).is_some());
        let err = t
            .set_auto_response(&id(), Some(("p", &"x".repeat(2049))))
            .unwrap_err();
        assert!(err.to_string().contains("2048"));
    }
}
