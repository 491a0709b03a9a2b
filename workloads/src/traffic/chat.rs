//! chat-fanout traffic: `rooms × members` WebSocket sessions; while an active phase lasts,
//! members send at `load.rate` messages/s in all; idle phases in between (longer than the
//! runtime's hibernate-after) let rooms hibernate. Every receipt is recorded as op `fanout`
//! with its latency from the message's *intended* send time (stamped in the body beside the
//! actual send time, so a late sender cannot hide: coordinated-omission free), its service
//! time from the actual send, and the sender's lateness; a frame without stamps is counted
//! (`other`) but never timed. The summary's rate is delivered frames/s. The generator's CPU
//! is measured over the threads its sessions ran on. Checks: every member got every message of its
//! room exactly once and in `seq` order while connected, and the room stored every message
//! sent. WebSocket sessions are not HTTP requests, so this module runs its own session tasks
//! and collector (the loadgen's `Aggregate` still does the books); never unbounded: every
//! session ends at the run's end plus a bounded drain.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use dobench_loadgen::aggregate::Live;
use dobench_loadgen::client::ws;
use dobench_loadgen::executor::RunOutcome;
use dobench_loadgen::http::Method;
use dobench_loadgen::recorder::Sample;
use dobench_loadgen::{Aggregate, ErrorKind, Outcome, Recorder, RequestSpec, Snapshot};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::{check, fetch_all, verdict, Finished, Running};
use crate::error::{Error, Result};
use crate::profile::Profile;

/// Longest wait for the last frames after the last send.
const DRAIN: Duration = Duration::from_secs(5);
const MAX_RECONNECTS: u32 = 3;

struct Shared {
    rooms: Vec<Arc<str>>,
    members: u32,
    recorders: Vec<Mutex<Recorder>>,
    room_sent: Vec<AtomicU64>,
    received: AtomicU64,
    sent: AtomicU64,
    stop: CancellationToken,
    /// The threads the member sessions and the collector ran on (the generator's CPU).
    threads: dobench_loadgen::cpu::ThreadSet,
}

/// When a fan-out frame was meant to go and went, from its body's stamps.
#[derive(Debug, Clone, Copy)]
struct Stamps {
    intended_us: i64,
    sent_us: i64,
}

impl Shared {
    fn record(&self, room: usize, op: &Arc<str>, latency: Duration, outcome: Outcome) {
        self.record_timed(room, op, latency, latency, Duration::ZERO, outcome);
    }

    fn record_timed(
        &self,
        room: usize,
        op: &Arc<str>,
        latency: Duration,
        service: Duration,
        lateness: Duration,
        outcome: Outcome,
    ) {
        let sample = Sample {
            op,
            object: Some(&self.rooms[room]),
            lateness,
            service: Some(service),
            latency,
            queue_wait: None,
            outcome,
        };
        self.recorders[room]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(&sample);
    }
}

/// What one member saw.
struct MemberLog {
    room: usize,
    connected: bool,
    reconnects: u32,
    /// Seqs received, one list per connection.
    segments: Vec<Vec<i64>>,
}

/// Intended send offsets of member `g` of `total`: evenly spaced, skipping idle phases.
pub fn send_times(
    g: u64,
    total: u64,
    rate: f64,
    duration: Duration,
    active: Duration,
    idle: Duration,
) -> Vec<Duration> {
    let interval = total as f64 / rate;
    let period = (active + idle).as_secs_f64().max(1e-3);
    let mut t = interval * g as f64 / total as f64;
    let mut out = Vec::new();
    while t < duration.as_secs_f64() && out.len() < 1_000_000 {
        if idle.is_zero() || t % period < active.as_secs_f64() {
            out.push(Duration::from_secs_f64(t));
        }
        t += interval;
    }
    out
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
    let total = u64::from(o.rooms) * u64::from(o.members);
    let rate = profile.load.rate.unwrap_or(1.0);
    let duration = profile.load.duration.0;
    let plans: Vec<Vec<Duration>> = (0..total)
        .map(|g| send_times(g, total, rate, duration, o.active.0, o.idle.0))
        .collect();
    let shared = Arc::new(Shared {
        rooms: (0..o.rooms)
            .map(|r| Arc::from(format!("room-{nonce}-{r}")))
            .collect(),
        members: o.members,
        recorders: (0..o.rooms).map(|_| Mutex::new(Recorder::new())).collect(),
        room_sent: (0..o.rooms).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        stop: cancel.child_token(),
        threads: dobench_loadgen::cpu::ThreadSet::new(),
    });
    let (tx, rx) = watch::channel(Snapshot::default());
    let timeout = profile.load.timeout.0;
    let pad = "x".repeat(o.body_bytes);
    let task = tokio::spawn(async move {
        let logs = drive(&shared, &ws_base, &plans, duration, timeout, &pad, &tx).await?;
        let outcome = logs.0;
        let correctness = verify(&shared, &base, &logs.1, timeout).await?;
        let reconnects: u32 = logs.1.iter().map(|m| m.reconnects).sum();
        Ok(Finished {
            objects_used: shared.rooms.len() as u64,
            notes: vec![format!(
                "{} messages sent, {} frames delivered, {reconnects} reconnects",
                shared.sent.load(Relaxed),
                shared.received.load(Relaxed)
            )],
            outcome,
            correctness,
            alarms: None,
            read_fan_in: 1,
        })
    });
    Ok(Running {
        snapshots: rx,
        task,
    })
}

async fn drive(
    sh: &Arc<Shared>,
    ws_base: &str,
    plans: &[Vec<Duration>],
    duration: Duration,
    timeout: Duration,
    pad: &str,
    tx: &watch::Sender<Snapshot>,
) -> Result<(RunOutcome, Vec<MemberLog>)> {
    let m = u64::from(sh.members);
    let op_connect: Arc<str> = "ws_connect".into();
    let urls: Vec<(usize, String)> = (0..plans.len() as u64)
        .map(|g| {
            let room = (g / m) as usize;
            (
                room,
                format!("{ws_base}/chat/{}/ws?user=u{g}", sh.rooms[room]),
            )
        })
        .collect();
    let connecting: Vec<_> = urls
        .iter()
        .map(|(room, url)| {
            let (sh, op, room, url) = (sh.clone(), op_connect.clone(), *room, url.clone());
            async move {
                let c = ws::connect(&url, timeout).await;
                match &c {
                    Ok((_, _, took)) => sh.record(room, &op, *took, Outcome::Frame),
                    Err(_) => sh.record(
                        room,
                        &op,
                        Duration::ZERO,
                        Outcome::Failed(ErrorKind::Connect),
                    ),
                }
                c.ok().map(|(s, r, _)| (s, r))
            }
        })
        .collect();
    let conns: Vec<_> = futures_util::stream::iter(connecting)
        .buffered(32)
        .collect()
        .await;
    if conns.iter().all(Option::is_none) {
        return Err(dobench_loadgen::Error::Unreachable {
            target: ws_base.to_string(),
            reason: "no chat member could open its WebSocket".into(),
        }
        .into());
    }
    let start = Instant::now() + Duration::from_millis(50);
    let started_at = SystemTime::now() + Duration::from_millis(50);
    // The same instant on the wall clock, for the intended-send stamps in message bodies.
    let start_epoch_us = dobench_runtime::epoch_us() + 50_000;
    let mut members = tokio::task::JoinSet::new();
    for (g, conn) in conns.into_iter().enumerate() {
        let (room, url) = urls[g].clone();
        let plan = plans[g].clone();
        let (sh, pad) = (sh.clone(), pad.to_string());
        let at = (start, start_epoch_us);
        members.spawn(async move { member(g, room, url, conn, plan, at, timeout, pad, sh).await });
    }
    let planned_total: u64 = plans.iter().map(|p| p.len() as u64).sum::<u64>() * m;
    let offered_before = |elapsed: Duration| -> u64 {
        plans
            .iter()
            .map(|p| p.partition_point(|&t| t < elapsed) as u64)
            .sum::<u64>()
            * m
    };
    let mut agg = Aggregate::new();
    let (mut delta, mut spare) = (Recorder::new(), Recorder::new());
    let mut tick = tokio::time::interval_at(
        start + Duration::from_millis(250),
        Duration::from_millis(250),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let end = start + duration;
    let mut drain_deadline = None;
    sh.threads.note_current();
    let cpu0 = sh.threads.usage();
    let wall0 = Instant::now();
    let live = |now: Instant, done: bool| {
        let elapsed = now.saturating_duration_since(start);
        let shares = dobench_loadgen::cpu::Shares::between(
            &cpu0,
            &sh.threads.usage(),
            now.saturating_duration_since(wall0),
        );
        let sent = sh.sent.load(Relaxed) * m;
        let received = sh.received.load(Relaxed);
        Live {
            elapsed,
            planned: duration,
            planned_requests: Some(planned_total),
            offered_so_far: offered_before(elapsed),
            sent,
            missed: 0,
            in_flight: sent.saturating_sub(received),
            cpu_pct: shares.cpu_pct,
            busy_pct: shares.busy_pct,
            done,
        }
    };
    let collect = |delta: &mut Recorder, spare: &mut Recorder| {
        delta.reset();
        for r in &sh.recorders {
            std::mem::swap(
                &mut *r.lock().unwrap_or_else(PoisonError::into_inner),
                spare,
            );
            delta.add(spare);
            spare.reset();
        }
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = sh.stop.cancelled() => break,
        }
        sh.threads.note_current();
        let now = Instant::now();
        collect(&mut delta, &mut spare);
        agg.push(&delta, now.saturating_duration_since(start));
        tx.send_replace(agg.snapshot(&live(now, false)));
        if now >= end {
            let deadline = *drain_deadline.get_or_insert(now + DRAIN);
            let all_in = sh.received.load(Relaxed) >= sh.sent.load(Relaxed) * m;
            if all_in || now >= deadline {
                break;
            }
        }
    }
    sh.stop.cancel();
    let mut logs = Vec::new();
    while let Some(j) = members.join_next().await {
        if let Ok(log) = j {
            logs.push(log);
        }
    }
    let now = Instant::now();
    collect(&mut delta, &mut spare);
    agg.push(&delta, now.saturating_duration_since(start));
    agg.finish();
    let snapshot = agg.snapshot(&live(now, true));
    tx.send_replace(snapshot.clone());
    let elapsed = now
        .saturating_duration_since(start)
        .min(duration.max(Duration::from_millis(1)) + DRAIN);
    let outcome = RunOutcome {
        snapshot,
        aggregate: agg,
        started_at,
        elapsed,
        offered_rps: planned_total as f64 / duration.as_secs_f64().max(1e-3),
        stopped_early: now < end,
    };
    Ok((outcome, logs))
}

#[allow(clippy::too_many_arguments)]
async fn member(
    g: usize,
    room: usize,
    url: String,
    conn: Option<(ws::WsSender, ws::WsReceiver)>,
    plan: Vec<Duration>,
    (start, start_epoch_us): (Instant, i64),
    timeout: Duration,
    pad: String,
    sh: Arc<Shared>,
) -> MemberLog {
    let mut log = MemberLog {
        room,
        connected: conn.is_some(),
        reconnects: 0,
        segments: vec![Vec::new()],
    };
    let Some((mut tx, mut rx)) = conn else {
        return log;
    };
    let op: Arc<str> = "fanout".into();
    let mut next = 0;
    loop {
        let due = plan.get(next).map(|t| start + *t);
        tokio::select! {
            _ = sleep_until(due.unwrap_or(start)), if due.is_some() => {
                sh.threads.note_current();
                let intended_us = start_epoch_us + plan[next].as_micros() as i64;
                let tag = format!("{g}:{next}:{intended_us}:{}:{pad}", dobench_runtime::epoch_us());
                next += 1;
                if tx.send_text(tag).await.is_ok() {
                    sh.sent.fetch_add(1, Relaxed);
                    sh.room_sent[room].fetch_add(1, Relaxed);
                }
            }
            frame = rx.recv_text() => match frame {
                Some(Ok((_, text))) => {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                    let (Some(seq), Some(body)) = (v["seq"].as_i64(), v["body"].as_str()) else { continue };
                    sh.threads.note_current();
                    match stamps(body) {
                        Some(st) => {
                            let now_us = dobench_runtime::epoch_us();
                            let us = |d: i64| Duration::from_micros(d.max(0) as u64);
                            sh.record_timed(
                                room,
                                &op,
                                us(now_us - st.intended_us),
                                us(now_us - st.sent_us),
                                us(st.sent_us - st.intended_us),
                                Outcome::Frame,
                            );
                        }
                        // Counted, never timed: a frame we cannot time is no 60 s sample.
                        None => sh.record(room, &op, Duration::ZERO, Outcome::Failed(ErrorKind::Other)),
                    }
                    sh.received.fetch_add(1, Relaxed);
                    if let Some(seg) = log.segments.last_mut() { seg.push(seq); }
                }
                _ => {
                    if sh.stop.is_cancelled() || log.reconnects >= MAX_RECONNECTS { break; }
                    log.reconnects += 1;
                    match ws::connect(&url, timeout).await {
                        Ok((t, r, _)) => { tx = t; rx = r; log.segments.push(Vec::new()); }
                        Err(_) => { sh.record(room, &op, timeout, Outcome::Failed(ErrorKind::Connect)); break; }
                    }
                }
            },
            _ = sh.stop.cancelled() => break,
        }
    }
    let _ = tx.close().await;
    log
}

/// The intended and actual send stamps of a body `g:n:intended_us:sent_us:pad`.
fn stamps(body: &str) -> Option<Stamps> {
    let mut f = body.split(':').skip(2);
    let intended_us = f.next()?.parse().ok()?;
    let sent_us = f.next()?.parse().ok()?;
    Some(Stamps {
        intended_us,
        sent_us,
    })
}

async fn verify(
    sh: &Shared,
    base: &str,
    logs: &[MemberLog],
    timeout: Duration,
) -> Result<dobench_loadgen::summary::Correctness> {
    let specs = sh
        .rooms
        .iter()
        .map(|r| {
            RequestSpec::new(
                "history",
                Method::GET,
                &format!("{base}/chat/{r}/history?limit=1000"),
            )
        })
        .collect::<dobench_loadgen::Result<Vec<_>>>()?;
    let answers = fetch_all(specs, 8, timeout).await;
    let history: Vec<Option<Vec<i64>>> = answers
        .iter()
        .map(|a| {
            let v: serde_json::Value =
                serde_json::from_slice(&a.as_ref().filter(|r| r.status == 200)?.body).ok()?;
            Some(
                v["messages"]
                    .as_array()?
                    .iter()
                    .filter_map(|m| m["seq"].as_i64())
                    .collect(),
            )
        })
        .collect();
    let (mut stored_ok, mut stored_detail) = (true, Vec::new());
    for (r, h) in history.iter().enumerate() {
        let sent = sh.room_sent[r].load(Relaxed);
        match h {
            Some(h) if h.len() as u64 == sent || (h.len() == 1000 && sent >= 1000) => {}
            Some(h) => {
                stored_ok = false;
                stored_detail.push(format!(
                    "{}: {} stored of {sent} sent",
                    sh.rooms[r],
                    h.len()
                ));
            }
            None => {
                stored_ok = false;
                stored_detail.push(format!("{}: history unreadable", sh.rooms[r]));
            }
        }
    }
    let connected = logs.iter().filter(|m| m.connected).count();
    let (mut in_order, mut complete, mut checked, mut example) = (0usize, 0usize, 0usize, None);
    for m in logs.iter().filter(|m| m.connected) {
        let ordered = m.segments.iter().all(|s| s.windows(2).all(|w| w[0] < w[1]));
        if ordered {
            in_order += 1;
        } else {
            example.get_or_insert_with(|| {
                format!(
                    "a member of {} got frames out of order or twice",
                    sh.rooms[m.room]
                )
            });
        }
        if m.reconnects == 0 {
            if let Some(Some(h)) = history.get(m.room) {
                checked += 1;
                if m.segments[0] == *h || (h.len() == 1000 && m.segments[0].ends_with(h)) {
                    complete += 1;
                } else {
                    example.get_or_insert_with(|| {
                        format!(
                            "a member of {} got {} of {} messages",
                            sh.rooms[m.room],
                            m.segments[0].len(),
                            h.len()
                        )
                    });
                }
            }
        }
    }
    let total = logs.len();
    Ok(verdict(vec![
        check("every member connected", connected == total, format!("{connected} of {total} members connected")),
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
                format!("{} rooms, {} messages", sh.rooms.len(), sh.sent.load(Relaxed))
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
    fn bodies_carry_intended_and_actual_send_stamps() {
        let st = stamps("3:7:1000:1250:xxxx").unwrap();
        assert_eq!((st.intended_us, st.sent_us), (1000, 1250));
        assert!(stamps("3:7:garbage").is_none(), "no stamps: never timed");
    }
}
