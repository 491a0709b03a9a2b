//! Per-profile bounds through the real binary (issue 20 must-show 2, defect 2; issue 14
//! must-show 5): chat members and in-flight requests past `[limits]`, a chat room planned to
//! get more messages than it keeps, and a profile needing more sockets than the open-file
//! limit allows are each refused before anything starts: exit 2 at once, the numbers and the
//! field named, no memory taken. And a room keeps only its retention (`serve --chat-history`).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `dobench ARGS` with a fresh results store; (exit code, stderr, wall time, peak RSS
/// KiB of the child as `/usr/bin/time` would see it is not needed: the run never starts).
fn dobench(args: &[&str]) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .arg("--db")
        .arg(&db)
        .output()
        .expect("run dobench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into(),
        t0.elapsed(),
    )
}

/// Exit 2 within a few seconds (nothing started: no members, no runtime).
fn refused(args: &[&str]) -> String {
    let (code, err, took) = dobench(args);
    assert_eq!(code, 2, "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    err
}

#[test]
fn a_million_chat_members_is_refused_before_anything_starts() {
    // Issue 20 defect 2: 1e6 members once reached 4.3 GB RSS in 8 s.
    let err = refused(&["run", "chat-fanout", "--set", "chat.members=1000000"]);
    assert!(err.contains("chat.members"), "{err}");
    assert!(err.contains("8000000 members"), "{err}");
    assert!(err.contains("limits.members = 50000"), "{err}");
}

#[test]
fn in_flight_past_the_limit_is_refused_naming_the_field() {
    // Issue 20 defect 11: max_in_flight=1e8 ran out of fds and still said PASS.
    let err = refused(&[
        "run",
        "sharded-counter",
        "--set",
        "load.max_in_flight=100000000",
    ]);
    assert!(err.contains("load.max_in_flight = 100000000"), "{err}");
    assert!(err.contains("limits.in_flight = 50000"), "{err}");
    // The bound is the profile's own: raised there, the next check (the open-file limit)
    // still stands between the plan and the machine.
    let err = refused(&[
        "run",
        "sharded-counter",
        "--set",
        "load.max_in_flight=100000000",
        "--set",
        "limits.in_flight=200000000",
    ]);
    assert!(err.contains("needs 200000000 sockets"), "{err}");
}

#[test]
fn a_room_planned_past_its_retention_is_refused() {
    let err = refused(&[
        "run",
        "chat-fanout",
        "--set",
        "runtime.chat_history=10",
        "--set",
        "chat.rooms=1",
    ]);
    assert!(err.contains("runtime.chat_history = 10"), "{err}");
    assert!(err.contains("planned to get 480 messages"), "{err}");
}

#[test]
fn more_members_than_the_open_file_limit_allows_is_refused_with_the_numbers() {
    // The hard limit lowered for this child only: dobench raises its soft limit to the hard
    // one at start and then refuses what does not fit, before connecting anything.
    let bin = env!("CARGO_BIN_EXE_dobench");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let script = format!(
        "ulimit -n 1024 && exec {bin} run chat-fanout --set chat.rooms=1 --set chat.members=1000 --db {}",
        db.display()
    );
    let t0 = Instant::now();
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(err.contains("needs 2032 sockets"), "{err}");
    assert!(err.contains("1 rooms × 1000 members"), "{err}");
    assert!(err.contains("open-file limit is 1024"), "{err}");
}

/// `dobench serve` on 127.0.0.1:0 with `extra` flags; returns the child and its base URL.
fn serve(extra: &[&str]) -> (std::process::Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("banner: {line:?}"))
        .to_string();
    (child, base, dir)
}

/// One HTTP/1.1 GET with `Connection: close`; (status, body).
fn get(base: &str, path: &str) -> (u16, String) {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn a_room_keeps_only_its_retention_and_history_reads_in_pages() {
    let (mut child, base, _dir) = serve(&["--chat-history", "5"]);
    // Twelve messages from one member, over a real WebSocket.
    let ws_url = format!("{}/chat/kept/ws?user=a", base.replacen("http", "ws", 1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures_util::{SinkExt, StreamExt};
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        for i in 0..12 {
            ws.send(format!("m{i}").into()).await.unwrap();
        }
        let mut got = 0;
        while got < 12 {
            let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("frames stopped")
                .unwrap()
                .unwrap();
            got += usize::from(m.is_text());
        }
    });
    let seqs = |body: &str| -> Vec<u64> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect()
    };
    let (status, body) = get(&base, "/chat/kept/history?after_seq=0&limit=1000");
    assert_eq!(status, 200, "{body}");
    assert_eq!(seqs(&body), [8, 9, 10, 11, 12], "the last 5 kept");
    let (_, body) = get(&base, "/chat/kept/history?after_seq=9&limit=2");
    assert_eq!(seqs(&body), [10, 11], "a page");
    let (_, body) = get(&base, "/chat/kept/history?limit=2");
    assert_eq!(seqs(&body), [11, 12], "limit alone is the last N");
    let _ = child.kill();
    let _ = child.wait();
}
