//! WebSocket sessions via tokio-tungstenite: connect (timed), send text frames, receive text
//! frames with arrival timestamps, close; plus `run_echo`, a driver that sends frames on a
//! schedule over many sessions and records every frame's round trip. Never interprets frame
//! contents beyond the echo driver's own `session:seq` tags.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::recorder::{ErrorKind, Outcome, Recorder, Sample};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The sending half of a session.
pub struct WsSender(SplitSink<Stream, Message>);
/// The receiving half of a session.
pub struct WsReceiver(SplitStream<Stream>);

/// Connects to a loopback `ws://` URL; returns both halves and the connect latency
/// (TCP + upgrade handshake).
pub async fn connect(url: &str, timeout: Duration) -> Result<(WsSender, WsReceiver, Duration)> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
    crate::target::check_url(&uri)?;
    let t0 = Instant::now();
    let (stream, _resp) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| Error::WebSocket(format!("connect to {url} timed out")))?
        .map_err(|e| Error::WebSocket(format!("connect to {url}: {e}")))?;
    let took = t0.elapsed();
    let (sink, stream) = stream.split();
    Ok((WsSender(sink), WsReceiver(stream), took))
}

impl WsSender {
    /// Sends one text frame; returns the instant it was handed to the socket.
    pub async fn send_text(&mut self, text: String) -> Result<Instant> {
        let at = Instant::now();
        self.0
            .send(Message::text(text))
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))?;
        Ok(at)
    }

    /// Sends a close frame and flushes.
    pub async fn close(&mut self) -> Result<()> {
        self.0
            .close()
            .await
            .map_err(|e| Error::WebSocket(e.to_string()))
    }
}

impl WsReceiver {
    /// Next text frame and its arrival instant; `None` once the peer closed.
    pub async fn recv_text(&mut self) -> Option<Result<(Instant, String)>> {
        loop {
            match self.0.next().await? {
                Ok(Message::Text(t)) => return Some(Ok((Instant::now(), t.to_string()))),
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(e) => return Some(Err(Error::WebSocket(e.to_string()))),
            }
        }
    }
}

/// Echo round-trip plan: `sessions` sessions, each sending `frames` frames `interval` apart.
#[derive(Debug, Clone)]
pub struct EchoPlan {
    pub url: String,
    pub sessions: u32,
    pub frames: u32,
    pub interval: Duration,
    /// Bound on connect and on waiting for the last echo.
    pub timeout: Duration,
}

/// What an echo run measured: op `ws_connect` holds connect latencies, op `ws_rtt` every
/// frame's round trip from its *intended* send time.
pub struct EchoReport {
    pub recorder: Recorder,
    pub frames_sent: u64,
    pub frames_received: u64,
}

/// Runs the echo plan; each session's frames are scheduled from its own connect instant.
pub async fn run_echo(plan: EchoPlan, cancel: CancellationToken) -> Result<EchoReport> {
    let recorder = Arc::new(Mutex::new(Recorder::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..plan.sessions {
        let (plan, rec, cancel) = (plan.clone(), recorder.clone(), cancel.clone());
        tasks.spawn(async move { echo_session(s, &plan, &rec, &cancel).await });
    }
    let (mut sent, mut received) = (0, 0);
    let mut first_err = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok((s, r))) => {
                sent += s;
                received += r;
            }
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(e) => first_err = first_err.or(Some(Error::WebSocket(e.to_string()))),
        }
    }
    let recorder = Arc::try_unwrap(recorder)
        .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .unwrap_or_else(|arc| arc.lock().unwrap_or_else(PoisonError::into_inner).clone());
    if received == 0 {
        if let Some(e) = first_err {
            return Err(e);
        }
    }
    Ok(EchoReport {
        recorder,
        frames_sent: sent,
        frames_received: received,
    })
}

async fn echo_session(
    session: u32,
    plan: &EchoPlan,
    rec: &Mutex<Recorder>,
    cancel: &CancellationToken,
) -> Result<(u64, u64)> {
    let (op_connect, op_rtt): (Arc<str>, Arc<str>) = ("ws_connect".into(), "ws_rtt".into());
    let record = |op: &Arc<str>, d: Duration, outcome: Outcome| {
        let sample = Sample {
            op,
            object: None,
            lateness: Duration::ZERO,
            service: Some(d),
            queue_wait: None,
            latency: d,
            outcome,
        };
        rec.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(&sample);
    };
    let (mut tx, mut rx, took) = match connect(&plan.url, plan.timeout).await {
        Ok(x) => x,
        Err(e) => {
            record(
                &op_connect,
                Duration::ZERO,
                Outcome::Failed(ErrorKind::Connect),
            );
            return Err(e);
        }
    };
    record(&op_connect, took, Outcome::Frame);
    let start = Instant::now();
    let intended = |i: u32| start + plan.interval * i;
    let (frames, interval) = (plan.frames, plan.interval);
    let sender = async move {
        let mut sent = 0u64;
        for i in 0..frames {
            sleep_until(start + interval * i).await;
            if tx.send_text(format!("{session}:{i}")).await.is_err() {
                break;
            }
            sent += 1;
        }
        (tx, sent)
    };
    let receiver = async {
        let mut received = 0u64;
        while received < u64::from(frames) {
            let Some(Ok((at, text))) = rx.recv_text().await else {
                break;
            };
            let seq = text
                .split_once(':')
                .and_then(|(s, i)| (s == session.to_string()).then_some(i));
            if let Some(i) = seq.and_then(|i| i.parse::<u32>().ok()) {
                record(
                    &op_rtt,
                    at.saturating_duration_since(intended(i)),
                    Outcome::Frame,
                );
                received += 1;
            }
        }
        received
    };
    let bound = plan.interval * plan.frames + plan.timeout;
    let joined = tokio::select! {
        r = async { tokio::join!(sender, receiver) } => Some(r),
        _ = tokio::time::sleep(bound) => None,
        _ = cancel.cancelled() => None,
    };
    match joined {
        Some(((mut tx, sent), received)) => {
            let _ = tx.close().await;
            let lost = sent.saturating_sub(received);
            for _ in 0..lost {
                record(&op_rtt, plan.timeout, Outcome::Failed(ErrorKind::Timeout));
            }
            Ok((sent, received))
        }
        None => Ok((0, 0)),
    }
}
