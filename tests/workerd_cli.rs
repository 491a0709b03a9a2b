//! workerd as a target through the real binary: `dobench target workerd` prints its URL
//! first, serves the protocol and, on SIGTERM, exits and takes workerd down with it;
//! `dobench compare --target embedded,workerd` runs every strategy on both and labels the
//! rows. Needs `cd workloads/worker && npm ci` (a missing workerd fails these tests unless
//! `DOBENCH_SKIP_WORKERD=1`, said loudly). Loopback only; every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn skip() -> bool {
    let skip = std::env::var("DOBENCH_SKIP_WORKERD").as_deref() == Ok("1");
    if skip {
        eprintln!("!!! DOBENCH_SKIP_WORKERD=1: workerd CLI tests SKIPPED !!!");
    }
    skip
}

/// One blocking HTTP/1.1 request on loopback; the whole answer as text.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn target_workerd_prints_its_url_serves_and_stops_with_workerd() {
    if skip() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args(["target", "workerd"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        let _ = child.wait();
        panic!("no URL printed (is workerd installed? `cd workloads/worker && npm ci`): {err}");
    }
    let url = line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("first line: {line:?}"));
    let port: u16 = url.parse().unwrap();
    let answer = http(port, "POST", "/counter/cli/increment?by=2").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"value":2}"#), "{answer}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dobench target did not exit within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    // workerd went with it: nothing answers on its port any more.
    assert!(
        http(port, "GET", "/_dobench/health").is_err(),
        "workerd still serving on {port} after dobench exited"
    );
}

#[test]
fn compare_runs_every_strategy_on_embedded_and_workerd() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dobench"))
        .args([
            "compare",
            "sharded-counter",
            "--target",
            "embedded,workerd",
            "--strategy",
            "single,hash:4",
            "--duration",
            "2s",
            "--json",
            "--set",
            "load.rate=100",
            "--set",
            r#"thresholds=["correctness = true"]"#,
        ])
        .arg("--db")
        .arg(dir.path().join("results.db"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let cells: Vec<(String, String)> = v["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap().to_string(),
                r["strategy"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("embedded", "single"),
        ("embedded", "hash:4"),
        ("workerd", "single"),
        ("workerd", "hash:4"),
    ]
    .iter()
    .map(|(t, s)| (t.to_string(), s.to_string()))
    .collect();
    assert_eq!(cells, want, "{stdout}");
    for r in v["runs"].as_array().unwrap() {
        assert_eq!(r["correctness"]["passed"], true, "{}", r["correctness"]);
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
    }
    assert_eq!(v["best_by_target"]["embedded"], "single", "{stdout}");
    assert_eq!(v["best_by_target"]["workerd"], "single", "{stdout}");
}
