//! A `dobench http --db FILE` child process SIGKILLed midway leaves an `incomplete` run whose
//! seconds up to the kill are readable (by the store, `dobench runs`, `show` and `report`).
//! The target is a tiny keep-alive HTTP server on 127.0.0.1:0 inside this test.

mod common;

use common::tiny_server;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dobench_reports::{RunStatus, Store};

fn dobench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .output()
        .expect("run dobench")
}

#[test]
fn sigkill_midway_leaves_an_incomplete_run_with_its_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let db_s = db.to_str().unwrap();
    let url = format!("{}/counter/a", tiny_server());
    // Bounded: 30 s planned, killed after a few seconds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args([
            "http",
            &url,
            "--rate",
            "200",
            "--duration",
            "30s",
            "--connections",
            "4",
            "--db",
            db_s,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dobench http");
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        assert!(Instant::now() < deadline, "no seconds recorded in time");
        std::thread::sleep(Duration::from_millis(200));
        if !db.exists() {
            continue;
        }
        let store = Store::open(&db).unwrap();
        let Ok(ids) = store.resolve("latest") else {
            continue;
        };
        let id = ids[0].clone();
        assert_eq!(
            store.row(&id).unwrap().status,
            RunStatus::Running,
            "child alive: running"
        );
        if store.seconds(&id).unwrap().len() >= 3 {
            break id;
        }
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = Store::open(&db).unwrap();
    let row = store.row(&id).unwrap();
    assert_eq!(row.status, RunStatus::Incomplete);
    assert!(row.ended_ms.is_none());
    let seconds = store.seconds(&id).unwrap();
    assert!(seconds.len() >= 3, "{} seconds", seconds.len());
    assert!(seconds.len() < 30);
    for (i, s) in seconds.iter().enumerate() {
        assert_eq!(s.second, i as u64, "seconds are contiguous from 0");
    }
    assert!(
        seconds
            .iter()
            .skip(1)
            .all(|s| s.requests > 0 && s.achieved_rps > 100.0),
        "{seconds:?}"
    );
    let summary = store.summary(&id).unwrap();
    assert!(summary.stopped_early && summary.requests > 0);

    let runs = dobench(&["runs", "--db", db_s]);
    let table = String::from_utf8_lossy(&runs.stdout);
    assert!(
        runs.status.success() && table.contains(&id) && table.contains("incomplete"),
        "{table}"
    );
    let show = dobench(&["show", &id, "--json", "--db", db_s]);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(json["run_id"], id.as_str());
    assert_eq!(json["stopped_early"], true);
    let html = dir.path().join("r.html");
    let report = dobench(&[
        "report",
        "latest",
        "-o",
        html.to_str().unwrap(),
        "--db",
        db_s,
    ]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("did not finish"));
}
