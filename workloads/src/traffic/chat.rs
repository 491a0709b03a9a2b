//! chat-fanout traffic, a request source of the one executor: `rooms × members` WebSocket
//! sessions (the executor opens and owns them); while an active phase lasts, members take
//! turns to send at `load.rate` messages/s in all, with idle phases in between (longer than
//! the runtime's hibernate-after) so rooms hibernate. Each planned message is a session frame
//! with its intended time, lateness, queueing and missed books like any request; each frame a
//! member receives is handed back here, and the executor times the delivery from the intended
//! time of the message it carries. Rates: messages sent (msg/s) and deliveries/s, apart.
//!
//! Checks at the end: every member connected; every member got every message of its room
//! once and in `seq` order (per member: count, order and a rolling hash of the seqs it got,
//! never the seqs themselves); and the room stored every message the run sent, read back in
//! pages of [`PAGE`] (`history?after_seq=S&limit=N`), so no message stored during the run
//! goes unchecked. Never does I/O on the executor's hot path; never keeps one entry per frame.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dobench_loadgen::http::{Method, Uri};
use dobench_loadgen::request::{Frame, SessionEvent, SessionSpec};
use dobench_loadgen::{executor, OpenSchedule, RequestSource, RequestSpec, Schedule, Stage};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::fanout::Fanout;
use super::{check, fetch_all, run_config, verdict, Finished, Running};
use crate::error::{Error, Result};
use crate::profile::Profile;

/// Messages per history page read by the check (the runtime's largest page).
pub const PAGE: u64 = 1000;
/// History pages read at once by the check.
const HISTORY_READERS: usize = 8;

/// What one member saw, in constant space.
#[derive(Debug, Clone, Copy)]
struct MemberBook {
    connected: bool,
    reconnects: u32,
    lost: bool,
    /// Frames of the current connection were all in increasing `seq` order.
    ordered: bool,
    last_seq: i64,
    /// Messages received on the first connection, and their rolling hash.
    count: u64,
    hash: u64,
}

impl MemberBook {
    const NEW: MemberBook = MemberBook {
        connected: true,
        reconnects: 0,
        lost: false,
        ordered: true,
        last_seq: 0,
        count: 0,
        hash: HASH_SEED,
    };
}

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Order-sensitive rolling hash of a sequence of seqs (the same on both sides of the check).
fn roll(hash: u64, seq: i64) -> u64 {
    (hash ^ seq as u64).wrapping_mul(0x0100_0000_01b3)
}

/// A chat frame as the runtime sends it (the body borrowed when it needs no unescaping).
#[derive(Deserialize)]
struct ChatFrame<'a> {
    seq: i64,
    #[serde(borrow)]
    body: Cow<'a, str>,
}

struct ChatSource {
    rooms: Vec<Arc<str>>,
    members: u32,
    ws_base: String,
    /// The base URL, for labelling frames (their URL is never requested).
    label: Uri,
    op: Arc<str>,
    pad: String,
    books: Vec<Mutex<MemberBook>>,
    /// Messages sent per room, members still connected, deliveries counted.
    fanout: Fanout,
}

impl ChatSource {
    fn book(&self, member: u32) -> std::sync::MutexGuard<'_, MemberBook> {
        self.books[member as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn room_of(&self, member: u32) -> usize {
        (member / self.members) as usize
    }

    fn total(&self) -> u64 {
        self.books.len() as u64
    }
}

impl RequestSource for ChatSource {
    fn request(&self, index: u64) -> RequestSpec {
        let member = (index % self.total()) as u32;
        let room = self.room_of(member);
        RequestSpec::frame(
            self.op.clone(),
            member,
            self.label.clone(),
            format!("u{member}:{}", self.pad),
        )
        .with_object(self.rooms[room].clone())
    }

    fn frame_sent(&self, _index: u64, request: &RequestSpec) {
        if let Some(member) = request.session {
            self.fanout.sent(self.room_of(member));
        }
    }

    fn sessions(&self) -> Vec<SessionSpec> {
        (0..self.books.len() as u32)
            .map(|m| {
                let room = &self.rooms[self.room_of(m)];
                SessionSpec {
                    url: format!("{}/chat/{room}/ws?user=u{m}", self.ws_base),
                }
            })
            .collect()
    }

    fn frame<'a>(&self, session: u32, text: &'a str) -> Frame<'a> {
        let Ok(f) = serde_json::from_str::<ChatFrame<'a>>(text) else {
            return Frame::Other;
        };
        self.fanout.delivered();
        let mut b = self.book(session);
        b.ordered &= f.seq > b.last_seq;
        b.last_seq = f.seq;
        if b.reconnects == 0 {
            b.count += 1;
            b.hash = roll(b.hash, f.seq);
        }
        Frame::Delivery { body: f.body }
    }

    fn session_event(&self, session: u32, event: SessionEvent) {
        let mut b = self.book(session);
        match event {
            SessionEvent::Failed => b.connected = false,
            SessionEvent::Reconnected => {
                b.reconnects += 1;
                b.last_seq = 0;
            }
            SessionEvent::Lost => b.lost = true,
        }
        if event != SessionEvent::Reconnected {
            self.fanout.left(self.room_of(session));
        }
    }

    fn awaiting(&self) -> u64 {
        self.fanout.awaiting()
    }

    fn fan_out(&self) -> f64 {
        f64::from(self.members)
    }

    fn rate_unit(&self) -> &'static str {
        "msg/s"
    }
}

/// The chat schedule: `rate` messages/s in `active` phases separated by `idle` silences
/// (none when `idle` is zero), cut at `duration`.
pub fn schedule(rate: f64, duration: Duration, active: Duration, idle: Duration) -> Schedule {
    if idle.is_zero() || active >= duration {
        return Schedule::Open(OpenSchedule::Constant { rate, duration });
    }
    let mut stages = Vec::new();
    let mut t = Duration::ZERO;
    while t < duration && stages.len() < 100_000 {
        let on = active.min(duration - t);
        stages.push(Stage {
            duration: Duration::ZERO,
            target: rate,
        });
        stages.push(Stage {
            duration: on,
            target: rate,
        });
        t += on;
        if t >= duration {
            break;
        }
        let off = idle.min(duration - t);
        stages.push(Stage {
            duration: Duration::ZERO,
            target: 0.0,
        });
        stages.push(Stage {
            duration: off,
            target: 0.0,
        });
        t += off;
    }
    Schedule::Open(OpenSchedule::Ramping {
        start_rate: rate,
        stages,
    })
}

/// Starts the chat-fanout workload.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let o = profile.chat.clone();
    let ws_base = base
        .strip_prefix("http://")
        .map(|rest| format!("ws://{rest}"))
        .ok_or_else(|| Error::Invalid(format!("chat needs an http:// target, not {base}")))?;
    let label: Uri = base
        .parse()
        .map_err(|e| Error::Invalid(format!("target {base}: {e}")))?;
    let total = u64::from(o.rooms) * u64::from(o.members);
    let rate = profile.load.rate.unwrap_or(1.0);
    let source = Arc::new(ChatSource {
        rooms: (0..o.rooms)
            .map(|r| Arc::from(format!("room-{nonce}-{r}")))
            .collect(),
        members: o.members,
        ws_base,
        label,
        op: "send".into(),
        pad: "x".repeat(o.body_bytes),
        books: (0..total).map(|_| Mutex::new(MemberBook::NEW)).collect(),
        fanout: Fanout::new((0..o.rooms).map(|_| u64::from(o.members))),
    });
    let plan = schedule(rate, profile.load.duration.0, o.active.0, o.idle.0);
    let config = run_config(&profile.load, plan);
    let timeout = profile.load.timeout.0;
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let correctness = verify(&source, &base, timeout).await?;
        let reconnects: u32 = source
            .books
            .iter()
            .map(|b| b.lock().unwrap_or_else(PoisonError::into_inner).reconnects)
            .sum();
        let sent = source.fanout.sent_total();
        Ok(Finished {
            objects_used: source.rooms.len() as u64,
            notes: vec![format!(
                "{sent} messages sent to {} rooms × {} members, {} deliveries, {reconnects} reconnects",
                source.rooms.len(),
                source.members,
                source.fanout.received()
            )],
            outcome,
            correctness,
            alarms: None,
            read_fan_in: 1,
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}

/// A room's stored history as the check reads it: how many messages, their rolling hash,
/// and whether their seqs were increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    count: u64,
    hash: u64,
    ordered: bool,
}

/// Times a page refused as overloaded (503) is asked again, [`RETRY_PAUSE`] apart: closing
/// thousands of members at the run's end fills a room's mailbox with close events for a while.
const MAX_RETRIES: u32 = 50;
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Reads every room's whole history in pages of [`PAGE`] (`after_seq` paging), at most
/// [`HISTORY_READERS`] pages in flight. `Err(why)` for a room whose history could not be read.
async fn read_histories(
    base: &str,
    rooms: &[Arc<str>],
    timeout: Duration,
) -> Result<Vec<std::result::Result<Stored, String>>> {
    let mut out: Vec<std::result::Result<Stored, String>> = vec![
        Ok(Stored {
            count: 0,
            hash: HASH_SEED,
            ordered: true,
        });
        rooms.len()
    ];
    // Rooms still being read: (room, the last seq seen, overload retries so far).
    let mut pending: Vec<(usize, i64, u32)> = (0..rooms.len()).map(|r| (r, 0, 0)).collect();
    // Bounded: every round ends a room, moves it past a full page, or spends one of its
    // retries.
    while !pending.is_empty() {
        let specs = pending
            .iter()
            .map(|(r, after, _)| {
                RequestSpec::new(
                    "history",
                    Method::GET,
                    &format!(
                        "{base}/chat/{}/history?after_seq={after}&limit={PAGE}",
                        rooms[*r]
                    ),
                )
            })
            .collect::<dobench_loadgen::Result<Vec<_>>>()?;
        let answers = fetch_all(specs, HISTORY_READERS, timeout).await;
        let mut next = Vec::new();
        for ((r, after, retries), answer) in pending.iter().zip(answers) {
            let page = match answer {
                None => Err(format!("no answer within {timeout:?}")),
                Some(a) if a.status == 503 && *retries < MAX_RETRIES => {
                    next.push((*r, *after, retries + 1));
                    continue;
                }
                Some(a) if a.status != 200 => Err(format!(
                    "status {} ({})",
                    a.status,
                    String::from_utf8_lossy(&a.body[..a.body.len().min(120)])
                )),
                Some(a) => serde_json::from_slice::<serde_json::Value>(&a.body)
                    .ok()
                    .and_then(|v| {
                        v["messages"].as_array().map(|m| {
                            m.iter()
                                .filter_map(|m| m["seq"].as_i64())
                                .collect::<Vec<_>>()
                        })
                    })
                    .ok_or_else(|| "not a history page".to_string()),
            };
            let (page, Ok(st)) = (page, out[*r].as_mut()) else {
                continue;
            };
            let page = match page {
                Ok(p) => p,
                Err(why) => {
                    out[*r] = Err(why);
                    continue;
                }
            };
            let mut last = *after;
            for seq in &page {
                st.ordered &= *seq > last;
                last = *seq;
                st.count += 1;
                st.hash = roll(st.hash, *seq);
            }
            if page.len() as u64 == PAGE {
                next.push((*r, last, *retries));
            }
        }
        if next.iter().any(|(_, _, n)| *n > 0) {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        pending = next;
    }
    Ok(out)
}

async fn verify(
    src: &ChatSource,
    base: &str,
    timeout: Duration,
) -> Result<dobench_loadgen::summary::Correctness> {
    let history = read_histories(base, &src.rooms, timeout).await?;
    let (mut stored_ok, mut stored_detail) = (true, Vec::new());
    for (r, h) in history.iter().enumerate() {
        let sent = src.fanout.sent_to(r);
        let problem = match h {
            Ok(h) if h.count == sent && h.ordered => continue,
            Ok(h) if !h.ordered => format!("{}: history out of seq order", src.rooms[r]),
            Ok(h) => format!("{}: {} stored of {sent} sent", src.rooms[r], h.count),
            Err(why) => format!("{}: history unreadable: {why}", src.rooms[r]),
        };
        stored_ok = false;
        if stored_detail.len() < 5 {
            stored_detail.push(problem);
        }
    }
    let total = src.books.len();
    let (mut connected, mut in_order, mut complete, mut checked) = (0, 0, 0, 0);
    let mut example = None;
    for (m, book) in src.books.iter().enumerate() {
        let b = *book.lock().unwrap_or_else(PoisonError::into_inner);
        if !b.connected {
            continue;
        }
        connected += 1;
        let room = src.room_of(m as u32);
        if b.ordered {
            in_order += 1;
        } else {
            example.get_or_insert_with(|| {
                format!(
                    "a member of {} got frames out of order or twice",
                    src.rooms[room]
                )
            });
        }
        if b.reconnects > 0 || b.lost {
            continue;
        }
        let Ok(h) = history[room] else { continue };
        checked += 1;
        if b.count == h.count && b.hash == h.hash {
            complete += 1;
        } else {
            example.get_or_insert_with(|| {
                format!(
                    "a member of {} got {} of {} messages",
                    src.rooms[room], b.count, h.count
                )
            });
        }
    }
    let sent = src.fanout.sent_total();
    let stored: u64 = history.iter().flatten().map(|h| h.count).sum();
    Ok(verdict(vec![
        check(
            "every member connected",
            connected == total,
            format!("{connected} of {total} members connected"),
        ),
        check(
            "every member got every message once, in seq order",
            in_order == connected && complete == checked,
            format!(
                "{in_order} of {connected} members in order without duplicates; {complete} of {checked} never-disconnected members got their room's whole history{}",
                example.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
        ),
        check(
            "every sent message stored",
            stored_ok,
            if stored_detail.is_empty() {
                format!(
                    "{} rooms: {stored} stored of {sent} sent, read back in pages of {PAGE}",
                    src.rooms.len()
                )
            } else {
                stored_detail.join("; ")
            },
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rolling_hash_sees_order_and_gaps() {
        let h = |seqs: &[i64]| seqs.iter().fold(HASH_SEED, |h, s| roll(h, *s));
        assert_eq!(h(&[1, 2, 3]), h(&[1, 2, 3]));
        assert_ne!(h(&[1, 2, 3]), h(&[1, 3, 2]));
        assert_ne!(h(&[1, 2, 3]), h(&[1, 2, 4]));
    }

    #[test]
    fn phases_plan_sends_only_while_active() {
        let s = schedule(
            10.0,
            Duration::from_secs(10),
            Duration::from_secs(2),
            Duration::from_secs(3),
        );
        let Schedule::Open(s) = s else { panic!() };
        // Active [0,2) and [5,7): 20 + 20 sends, the second phase cut by nothing.
        assert_eq!(s.len(), 40);
        for t in s.iter() {
            let in_phase = t.as_secs_f64() % 5.0;
            assert!(in_phase <= 2.0 + 1e-9, "a send at {t:?} in an idle phase");
        }
    }
}
