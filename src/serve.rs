//! `dobench serve`: runs the reference object runtime with every workload class on an HTTP
//! listener until Ctrl-C/SIGTERM, then drains within `--drain-deadline` (a second signal stops
//! at once). Its first stdout line is exactly `listening on http://IP:PORT` (scripts and tests
//! read it); the second is `admin token: HEX`, written with the first in one write.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use dobench_runtime::{AdminAccess, Config, FrontConfig, Runtime};
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.data.parse()?);
    config.ceiling = args.ceiling.parse()?;
    config.costs = args
        .costs
        .parse()
        .map_err(|e| anyhow::anyhow!("--costs {}: {e}", args.costs))?;
    config.cpu_budget = match args.cpu_budget.as_str() {
        "off" => None,
        b => {
            Some(dobench_loadgen::duration::parse(b).with_context(|| format!("--cpu-budget {b}"))?)
        }
    };
    config.mailbox = args.mailbox;
    config.idle_timeout = dobench_loadgen::duration::parse(&args.idle_timeout)
        .with_context(|| format!("--idle-timeout {}", args.idle_timeout))?;
    config.hibernate_after = dobench_loadgen::duration::parse(&args.hibernate_after)
        .with_context(|| format!("--hibernate-after {}", args.hibernate_after))?;
    config.attachment_limit = args.attachment_limit;
    config.memory_budget_bytes = dobench_runtime::parse_bytes(&args.memory_budget)
        .with_context(|| format!("--memory-budget {}", args.memory_budget))?;
    let bytes = |flag: &str, v: &str| {
        dobench_runtime::parse_bytes(v).with_context(|| format!("--{flag} {v}"))
    };
    config.max_body_bytes = usize::try_from(bytes("max-body", &args.max_body)?)?;
    config.max_ws_message_bytes = usize::try_from(bytes("max-ws-message", &args.max_ws_message)?)?;
    config.inflight = dobench_runtime::inflight::InflightLimits {
        per_object: bytes("object-inflight", &args.object_inflight)?,
        total: bytes("inflight", &args.inflight)?,
    };
    if let Some(n) = args.max_open_databases {
        config.max_open_databases = n;
    }
    if let Some(n) = args.object_threads {
        config.object_threads = n;
    }
    let front = front_config(&args)?;
    let classes = dobench_workloads::ClassOptions {
        chat_history: args.chat_history.max(1),
    };
    let runtime = Runtime::new(config, dobench_workloads::registry_with(classes))?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on a non-loopback address {addr}: anyone who can reach it can drive load; \
             Host names are not checked unless --allow-host is given, and admin routes need the token"
        );
    }
    let admin_note = if front.admin.open && addr.ip().is_loopback() {
        " (admin routes open: --admin)"
    } else {
        ""
    };
    // One write: a reader that takes only the first line and closes the pipe must not make
    // a second write fail.
    let banner = format!(
        "listening on http://{addr}\nadmin token: {}{admin_note}\n",
        front.admin.token
    );
    let mut out = std::io::stdout().lock();
    out.write_all(banner.as_bytes())?;
    out.flush()?;
    drop(out);
    let (drain, force) = (CancellationToken::new(), CancellationToken::new());
    let deadline = args.drain_deadline.clone();
    let signals = tokio::spawn(crate::shutdown_signals(
        drain.clone(),
        force.clone(),
        format!("draining (at most {deadline}); send the signal again to stop at once"),
    ));
    dobench_runtime::serve_with(
        listener,
        runtime,
        front,
        drain.cancelled_owned(),
        force.cancelled_owned(),
    )
    .await?;
    signals.abort();
    Ok(ExitCode::SUCCESS)
}

/// The front's bounds and access policy from the flags.
fn front_config(args: &ServeArgs) -> anyhow::Result<FrontConfig> {
    let duration = |flag: &str, value: &str| {
        dobench_loadgen::duration::parse(value).with_context(|| format!("--{flag} {value}"))
    };
    let front = FrontConfig {
        max_name_bytes: args.max_name_bytes,
        header_read_timeout: duration("header-read-timeout", &args.header_read_timeout)?,
        body_read_timeout: duration("body-read-timeout", &args.body_read_timeout)?,
        keep_alive_timeout: duration("keep-alive-timeout", &args.keep_alive_timeout)?,
        max_connections: args
            .max_connections
            .unwrap_or_else(FrontConfig::default_max_connections),
        drain_deadline: duration("drain-deadline", &args.drain_deadline)?,
        ws_send_queue_bytes: args.ws_send_queue,
        admin: AdminAccess {
            open: args.admin,
            ..AdminAccess::random()
        },
        allowed_hosts: args.allow_host.clone(),
    };
    front.validate()?;
    Ok(front)
}
