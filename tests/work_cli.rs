//! What the work cost, through the real binary (issue 19): against the reference runtime a
//! run's objects carry their mean service time per turn and rows, `ceiling_pct` is the busy
//! share of each object's service clock (served rate × service time), a dearer row written costs
//! more of the clock, and the run summary's `bill` prices the run's own
//! requests, duration and rows at the published rates.

use std::process::Command;

fn run(extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args([
            "run",
            "sharded-counter",
            "--json",
            "--strategy",
            "single",
            "--duration",
            "2s",
            "--set",
            "load.rate=200",
            "--set",
            r#"thresholds=["correctness = true"]"#,
        ])
        .args(extra)
        .arg("--db")
        .arg(dir.path().join("r.db"))
        .output()
        .expect("run dobench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("summary JSON")
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn ceiling_share_is_busy_time_and_the_bill_follows_the_rows() {
    let v = run(&[]);
    assert_eq!(v["ceiling_basis"], "busy share of the service clock", "{v}");
    let o = &v["objects"][0];
    let ms = f(&o["service_ms_per_turn"]);
    // The base (1 ms at the default 1,000/s ceiling) plus a row written and some CPU.
    assert!((1.0..5.0).contains(&ms), "service ms per turn {ms}");
    let busy = f(&o["peak_served_rps"]) * ms / 10.0;
    assert!(
        (f(&o["ceiling_pct"]) - busy).abs() < 0.01 * busy.max(1.0),
        "ceiling_pct {} vs peak served/s × service ms {busy}",
        o["ceiling_pct"]
    );
    let written = o["rows_written"].as_u64().unwrap();
    assert!(written >= 300, "≥ one row per answered increment: {o}");

    let b = &v["bill"];
    assert_eq!(b["rates_as_of"], "2026-11-01", "{b}");
    assert_eq!(b["rows_written"].as_u64().unwrap(), written, "{b}");
    // Each line is quantity × the published rate; the total is their sum.
    let close = |a: f64, e: f64| (a - e).abs() <= 1e-9 + 1e-6 * e.abs();
    assert!(close(
        f(&b["requests_usd"]),
        f(&b["billable_requests"]) * 0.15 / 1e6
    ));
    assert!(close(
        f(&b["rows_written_usd"]),
        written as f64 * 1.00 / 1e6
    ));
    assert!(close(f(&b["duration_usd"]), f(&b["gb_s"]) * 12.5 / 1e6));
    let sum = [
        "requests_usd",
        "duration_usd",
        "rows_read_usd",
        "rows_written_usd",
    ]
    .iter()
    .map(|k| f(&b[*k]))
    .sum::<f64>();
    assert!(close(f(&b["total_usd"]), sum), "{b}");
    let billable = f(&b["billable_requests"]);
    let requests = v["requests"].as_u64().unwrap() as f64;
    assert!(
        billable > 0.0 && billable <= requests + 1.0,
        "billable {billable} of {requests} requests"
    );

    // A dearer row write costs every turn more of the clock, and the share shows it. Both
    // runs leave CPU time uncharged: two runs' CPU per turn on a loaded machine differ by more
    // than a margin this test could keep.
    let cheap = run(&["--set", r#"runtime.costs="cpu_factor=0""#]);
    let c = &cheap["objects"][0];
    let cheap_ms = f(&c["service_ms_per_turn"]);
    let dear = run(&[
        "--set",
        r#"runtime.costs="cpu_factor=0,row_written_us=575""#,
    ]);
    let d = &dear["objects"][0];
    let dear_ms = f(&d["service_ms_per_turn"]);
    // ~0.95 rows written a turn (5 % of the requests are reads), each 515 µs dearer.
    assert!(
        dear_ms > cheap_ms + 0.4,
        "a row written at 575 µs: {dear_ms} ms vs {cheap_ms} ms per turn"
    );
    assert!(
        f(&d["avg_ceiling_pct"]) > f(&c["avg_ceiling_pct"]),
        "{d} vs {c}"
    );
}
