//! Is the process that started a run still writing it? A run records its writer's pid and
//! that process's start time (Linux: field 22 of /proc/PID/stat), so a reused pid is not
//! mistaken for the writer; elsewhere a stale heartbeat decides. Reads only; never signals.

/// A running run whose heartbeat is older than this (ms) is taken as abandoned when the
/// writer's process cannot be checked directly.
pub const HEARTBEAT_STALE_MS: u64 = 15_000;

/// This process's (pid, start time token).
pub fn current() -> (u32, Option<String>) {
    let pid = std::process::id();
    (pid, start_token(pid))
}

/// The start time token of `pid` (Linux), `None` when unknown.
fn start_token(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3; the start time is field 22.
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the writer (`pid`, `token`) of a run is alive; `heartbeat_ms` and `now_ms`
/// decide when /proc cannot tell.
pub fn writer_alive(
    pid: Option<u32>,
    token: Option<&str>,
    heartbeat_ms: Option<u64>,
    now_ms: u64,
) -> bool {
    if let (Some(pid), Some(token)) = (pid, token) {
        if std::path::Path::new("/proc/self/stat").exists() {
            return start_token(pid).as_deref() == Some(token);
        }
    }
    heartbeat_ms.is_some_and(|h| now_ms.saturating_sub(h) < HEARTBEAT_STALE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        let (pid, token) = current();
        assert!(writer_alive(Some(pid), token.as_deref(), None, 0));
        if token.is_some() {
            assert!(!writer_alive(
                Some(pid),
                Some("not-a-start-time"),
                Some(0),
                0
            ));
        }
        assert!(!writer_alive(None, None, Some(0), HEARTBEAT_STALE_MS + 1));
        assert!(writer_alive(None, None, Some(10), 20));
    }
}
