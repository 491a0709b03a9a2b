//! The process's open-file limit (RLIMIT_NOFILE): raised to the hard limit once at start
//! (by `main`), and the check that refuses a run needing more sockets than the limit allows
//! before anything starts, with the numbers. Never changes any other limit, never retries.

use anyhow::bail;
use rustix::process::{getrlimit, setrlimit, Resource};

/// File descriptors kept aside for everything that is not a load socket: listeners, the
/// results store, per-object databases of an embedded runtime, logs.
pub const RESERVED_FDS: u64 = 512;

/// Raises the soft open-file limit to the hard limit; returns the soft limit now in force
/// (`None`: unlimited or unknown).
pub fn raise_nofile() -> Option<u64> {
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let wanted = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        match setrlimit(Resource::Nofile, wanted) {
            Ok(()) => lim = wanted,
            Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
        }
    }
    lim.current
}

/// The soft open-file limit in force (`None`: unlimited).
pub fn nofile() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Refuses a plan needing `sockets` open sockets in this process when the open-file limit
/// cannot hold them beside [`RESERVED_FDS`]. `what` says where the number comes from.
pub fn check_sockets(sockets: u64, what: &str) -> anyhow::Result<()> {
    let Some(limit) = nofile() else {
        return Ok(());
    };
    let room = limit.saturating_sub(RESERVED_FDS);
    if sockets > room {
        let hard = getrlimit(Resource::Nofile)
            .maximum
            .map_or("unlimited".to_string(), |h| h.to_string());
        bail!(
            "this run needs {sockets} sockets ({what}) but the open-file limit is {limit} (hard limit {hard}), \
             {RESERVED_FDS} of them kept for files and listeners: at most {room} sockets. \
             Lower the connections or members, or raise the hard limit (ulimit -Hn) and run again"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_more_sockets_than_the_limit_allows() {
        let limit = raise_nofile().unwrap_or(u64::MAX);
        assert!(check_sockets(10, "ten").is_ok());
        if limit < u64::MAX / 2 {
            let err = check_sockets(limit * 2, "a test").unwrap_err().to_string();
            assert!(err.contains(&format!("needs {}", limit * 2)), "{err}");
            assert!(err.contains(&format!("limit is {limit}")), "{err}");
        }
    }
}
