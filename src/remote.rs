//! `--allow-remote`, `--insecure` and `--ca-file`: the process-wide choices of where load may
//! go (loopback only unless `--allow-remote`: a load test can harm a service) and which TLS
//! certificates `https://` targets must show (the Mozilla roots by default). Applied once,
//! before any URL is checked or connection opened. Never opens a connection itself.

use anyhow::{bail, Context as _};
use dobench_loadgen::client::tls::{self, Trust};

use crate::cli::RemoteArgs;

/// Applies the flags to this process.
pub fn apply(a: &RemoteArgs) -> anyhow::Result<()> {
    if a.allow_remote {
        dobench_loadgen::target::allow_remote();
        eprintln!("--allow-remote: load may go to hosts off this machine; aim it only at a service you run");
    }
    let trust = match (a.insecure, &a.ca_file) {
        (true, Some(_)) => bail!("--insecure and --ca-file contradict each other: give one"),
        (true, None) => Trust::Insecure,
        (false, Some(f)) => Trust::CaFile(f.clone()),
        (false, None) => return Ok(()),
    };
    tls::set_process_trust(trust).context("--ca-file/--insecure")?;
    Ok(())
}
