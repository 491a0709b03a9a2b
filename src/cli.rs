//! Command-line surface of `dobench` (clap derive). Owns flag parsing only: each
//! subcommand's arguments are turned into typed plans by the module that runs it.
//! Never does I/O here.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Benchmarking and load generation for Durable-Object-style systems.
#[derive(Debug, Parser)]
#[command(name = "dobench", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the reference object runtime (Durable Object semantics on one machine).
    Serve(ServeArgs),
    /// Ad-hoc load against any URL, like wrk/oha (open model with --rate, closed without).
    Http(HttpArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Directory for per-object SQLite files, or `:memory:` for RAM-only storage.
    #[arg(long, default_value = ".dobench/data")]
    pub data: String,
    /// Per-object service rate in turns/s emulating the production ceiling, or `off`.
    #[arg(long, default_value = "1000")]
    pub ceiling: String,
    /// Per-object mailbox bound; requests past it are refused with 503 overloaded.
    #[arg(long, default_value_t = dobench_runtime::Config::DEFAULT_MAILBOX)]
    pub mailbox: usize,
    /// Evict an object without sockets after this long idle (e.g. 70s, 500ms).
    #[arg(long, default_value = "70s")]
    pub idle_timeout: String,
}

/// Arguments of `dobench http` (owned by src/http.rs).
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Target URL (loopback only).
    pub url: String,
}
