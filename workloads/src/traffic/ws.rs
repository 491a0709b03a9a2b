//! User-described WebSocket rooms (`workload = "ws"`), a request source of the one executor:
//! the rooms are the keyspace's keys `0..keys`, each on the object the strategy picks (named
//! by `ws.object_name`), each with `ws.members` members whose sessions the executor opens
//! from the compiled connect template. Every member sends `ws.rate` messages/s (open model,
//! round robin over the members, so intended send times are evenly spaced); a message is the
//! compiled send template, rendered with its `{msg_id}` (its schedule index) and
//! `{intended_us}` (its intended send time) and sent as it is — no executor stamp, the API's
//! own frame format. Each frame a member receives is parsed as JSON; the `ws.id` pointer
//! finds the message it delivers (frames without one — presence, acks — are ignored) and the
//! `ws.stamp` pointer its intended send time, from which the executor times the delivery.
//!
//! Checks at the end: every member connected; every never-disconnected member got every
//! message sent to its room, once (per member and per room: a count and an
//! order-insensitive hash of the ids, never the ids themselves), within `load.timeout` of the
//! last send; no member got another room's message or one this run never sent; and every
//! delivery carried its id and its message's own intended send time where the pointers say.
//! Never does I/O on the executor's hot path; never keeps one entry per frame.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use dobench_loadgen::http::Uri;
use dobench_loadgen::request::{Frame, SessionEvent, SessionSpec};
use dobench_loadgen::summary::Check;
use dobench_loadgen::{executor, OpenSchedule, RequestSource, RequestSpec, Schedule};
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::{check, run_config, verdict, Finished, Running};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::strategy::{mix64, Strategy};
use crate::template::Vars;
use crate::ws_spec::{message_id, WsPlan};

const ID_SALT: u64 = 0x5e55_a9e5_0000_0015;

/// The order-insensitive hash of one message id (summed, wrapping, per member and per room).
fn id_hash(global: u64) -> u64 {
    mix64(global ^ ID_SALT)
}

/// What one member saw, in constant space.
#[derive(Debug, Clone, Copy)]
struct MemberBook {
    connected: bool,
    reconnects: u32,
    lost: bool,
    /// Deliveries on the first connection, and the sum of their id hashes.
    count: u64,
    hash: u64,
}

impl MemberBook {
    const NEW: MemberBook = MemberBook {
        connected: true,
        reconnects: 0,
        lost: false,
        count: 0,
        hash: 0,
    };
}

/// Frames that were no good delivery, by why.
#[derive(Debug, Default)]
struct Strays {
    /// No value at the id pointer (not JSON, presence, acks): ignored by design.
    no_id: AtomicU64,
    /// A value at the id pointer that holds no message id.
    bad_id: AtomicU64,
    /// An id this run never planned.
    foreign: AtomicU64,
    /// A message of another room.
    cross_room: AtomicU64,
    /// No whole number at the stamp pointer.
    no_stamp: AtomicU64,
    /// A stamp that is not the message's own intended send time.
    wrong_stamp: AtomicU64,
}

/// The request source of user-described WebSocket rooms.
pub struct WsSource {
    plan: WsPlan,
    nonce: String,
    /// `ws://` or `wss://` base, without a trailing `/`.
    ws_base: String,
    /// The target's base URL, for labelling frames (their URL is never requested).
    label: Uri,
    op: Arc<str>,
    /// Rooms (distinct objects), their shard, and each member's room and room key.
    rooms: Vec<Arc<str>>,
    room_shard: Vec<u64>,
    members: Vec<(u32, u64)>,
    schedule: OpenSchedule,
    planned: u64,
    books: Vec<Mutex<MemberBook>>,
    /// Messages sent per room, members still connected, deliveries counted.
    fanout: Fanout,
    /// The sum of the id hashes of the messages sent to each room.
    room_hash: Vec<AtomicU64>,
    strays: Strays,
    /// The schedule's start as µs since the Unix epoch, learnt from the first send
    /// (0: not yet), for checking stamps.
    start_unix_us: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl WsSource {
    /// A source for `plan`: rooms `0..keys` on `strategy`'s objects, against `base`
    /// (`http://` → `ws://`, `https://` → `wss://`), sending for `duration`.
    pub fn new(
        plan: WsPlan,
        keys: u64,
        strategy: Strategy,
        base: &str,
        nonce: &str,
        duration: std::time::Duration,
    ) -> Result<WsSource> {
        let base = base.trim_end_matches('/');
        let ws_base = if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            return Err(Error::Invalid(format!(
                "a ws profile needs an http:// or https:// target, not {base}"
            )));
        };
        let label: Uri = base
            .parse()
            .map_err(|e| Error::Invalid(format!("target {base}: {e}")))?;
        let (mut rooms, mut room_shard) = (Vec::new(), Vec::new());
        let mut by_shard: HashMap<u64, u32> = HashMap::new();
        let mut members = Vec::new();
        for key in 0..keys {
            let shard = strategy.write_shard(key);
            let room = *by_shard.entry(shard).or_insert_with(|| {
                rooms.push(Arc::from(plan.object_name.render(&Vars {
                    shard,
                    nonce,
                    ..Vars::default()
                })));
                room_shard.push(shard);
                (rooms.len() - 1) as u32
            });
            members.extend((0..plan.members).map(|_| (room, key)));
        }
        let total = members.len() as f64;
        let schedule = OpenSchedule::Constant {
            rate: plan.rate * total,
            duration,
        };
        let mut per_room = vec![0u64; rooms.len()];
        for (room, _) in &members {
            per_room[*room as usize] += 1;
        }
        Ok(WsSource {
            nonce: nonce.to_string(),
            ws_base,
            label,
            op: "send".into(),
            planned: schedule.len(),
            schedule,
            books: members
                .iter()
                .map(|_| Mutex::new(MemberBook::NEW))
                .collect(),
            fanout: Fanout::new(per_room),
            room_hash: rooms.iter().map(|_| AtomicU64::new(0)).collect(),
            strays: Strays::default(),
            start_unix_us: AtomicU64::new(0),
            rooms,
            room_shard,
            members,
            plan,
        })
    }

    /// The arrival schedule: every member at `ws.rate`.
    pub fn schedule(&self) -> Schedule {
        Schedule::Open(self.schedule.clone())
    }

    fn book(&self, member: u32) -> std::sync::MutexGuard<'_, MemberBook> {
        self.books[member as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn member_of(&self, index: u64) -> u32 {
        (index % self.members.len() as u64) as u32
    }

    fn vars(&self, member: u32) -> Vars<'_> {
        let (room, key) = self.members[member as usize];
        Vars {
            key,
            object: &self.rooms[room as usize],
            shard: self.room_shard[room as usize],
            seq: u64::from(member),
            now_ms: now_ms(),
            nonce: &self.nonce,
            member: u64::from(member),
            ..Vars::default()
        }
    }

    /// The intended send time of message `global` (µs since the epoch), once known.
    fn intended_unix_us(&self, global: u64) -> Option<u64> {
        let start = self.start_unix_us.load(Relaxed);
        let offset = self.schedule.send_time(global)?;
        (start > 0).then(|| start + offset.as_micros() as u64)
    }

    /// Books a frame's stamp; the intended time to time the delivery from.
    fn stamp_of(&self, frame: &serde_json::Value, global: u64) -> Option<u64> {
        let pointer = self.plan.stamp.as_ref()?;
        let Some(us) = pointer.find(frame).and_then(serde_json::Value::as_u64) else {
            self.strays.no_stamp.fetch_add(1, Relaxed);
            return None;
        };
        if self
            .intended_unix_us(global)
            .is_some_and(|want| want.abs_diff(us) > 1)
        {
            self.strays.wrong_stamp.fetch_add(1, Relaxed);
        }
        Some(us)
    }
}

impl RequestSource for WsSource {
    fn request(&self, index: u64) -> RequestSpec {
        self.request_at(0, index, 0)
    }

    fn request_at(&self, _user: usize, index: u64, intended_unix_us: u64) -> RequestSpec {
        if intended_unix_us > 0 && self.start_unix_us.load(Relaxed) == 0 {
            if let Some(offset) = self.schedule.send_time(index) {
                let start = intended_unix_us.saturating_sub(offset.as_micros() as u64);
                let _ = self
                    .start_unix_us
                    .compare_exchange(0, start, Relaxed, Relaxed);
            }
        }
        let member = self.member_of(index);
        let vars = Vars {
            seq: index,
            msg_id: index,
            intended_us: intended_unix_us,
            ..self.vars(member)
        };
        let room = self.members[member as usize].0 as usize;
        RequestSpec::frame(
            self.op.clone(),
            member,
            self.label.clone(),
            self.plan.send.render(&vars),
        )
        .with_object(self.rooms[room].clone())
    }

    fn frame_sent(&self, index: u64, request: &RequestSpec) {
        if let Some(member) = request.session {
            let room = self.members[member as usize].0 as usize;
            self.fanout.sent(room);
            self.room_hash[room].fetch_add(id_hash(index), Relaxed);
        }
    }

    fn stamps_frames(&self) -> bool {
        false
    }

    fn sessions(&self) -> Vec<SessionSpec> {
        (0..self.members.len() as u32)
            .map(|m| {
                let mut url = self.ws_base.clone();
                self.plan.connect.render_into(&self.vars(m), &mut url);
                SessionSpec { url }
            })
            .collect()
    }

    fn frame<'a>(&self, session: u32, text: &'a str) -> Frame<'a> {
        let s = &self.strays;
        let parsed = serde_json::from_str::<serde_json::Value>(text).ok();
        let Some((frame, id)) = parsed
            .as_ref()
            .and_then(|v| Some((v, self.plan.id.find(v)?)))
        else {
            s.no_id.fetch_add(1, Relaxed);
            return Frame::Other;
        };
        let Some(global) = message_id(id) else {
            s.bad_id.fetch_add(1, Relaxed);
            return Frame::Other;
        };
        if global >= self.planned {
            s.foreign.fetch_add(1, Relaxed);
            return Frame::Other;
        }
        let room = self.members[session as usize].0;
        if self.members[self.member_of(global) as usize].0 != room {
            s.cross_room.fetch_add(1, Relaxed);
            return Frame::Other;
        }
        let intended_unix_us = self.stamp_of(frame, global);
        self.fanout.delivered();
        let mut b = self.book(session);
        if b.reconnects == 0 {
            b.count += 1;
            b.hash = b.hash.wrapping_add(id_hash(global));
        }
        Frame::Message {
            global,
            intended_unix_us,
        }
    }

    fn session_event(&self, session: u32, event: SessionEvent) {
        let mut b = self.book(session);
        match event {
            SessionEvent::Failed => b.connected = false,
            SessionEvent::Reconnected => b.reconnects += 1,
            SessionEvent::Lost => b.lost = true,
        }
        if event != SessionEvent::Reconnected {
            let room = self.members[session as usize].0 as usize;
            self.fanout.left(room);
        }
    }

    fn awaiting(&self) -> u64 {
        self.fanout.awaiting()
    }

    /// Every member sends at one rate, so room `r` gets `m_r / M` of the messages and each
    /// reaches its `m_r` members: `Σ m_r² / M` deliveries per message.
    fn fan_out(&self) -> f64 {
        let mut per_room = vec![0u64; self.rooms.len()];
        for (room, _) in &self.members {
            per_room[*room as usize] += 1;
        }
        let squares: u64 = per_room.iter().map(|m| m * m).sum();
        squares as f64 / self.members.len().max(1) as f64
    }

    fn rate_unit(&self) -> &'static str {
        "msg/s"
    }
}

impl WsSource {
    /// The verdict's checks; `grace` is how long deliveries were awaited after the last send.
    pub fn checks(&self, grace: std::time::Duration) -> Vec<Check> {
        let total = self.books.len();
        let (mut connected, mut complete, mut checked) = (0, 0, 0);
        let mut example = None;
        for (m, book) in self.books.iter().enumerate() {
            let b = *book.lock().unwrap_or_else(PoisonError::into_inner);
            if !b.connected {
                continue;
            }
            connected += 1;
            if b.reconnects > 0 || b.lost {
                continue;
            }
            checked += 1;
            let room = self.members[m].0 as usize;
            let sent = self.fanout.sent_to(room);
            if b.count == sent && b.hash == self.room_hash[room].load(Relaxed) {
                complete += 1;
            } else {
                example.get_or_insert_with(|| {
                    format!(
                        "member {m} of {} got {} deliveries of the {sent} messages sent to it",
                        self.rooms[room], b.count
                    )
                });
            }
        }
        let sent = self.fanout.sent_total();
        let s = &self.strays;
        let n = |a: &AtomicU64| a.load(Relaxed);
        let (foreign, cross) = (n(&s.foreign), n(&s.cross_room));
        let (bad_id, no_stamp, wrong_stamp) = (n(&s.bad_id), n(&s.no_stamp), n(&s.wrong_stamp));
        let id = self.plan.id.as_str();
        let mut carried = format!(
            "{} deliveries found by ws.id = {id:?}; {} frames without an id ignored (presence, acks); {bad_id} with a value there that holds no message id",
            self.fanout.received(),
            n(&s.no_id)
        );
        if let Some(p) = &self.plan.stamp {
            carried += &format!(
                "; {no_stamp} without a whole number at ws.stamp = {:?}; {wrong_stamp} whose stamp was not their message's intended send time",
                p.as_str()
            );
        }
        vec![
            check(
                "every member connected",
                connected == total,
                format!("{connected} of {total} members connected"),
            ),
            check(
                "every member got every message sent to its room, once",
                checked > 0 && complete == checked,
                format!(
                    "{complete} of {checked} never-disconnected members got every one of their room's messages ({sent} sent to {} rooms) within {grace:?} of the last send{}",
                    self.rooms.len(),
                    example.map(|e| format!(" ({e})")).unwrap_or_default()
                ),
            ),
            check(
                "no member got another room's message or one never sent",
                foreign == 0 && cross == 0,
                format!("{cross} deliveries of another room's message; {foreign} of an id this run never sent"),
            ),
            check(
                "deliveries carry their message's id and intended send time",
                bad_id == 0 && no_stamp == 0 && wrong_stamp == 0,
                carried,
            ),
        ]
    }

    /// Distinct rooms (objects) and members.
    pub fn size(&self) -> (usize, usize) {
        (self.rooms.len(), self.members.len())
    }
}

/// Starts a `workload = "ws"` profile against `base`.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let plan = WsPlan::compile(&profile.ws, profile.strategy_given)
        .map_err(|e| Error::Invalid(format!("{}: {}", e.field(), e.message)))?;
    let source = Arc::new(WsSource::new(
        plan,
        profile.keyspace.keys,
        profile.strategy,
        &base,
        nonce,
        profile.load.duration.0,
    )?);
    let config = run_config(&profile.load, source.schedule());
    let grace = profile.load.timeout.0;
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let (rooms, members) = source.size();
        let sent = source.fanout.sent_total();
        let reconnects: u32 = source
            .books
            .iter()
            .map(|b| b.lock().unwrap_or_else(PoisonError::into_inner).reconnects)
            .sum();
        Ok(Finished {
            objects_used: rooms as u64,
            notes: vec![format!(
                "{sent} messages sent to {rooms} rooms, {members} members in all, {} deliveries, {} other frames ignored, {reconnects} reconnects",
                source.fanout.received(),
                source.strays.no_id.load(Relaxed)
            )],
            correctness: verdict(source.checks(grace)),
            outcome,
            alarms: None,
            read_fan_in: 1,
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws_spec::WsOptions;

    /// 2 room keys × 2 members, per-key: members 0, 1 in room 0 and 2, 3 in room 1.
    fn source(stamp: bool) -> WsSource {
        let o = WsOptions {
            object_name: Some("r-{shard}".into()),
            members: Some(2),
            rate: Some(5.0),
            connect: Some("/rooms/{object}?m={member}&k={key}".into()),
            send: Some(r#"{"id":"x-{msg_id}","at":{intended_us},"from":{member}}"#.into()),
            id: Some("/id".into()),
            stamp: stamp.then(|| "/at".into()),
        };
        let plan = WsPlan::compile(&o, true).unwrap();
        let d = std::time::Duration::from_secs(1);
        WsSource::new(plan, 2, Strategy::PerKey, "http://127.0.0.1:9/", "n", d).unwrap()
    }

    fn check_passed(s: &WsSource, name: &str) -> bool {
        let checks = s.checks(std::time::Duration::from_secs(1));
        checks.iter().find(|c| c.name == name).unwrap().passed
    }

    #[test]
    fn members_rooms_and_rendering() {
        let s = source(true);
        assert_eq!(s.planned, 20, "4 members × 5 msg/s × 1 s");
        let urls: Vec<String> = s.sessions().into_iter().map(|x| x.url).collect();
        assert_eq!(urls[0], "ws://127.0.0.1:9/rooms/r-0?m=0&k=0");
        assert_eq!(urls[3], "ws://127.0.0.1:9/rooms/r-1?m=3&k=1");
        let spec = s.request_at(0, 6, 1_000_000);
        assert_eq!(spec.session, Some(2), "message 6 is member 2's");
        assert_eq!(spec.object.as_deref(), Some("r-1"));
        assert_eq!(&spec.body[..], br#"{"id":"x-6","at":1000000,"from":2}"#);
        assert_eq!(s.fan_out(), 2.0);
    }

    #[test]
    fn frames_are_booked_by_id_room_and_stamp() {
        let s = source(true);
        // The run's start is learnt from message 6's intended time (0.3 s into the run at
        // 20 msg/s in all).
        let spec = s.request_at(0, 6, 1_300_000);
        s.frame_sent(6, &spec);
        let said = r#"{"id":"x-6","at":1300000}"#;
        for member in [2, 3] {
            let f = s.frame(member, said);
            assert_eq!(
                f,
                Frame::Message {
                    global: 6,
                    intended_unix_us: Some(1_300_000)
                }
            );
        }
        // Room 1's members got its one message; room 0 was sent nothing and got nothing.
        let complete = "every member got every message sent to its room, once";
        assert!(check_passed(&s, complete));
        // Presence frames carry no id: ignored, never a failure.
        assert_eq!(s.frame(0, r#"{"type":"join"}"#), Frame::Other);
        assert_eq!(s.frame(0, "not json"), Frame::Other);
        assert!(check_passed(
            &s,
            "deliveries carry their message's id and intended send time"
        ));
        // Another room's message, an id never planned, a wrong stamp: each a failure.
        assert_eq!(s.frame(0, said), Frame::Other);
        assert!(!check_passed(
            &s,
            "no member got another room's message or one never sent"
        ));
        assert_eq!(s.frame(2, r#"{"id":"x-999"}"#), Frame::Other);
        s.frame(3, r#"{"id":"x-6","at":5}"#);
        assert!(!check_passed(
            &s,
            "deliveries carry their message's id and intended send time"
        ));
        // ... and member 3 now has message 6 twice.
        assert!(!check_passed(&s, complete));
    }
}
