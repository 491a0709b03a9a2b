//! Real workerd as a target: finds the `workerd` binary and the `workloads/worker` folder,
//! starts workerd on 127.0.0.1 with a fresh temp storage dir, learns its port from
//! `--control-fd`, waits for `/_dobench/health`, and hands back a guard that kills the child
//! (and reaps it) on drop. Also `dobench target workerd`. Never installs anything (the user
//! runs `cd workloads/worker && npm ci`), never binds anything but loopback, and never
//! leaves a workerd running after its guard is gone.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cli::{TargetArgs, TargetKind};

/// What to run when workerd is missing.
pub const INSTALL_HINT: &str = "cd workloads/worker && npm ci";

/// How long workerd may take to report its port and answer health.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `--target` word that means "start workerd for this run".
pub const TARGET_WORD: &str = "workerd";

/// Splits a `--target` value: `(true, None)` for the word `workerd` (start one), else
/// `(false, the URL as given)`.
pub fn split_target(target: Option<&str>) -> (bool, Option<String>) {
    match target {
        Some(TARGET_WORD) => (true, None),
        other => (false, other.map(str::to_string)),
    }
}

/// Starts workerd for a run when asked (`wanted`), saying so on stderr; the caller keeps the
/// guard alive for as long as the run needs the target.
pub async fn start_if(wanted: bool) -> anyhow::Result<Option<Workerd>> {
    if !wanted {
        return Ok(None);
    }
    let w = start(0).await?;
    eprintln!("started workerd at {} (stopped when the run ends)", w.base);
    Ok(Some(w))
}

/// A running workerd serving `workloads/worker`; killed and reaped on drop.
pub struct Workerd {
    /// `http://127.0.0.1:PORT`.
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

/// The `workloads/worker` folder (holding `config.capnp`): under the current dir, else under
/// one of the executable's ancestors (e.g. `target/release/dobench` in a checkout).
pub fn worker_dir() -> anyhow::Result<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    roots
        .iter()
        .map(|r| r.join("workloads/worker"))
        .find(|d| d.join("config.capnp").is_file())
        .with_context(|| {
            "cannot find workloads/worker/config.capnp under the current directory or the \
             dobench executable's: run dobench from its checkout"
        })
}

/// The workerd binary: on `PATH`, else the one `npm ci` put under the worker folder.
pub fn find_workerd(worker_dir: &Path) -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("workerd"))
        .find(|f| f.is_file());
    on_path
        .or_else(|| local_workerd(worker_dir))
        // Absolute: workerd runs with the worker folder as its working directory.
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .with_context(|| {
            format!("workerd not found (not on PATH, not in workloads/worker/node_modules/.bin): run `{INSTALL_HINT}`")
        })
}

/// workerd from `npm ci` in `worker_dir`: the platform package's native binary first (the
/// `.bin` entry may be a node shim, which would neither pass fd 3 on nor die with its
/// child), else `node_modules/.bin/workerd`.
fn local_workerd(worker_dir: &Path) -> Option<PathBuf> {
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

/// Starts workerd on `127.0.0.1:port` (0 = a free port) and waits until it answers health.
pub async fn start(port: u16) -> anyhow::Result<Workerd> {
    let dir_path = worker_dir()?;
    let bin = find_workerd(&dir_path)?;
    let dir = tempfile::Builder::new()
        .prefix("dobench-workerd-")
        .tempdir()
        .context("cannot create a temp dir for workerd's storage")?;
    let storage = dir.path().join("do-storage");
    std::fs::create_dir(&storage)?;
    let ctrl = dir.path().join("ctrl.json");
    let log = dir.path().join("workerd.log");
    let log_file = std::fs::File::create(&log)?;
    // `sh` only to open fd 3 onto the control file, then `exec`: the child *is* workerd.
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ctrl="$1"; shift; exec "$@" --control-fd 3 3>"$ctrl""#)
        .arg("sh")
        .arg(&ctrl)
        .arg(&bin)
        .arg("serve")
        .arg("config.capnp")
        .arg("--socket-addr")
        .arg(format!("http=127.0.0.1:{port}"))
        .arg("--directory-path")
        .arg(format!("do-storage={}", storage.display()))
        .current_dir(&dir_path)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let mut w = Workerd {
        base: String::new(),
        child,
        _dir: dir,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    let port = loop {
        if let Some(p) = std::fs::read_to_string(&ctrl)
            .ok()
            .as_deref()
            .and_then(parse_port)
        {
            break p;
        }
        if let Some(status) = w.child.try_wait()? {
            bail!(
                "workerd exited ({status}) before listening: {}",
                log_tail(&log)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "workerd reported no port within {START_TIMEOUT:?}: {}",
                log_tail(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    w.base = format!("http://127.0.0.1:{port}");
    loop {
        if health_ok(port).await {
            return Ok(w);
        }
        if let Some(status) = w.child.try_wait()? {
            bail!("workerd exited ({status}): {}", log_tail(&log));
        }
        if Instant::now() > deadline {
            bail!(
                "workerd did not answer /_dobench/health within {START_TIMEOUT:?}: {}",
                log_tail(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The port from workerd's control output: `{"event":"listen","socket":"http","port":N}`.
fn parse_port(ctrl: &str) -> Option<u16> {
    ctrl.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "listen")
        .and_then(|v| v["port"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
}

/// One `GET /_dobench/health` over a plain loopback socket, answered 200 within 1 s.
async fn health_ok(port: u16) -> bool {
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(
            b"GET /_dobench/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await?;
        let mut buf = [0u8; 16];
        let mut n = 0;
        while n < buf.len() {
            let m = s.read(&mut buf[n..]).await?;
            if m == 0 {
                break;
            }
            n += m;
        }
        std::io::Result::Ok(buf[..n].starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Ok(true))
    )
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    if tail.is_empty() {
        "(no output)".into()
    } else {
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// `dobench target workerd [--port P]`.
pub async fn run(args: TargetArgs) -> anyhow::Result<ExitCode> {
    let TargetKind::Workerd = args.kind;
    let w = start(args.port).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", w.base)?;
    out.flush()?;
    drop(out);
    crate::shutdown_signal().await;
    drop(w);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_port;

    #[test]
    fn port_from_control_output() {
        assert_eq!(
            parse_port("{\"event\":\"listen\",\"socket\":\"http\",\"port\":40123}\n"),
            Some(40123)
        );
        assert_eq!(parse_port(""), None);
        assert_eq!(parse_port("{\"event\":\"listen\""), None);
    }
}
