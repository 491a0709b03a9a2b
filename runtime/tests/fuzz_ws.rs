//! Property fuzzing of WebSocket frames into the runtime (issue 20, Must-show 5): raw bytes
//! after a real upgrade on loopback — any FIN/RSV bits, opcodes, masking, declared lengths that
//! lie (up to 2^63), payloads, fragments and plain garbage. Properties: the server never hangs
//! on a connection (it ends within 5 s of the client going quiet), well-formed frames are all
//! echoed in order, and the server stays healthy for the next client. Cases:
//! `DOBENCH_FUZZ_CASES` (default 300, so `cargo test` stays quick).

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use common::Server;
use dobench_runtime::FrontConfig;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cases() -> u32 {
    std::env::var("DOBENCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[derive(Debug, Clone)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    /// Declared length, if it lies about the payload.
    declared: Option<u64>,
    payload: Vec<u8>,
}

impl Frame {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(((self.fin as u8) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 15));
        let len = self.declared.unwrap_or(self.payload.len() as u64);
        let m = (self.masked as u8) << 7;
        if len < 126 {
            out.push(m | len as u8);
        } else if len <= u16::MAX as u64 {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
        }
        for (i, b) in self.payload.iter().enumerate() {
            out.push(if self.masked {
                b ^ self.mask[i % 4]
            } else {
                *b
            });
        }
    }

    fn valid_text(text: String, mask: [u8; 4]) -> Frame {
        Frame {
            fin: true,
            rsv: 0,
            opcode: 1,
            masked: true,
            mask,
            declared: None,
            payload: text.into_bytes(),
        }
    }
}

fn any_frame() -> impl Strategy<Value = Frame> {
    (
        any::<bool>(),
        prop_oneof![4 => Just(0u8), 1 => 0u8..8],
        prop_oneof![4 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]), 1 => 0u8..16],
        prop_oneof![4 => Just(true), 1 => Just(false)],
        any::<[u8; 4]>(),
        prop_oneof![
            6 => Just(None),
            1 => (0u64..200).prop_map(Some),
            1 => prop::sample::select(vec![126u64, 65_535, 65_536, 1 << 20, (1 << 20) + 1, 1 << 40, u64::MAX >> 1, u64::MAX]).prop_map(Some),
        ],
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(fin, rsv, opcode, masked, mask, declared, payload)| Frame {
            fin,
            rsv,
            opcode,
            masked,
            mask,
            declared,
            payload,
        })
}

#[derive(Debug, Clone)]
enum Case {
    /// Well-formed text frames: each must come back, in order.
    Valid(Vec<(String, [u8; 4])>),
    /// Anything: frames with any bits, lengths and payloads, then maybe raw garbage.
    Hostile(Vec<Frame>, Vec<u8>),
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        1 => proptest::collection::vec(("\\PC{0,200}", any::<[u8; 4]>()), 1..6).prop_map(Case::Valid),
        3 => (
            proptest::collection::vec(any_frame(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(f, g)| Case::Hostile(f, g)),
    ]
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

async fn upgrade(addr: std::net::SocketAddr, room: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /room/{room}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Server frames (unmasked) parsed from `buf`: (opcode, payload) and the bytes consumed.
fn parse_frames(buf: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if buf.len() < i + 2 {
            break;
        }
        let opcode = buf[i] & 15;
        let (len, hdr) = match buf[i + 1] & 127 {
            126 if buf.len() >= i + 4 => (u16::from_be_bytes([buf[i + 2], buf[i + 3]]) as usize, 4),
            127 if buf.len() >= i + 10 => (
                u64::from_be_bytes(buf[i + 2..i + 10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if buf.len() < i + hdr + len {
            break;
        }
        out.push((opcode, buf[i + hdr..i + hdr + len].to_vec()));
        i += hdr + len;
    }
    (out, i)
}

/// Reads until EOF or reset; false if the connection is still open after `patience`.
async fn ends_within(tcp: &mut TcpStream, patience: Duration, seen: &mut Vec<u8>) -> bool {
    tokio::time::timeout(patience, async {
        let mut buf = [0u8; 8192];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok()
}

#[test]
fn websocket_frames_never_hang_or_break_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(Server::start(FrontConfig::default()));
    let outcomes: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let count = std::sync::atomic::AtomicU64::new(0);
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&case(), |case| {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let room = format!("fz{}", n % 16);
        rt.block_on(async {
            let mut tcp = upgrade(server.addr, &room).await;
            let mut seen = Vec::new();
            let outcome = match &case {
                Case::Valid(texts) => {
                    let mut bytes = Vec::new();
                    for (t, mask) in texts {
                        Frame::valid_text(t.clone(), *mask).encode(&mut bytes);
                    }
                    tcp.write_all(&bytes).await.unwrap();
                    // Every text comes back (broadcast to its sender), in order.
                    let got = tokio::time::timeout(Duration::from_secs(5), async {
                        let mut buf = [0u8; 8192];
                        loop {
                            let (frames, _) = parse_frames(&seen);
                            let texts: Vec<_> = frames.iter().filter(|f| f.0 == 1).collect();
                            if texts.len() >= case_len(&case) {
                                return frames;
                            }
                            match tcp.read(&mut buf).await {
                                Ok(0) | Err(_) => return frames,
                                Ok(k) => seen.extend_from_slice(&buf[..k]),
                            }
                        }
                    })
                    .await
                    .map_err(|_| TestCaseError::fail("valid frames were not echoed within 5 s"))?;
                    let echoed: Vec<String> = got
                        .iter()
                        .filter(|f| f.0 == 1)
                        .map(|f| String::from_utf8(f.1.clone()).unwrap())
                        .collect();
                    let sent: Vec<String> = texts.iter().map(|(t, _)| t.clone()).collect();
                    prop_assert_eq!(echoed, sent);
                    // A clean close, then the server ends the connection.
                    let mut close = Vec::new();
                    Frame {
                        opcode: 8,
                        payload: 1000u16.to_be_bytes().to_vec(),
                        ..Frame::valid_text(String::new(), [1, 2, 3, 4])
                    }
                    .encode(&mut close);
                    let _ = tcp.write_all(&close).await;
                    "valid: echoed in order".to_string()
                }
                Case::Hostile(frames, garbage) => {
                    let mut bytes = Vec::new();
                    for f in frames {
                        f.encode(&mut bytes);
                    }
                    bytes.extend_from_slice(garbage);
                    let _ = tcp.write_all(&bytes).await;
                    String::new()
                }
            };
            let _ = tcp.shutdown().await;
            let ended = ends_within(&mut tcp, Duration::from_secs(5), &mut seen).await;
            prop_assert!(
                ended,
                "the server kept the connection open 5 s after the client went quiet: {:?}",
                case
            );
            let outcome = if outcome.is_empty() {
                let (all, _) = parse_frames(&seen);
                match all.iter().find(|f| f.0 == 8) {
                    Some((_, p)) if p.len() >= 2 => {
                        format!("hostile: close {}", u16::from_be_bytes([p[0], p[1]]))
                    }
                    Some(_) => "hostile: close without code".to_string(),
                    None => "hostile: ended without a close frame".to_string(),
                }
            } else {
                outcome
            };
            *outcomes.lock().unwrap().entry(outcome).or_default() += 1;
            if n.is_multiple_of(100) {
                let r = reqwest::get(server.url("/_dobench/health")).await.unwrap();
                prop_assert_eq!(r.status().as_u16(), 200);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Still healthy: a normal client gets its echo.
    rt.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/room/after/ws", server.addr))
                .await
                .unwrap();
        ws.send(tokio_tungstenite::tungstenite::Message::Text("ok".into()))
            .await
            .unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), "ok");
    });
    eprintln!(
        "websocket fuzz: {} cases: {:?}",
        count.into_inner(),
        outcomes.lock().unwrap()
    );
    server.stop.cancel();
}

fn case_len(case: &Case) -> usize {
    match case {
        Case::Valid(t) => t.len(),
        Case::Hostile(..) => 0,
    }
}
