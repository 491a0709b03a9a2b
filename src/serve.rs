//! `dobench serve`: runs the reference object runtime with every workload class on an HTTP
//! listener until Ctrl-C/SIGTERM, then drains gracefully. Its first stdout line is exactly
//! `listening on http://IP:PORT` (scripts and tests read it).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use dobench_runtime::{Config, Runtime};

use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.data.parse()?);
    config.ceiling = args.ceiling.parse()?;
    config.mailbox = args.mailbox;
    config.idle_timeout = dobench_loadgen::duration::parse(&args.idle_timeout)
        .with_context(|| format!("--idle-timeout {}", args.idle_timeout))?;
    config.hibernate_after = dobench_loadgen::duration::parse(&args.hibernate_after)
        .with_context(|| format!("--hibernate-after {}", args.hibernate_after))?;
    config.attachment_limit = args.attachment_limit;
    config.memory_budget_bytes = dobench_runtime::parse_bytes(&args.memory_budget)
        .with_context(|| format!("--memory-budget {}", args.memory_budget))?;
    if let Some(n) = args.max_open_databases {
        config.max_open_databases = n;
    }
    if let Some(n) = args.object_threads {
        config.object_threads = n;
    }
    let runtime = Runtime::new(config, dobench_workloads::registry())?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on a non-loopback address {addr}: anyone who can reach it can drive load"
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()?;
    drop(out);
    dobench_runtime::serve(listener, runtime, crate::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
