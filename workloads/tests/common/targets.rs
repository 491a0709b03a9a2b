//! The conformance targets: the reference runtime and real workerd serving
//! `workloads/worker` (started on a free loopback port, killed on drop), run side by side,
//! plus the HTTP and WebSocket calls the conformance suites make. Shared by
//! `conformance.rs` and `conformance_probe.rs`. Never installs anything.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::{client, config, json, Server};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// workerd running `workloads/worker` on a free loopback port; killed and reaped on drop.
pub struct Workerd {
    pub base: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn worker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("worker")
}

/// The pinned workerd from `npm ci` first (what CI installs), else one on `PATH`.
pub fn find_workerd() -> Option<PathBuf> {
    if let Some(local) = local_workerd(&worker_dir()) {
        return Some(local);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("workerd"))
        .find(|f| f.is_file())
}

/// workerd from `npm ci` in `worker_dir`: the platform package's native binary first (the
/// `.bin` entry may be a node shim, which would neither pass fd 3 on nor die with its
/// child), else `node_modules/.bin/workerd`.
pub fn local_workerd(worker_dir: &Path) -> Option<PathBuf> {
    let native = std::fs::read_dir(worker_dir.join("node_modules/@cloudflare"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("workerd-"))
        .map(|e| e.path().join("bin/workerd"))
        .filter(|p| p.is_file())
        .min();
    let shim = worker_dir.join("node_modules/.bin/workerd");
    native.or_else(|| shim.is_file().then_some(shim))
}

pub async fn start_workerd() -> Workerd {
    let bin = find_workerd().unwrap_or_else(|| {
        panic!(
            "workerd not found: run `cd workloads/worker && npm ci` \
             (or set DOBENCH_SKIP_WORKERD=1 to test the reference runtime only)"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("do-storage");
    std::fs::create_dir(&storage).unwrap();
    let ctrl = dir.path().join("ctrl.json");
    let log = dir.path().join("workerd.log");
    let log_file = std::fs::File::create(&log).unwrap();
    // `sh` only opens fd 3 onto the control file, then execs: the child is workerd itself.
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ctrl="$1"; shift; exec "$@" --control-fd 3 3>"$ctrl""#)
        .arg("sh")
        .arg(&ctrl)
        .arg(&bin)
        .args(["serve", "config.capnp", "--socket-addr", "http=127.0.0.1:0"])
        .arg("--directory-path")
        .arg(format!("do-storage={}", storage.display()))
        .current_dir(worker_dir())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let mut w = Workerd {
        base: String::new(),
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        let text = std::fs::read_to_string(&ctrl).unwrap_or_default();
        let port = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event"] == "listen")
            .and_then(|v| v["port"].as_u64());
        if let Some(p) = port {
            break p;
        }
        if let Some(status) = w.child.try_wait().unwrap() {
            panic!(
                "workerd exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "workerd reported no port in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    w.base = format!("http://127.0.0.1:{port}");
    let c = client();
    loop {
        let ok = c
            .get(format!("{}/_dobench/health", w.base))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            return w;
        }
        assert!(Instant::now() < deadline, "workerd never answered health");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One target under test.
pub struct Target {
    pub name: &'static str,
    pub base: String,
    _keep: Keep,
}

#[allow(dead_code)] // held only to keep the target alive
pub enum Keep {
    Reference(Server, tempfile::TempDir),
    Workerd(Workerd),
}

/// The reference runtime, and workerd unless `DOBENCH_SKIP_WORKERD=1` (said loudly).
pub async fn targets() -> Vec<Target> {
    targets_with(None).await
}

/// As [`targets`], the reference hibernating idle objects after `hibernate_after`.
pub async fn targets_with(hibernate_after: Option<Duration>) -> Vec<Target> {
    targets_tuned(|cfg| {
        if let Some(h) = hibernate_after {
            cfg.hibernate_after = h;
        }
    })
    .await
}

/// As [`targets`], the reference's configuration changed by `tune` first.
pub async fn targets_tuned(tune: impl FnOnce(&mut dobench_runtime::Config)) -> Vec<Target> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    tune(&mut cfg);
    let server = Server::start(cfg).await;
    let mut out = vec![Target {
        name: "reference",
        base: server.base.clone(),
        _keep: Keep::Reference(server, dir),
    }];
    if std::env::var("DOBENCH_SKIP_WORKERD").as_deref() == Ok("1") {
        eprintln!("!!! DOBENCH_SKIP_WORKERD=1: conformance checks run against the reference runtime ONLY, not workerd !!!");
    } else {
        let w = start_workerd().await;
        out.push(Target {
            name: "workerd",
            base: w.base.clone(),
            _keep: Keep::Workerd(w),
        });
    }
    out
}

/// Runs `check` against every target at once (so slow checks, like alarm retries, overlap).
pub async fn on_all<F, Fut>(check: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let ts = targets().await;
    futures_util::future::join_all(ts.iter().map(|t| check(t.name, t.base.clone()))).await;
}

pub async fn call(method: &str, url: String) -> (u16, Value) {
    let c = client();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    json(
        c.request(m, url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub async fn join(name: &str, url: String) -> Ws {
    let (ws, resp) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .unwrap_or_else(|_| panic!("{name}: connect timed out"))
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(resp.status(), 101, "{name}");
    ws
}

/// The next text frame as JSON (non-text frames skipped), within 10 s.
pub async fn next_text(name: &str, ws: &mut Ws) -> String {
    for _ in 0..100 {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("{name}: no frame within 10 s"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return t.as_str().to_string();
        }
    }
    panic!("{name}: 100 non-text frames in a row");
}

pub async fn next_msg(name: &str, ws: &mut Ws) -> Value {
    let t = next_text(name, ws).await;
    serde_json::from_str(&t).unwrap_or_else(|_| panic!("{name}: not JSON: {t}"))
}
