//! Issue 21: one test split across generator processes and merged exactly.
//!
//! `split_four_ways_across_network_namespaces_merges_exactly` builds its own network: one
//! namespace for the target (`dobench serve` bound to its bridge address on a private test
//! subnet, 10.231.0.0/24) and four for generators, each joined to the target's bridge by a
//! veth pair; it runs one profile split four ways (`--segment i/4`, `--allow-remote`),
//! merges the parts and checks requests and rate against the plan, the merged percentiles
//! against the parts' histograms added by hand, and correctness. The namespaces (and with
//! them every interface) are removed after, also on failure (a Drop guard); the test is
//! skipped with a message where namespaces cannot be created. No traffic leaves the
//! namespaces it made. The other tests pin the refusals, a late segment and a split
//! alarm-storm on loopback. The Kubernetes manifests are `k8s_cli.rs`'s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use dobench_loadgen::hist::new_histogram;
use dobench_loadgen::part::Part;
use dobench_loadgen::{Percentiles, RunSummary};

/// The binary under test; `DOBENCH_BIN` names another build (e.g. the release build, for the
/// figures in the README).
fn bin() -> String {
    std::env::var("DOBENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dobench").to_string())
}

/// The split profile: increments (and 5 % reads) at 400/s for 10 s over 8 shards (modest:
/// the test runs the debug build, five processes on what may be a two-core machine).
const PROFILE: &str = r#"
name = "split-counter"
description = "issue 21's split test: 400 increments/s for 10 s over hash:8"
workload = "counter"
strategy = "hash:8"

[load]
rate = 400
duration = "10s"
max_in_flight = 64
timeout = "10s"

[keyspace]
keys = 1000
distribution = "zipf"
s = 0.8
seed = 7

[counter]
read_ratio = 0.05
"#;

const PLANNED: u64 = 4_000;
const PLANNED_RPS: f64 = 400.0;
const PLANNED_S: f64 = 10.0;

/// The tests that start generators take turns: their rates are only honest with the cores
/// to themselves.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The test's namespaces and the processes started in them: all removed on drop.
struct Net {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

const SUBNET: &str = "10.231.0";

impl Net {
    /// A target namespace with a bridge at 10.231.0.1 and `n` generator namespaces on it.
    fn build(n: usize) -> Result<Net, String> {
        let prefix = format!("dbt{}", std::process::id() % 100_000);
        let mut net = Net {
            prefix: prefix.clone(),
            namespaces: Vec::new(),
            children: Vec::new(),
        };
        let srv = format!("{prefix}s");
        ip(&["netns", "add", &srv])?;
        net.namespaces.push(srv.clone());
        let br = format!("{prefix}br");
        ip(&["-n", &srv, "link", "set", "lo", "up"])?;
        ip(&["-n", &srv, "link", "add", &br, "type", "bridge"])?;
        ip(&[
            "-n",
            &srv,
            "addr",
            "add",
            &format!("{SUBNET}.1/24"),
            "dev",
            &br,
        ])?;
        ip(&["-n", &srv, "link", "set", &br, "up"])?;
        for i in 0..n {
            let g = net.generator(i);
            ip(&["netns", "add", &g])?;
            net.namespaces.push(g.clone());
            let (a, b) = (format!("{prefix}g{i}a"), format!("{prefix}g{i}b"));
            ip(&["-n", &g, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", &g, "link", "add", &a, "type", "veth", "peer", "name", &b, "netns", &srv,
            ])?;
            ip(&["-n", &srv, "link", "set", &b, "master", &br])?;
            ip(&["-n", &srv, "link", "set", &b, "up"])?;
            let addr = format!("{SUBNET}.{}/24", 10 + i);
            ip(&["-n", &g, "addr", "add", &addr, "dev", &a])?;
            ip(&["-n", &g, "link", "set", &a, "up"])?;
        }
        Ok(net)
    }

    fn target_ns(&self) -> String {
        format!("{}s", self.prefix)
    }

    fn generator(&self, i: usize) -> String {
        format!("{}g{i}", self.prefix)
    }

    /// `dobench ARGS` inside namespace `ns`.
    fn dobench(ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, &bin()]);
        c
    }

    /// Starts `dobench serve` in the target namespace; returns its URL.
    fn serve(&mut self) -> String {
        let mut child = Self::dobench(&self.target_ns())
            .args([
                "serve",
                "--bind",
                &format!("{SUBNET}.1:0"),
                "--data",
                ":memory:",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.children.push(child);
        line.trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve said {line:?}"))
            .to_string()
    }
}

fn json_of(out: &Output) -> RunSummary {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "not a run summary ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn line(label: &str, s: &RunSummary) -> String {
    let c = s.correctness.as_ref().is_some_and(|c| c.passed);
    format!(
        "{label}: {} requests ({} planned, {} missed), {:.1} of {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms, correctness {}",
        s.requests,
        s.planned.unwrap_or(0),
        s.missed,
        s.achieved_rps,
        s.offered_rps,
        s.latency_ms.p50,
        s.latency_ms.p99,
        if c { "passed" } else { "FAILED" }
    )
}

fn within_1pct(actual: f64, planned: f64) -> bool {
    (actual - planned).abs() <= planned * 0.01
}

#[test]
fn split_four_ways_across_network_namespaces_merges_exactly() {
    let _turn = turn();
    let mut net = match Net::build(4) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("SKIPPED split_four_ways_across_network_namespaces_merges_exactly: cannot create network namespaces here ({e}); it needs root (CAP_NET_ADMIN) and iproute2");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("split.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let url = net.serve();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    let start_at = (now_ms() + 4000).to_string();
    let gens: Vec<Child> = (0..4)
        .map(|i| {
            Net::dobench(&net.generator(i))
                .arg("run")
                .arg(&profile)
                .args(["--target", &url, "--allow-remote", "--json"])
                .args(["--segment", &format!("{i}/4"), "--start-at", &start_at])
                .arg("--out")
                .arg(parts.join(format!("part-{i}.json")))
                .arg("--db")
                .arg(dir.path().join(format!("g{i}.db")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a generator")
        })
        .collect();
    for (i, g) in gens.into_iter().enumerate() {
        let out = g.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "segment {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = dir.path().join("merged.db");
    let merge = |args: &[&str]| {
        Net::dobench(&net.generator(0))
            .arg("merge")
            .arg(&parts)
            .args(["--allow-remote", "--json"])
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let out = merge(&[]);
    assert!(
        out.status.success(),
        "merge: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let merged = json_of(&out);

    // The unsplit run of the same profile, from one generator namespace.
    let out = Net::dobench(&net.generator(1))
        .arg("run")
        .arg(&profile)
        .args(["--target", &url, "--allow-remote", "--json", "--db"])
        .arg(dir.path().join("whole.db"))
        .output()
        .unwrap();
    let whole = json_of(&out);
    eprintln!("{}", line("merged, 4 parts", &merged));
    eprintln!("{}", line("unsplit", &whole));
    if let Some(d) = &merged.distributed {
        for p in &d.parts {
            eprintln!(
                "  part {}: {} requests, {} missed, started {:.0} ms late, clock {:+.1} ± {:.1} ms vs the target's",
                p.segment,
                p.requests,
                p.missed,
                p.started_late_ms,
                p.clock_offset_ms.unwrap_or(f64::NAN),
                p.clock_offset_error_ms.unwrap_or(f64::NAN)
            );
        }
        eprintln!(
            "  skew {:?} ± {:?} ms; merged lateness p99 {:.2} ms (unsplit {:.2}); duration {:.3} s (unsplit {:.3})",
            d.clock_skew_ms, d.clock_skew_error_ms, merged.lateness_ms.p99, whole.lateness_ms.p99,
            merged.duration_s, whole.duration_s
        );
    }

    // Requests and rate match the plan within 1 %.
    assert_eq!(merged.planned, Some(PLANNED));
    assert_eq!(merged.requests + merged.missed, PLANNED);
    assert!(
        within_1pct(merged.requests as f64, PLANNED as f64),
        "{}",
        merged.requests
    );
    assert!(
        within_1pct(merged.offered_rps, PLANNED_RPS),
        "{}",
        merged.offered_rps
    );
    // The rate the generators kept over the plan's window (`achieved_rps` divides by the
    // time to the last response, which adds the last responses' latency: printed above).
    let sent_rps = merged.sent as f64 / PLANNED_S;
    assert!(within_1pct(sent_rps, PLANNED_RPS), "{sent_rps}");
    assert!(
        within_1pct(whole.requests as f64, PLANNED as f64),
        "{}",
        whole.requests
    );
    let d = merged.distributed.as_ref().expect("a merged run says so");
    assert!(d.complete && d.missing.is_empty(), "{d:?}");
    assert_eq!(d.merged, vec![0, 1, 2, 3]);
    assert!(
        d.clock_skew_ms.is_some(),
        "every part measured its clock: {d:?}"
    );
    // Exact merge: the merged percentiles are those of the parts' histograms added here.
    let mut union = new_histogram();
    let mut ops = std::collections::BTreeMap::new();
    for i in 0..4 {
        let text = std::fs::read_to_string(parts.join(format!("part-{i}.json"))).unwrap();
        let part: Part = serde_json::from_str(&text).unwrap();
        union.add(&part.books.latency).unwrap();
        for (op, o) in &part.books.ops {
            ops.entry(op.clone())
                .or_insert_with(new_histogram)
                .add(&o.latency)
                .unwrap();
        }
    }
    assert_eq!(union.len(), merged.requests, "every request has a latency");
    assert_eq!(merged.latency_ms, Percentiles::of(&union));
    for (op, h) in &ops {
        assert_eq!(merged.ops[op].latency_ms, Percentiles::of(h), "op {op}");
    }
    let c = merged.correctness.as_ref().unwrap();
    assert!(c.passed, "{c:?}");
    assert!(c.checks.iter().any(|k| k.name.starts_with("shard totals")));
    // The merged run is in the store like any other, complete.
    let out = Command::new(bin())
        .args(["runs", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let runs = String::from_utf8_lossy(&out.stdout);
    assert!(
        runs.contains(&merged.run_id) && runs.contains("pass"),
        "{runs}"
    );
    drop(net);
}

/// A loopback `dobench serve` for the refusal tests; killed on drop.
struct Serve(Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_loopback() -> Serve {
    let mut child = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--data", ":memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    Serve(child, url)
}

/// Runs segment `seg` of `profile` (200/s for 1 s) from `start_at` into `out`.
fn segment(profile: &Path, url: &str, seg: &str, start_at: u64, out: &Path) -> Child {
    Command::new(bin())
        .arg("run")
        .arg(profile)
        .args([
            "--target",
            url,
            "--json",
            "--set",
            "load.rate=200",
            "--duration",
            "1s",
        ])
        .args([
            "--segment",
            seg,
            "--start-at",
            &start_at.to_string(),
            "--out",
        ])
        .arg(out)
        .arg("--db")
        .arg(out.with_extension("db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) {
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn merge_files(db: &Path, files: &[&PathBuf]) -> Output {
    Command::new(bin())
        .arg("merge")
        .args(files)
        .args(["--json", "--db"])
        .arg(db)
        .output()
        .unwrap()
}

/// Issue 21's refusals: a missing part makes an incomplete run; a part of another profile
/// and parts with different start instants are refused, naming what differs.
#[test]
fn missing_parts_other_profiles_and_other_start_instants() {
    let _turn = turn();
    let serve = serve_loopback();
    // The other profile's segment has the same start instant, so the same object names:
    // it drives a target of its own, leaving the first run's counters alone.
    let serve_other = serve_loopback();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("split.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(&other, PROFILE.replace("split-counter", "other-counter")).unwrap();
    let t = now_ms() + 2500;
    let p = |n: &str| dir.path().join(n);
    let runs = [
        segment(&profile, &serve.1, "0/2", t, &p("a0.json")),
        segment(&profile, &serve.1, "1/2", t, &p("a1.json")),
        segment(&other, &serve_other.1, "1/2", t, &p("other1.json")),
        segment(&profile, &serve.1, "1/2", t + 1000, &p("late1.json")),
    ];
    for r in runs {
        finish(r);
    }
    let db = p("r.db");

    // A missing segment: an incomplete run, stored and shown as one, exit 1.
    let out = merge_files(&db, &[&p("a0.json")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json_of(&out);
    let d = s.distributed.as_ref().unwrap();
    assert!(!d.complete, "{d:?}");
    assert_eq!(d.missing, vec![1]);
    assert!(s.stopped_early && !s.passed());
    assert!(
        s.failures[0].starts_with("incomplete: segments [1] of 2"),
        "{:?}",
        s.failures
    );
    let shown = Command::new(bin())
        .args(["show", &s.run_id, "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("INCOMPLETE: 1 of 2 segments merged"),
        "{shown}"
    );
    let listed = Command::new(bin())
        .args(["runs", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("incomplete"), "{listed}");

    // Both segments: complete, and the whole plan.
    let out = merge_files(&db, &[&p("a0.json"), &p("a1.json")]);
    let s = json_of(&out);
    assert!(s.distributed.as_ref().unwrap().complete);
    assert_eq!(s.requests + s.missed, 200);
    assert!(
        s.correctness.as_ref().unwrap().passed,
        "{:?}",
        s.correctness
    );

    // `merge DIR --wait`: waits for the segment still missing (as the Kubernetes merge Job does).
    let waiting_dir = p("waiting");
    std::fs::create_dir(&waiting_dir).unwrap();
    std::fs::copy(p("a0.json"), waiting_dir.join("a0.json")).unwrap();
    let waiting = Command::new(bin())
        .arg("merge")
        .arg(&waiting_dir)
        .args(["--wait", "60s", "--json", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Written aside and renamed in, as a segment writes its part.
    std::fs::copy(p("a1.json"), waiting_dir.join("a1.tmp")).unwrap();
    std::fs::rename(waiting_dir.join("a1.tmp"), waiting_dir.join("a1.json")).unwrap();
    let out = waiting.wait_with_output().unwrap();
    let s = json_of(&out);
    assert!(
        s.distributed.as_ref().unwrap().complete,
        "{:?}",
        s.distributed
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 of 2 segments so far; waiting"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Another profile: refused, exit 2, naming both.
    let out = merge_files(&db, &[&p("a0.json"), &p("other1.json")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not parts of one run: their profiles differ")
            && err.contains("split-counter")
            && err.contains("other-counter"),
        "{err}"
    );

    // Another start instant: refused, exit 2, with both instants.
    let out = merge_files(&db, &[&p("a0.json"), &p("late1.json")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("start instants") && err.contains(&t.to_string()),
        "{err}"
    );
    drop((serve, serve_other));
}

#[test]
fn a_segment_needs_one_shared_target() {
    let out = Command::new(bin())
        .args([
            "run",
            "sharded-counter",
            "--segment",
            "0/4",
            "--start-at",
            "1",
        ])
        .args(["--out", "/nonexistent/x.json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--segment needs --target URL"), "{err}");
    let out = Command::new(bin())
        .args(["run", "sharded-counter", "--target", "http://127.0.0.1:9"])
        .args(["--segment", "4/4", "--start-at", "1", "--out", "x.json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("segment 4 of 4 does not exist"), "{err}");
}

/// A segment that reaches the shared start instant late says so, and books its sends that
/// were due before it got there as late (lateness), never shifting its plan.
#[test]
fn a_late_segment_says_so_and_books_its_late_sends() {
    let _turn = turn();
    let serve = serve_loopback();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("split.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let out = dir.path().join("late.json");
    // The start instant was 3 s ago; the 1 s plan was all due before this process began.
    finish(segment(&profile, &serve.1, "0/2", now_ms() - 3000, &out));
    let part: Part = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(part.clock.started_late_ms >= 2500.0, "{:?}", part.clock);
    let s = &part.summary;
    assert!(
        s.notes
            .iter()
            .any(|n| n.starts_with("started ") && n.contains("after the start instant")),
        "{:?}",
        s.notes
    );
    assert_eq!(s.requests + s.missed, 100, "its half of 200 planned sends");
    assert!(
        s.lateness_ms.p50 >= 1000.0,
        "late sends booked late: {:?}",
        s.lateness_ms
    );
    assert!(
        s.latency_ms.p50 >= 1000.0,
        "latency from the intended time: {:?}",
        s.latency_ms
    );
    drop(serve);
}

/// A split alarm-storm: each segment schedules its own objects' alarms from the shared start
/// instant; the merge waits until they are due and checks every one fired.
#[test]
fn a_split_alarm_storm_is_checked_once_its_alarms_are_due() {
    let _turn = turn();
    let serve = serve_loopback();
    let dir = tempfile::tempdir().unwrap();
    let t = now_ms() + 2500;
    let runs: Vec<Child> = (0..2)
        .map(|i| {
            Command::new(bin())
                .args(["run", "alarm-storm", "--target", &serve.1, "--json"])
                .args(["--set", "load.rate=100", "--duration", "1s"])
                .args(["--set", "alarm.fail_ratio=0", "--set", "alarm.delay=\"1s\""])
                .args(["--segment", &format!("{i}/2"), "--start-at", &t.to_string()])
                .arg("--out")
                .arg(dir.path().join(format!("alarm-{i}.json")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        finish(r);
    }
    let out = Command::new(bin())
        .arg("merge")
        .arg(dir.path())
        .args(["--json", "--db"])
        .arg(dir.path().join("r.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json_of(&out);
    let alarms = s.alarms.as_ref().expect("the merged run's alarms");
    assert_eq!(
        (alarms.scheduled, alarms.fired, alarms.missing),
        (100, 100, 0)
    );
    let c = s.correctness.as_ref().unwrap();
    assert!(
        c.passed && c.checks[0].name == "every alarm fired at least once",
        "{c:?}"
    );
    drop(serve);
}
