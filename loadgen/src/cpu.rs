//! This process's CPU time (user + system, all threads), read from `/proc/self/stat`, to tell
//! whether the generator itself saturated the machine. Best effort: `None` off Linux or when
//! the file is unreadable. Never affects the run, only its `generator_limited` flag.

use std::time::Duration;

/// Clock ticks per second used by `/proc` (USER_HZ; 100 on every mainstream Linux build).
const USER_HZ: f64 = 100.0;

/// CPU time consumed by this process so far.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / USER_HZ))
}

/// Number of CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_cpu_time_on_linux() {
        if cfg!(target_os = "linux") {
            let t = super::process_cpu_time().expect("readable /proc/self/stat");
            assert!(t.as_secs() < 1_000_000);
        }
    }
}
