//! `--target-cmd "COMMAND"`: the user's own server, started for a run. Picks a free
//! loopback port, puts it in the command's `{port}`, starts the command through `sh -c` in
//! a process group of its own with its output in a temp log, waits until
//! `http://127.0.0.1:PORT{health path}` answers (any status below 500) within the health
//! timeout, and hands back a guard whose drop stops the whole group (SIGTERM, then SIGKILL
//! after a grace period) and reaps it. A command that exits or never gets healthy is an
//! error carrying the last lines of its output. Never leaves a child running after its
//! guard is gone, never binds anything itself, and never sends load.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long the group may take to end after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Lines of the server's output shown when it fails.
const TAIL_LINES: usize = 20;

/// What `--target-cmd` and its flags ask for.
#[derive(Debug, Clone)]
pub struct TargetCmd {
    pub command: String,
    pub health_path: String,
    pub health_timeout: Duration,
}

impl TargetCmd {
    /// Checks the flags: the command names `{port}`, the health path starts with `/`.
    pub fn new(command: &str, health_path: &str, health_timeout: &str) -> anyhow::Result<Self> {
        if !command.contains("{port}") {
            bail!("--target-cmd must contain {{port}} (the loopback port dobench picks for it), e.g. \"workerd serve config.capnp --socket-addr http=127.0.0.1:{{port}}\"");
        }
        if !health_path.starts_with('/') {
            bail!("--health-path {health_path:?} must start with `/`");
        }
        let health_timeout =
            dobench_loadgen::duration::parse(health_timeout).context("--health-timeout")?;
        Ok(TargetCmd {
            command: command.to_string(),
            health_path: health_path.to_string(),
            health_timeout,
        })
    }
}

/// The user's server, running; stopped (with its children) on drop.
pub struct TargetProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TargetProcess {
    /// The last lines of the server's output.
    pub fn tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Stops the group: SIGTERM, up to [`STOP_GRACE`] to end, then SIGKILL; reaps the child.
    fn stop(&mut self) {
        let group = Pid::from_child(&self.child);
        let _ = kill_process_group(group, Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) && group_gone(group) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill_process_group(group, Signal::KILL);
        let _ = self.child.wait();
    }
}

/// True when no process of the group is left (signal 0 finds none).
fn group_gone(group: Pid) -> bool {
    rustix::process::test_kill_process_group(group).is_err()
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (bound and released: a small race, as every port-0 handoff has).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Starts the command and waits for it to answer its health path.
pub async fn start(t: &TargetCmd) -> anyhow::Result<TargetProcess> {
    use std::os::unix::process::CommandExt as _;
    let port = free_port()?;
    let command = t.command.replace("{port}", &port.to_string());
    let dir = tempfile::Builder::new()
        .prefix("dobench-target-")
        .tempdir()
        .context("creating a temp dir for the target's output")?;
    let log = dir.path().join("output.log");
    let out = std::fs::File::create(&log)?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start --target-cmd {command:?}"))?;
    let mut p = TargetProcess {
        base: format!("http://127.0.0.1:{port}"),
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + t.health_timeout;
    loop {
        if let Some(status) = p.child.try_wait()? {
            bail!(
                "--target-cmd exited ({status}) before answering {}{}; its last output:\n{}",
                p.base,
                t.health_path,
                p.tail()
            );
        }
        if health_answers(port, &t.health_path).await {
            return Ok(p);
        }
        if Instant::now() >= deadline {
            bail!(
                "--target-cmd did not answer {}{} within {:?} (--health-timeout); its last output:\n{}",
                p.base,
                t.health_path,
                t.health_timeout,
                p.tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the command when asked, saying so on stderr.
pub async fn start_if(t: Option<&TargetCmd>) -> anyhow::Result<Option<TargetProcess>> {
    let Some(t) = t else {
        return Ok(None);
    };
    let p = start(t).await?;
    eprintln!(
        "started --target-cmd at {} (stopped when the run ends)",
        p.base
    );
    Ok(Some(p))
}

/// One `GET` of the health path over a plain loopback socket: true on an HTTP answer with
/// a status below 500 within 1 s.
async fn health_answers(port: u16, path: &str) -> bool {
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut buf = [0u8; 12];
        let mut n = 0;
        while n < buf.len() {
            let m = s.read(&mut buf[n..]).await?;
            if m == 0 {
                break;
            }
            n += m;
        }
        let status = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|h| h.strip_prefix("HTTP/1."))
            .and_then(|h| h.get(2..5))
            .and_then(|c| c.parse::<u16>().ok());
        std::io::Result::Ok(status.is_some_and(|c| c < 500))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Ok(true))
    )
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(TAIL_LINES).collect();
    if tail.is_empty() {
        "(no output)".into()
    } else {
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_checked() {
        assert!(TargetCmd::new("serve", "/", "5s")
            .unwrap_err()
            .to_string()
            .contains("{port}"));
        assert!(TargetCmd::new("serve {port}", "health", "5s").is_err());
        assert!(TargetCmd::new("serve {port}", "/", "soon").is_err());
        assert!(TargetCmd::new("serve {port}", "/h", "5s").is_ok());
    }
}
