//! The `dobench` binary: parses the command line and hands each subcommand to its module.
//! The only place that listens for signals or chooses an exit code.

mod cli;
mod compare;
mod cost;
mod diff;
mod http;
mod http_template;
mod init;
mod parts;
mod profiles;
mod remote;
mod repeat;
mod report;
mod run_command;
mod serve;
mod sweep;
mod target_cmd;
mod tui;
mod workerd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc for every Rust allocation: objects come and go by the hundred thousand, and
/// glibc's allocator kept the memory of objects that had left memory (884 bytes per object
/// at 100,000 against 512 wanted; `benches/examples/object_scale.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    // Sockets are the load generator's raw material: take all the kernel lets us.
    dobench::limits::raise_nofile();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::Http(args) => http::run(args).await,
            cli::Command::Runs(args) => report::runs(args),
            cli::Command::Show(args) => report::show(args),
            cli::Command::Report(args) => report::report(args),
            cli::Command::Run(args) => run_command::run(args).await,
            cli::Command::Compare(args) => compare::run(args).await,
            cli::Command::Diff(args) => diff::run(args),
            cli::Command::Cost(args) => cost::run(args),
            cli::Command::Profiles(args) => profiles::run(args),
            cli::Command::Target(args) => workerd::run(args).await,
            cli::Command::Init(args) => init::run(args),
            cli::Command::Merge(args) => parts::merge(args).await,
            cli::Command::K8s(args) => parts::k8s(args),
        }
    });
    // Tasks still running (objects a forced shutdown left behind) are dropped, not awaited.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause once: a message that already ends with
/// its cause's text (`cannot read x: Permission denied`) does not repeat it, nor does a
/// cause that only restates it with a code (`Error code 14: unable to open database file`).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        // A cause whose gist (its last `: ` part) is already said adds nothing.
        let gist = part.rsplit(": ").next().unwrap_or(&part);
        if text.contains(gist) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DOBENCH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Cancels `first` on the first Ctrl-C or SIGTERM (saying `note` on stderr) and `second` on
/// the next one: a graceful drain, then "stop now".
pub async fn shutdown_signals(
    first: tokio_util::sync::CancellationToken,
    second: tokio_util::sync::CancellationToken,
    note: String,
) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    for (i, token) in [first, second].into_iter().enumerate() {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let sigterm = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let sigterm = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = sigterm => {},
        }
        if i == 0 {
            eprintln!("{note}");
        }
        token.cancel();
    }
}

/// A token cancelled on the first Ctrl-C or SIGTERM: what every load-driving command stops
/// early with.
pub fn cancel_on_signal() -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    cancel
}

/// Resolves when the process receives Ctrl-C or SIGTERM: the one place signals are heard.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
