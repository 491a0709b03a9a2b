//! `dobench http`: ad-hoc load against one loopback URL, like wrk/oha. Turns flags into a
//! typed plan, runs the load generator, shows progress (indicatif on a terminal, plain lines
//! on stderr otherwise) from the live `Snapshot` bus, and prints the one human summary
//! (`dobench_reports::text::summary`) or one `RunSummary` JSON object. Exit 1 when the run
//! cannot stand (`dobench::run::run_failures`: too many sends never made). Never measures anything
//! itself: all numbers come from loadgen.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use dobench_loadgen::http::Method;
use dobench_loadgen::{
    duration, executor, ClosedModel, FixedRequest, OpenSchedule, RequestSource, RequestSpec,
    RunConfig, RunSummary, Schedule, Snapshot, SummaryMeta,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::HttpArgs;

/// The typed plan built from the flags.
struct Plan {
    config: RunConfig,
    /// One fixed request, or the URL template's rendered requests (`http_template`).
    source: Arc<dyn RequestSource>,
    /// Per-object ceiling for the object table (templated runs only).
    ceiling_rps: Option<f64>,
    strategy: Option<String>,
    json: bool,
}

impl TryFrom<HttpArgs> for Plan {
    type Error = anyhow::Error;

    fn try_from(a: HttpArgs) -> anyhow::Result<Plan> {
        let run_for = duration::parse(&a.duration).context("--duration")?;
        let timeout = duration::parse(&a.timeout).context("--timeout")?;
        if run_for.is_zero() {
            bail!("--duration must be positive");
        }
        if a.connections == 0 {
            bail!("--connections must be at least 1");
        }
        let method = Method::from_bytes(a.method.to_ascii_uppercase().as_bytes())
            .with_context(|| format!("invalid --method {:?}", a.method))?;
        let (base, path) = crate::http_template::split_url(&a.url)?;
        let templated = crate::http_template::is_template(path, &a.template);
        let source: Arc<dyn RequestSource> = if templated {
            RequestSpec::new("probe", Method::GET, base)?;
            let req = crate::http_template::request(
                &a.method,
                path,
                &a.headers,
                a.body.as_deref(),
                &a.template,
            )?;
            let plan = crate::http_template::compile(req, &a.template)?;
            crate::http_template::source(base, plan, &a.template, a.connections)?
        } else {
            let mut spec = RequestSpec::new(method.to_string(), method, &a.url)?;
            for h in &a.headers {
                spec = spec.with_header_line(h)?;
            }
            if let Some(b) = a.body {
                spec = spec.with_body(b);
            }
            Arc::new(FixedRequest(spec))
        };
        if !(a.template.ceiling.is_finite() && a.template.ceiling > 0.0) {
            bail!("--ceiling must be a positive number of requests per second");
        }
        let schedule = match a.rate {
            Some(rate) => Schedule::Open(OpenSchedule::Constant {
                rate,
                duration: run_for,
            }),
            None => Schedule::Closed(ClosedModel {
                users: u32::try_from(a.connections).context("--connections too large")?,
                think: Duration::ZERO,
                iterations: None,
                duration: Some(run_for),
            }),
        };
        let mut config = RunConfig::new(schedule);
        config.max_in_flight = a.connections;
        config.timeout = timeout;
        config.client.http2 = a.http2;
        Ok(Plan {
            config,
            source,
            ceiling_rps: templated.then_some(a.template.ceiling),
            strategy: a.template.strategy.clone(),
            json: a.json,
        })
    }
}

pub async fn run(mut args: HttpArgs) -> anyhow::Result<ExitCode> {
    crate::remote::apply(&args.remote)?;
    // `--target-cmd`: the user's server, stopped (with its children) when this returns; the
    // URL is then a path on it.
    let target_cmd = args.target_cmd.plan()?;
    let server = crate::target_cmd::start_if(target_cmd.as_ref()).await?;
    if let Some(s) = &server {
        if !args.url.starts_with('/') {
            bail!("with --target-cmd the URL is a path on the started server (e.g. /v1/{{key}}), not {:?}", args.url);
        }
        args.url = format!("{}{}", s.base, args.url);
    }
    let url = args.url.clone();
    let db = args.db.clone();
    let tui = args.tui;
    if tui {
        crate::tui::check_terminal()?;
    }
    let plan = Plan::try_from(args)?;
    dobench::limits::check_sockets(
        plan.config.max_in_flight as u64,
        &format!("--connections {}", plan.config.max_in_flight),
    )?;
    let planned_s = plan
        .config
        .planned_duration()
        .map_or(0.0, |d| d.as_secs_f64());
    let describe = match &plan.config.schedule {
        Schedule::Open(OpenSchedule::Constant { rate, duration }) => {
            format!(
                "open model, {rate} req/s for {duration:?}, up to {} in flight",
                plan.config.max_in_flight
            )
        }
        Schedule::Closed(m) => format!(
            "closed model, {} connections for {:?}",
            m.users,
            m.duration.unwrap_or_default()
        ),
        other => format!("{other:?}"),
    };
    let cancel = crate::cancel_on_signal();
    let handle = executor::start(plan.config, plan.source.clone(), cancel.clone())?;
    let meta = dobench::record::http_meta(&url, &describe);
    let recording = dobench::record::start_if(db.as_deref(), meta, handle.snapshots.clone())?;
    let scrape = CancellationToken::new();
    let (progress, dashboard) = if tui {
        let info = crate::tui::RunInfo {
            profile: "http".into(),
            target: url.clone(),
            strategy: "-".into(),
            planned_s,
            workload: describe.clone(),
            ..Default::default()
        };
        let bus =
            crate::tui::feed::with_server_stats(&url, handle.snapshots.clone(), scrape.clone())
                .await;
        let dashboard = crate::tui::run_dashboard(info, bus, cancel.clone());
        (None, Some(tokio::spawn(dashboard)))
    } else {
        let progress = tokio::spawn(show_progress(handle.snapshots.clone()));
        (Some(progress), None)
    };
    let outcome = handle.wait().await;
    if let Some(progress) = progress {
        progress.abort();
    }
    scrape.cancel();
    // The dashboard returns at the run's last snapshot (or at `q`, which ended the run).
    if let Some(d) = dashboard {
        if let Err(e) = d.await.map_err(anyhow::Error::from).and_then(|r| r) {
            eprintln!("warning: the dashboard failed: {e:#}");
        }
    }
    let outcome = outcome?;
    let s = &outcome.snapshot;
    if s.requests > 0 && s.errors.connect == s.requests {
        bail!(
            "cannot connect to {url}: every one of {} requests failed to connect",
            s.requests
        );
    }
    let mut summary = RunSummary::from_outcome(
        &outcome,
        SummaryMeta {
            profile: "http".into(),
            target: url.clone(),
            strategy: plan.strategy.clone(),
            ceiling_rps: plan.ceiling_rps,
            ..SummaryMeta::default()
        },
    );
    summary.notes.push(describe.clone());
    summary.failures = dobench::run::run_failures(&summary, false);
    dobench::record::finish_if(recording, &mut summary, &outcome).await?;
    if plan.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", dobench_reports::text::summary(&summary));
    }
    // Exit 1 when the run cannot stand (too many sends never made), as `run` does.
    Ok(if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn progress_line(s: &Snapshot) -> String {
    format!(
        "{:>5.1}/{:.0}s  {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}  missed {}  in-flight {}",
        s.elapsed_s,
        s.planned_s,
        s.achieved_rps_last_s,
        s.latency_ms_last_s.p50,
        s.latency_ms_last_s.p99,
        s.errors.total,
        s.missed,
        s.in_flight
    )
}

/// Renders the live bus: an indicatif spinner line on a terminal, a plain stderr line per
/// second otherwise. Ends when the bus closes or is aborted.
async fn show_progress(mut rx: watch::Receiver<Snapshot>) {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        while rx.changed().await.is_ok() {
            let s = rx.borrow_and_update().clone();
            bar.set_message(progress_line(&s));
            bar.tick();
            if s.done {
                break;
            }
        }
        bar.finish_and_clear();
    } else {
        let mut last_print = -1.0;
        while rx.changed().await.is_ok() {
            let s = rx.borrow_and_update().clone();
            if s.done {
                break;
            }
            if s.elapsed_s - last_print >= 1.0 {
                last_print = s.elapsed_s;
                eprintln!("{}", progress_line(&s));
            }
        }
    }
}
