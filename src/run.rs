//! Assembling one profile run from its typed [`RunPlan`]: loads the profile (with overrides),
//! starts the reference runtime in-process on a free loopback port with the profile's runtime
//! options and a fresh temp data dir (or drives the plan's target), runs the workload, merges
//! the target's scraped stats into the live bus (the one relay, `server_stats::merge`),
//! records the run in the results store as it goes ([`crate::record`]), finalises the
//! summary (ids, hibernation, alarms, correctness, thresholds, [`run_failures`]) and hands it
//! back. [`execute`] serves `run`, `compare` and tests alike; the binary only turns flags
//! into a plan and prints. Never parses flags, listens for signals or exits; never measures
//! anything itself: loadgen does.

mod print;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use dobench_loadgen::server_stats::{self, ServerStats};
use dobench_loadgen::summary::{HibernationSummary, SUMMARY_OBJECTS};
use dobench_loadgen::{RequestSpec, RunSummary, Snapshot, SummaryMeta};
use dobench_reports::{RunMeta, Store};
use dobench_runtime::{Config, DataDir, Runtime};
use dobench_workloads::profile::{self, LoadedProfile};
use dobench_workloads::{thresholds, traffic, WorkloadKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::record::Recording;

pub use print::progress;

/// A typed run plan built from flags.
pub struct RunPlan {
    pub loaded: LoadedProfile,
    /// Target base URL; `None` = embedded runtime.
    pub target: Option<String>,
    pub db: PathBuf,
    pub compare_group: Option<String>,
    /// What the summary calls the target (e.g. `workerd`); `None`: the URL, or `embedded`.
    pub target_label: Option<String>,
}

impl RunPlan {
    /// Loads the profile with the command line's overrides applied.
    pub fn new(
        profile: &str,
        target: Option<String>,
        strategy: Option<&str>,
        duration: Option<&str>,
        set: &[String],
        db: PathBuf,
    ) -> anyhow::Result<RunPlan> {
        let mut overrides = set.to_vec();
        if let Some(s) = strategy {
            overrides.push(format!("strategy=\"{s}\""));
        }
        if let Some(d) = duration {
            overrides.push(format!("load.duration=\"{d}\""));
        }
        let loaded = profile::load(profile, &overrides)?;
        if let Some(t) = &target {
            RequestSpec::new("probe", dobench_loadgen::http::Method::GET, t)
                .with_context(|| format!("--target {t}"))?;
        }
        Ok(RunPlan {
            loaded,
            target: target.map(|t| t.trim_end_matches('/').to_string()),
            db,
            compare_group: None,
            target_label: None,
        })
    }
}

/// What one run leaves for printing and comparing.
pub struct RunResult {
    pub summary: RunSummary,
    pub objects_used: u64,
    pub read_fan_in: u64,
}

impl RunResult {
    /// Thresholds and correctness both passed, and nothing failed the run outright.
    pub fn passed(&self) -> bool {
        self.summary.thresholds.passed
            && self.summary.correctness.as_ref().is_none_or(|c| c.passed)
            && self.summary.failures.is_empty()
    }
}

/// HTTP connections a chat run opens beside its members (history reads, stats scraper).
const CHAT_HTTP_CONNECTIONS: u64 = 16;

/// Sockets this process holds at once for a profile: the generator's connections (chat: one
/// WebSocket per member, plus its HTTP connections), twice over when the embedded runtime
/// holds the other end in this same process.
pub(crate) fn sockets_needed(p: &dobench_workloads::Profile, embedded: bool) -> (u64, String) {
    let http = (p.load.max_in_flight as u64).max(u64::from(p.load.vus.unwrap_or(0)));
    let (client, what) = if p.workload == WorkloadKind::Chat {
        // Chat's sends go on the members' WebSockets; HTTP is only the check's history
        // reads and the stats scraper.
        let members = u64::from(p.chat.rooms) * u64::from(p.chat.members);
        (
            members + CHAT_HTTP_CONNECTIONS,
            format!(
                "{} rooms × {} members + {CHAT_HTTP_CONNECTIONS} connections",
                p.chat.rooms, p.chat.members
            ),
        )
    } else if p.workload == WorkloadKind::Ws {
        // One WebSocket per member; no HTTP beyond the stats scraper.
        let members = p.keyspace.keys * u64::from(p.ws.members.unwrap_or(0));
        (
            members + CHAT_HTTP_CONNECTIONS,
            format!(
                "{} rooms × {} members + {CHAT_HTTP_CONNECTIONS} connections",
                p.keyspace.keys,
                p.ws.members.unwrap_or(0)
            ),
        )
    } else {
        (http, format!("load.max_in_flight = {http}"))
    };
    if embedded {
        (
            client.saturating_mul(2),
            format!("{what}, both ends in this process with the embedded runtime"),
        )
    } else {
        (client, what)
    }
}

/// A run may leave at most this share of its planned sends unmade by the generator and still
/// stand; past it the run fails whatever its thresholds say (issue 20).
pub const MAX_MISSED_SHARE: f64 = 0.01;

/// Why a run fails whatever its thresholds say: the generator did not make too many of its
/// planned sends, or the embedded runtime answered 5xx of its own (503 overload refusals,
/// the designed answer to overload, excepted). Each reason names its numbers.
pub fn run_failures(s: &RunSummary, embedded: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(planned) = s.planned.filter(|p| *p > 0) {
        let share = s.missed as f64 / planned as f64;
        if share > MAX_MISSED_SHARE {
            out.push(format!(
                "{} of {planned} planned sends ({:.1} %) were never made by the generator (a run may miss at most {:.0} %)",
                s.missed,
                share * 100.0,
                MAX_MISSED_SHARE * 100.0
            ));
        }
    }
    if embedded {
        let fives: Vec<(&String, &u64)> = s
            .errors
            .status
            .iter()
            .filter(|(code, n)| code.starts_with('5') && **n > 0)
            .collect();
        if !fives.is_empty() {
            let total: u64 = fives.iter().map(|(_, n)| **n).sum();
            let parts: Vec<String> = fives.iter().map(|(c, n)| format!("{c}: {n}")).collect();
            out.push(format!(
                "the embedded runtime answered {total} requests with 5xx of its own ({}): a runtime fault, not a load figure",
                parts.join(", ")
            ));
        }
    }
    out
}

/// How a run shows itself while it goes.
#[derive(Clone)]
pub enum View {
    Quiet,
    /// The progress line on stderr ([`progress`]).
    Progress,
    /// A live view the caller draws (the binary's TUI): called once with the run's labels
    /// and bus; the run waits for its task (at most 2 s) after the load ends.
    Live(Arc<dyn Fn(LiveRun) -> JoinHandle<()> + Send + Sync>),
}

/// What a live view gets: the run's labels, its bus, and the token that stops it early.
pub struct LiveRun {
    pub profile: String,
    /// `embedded`, the target URL or its label.
    pub target: String,
    pub strategy: String,
    pub ceiling_rps: Option<f64>,
    pub planned_s: f64,
    /// The profile's thresholds as written.
    pub thresholds: Vec<String>,
    /// Workload class (`counter`, `chat`, ...).
    pub workload: String,
    pub bus: watch::Receiver<Snapshot>,
    pub stop: CancellationToken,
}

/// The reference runtime running in-process for one run, on its *own* OS threads and tokio
/// runtime (threads named `dobench-rt`), so its work never runs on the generator's threads
/// and the generator's CPU figures count the generator alone.
struct Embedded {
    base: String,
    stop: CancellationToken,
    /// Resolves when the runtime's thread has drained and ended.
    ended: tokio::sync::oneshot::Receiver<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// Worker threads of the embedded runtime: as many as the machine has cores.
fn embedded_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

async fn start_embedded(p: &dobench_workloads::Profile) -> anyhow::Result<Embedded> {
    let dir = tempfile::Builder::new()
        .prefix("dobench-run-")
        .tempdir()
        .context("creating a temp data dir")?;
    let mut config = Config::new(DataDir::Path(dir.path().to_path_buf()));
    let r = &p.runtime;
    config.ceiling = r.ceiling.parse()?;
    config.costs = r.costs.parse().map_err(anyhow::Error::msg)?;
    config.mailbox = r.mailbox;
    config.hibernate_after = r.hibernate_after.0;
    config.idle_timeout = r.idle_timeout.0;
    config.alarm_time_scale = r.alarm_time_scale;
    let classes = dobench_workloads::ClassOptions {
        chat_history: r.chat_history,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    let s = stop.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(embedded_threads())
        .thread_name("dobench-rt")
        .enable_all()
        .build()
        .context("starting the embedded runtime's threads")?;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
    let (ended_tx, ended) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("dobench-rt-main".into())
        .spawn(move || {
            let result = rt.block_on(async move {
                let runtime = match Runtime::new(config, dobench_workloads::registry_with(classes))
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = started_tx.send(Err(e.into()));
                        return Ok(());
                    }
                };
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = started_tx.send(Err(e.into()));
                        return Ok(());
                    }
                };
                let _ = started_tx.send(Ok(()));
                dobench_runtime::serve(listener, runtime, async move { s.cancelled().await }).await
            });
            // Objects' tasks still running after the drain are dropped with the runtime.
            rt.shutdown_timeout(Duration::from_secs(1));
            let _ = ended_tx.send(result);
        })
        .context("starting the embedded runtime's thread")?;
    started_rx
        .await
        .context("the embedded runtime's thread ended while starting")??;
    Ok(Embedded {
        base,
        stop,
        ended,
        _dir: dir,
    })
}

impl Embedded {
    async fn stop(self) {
        self.stop.cancel();
        match tokio::time::timeout(Duration::from_secs(15), self.ended).await {
            Err(_) => tracing::warn!("the embedded runtime took over 15 s to drain; leaving it"),
            Ok(Ok(Err(e))) => tracing::warn!("the embedded runtime ended with an error: {e}"),
            Ok(_) => {}
        }
    }
}

/// Runs one profile end to end (shared by `run` and `compare`).
pub async fn execute(
    plan: &RunPlan,
    cancel: CancellationToken,
    view: View,
) -> anyhow::Result<RunResult> {
    let p = &plan.loaded.profile;
    let (sockets, what) = sockets_needed(p, plan.target.is_none());
    crate::limits::check_sockets(sockets, &what)?;
    let embedded = match &plan.target {
        None => Some(start_embedded(p).await?),
        Some(_) => None,
    };
    let base = match (&embedded, &plan.target) {
        (Some(e), _) => e.base.clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => unreachable!("either embedded or a target"),
    };
    let target_label = plan
        .target_label
        .clone()
        .or_else(|| plan.target.clone())
        .unwrap_or_else(|| "embedded".into());
    let result = drive(plan, &base, &target_label, cancel, view).await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    result
}

async fn drive(
    plan: &RunPlan,
    base: &str,
    target_label: &str,
    cancel: CancellationToken,
    view: View,
) -> anyhow::Result<RunResult> {
    let p = &plan.loaded.profile;
    let first_stats = server_stats::fetch(base, Duration::from_secs(2)).await.ok();
    let ceiling_rps = match &plan.target {
        None => p.runtime.ceiling_rps(),
        Some(_) => first_stats
            .as_ref()
            .and_then(|s| s.ceiling_rps.map(f64::from))
            .or(p.runtime.ceiling_rps()),
    };
    let scrape_stop = CancellationToken::new();
    let scraper = match &first_stats {
        Some(_) => Some(server_stats::spawn_scraper(
            base,
            server_stats::DEFAULT_EVERY,
            scrape_stop.clone(),
        )?),
        None => None,
    };
    let nonce = traffic::new_nonce();
    // A target we did not start retries alarms on its own schedule (production's 2, 4, 8 s
    // ...): the profile's `runtime.alarm_time_scale` applies to the embedded runtime only.
    let unscaled;
    let traffic_profile = if plan.target.is_some() && p.runtime.alarm_time_scale != 1.0 {
        let mut q = p.clone();
        q.runtime.alarm_time_scale = 1.0;
        unscaled = q;
        &unscaled
    } else {
        p
    };
    let running = traffic::start(traffic_profile, base, &nonce, cancel.clone())?;
    // The one relay (`server_stats::merge`, as `http --tui` uses): the run's bus with the
    // target's scraped stats on it.
    let bus = match scraper {
        Some(server) => server_stats::merge(running.snapshots.clone(), server),
        None => running.snapshots.clone(),
    };
    let meta = RunMeta {
        profile: p.name.clone(),
        profile_text: plan.loaded.text.clone(),
        workload: Some(p.workload.class().to_string()),
        target: target_label.to_string(),
        strategy: Some(p.strategy.to_string()),
        runtime_options: runtime_options(p, plan.target.is_none()),
        thresholds: p.thresholds.iter().map(|t| t.expr.clone()).collect(),
        ceiling_rps,
        planned_s: Some(p.load.duration.0.as_secs_f64()),
        compare_group: plan.compare_group.clone(),
    };
    let recording = Recording::start(&plan.db, meta.clone(), bus.clone())?;
    let shown = match view.clone() {
        View::Quiet => None,
        View::Progress => Some(tokio::spawn(progress(bus.clone()))),
        View::Live(show) => Some(show(LiveRun {
            profile: p.name.clone(),
            target: target_label.to_string(),
            strategy: p.strategy.to_string(),
            ceiling_rps,
            planned_s: p.load.duration.0.as_secs_f64(),
            thresholds: meta.thresholds.clone(),
            workload: p.workload.class().to_string(),
            bus: bus.clone(),
            stop: cancel.clone(),
        })),
    };
    let finished = running.wait().await;
    scrape_stop.cancel();
    if let Some(task) = shown {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    let finished = match finished {
        Ok(f) => f,
        Err(e) => {
            recording.abandon().await;
            return Err(e.into());
        }
    };
    let outcome = &finished.outcome;
    let s = &outcome.snapshot;
    if s.requests > 0 && s.errors.connect == s.requests {
        bail!(
            "cannot connect to {base}: every one of {} requests failed to connect",
            s.requests
        );
    }
    // The hottest objects the summary lists, with what their turns cost on the target.
    let final_stats = server_stats::fetch_hottest(base, Duration::from_secs(5), SUMMARY_OBJECTS)
        .await
        .ok();
    let mut summary = RunSummary::from_outcome(
        outcome,
        SummaryMeta {
            profile: p.name.clone(),
            workload: Some(p.workload.class().to_string()),
            target: target_label.to_string(),
            strategy: Some(p.strategy.to_string()),
            ceiling_rps,
            work: final_stats
                .as_ref()
                .map(|st| crate::bill::work_by_name(st, p.workload.class()))
                .unwrap_or_default(),
        },
    );
    summary.bill = final_stats
        .as_ref()
        .map(|last| crate::bill::of_run(first_stats.as_ref(), last));
    if let (Some(stats), Some(objects)) = (&final_stats, summary.objects.as_mut()) {
        for o in objects.iter_mut() {
            if let Some(so) = stats.object(p.workload.class(), &o.name) {
                o.id = so.id.clone();
            }
        }
    }
    if p.workload == WorkloadKind::Chat {
        summary.hibernation = final_stats.as_ref().map(|st| hibernation(st, &nonce));
    }
    summary.alarms = finished.alarms.clone();
    summary.read_fan_in = finished.read_fan_in;
    summary.notes = finished.notes.clone();
    summary.correctness = Some(finished.correctness.clone());
    summary.thresholds = thresholds::evaluate(&p.thresholds, &summary);
    summary.failures = run_failures(&summary, plan.target.is_none());
    recording
        .finish(&mut summary, outcome)
        .await
        .context("recording the run")?;
    Ok(RunResult {
        objects_used: finished.objects_used,
        read_fan_in: finished.read_fan_in,
        summary,
    })
}

fn runtime_options(p: &dobench_workloads::Profile, embedded: bool) -> serde_json::Value {
    let r = &p.runtime;
    serde_json::json!({
        "embedded": embedded,
        "ceiling": r.ceiling,
        "costs": r.costs,
        "mailbox": r.mailbox,
        "hibernate_after_ms": r.hibernate_after.0.as_millis() as u64,
        "idle_timeout_ms": r.idle_timeout.0.as_millis() as u64,
        "alarm_time_scale": r.alarm_time_scale,
        "chat_history": r.chat_history,
        "load": format!("{:?}", traffic::schedule(&p.load)),
    })
}

/// Hibernation savings of this run's rooms (names carry the run nonce), priced.
fn hibernation(stats: &ServerStats, nonce: &str) -> HibernationSummary {
    use dobench_runtime::pricing::{duration_usd, gb_s};
    let tag = format!("-{nonce}-");
    let ours = stats
        .objects
        .iter()
        .filter(|o| o.class == "chat" && o.name.as_deref().is_some_and(|n| n.contains(&tag)));
    let (mut billed, mut hibernated, mut avoided, mut idle) = (0.0, 0.0, 0.0, 0.0);
    for o in ours {
        billed += o.billed_ms;
        hibernated += o.hibernated_ms;
        avoided += o.avoided_ms;
        idle += (o.active_ms - o.billed_ms).max(0.0);
    }
    let (gb_billed, gb_avoided) = (gb_s(billed / 1000.0), gb_s(avoided / 1000.0));
    HibernationSummary {
        active_ms: billed,
        hibernated_ms: hibernated,
        gb_s_billed: gb_billed,
        gb_s_avoided: gb_avoided,
        usd_avoided: duration_usd(gb_avoided),
        saved_pct: if billed + avoided > 0.0 {
            avoided / (billed + avoided) * 100.0
        } else {
            0.0
        },
        idle_in_memory_ms: idle,
    }
}

/// Writes one HTML report of `ids` from the store at `db`.
pub fn write_html(
    db: &Path,
    ids: &[String],
    path: &Path,
    best: Option<String>,
) -> anyhow::Result<()> {
    write_report(db, ids, path, Default::default(), best)
}

/// Writes one HTML report of `ids` with `opts` (its best strategy set to `best`).
pub fn write_report(
    db: &Path,
    ids: &[String],
    path: &Path,
    opts: dobench_reports::html::ReportOptions,
    best: Option<String>,
) -> anyhow::Result<()> {
    let store = Store::open(db)?;
    let runs = ids
        .iter()
        .map(|id| store.load(id))
        .collect::<Result<Vec<_>, _>>()?;
    let page = dobench_reports::html::render(
        &runs,
        &dobench_reports::html::ReportOptions {
            best_strategy: best,
            ..opts
        },
    )?;
    std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> RunSummary {
        let mut s = RunSummary::from_snapshot(&Snapshot::default(), SummaryMeta::default(), 0);
        s.planned = Some(10_000);
        s.requests = 10_000;
        s
    }

    #[test]
    fn missed_past_the_share_or_the_runtimes_own_5xx_fail_the_run() {
        let s = summary();
        assert!(run_failures(&s, true).is_empty());

        let mut missed = summary();
        missed.requests = 9_850;
        missed.missed = 150;
        let f = run_failures(&missed, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("150 of 10000 planned sends (1.5 %)"), "{f:?}");
        missed.missed = 100; // exactly 1 %: stands
        assert!(run_failures(&missed, true).is_empty());

        let mut fives = summary();
        fives.errors.overloaded = 400; // refusals: the runtime's designed answer
        assert!(run_failures(&fives, true).is_empty());
        fives.errors.status.insert("500".into(), 3);
        let f = run_failures(&fives, true);
        assert!(
            f[0].contains("3 requests with 5xx of its own (500: 3)"),
            "{f:?}"
        );
        // A target we did not start answers for itself.
        assert!(run_failures(&fives, false).is_empty());
    }
}
