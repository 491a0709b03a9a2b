//! Alarm storm benchmark: N objects (default 100,000) each set one alarm, all due within one
//! second; ceiling off, file-backed storage. Prints how long setting took, then the time from
//! the first due instant until the last alarm fired and the fire-lag percentiles.
//!
//! Run: `cargo run --release -p dobench-benches --example alarm_storm -- [N]`
//! (set TMPDIR=/dev/shm to keep the disk out of it; MAX_OPEN_DATABASES=n caps open databases;
//! SPREAD_MS=0 makes them all due at one instant).

use dobench_benches::cpu_seconds;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dobench_runtime::{
    epoch_ms, AlarmInfo, AnyObject, Ceiling, Config, Context, DataDir, Method, Object, Registry,
    Request, Response, Result, Runtime,
};
use futures_util::stream::{self, StreamExt};

/// The same allocator as the `dobench` binary (src/main.rs), for SQLite too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// (object name, scheduled ms, fired ms) of every handler run.
type Fired = Arc<Mutex<Vec<(String, i64, i64)>>>;

/// Sets its alarm from `?at=`; records (scheduled, fired) when it fires.
struct Storm {
    fired: Fired,
}

impl Object for Storm {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        let at: i64 = req.query("at").and_then(|a| a.parse().ok()).unwrap_or(0);
        ctx.set_alarm(at)?;
        Ok(Response::json(
            200,
            &serde_json::json!({ "scheduled_ms": at }),
        ))
    }

    async fn alarm(&self, ctx: &mut Context, info: AlarmInfo) -> Result<()> {
        let now = ctx.now_ms();
        let name = ctx.name().unwrap_or("").to_string();
        self.fired
            .lock()
            .unwrap()
            .push((name, info.scheduled_ms, now));
        Ok(())
    }
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let fired: Fired = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let mut reg = Registry::new();
    let f = fired.clone();
    reg.register("storm", move |_| {
        Ok(Box::new(Storm { fired: f.clone() }) as Box<dyn AnyObject>)
    });
    let mut cfg = Config::new(DataDir::Path(dir.path().to_path_buf()));
    cfg.ceiling = Ceiling::Off;
    if let Some(m) = std::env::var("MAX_OPEN_DATABASES")
        .ok()
        .and_then(|m| m.parse().ok())
    {
        cfg.max_open_databases = m;
    }
    let rt = Runtime::new(cfg, reg).unwrap();

    // Measure the cost of setting an alarm on a sample, then choose a lead time that lets
    // all N be set before the first one is due.
    let set = |names: std::ops::Range<usize>, at: Arc<dyn Fn(usize) -> i64 + Send + Sync>| {
        let rt = rt.clone();
        stream::iter(names)
            .map(move |i| {
                let rt = rt.clone();
                let at = at(i);
                async move {
                    let obj = rt.object_by_name("storm", &format!("o{i}")).unwrap();
                    let req = Request::new(Method::POST, "/").with_query("at", at);
                    rt.fetch(&obj, req).await.unwrap();
                }
            })
            .buffer_unordered(256)
            .collect::<Vec<()>>()
    };
    let sample = 2000.min(n);
    let t = Instant::now();
    set(0..sample, Arc::new(|_| epoch_ms() + 3_600_000)).await;
    let per = t.elapsed().as_secs_f64() / sample as f64;
    let lead_ms = (per * n as f64 * 1000.0 * 1.5) as i64 + 3000;
    let due = epoch_ms() + lead_ms;
    eprintln!(
        "setting {n} alarms (~{:.0} µs each), first due in {:.1} s",
        per * 1e6,
        lead_ms as f64 / 1000.0
    );
    let t = Instant::now();
    // Spread over SPREAD_MS (default one second): alarm i is due at due + (i mod spread) ms;
    // SPREAD_MS=0 makes every alarm due at one instant.
    let spread: usize = std::env::var("SPREAD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    set(
        0..n,
        Arc::new(move |i| due + i.checked_rem(spread).unwrap_or(0) as i64),
    )
    .await;
    let set_s = t.elapsed().as_secs_f64();
    assert!(epoch_ms() < due, "setting took longer than the lead time");
    eprintln!("set {n} alarms in {set_s:.1} s; waiting for them to fire");

    tokio::time::sleep(Duration::from_millis((due - epoch_ms()).max(0) as u64)).await;
    let cpu_at_due = cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(lead_ms as u64 / 1000 + 600);
    loop {
        let count = fired.lock().unwrap().len();
        if count >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fire_cpu_us = (cpu_seconds() - cpu_at_due) / n as f64 * 1e6;
    let fired = fired.lock().unwrap().clone();
    let mut lags: Vec<i64> = fired.iter().map(|(_, s, f)| f - s).collect();
    lags.sort_unstable();
    let last = fired.iter().map(|(_, _, f)| *f).max().unwrap_or(due);
    let distinct = fired
        .iter()
        .map(|(name, _, _)| name.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let stats = rt.stats();
    println!(
        "alarms={n} fired={} twice={} missing={} set_s={set_s:.1} first_due_to_last_fired_s={:.2} \
         lag_p50_ms={} lag_p99_ms={} lag_max_ms={} retried={} live_objects_after={} \
         cpu_us_per_fired_alarm={fire_cpu_us:.0}",
        fired.len(),
        fired.len() - distinct,
        n.saturating_sub(distinct),
        (last - due) as f64 / 1000.0,
        pct(&lags, 0.5),
        pct(&lags, 0.99),
        lags.last().copied().unwrap_or(0),
        stats.alarms.retried,
        stats.live_objects,
    );
    rt.shutdown().await;
}
