//! `dobench run` through the real binary: every built-in profile runs green against the
//! embedded runtime with a short duration (rates lowered so a debug build keeps up) and
//! prints one RunSummary JSON with correctness passed; a threshold broken on purpose exits
//! 1; a profile with a typo exits 2 naming file, line and field. Runs one at a time: each
//! starts its own runtime and load generator.

use std::process::{Command, Output};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn dobench(args: &[&str], db: &std::path::Path) -> Output {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run dobench")
}

fn run_json(profile: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        profile,
        "--json",
        "--set",
        r#"thresholds=["correctness = true"]"#,
    ];
    args.extend_from_slice(extra);
    let out = dobench(&args, &dir.path().join("results.db"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{profile}: stdout {stdout}\nstderr {stderr}"
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one JSON document: {stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["profile"], profile);
    assert_eq!(v["target"], "embedded");
    assert_eq!(
        v["correctness"]["passed"], true,
        "{profile}: {}",
        v["correctness"]
    );
    assert_eq!(v["thresholds"]["passed"], true);
    assert!(v["requests"].as_u64().unwrap() > 0);
    for key in [
        "run_id",
        "latency_ms",
        "ops",
        "errors",
        "objects",
        "hibernation",
        "alarms",
        "queued",
        "queue_wait_ms",
        "lateness_ms",
        "generator_limited",
        "generator_note",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    // `generator_limited` is not asserted here: at these rates it is false on a quiet
    // machine, and true, honestly, when other processes hold the cores and the sends go out
    // late (the sends *were* late). honest_cli.rs pins the verdict on the issue's cases.
    if v["generator_limited"] == true {
        eprintln!("{profile}: {}", v["generator_note"]);
    }
    // Every workload, chat too, goes through the one executor's books.
    if let Some(planned) = v["planned"].as_u64() {
        assert_eq!(
            v["requests"].as_u64().unwrap() + v["missed"].as_u64().unwrap(),
            planned,
            "{profile}: requests + missed = planned"
        );
    }
    v
}

#[test]
fn sharded_counter_runs_green() {
    let v = run_json(
        "sharded-counter",
        &["--duration", "3s", "--set", "load.rate=300"],
    );
    assert_eq!(v["workload"], "counter");
    assert_eq!(v["strategy"], "hash:16");
    assert_eq!(v["errors"]["overloaded"], 0);
    assert!(v["ops"]["increment"]["requests"].as_u64().unwrap() > 0);
    let objects = v["objects"].as_array().unwrap();
    assert!(objects.len() <= 16 && !objects.is_empty());
    assert_eq!(v["objects_total"], objects.len() as u64);
    assert!(
        objects
            .iter()
            .all(|o| o["id"].as_str().unwrap().len() == 64),
        "ids filled in"
    );
}

#[test]
fn ratelimit_burst_runs_green() {
    let v = run_json(
        "ratelimit-burst",
        &["--duration", "3s", "--set", "load.rate=200"],
    );
    let checks = v["correctness"]["checks"].as_array().unwrap();
    let bursts = checks
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("burst"))
        .unwrap();
    assert!(
        bursts["detail"].as_str().unwrap().contains("uncontended"),
        "{bursts}"
    );
    assert!(v["ops"]["burst"]["requests"].as_u64().unwrap() > 0);
}

#[test]
fn chat_fanout_runs_green_and_hibernates() {
    let v = run_json(
        "chat-fanout",
        &[
            "--duration",
            "5s",
            "--set",
            "chat.active=1s",
            "--set",
            "chat.idle=2s",
            "--set",
            "load.rate=40",
        ],
    );
    // Messages are the sends (msg/s); deliveries have their own count, rate and latency.
    assert_eq!(v["rate_unit"], "msg/s", "{v}");
    let sent = v["ops"]["send"]["requests"].as_u64().unwrap();
    assert_eq!(sent, v["requests"].as_u64().unwrap());
    assert!(sent > 0);
    assert_eq!(
        v["deliveries"].as_u64().unwrap(),
        sent * 8,
        "every message reached the 8 members of its room: {v}"
    );
    let offered = v["offered_rps"].as_f64().unwrap();
    assert!(
        (offered - 40.0 * 2.0 / 5.0).abs() < 1.0,
        "msg/s offered: {offered}"
    );
    assert!(
        (v["offered_deliveries_per_s"].as_f64().unwrap() - offered * 8.0).abs() < 1e-6,
        "{v}"
    );
    assert!(
        v["achieved_deliveries_per_s"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    let h = &v["hibernation"];
    assert!(
        h["hibernated_ms"].as_f64().unwrap() > 0.0,
        "rooms hibernated: {h}"
    );
    assert!(h["saved_pct"].as_f64().unwrap() > 0.0, "{h}");
    // Fan-out latency counts from the message's intended send, so it is never below the
    // send's own latency (from the same instant), and the generator's threads are measured.
    assert!(
        v["delivery_latency_ms"]["p50"].as_f64().unwrap() + 0.01
            >= v["latency_ms"]["p50"].as_f64().unwrap(),
        "{v}"
    );
    assert!(v["generator_cpu_pct"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn alarm_storm_runs_green() {
    let v = run_json(
        "alarm-storm",
        &[
            "--duration",
            "1s",
            "--set",
            "load.rate=100",
            "--set",
            "alarm.delay=1s",
        ],
    );
    let a = &v["alarms"];
    assert!(a["scheduled"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["scheduled"], a["fired"]);
    assert_eq!(a["missing"], 0);
    assert!(
        a["retried"].as_u64().unwrap() > 0,
        "10 % of handlers fail twice: {a}"
    );
}

#[test]
fn broken_threshold_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dobench(
        &[
            "run",
            "sharded-counter",
            "--duration",
            "1s",
            "--set",
            "load.rate=100",
            "--set",
            r#"thresholds=["p99_ms < 0.0001", "correctness = true"]"#,
        ],
        &dir.path().join("r.db"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("FAIL p99_ms < 0.0001"), "{stdout}");
    assert!(stdout.contains("verdict     FAIL"), "{stdout}");
}

#[test]
fn bad_profile_exits_2_naming_file_line_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "name = \"typo\"\nworkload = \"counter\"\n\n[load]\nrate = 10\nduraton = \"1s\"\n",
    )
    .unwrap();
    let out = dobench(&["run", path.to_str().unwrap()], &dir.path().join("r.db"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:6:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("duraton"), "{stderr}");
}

#[test]
fn profiles_lists_the_builtins() {
    let out = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .arg("profiles")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for name in [
        "sharded-counter",
        "ratelimit-burst",
        "chat-fanout",
        "alarm-storm",
        "parent-aggregator",
        "lease-lock",
        "lost-update",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
}

#[test]
fn show_prints_the_summary_as_run_printed_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let out = dobench(
        &[
            "run",
            "sharded-counter",
            "--duration",
            "1s",
            "--set",
            "load.rate=100",
        ],
        &db,
    );
    let ran = String::from_utf8_lossy(&out.stdout).to_string();
    let id = ran
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in {ran}"))
        .to_string();
    let shown = dobench(&["show", &id], &db);
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        shown.starts_with(&ran),
        "show must print what run printed:\n--- run\n{ran}\n--- show\n{shown}"
    );
    assert!(
        ran.contains("% ceiling") && ran.contains("verdict"),
        "{ran}"
    );
}

#[test]
fn cross_field_error_names_the_line_and_field_that_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cross.toml");
    std::fs::write(
        &path,
        "name = \"cross\"\nworkload = \"counter\"\n\n[load]\nrate = 10\nduration = \"1s\"\n\n[counter]\nread_ratio = 1.5\n",
    )
    .unwrap();
    let out = dobench(&["run", path.to_str().unwrap()], &dir.path().join("r.db"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:9:1:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("field `counter.read_ratio`"), "{stderr}");
    // The same check, broken by a --set, names the --set.
    let out = dobench(
        &["run", "sharded-counter", "--set", "counter.read_ratio=2"],
        &dir.path().join("r.db"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--set counter.read_ratio=2"), "{stderr}");
}

#[test]
fn errors_say_the_os_reason_once_and_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the results database should be: the OS refuses to open it.
    let out = dobench(&["run", "sharded-counter", "--duration", "1s"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe: {stderr:?}"
    );
    for line in stderr.lines().filter(|l| l.starts_with("error:")) {
        assert_eq!(
            line.matches("unable to open database file").count(),
            1,
            "the reason said twice: {line}"
        );
    }
}
