//! `dobench http --db` → `runs` → `show` → `report`, end to end through the binary: the
//! stored summary is the one `http --json` printed, and the report is one self-contained
//! file. The target is a tiny keep-alive HTTP server on 127.0.0.1:0 inside this test.

mod common;

use common::tiny_server;
use std::process::Command;

fn dobench(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(args)
        .output()
        .expect("run dobench");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn http_run_is_stored_listed_shown_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/results.db");
    let db_s = db.to_str().unwrap();
    let url = format!("{}/counter/a", tiny_server());

    let (ok, _, err) = dobench(&["runs", "--db", db_s]);
    assert!(ok, "{err}");
    let (ok, out, err) = dobench(&[
        "http",
        &url,
        "--rate",
        "300",
        "--duration",
        "3s",
        "--connections",
        "4",
        "--json",
        "--db",
        db_s,
    ]);
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = printed["run_id"].as_str().unwrap().to_string();

    let (ok, table, err) = dobench(&["runs", "--db", db_s, "--limit", "5"]);
    assert!(ok, "{err}");
    assert!(
        table.contains(&id) && table.contains("http") && table.contains("pass"),
        "{table}"
    );

    let (ok, shown, err) = dobench(&["show", &id[..10], "--json", "--db", db_s]);
    assert!(ok, "{err}");
    let stored: serde_json::Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(
        stored, printed,
        "show --json prints what http --json printed"
    );
    let (ok, human, _) = dobench(&["show", "latest", "--db", db_s]);
    assert!(
        ok && human.contains(&id) && human.contains("latency"),
        "{human}"
    );

    let html = dir.path().join("report.html");
    let (ok, _, err) = dobench(&["report", &id, "-o", html.to_str().unwrap(), "--db", db_s]);
    assert!(ok, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    for s in [
        "headline",
        "throughput",
        "objects",
        "latency",
        "distribution",
        "errors",
        "correctness",
        "profile",
    ] {
        assert!(
            page.contains(&format!("<section id=\"{s}\">")),
            "section {s}"
        );
    }
    // 4 charts: a plain URL names no objects, so that section explains instead of charting.
    assert_eq!(page.matches("<svg").count(), 4);
    assert!(page.contains("No per-object data"));
    // The only URL is the target, as a plain link.
    for (i, _) in page.match_indices("://") {
        let before = &page[i.saturating_sub(200)..i];
        assert!(
            before
                .rfind("<a href=\"")
                .is_some_and(|a| !before[a..].contains('>')),
            "non-link URL at {i}"
        );
    }
    assert!(!page.contains("<script") && !page.contains("<link"));

    let (ok, _, err) = dobench(&["report", "nope", "-o", html.to_str().unwrap(), "--db", db_s]);
    assert!(!ok && err.contains("no run matches"), "{err}");
    let (ok, _, err) = dobench(&[
        "show",
        "latest",
        "--db",
        dir.path().join("absent.db").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("no results store"), "{err}");
}
