//! Hostile paths given to the CLI (issue 20): `report -o` with a planted temp-file symlink, a
//! symlink, FIFO or directory as the target; a read-only results store read by `runs`, `show`
//! and `report`; `/dev/zero`, a FIFO or a huge file as a profile. Each ends at once with a
//! clear outcome and touches nothing it should not. The target of the recorded run is a tiny
//! keep-alive HTTP server on 127.0.0.1:0 inside this test.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs dobench (as `nobody` when `unprivileged`: root ignores file permissions).
fn dobench_as(unprivileged: bool, args: &[&str]) -> (i32, String, String) {
    let bin = env!("CARGO_BIN_EXE_dobench");
    let mut cmd = if unprivileged && is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.args(args).output().expect("run dobench");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn dobench(args: &[&str]) -> (i32, String, String) {
    dobench_as(false, args)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Records one short `dobench http` run into `db`; returns its id.
fn record_run(db: &Path) -> String {
    let url = format!("{}/counter/a", common::tiny_server());
    let (code, out, err) = dobench(&[
        "http",
        &url,
        "--rate",
        "100",
        "--duration",
        "1s",
        "--connections",
        "2",
        "--json",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["run_id"].as_str().unwrap().to_string()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Issue 20 defect 3: a symlink planted where the old code put its temp file is not followed,
/// and a target that is not a regular file is refused with exit 2, leaving it as it was.
#[test]
fn issue20_report_output_never_follows_or_replaces_what_it_should_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let id = record_run(&db);
    let db_s = db.to_str().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("out.html");
    for planted in ["out.html.tmp", "out.tmp", "out.html.html.tmp"] {
        std::os::unix::fs::symlink(&victim, dir.path().join(planted)).unwrap();
    }
    let (code, _, err) = dobench(&["report", &id, "-o", out.to_str().unwrap(), "--db", db_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    assert!(std::fs::read_to_string(&out).unwrap().contains("<html"));
    // Writing again replaces the report (a regular file) in place.
    let (code, _, err) = dobench(&["report", &id, "-o", out.to_str().unwrap(), "--db", db_s]);
    assert_eq!(code, 0, "{err}");

    // Non-regular targets: a symlink to the victim, a FIFO, a directory.
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let fifo = dir.path().join("fifo.html");
    mkfifo(&fifo);
    let subdir = dir.path().join("adir.html");
    std::fs::create_dir(&subdir).unwrap();
    for target in [&link, &fifo, &subdir] {
        let t0 = Instant::now();
        let (code, _, err) =
            dobench(&["report", &id, "-o", target.to_str().unwrap(), "--db", db_s]);
        assert_eq!(code, 2, "{}: {err}", target.display());
        assert!(err.contains("not a regular file"), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".dobench-report-")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}

/// Issue 20 defect 9: `runs`, `show` and `report` read a store they cannot write.
#[test]
fn issue20_read_only_results_store_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    let db = store_dir.join("results.db");
    let id = record_run(&db);
    // Read-only file in a read-only directory (no -wal/-shm can be created).
    let set_mode = |p: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for e in std::fs::read_dir(&store_dir).unwrap().flatten() {
        set_mode(&e.path(), 0o444);
    }
    set_mode(&store_dir, 0o555);
    set_mode(dir.path(), 0o777);
    let db_s = db.to_str().unwrap();
    let (code, table, err) = dobench_as(true, &["runs", "--db", db_s]);
    assert_eq!(code, 0, "runs: {err}");
    assert!(table.contains(&id), "{table}");
    let (code, shown, err) = dobench_as(true, &["show", "latest", "--json", "--db", db_s]);
    assert_eq!(code, 0, "show: {err}");
    assert!(shown.contains(&id), "{shown}");
    let html = dir.path().join("ro.html");
    let (code, _, err) = dobench_as(
        true,
        &[
            "report",
            "latest",
            "-o",
            html.to_str().unwrap(),
            "--db",
            db_s,
        ],
    );
    assert_eq!(code, 0, "report: {err}");
    assert!(std::fs::read_to_string(&html).unwrap().contains(&id));
    set_mode(&store_dir, 0o755);
}

/// Issue 20 defect 2 (profile part): `/dev/zero`, a FIFO or a 2 MiB file as the profile path is
/// refused at once with exit 2 and a clear message, in bounded memory.
#[test]
fn issue20_profile_paths_that_never_end_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("profile.toml");
    mkfifo(&fifo);
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    for (path, needle) in [
        ("/dev/zero".to_string(), "not a regular file"),
        (fifo.display().to_string(), "not a regular file"),
        (big.display().to_string(), "1048576-byte limit"),
    ] {
        let t0 = Instant::now();
        let (code, _, err) = dobench(&["run", &path, "--json"]);
        let took = t0.elapsed();
        assert_eq!(code, 2, "{path}: {err}");
        assert!(err.contains(needle), "{path}: {err}");
        assert!(took < Duration::from_secs(10), "{path} took {took:?}");
    }
}
