//! The user's own traffic through the real binary (issue 15): a wrong template or check is
//! exit 2 naming file, line and field; `--target-cmd` starts a server, shows its output when
//! it never gets healthy and stops it with its children; `dobench http` with a URL template
//! prints per-object figures named by the rendered `{object}`; `dobench init` writes a
//! profile `run` accepts; a templated profile passes its invariants on the embedded
//! runtime; and the likes-worker example (a REST API of its own) runs on real workerd via
//! `--target-cmd`, where `compare hash:4,hash:16` lowers the hottest object's share.
//! Its presence room answers WebSocket members in its own frame format, and its
//! `workload = "ws"` profile (presence.toml) passes on workerd with per-object figures named
//! by the Worker's own rooms; a ws profile drives the embedded runtime's chat rooms through
//! their frame format too, and a wrong ws template or pointer is exit 2 naming the field.
//! Loopback only; every wait is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dobench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const HEAD: &str = "name = \"t\"\nworkload = \"http\"\nstrategy = \"hash:4\"\n\n[load]\nrate = 10\nduration = \"1s\"\n\n[[http.requests]]\n";

#[test]
fn wrong_templates_and_checks_are_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let no_strategy = HEAD.replace("strategy = \"hash:4\"\n", "");
    for (name, body, want) in [
        (
            "unknown.toml",
            format!("{HEAD}path = \"/v1/{{tenant}}\"\n"),
            ":10:13: unknown placeholder {tenant}",
        ),
        (
            "pointer.toml",
            format!("{HEAD}path = \"/x\"\nchecks = [{{ pointer = \"total\", is = \"number\" }}]\n"),
            ":11:",
        ),
        (
            "nostrategy.toml",
            format!("{no_strategy}path = \"/v1/{{object}}/likes\"\n"),
            ":9:13: {object} needs a sharding strategy",
        ),
    ] {
        let file = write(dir.path(), name, &body);
        let out = dobench(&[
            "run",
            &file,
            "--db",
            &dir.path().join("r.db").display().to_string(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&format!("{file}{want}")), "{name}: {err}");
        assert!(err.contains("(field `http.requests[0]."), "{name}: {err}");
    }
}

#[test]
fn a_target_that_never_gets_healthy_is_exit_2_with_its_output_and_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    // The command's own child (sleep) must be stopped too: the whole process group goes.
    let cmd = format!(
        "echo warming up on {{port}}; echo still not listening >&2; sleep 60 & echo $! > {}; wait",
        pidfile.display()
    );
    let started = Instant::now();
    let out = dobench(&[
        "run",
        "examples/profiles/templated-counter.toml",
        "--target-cmd",
        &cmd,
        "--health-timeout",
        "1s",
        "--db",
        &dir.path().join("r.db").display().to_string(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("warming up on "), "its stdout: {err}");
    assert!(err.contains("still not listening"), "its stderr: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "not waited for the sleep"
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Gone, or a zombie waiting for a reaper that is not ours.
    let state = stat.rsplit(')').next().unwrap_or("").trim().chars().next();
    assert!(
        matches!(state, None | Some('Z') | Some('X')),
        "the target's child {pid} still runs: {stat}"
    );

    let out = dobench(&[
        "run",
        "examples/profiles/templated-counter.toml",
        "--target-cmd",
        "echo no such config {port}; exit 3",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("exited") && err.contains("no such config"),
        "{err}"
    );
    let out = dobench(&[
        "run",
        "examples/profiles/templated-counter.toml",
        "--target-cmd",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("{port}"));
}

#[test]
fn http_url_templates_give_objects_named_by_the_rendered_object() {
    let base = common::tiny_server();
    let url = format!("{base}/v1/rooms/{{object}}/items/{{key}}");
    let out = dobench(&[
        "http",
        &url,
        "--strategy",
        "hash:4",
        "--object-name",
        "room-{shard}",
        "--key-space",
        "100",
        "--zipf",
        "1.1",
        "--rate",
        "200",
        "-d",
        "1s",
        "--json",
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = v["objects"].as_array().unwrap_or_else(|| panic!("{v}"));
    let mut names: Vec<&str> = objects
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["room-0", "room-1", "room-2", "room-3"], "{v}");
    let sum: u64 = objects
        .iter()
        .map(|o| o["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum,
        v["requests"].as_u64().unwrap(),
        "every request is some object's"
    );
    assert_eq!(v["strategy"], "hash:4");
    assert_eq!(v["ceiling_rps"], 1000.0);
    // Hottest first, with its share of the ceiling.
    assert!(objects[0]["ceiling_pct"].as_f64().unwrap() > 0.0, "{v}");

    let out = dobench(&["http", &format!("{base}/v1/{{object}}"), "-d", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("the URL template") && err.contains("--strategy"),
        "{err}"
    );
}

#[test]
fn init_writes_a_profile_that_runs() {
    let dir = tempfile::tempdir().unwrap();
    let base = common::tiny_server();
    let file = dir.path().join("mine.toml").display().to_string();
    let url = format!("{base}/v1/items/{{object}}?k={{key}}");
    let out = dobench(&["init", &url, "-o", &file, "--rate", "50", "-d", "1s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("workload = \"http\"") && written.contains("strategy = \"hash:16\""));
    assert!(
        written.contains("path = \"/v1/items/{object}?k={key}\""),
        "{written}"
    );
    let out = dobench(&["init", &url, "-o", &file]);
    assert_eq!(out.status.code(), Some(2), "an existing file is kept");
    let db = dir.path().join("r.db").display().to_string();
    // Its latency threshold is the user's to tune; this machine's load is not the point.
    let only_correctness = "thresholds=[\"correctness = true\"]";
    let out = dobench(&[
        "run",
        &file,
        "--target",
        &base,
        "--json",
        "--db",
        &db,
        "--set",
        only_correctness,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workload"], "http");
    assert_eq!(v["correctness"]["passed"], true, "{v}");
    assert!(
        v["objects"].as_array().is_some_and(|o| !o.is_empty()),
        "{v}"
    );
}

#[test]
fn a_templated_counter_profile_passes_its_invariants_on_the_embedded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let out = dobench(&[
        "run",
        "examples/profiles/templated-counter.toml",
        "-d",
        "1s",
        "--set",
        "load.rate=300",
        "--json",
        "--db",
        &db,
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["correctness"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"reads never go backwards"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("sum over objects")),
        "{names:?}"
    );
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    assert_eq!(v["objects"].as_array().unwrap().len(), 16, "hash:16");
}

fn skip_workerd() -> bool {
    let skip = std::env::var("DOBENCH_SKIP_WORKERD").as_deref() == Ok("1");
    if skip {
        eprintln!("!!! DOBENCH_SKIP_WORKERD=1: likes-worker tests SKIPPED !!!");
    }
    skip
}

/// The example Worker under real workerd, started by dobench for the run.
const WORKERD_CMD: &str = "workloads/worker/node_modules/.bin/workerd serve examples/likes-worker/config.capnp --socket-addr http=127.0.0.1:{port}";

fn hottest_share(run: &serde_json::Value) -> f64 {
    let objects = run["objects"].as_array().unwrap();
    let total: u64 = objects
        .iter()
        .map(|o| o["requests"].as_u64().unwrap())
        .sum();
    objects[0]["requests"].as_u64().unwrap() as f64 / total as f64
}

#[test]
fn the_likes_worker_example_runs_on_workerd_and_sharding_cools_its_hottest_object() {
    if skip_workerd() {
        return;
    }
    assert!(
        root()
            .join("workloads/worker/node_modules/.bin/workerd")
            .exists(),
        "workerd missing: run `cd workloads/worker && npm ci`"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let profile = "examples/likes-worker/profiles/likes.toml";
    let target = ["--target-cmd", WORKERD_CMD, "--health-path", "/healthz"];
    let mut args = vec![
        "run",
        profile,
        "-d",
        "2s",
        "--set",
        "load.rate=200",
        "--json",
    ];
    args.extend(target);
    args.extend(["--db", &db]);
    let out = dobench(&args);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["correctness"]["passed"], true, "{v}");
    let checks = v["correctness"]["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "login: captures {session} from /session"),
        "{checks:?}"
    );
    // The Worker's own objects, named by the profile's object_name.
    let objects = v["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 16, "{v}");
    assert!(objects
        .iter()
        .all(|o| o["name"].as_str().unwrap().starts_with("acme-")));

    let mut args = vec![
        "compare",
        profile,
        "--strategy",
        "hash:4,hash:16",
        "-d",
        "2s",
    ];
    args.extend(["--set", "load.rate=200", "--json"]);
    args.extend(target);
    args.extend(["--db", &db]);
    let out = dobench(&args);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs[0]["strategy"], "hash:4");
    assert_eq!(runs[1]["strategy"], "hash:16");
    assert_eq!(runs[0]["objects"].as_array().unwrap().len(), 4);
    let (four, sixteen) = (hottest_share(&runs[0]), hottest_share(&runs[1]));
    // Four shards: the hottest holds at least a quarter; sixteen spread it further.
    assert!(
        four >= 0.25 && sixteen < four,
        "hash:4 {four:.3}, hash:16 {sixteen:.3}"
    );
}

/// Starts the likes-worker on workerd on a free port, as `--target-cmd` would (its own
/// process group, killed on drop); the port.
struct Likes(std::process::Child, u16);

impl Drop for Likes {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_likes() -> Likes {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = root().join("workloads/worker/node_modules/@cloudflare/workerd-linux-64/bin/workerd");
    let bin = if bin.exists() {
        bin
    } else {
        root().join("workloads/worker/node_modules/.bin/workerd")
    };
    let child = Command::new(bin)
        .args([
            "serve",
            "examples/likes-worker/config.capnp",
            "--socket-addr",
        ])
        .arg(format!("http=127.0.0.1:{port}"))
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "workerd did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Likes(child, port)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON, within 10 s.
async fn next_frame(ws: &mut Ws) -> serde_json::Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let frame = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), frame)
        .await
        .expect("a frame within 10 s")
}

#[test]
fn the_likes_worker_presence_room_speaks_its_own_frames() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    if skip_workerd() {
        return;
    }
    let likes = start_likes();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = |m: &str| {
            format!(
                "ws://127.0.0.1:{}/v1/rooms/lobby/presence?member={m}",
                likes.1
            )
        };
        let (mut ann, _) = tokio_tungstenite::connect_async(url("ann")).await.unwrap();
        let joined = next_frame(&mut ann).await;
        assert_eq!(
            (&joined["type"], &joined["member"]),
            (&"join".into(), &"ann".into())
        );
        let (mut bob, _) = tokio_tungstenite::connect_async(url("bob")).await.unwrap();
        let seen = next_frame(&mut ann).await;
        assert_eq!(
            (&seen["type"], &seen["member"], &seen["online"]),
            (&"join".into(), &"bob".into(), &2.into())
        );
        let _ = next_frame(&mut bob).await; // bob's own join
        let say = r#"{"type": "say", "id": "m-7", "sent": 1700000000000001, "text": "hi"}"#;
        bob.send(Message::Text(say.into())).await.unwrap();
        for ws in [&mut ann, &mut bob] {
            let said = next_frame(ws).await;
            assert_eq!(
                (&said["type"], &said["member"], &said["text"]),
                (&"said".into(), &"bob".into(), &"hi".into())
            );
            // The client's own id and stamp, passed on untouched.
            assert_eq!(
                (&said["id"], &said["sent"]),
                (&"m-7".into(), &1700000000000001u64.into())
            );
            assert!(said["at"].as_u64().is_some(), "{said}");
        }
        // Anything else is answered to the sender alone.
        bob.send(Message::Text("hi".into())).await.unwrap();
        assert_eq!(next_frame(&mut bob).await["type"], "error");
    });
}

#[test]
fn the_presence_profile_runs_on_workerd_and_names_the_worker_s_rooms() {
    if skip_workerd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let out = dobench(&[
        "run",
        "examples/likes-worker/profiles/presence.toml",
        "-d",
        "2s",
        "--target-cmd",
        WORKERD_CMD,
        "--health-path",
        "/healthz",
        "--json",
        "--db",
        &db,
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workload"], "ws");
    assert_eq!(v["correctness"]["passed"], true, "{v}");
    let checks = v["correctness"]["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "every member got every message sent to its room, once"),
        "{checks:?}"
    );
    // 4 rooms × 4 members × 2 msg/s for 2 s; each message reaches its room's 4 members.
    assert_eq!(v["requests"], 64, "{v}");
    assert_eq!(v["deliveries"], 256, "{v}");
    assert!(
        v["delivery_latency_ms"]["p50"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    // The Worker's own room objects, named by the profile's object_name.
    let objects = v["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 4, "{v}");
    assert!(
        objects
            .iter()
            .all(|o| o["name"].as_str().unwrap().starts_with("lobby-")),
        "{objects:?}"
    );
}

#[test]
fn a_ws_profile_drives_the_embedded_chat_rooms_in_their_frame_format() {
    // dobench's own chat rooms answer `{"seq":..,"body":"<the frame as sent>",..}`: the
    // message id is found inside the body string.
    let dir = tempfile::tempdir().unwrap();
    let profile = write(
        dir.path(),
        "chat.toml",
        r#"name = "ws-chat"
workload = "ws"
strategy = "hash:2"
[keyspace]
keys = 4
[load]
duration = "1s"
[ws]
object_name = "r-{nonce}-{shard}"
members = 2
rate = 10
connect = "/chat/{object}/ws?user=m{member}"
send = "{nonce}-{msg_id}"
id = "/body"
"#,
    );
    let db = dir.path().join("r.db").display().to_string();
    let out = dobench(&["run", &profile, "--json", "--db", &db]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["correctness"]["passed"], true, "{v}");
    // 4 room keys packed into 2 objects: an object holding k keys has 2k members, sends
    // 2k × 10 messages in the second, and each reaches its 2k members.
    assert_eq!(v["requests"], 80, "{v}");
    let objects = v["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "{v}");
    let expected: u64 = objects
        .iter()
        .map(|o| {
            let sent = o["requests"].as_u64().unwrap();
            sent * (sent / 10)
        })
        .sum();
    assert_eq!(v["deliveries"].as_u64(), Some(expected), "{v}");
    assert_eq!(
        v["offered_deliveries_per_s"].as_f64(),
        Some(expected as f64),
        "{v}"
    );
}

#[test]
fn wrong_ws_templates_and_pointers_are_exit_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let head = "name = \"w\"\nworkload = \"ws\"\nstrategy = \"per-key\"\n\n[load]\nduration = \"1s\"\n\n[ws]\nmembers = 2\nrate = 1\nconnect = \"/r/{object}\"\n";
    for (name, body, want, field) in [
        (
            "placeholder.toml",
            format!("{head}send = \"{{msg_id}} {{room}}\"\nid = \"/id\"\n"),
            ":12:18: unknown placeholder {room}",
            "ws.send",
        ),
        (
            "pointer.toml",
            format!("{head}send = \"{{msg_id}}\"\nid = \"id\"\n"),
            ":13:",
            "ws.id",
        ),
        (
            "noid.toml",
            format!("{head}send = \"hello\"\nid = \"/id\"\n"),
            ":12:",
            "ws.send",
        ),
        (
            "nostrategy.toml",
            format!("{head}send = \"{{msg_id}}\"\nid = \"/id\"\n")
                .replace("strategy = \"per-key\"\n", ""),
            ":1:",
            "strategy",
        ),
        (
            "rate.toml",
            format!("{head}send = \"{{msg_id}}\"\nid = \"/id\"\n")
                .replace("duration = \"1s\"", "duration = \"1s\"\nrate = 5"),
            ":7:",
            "load.rate",
        ),
    ] {
        let file = write(dir.path(), name, &body);
        let out = dobench(&[
            "run",
            &file,
            "--db",
            &dir.path().join("r.db").display().to_string(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&format!("{file}{want}")), "{name}: {err}");
        assert!(err.contains(&format!("(field `{field}`)")), "{name}: {err}");
    }
}
