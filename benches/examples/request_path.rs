//! A fixed number of requests through the one executor (closed model, one user, one
//! connection; or `open`: the open model at 500 req/s on one connection, every send paced)
//! against a URL, with the collector's tick pushed past the run so that only per-request work
//! remains: what `benches/callgrind_request.sh` counts instructions of. Prints
//! `requests errors` on stdout. Measures nothing itself.
//!
//! Usage: request_path URL REQUESTS [fast|general|open]

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::{
    executor, ClosedModel, FixedRequest, OpenSchedule, RequestSpec, RunConfig, Schedule,
};

/// Requests per second of the `open` mode.
const OPEN_RATE: f64 = 500.0;
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: request_path URL REQUESTS [fast|general|open]");
        std::process::exit(2);
    };
    let mode = args.get(3).map(String::as_str);
    let general = mode == Some("general");
    let spec = match RequestSpec::new("GET", dobench_loadgen::http::Method::GET, url) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let schedule = if mode == Some("open") {
        // Slow enough that every send waits for the pacer, even under callgrind.
        Schedule::Open(OpenSchedule::Constant {
            rate: OPEN_RATE,
            duration: Duration::from_secs_f64(n as f64 / OPEN_RATE),
        })
    } else {
        Schedule::Closed(ClosedModel {
            users: 1,
            think: Duration::ZERO,
            iterations: Some(n),
            duration: None,
        })
    };
    let mut config = RunConfig::new(schedule);
    config.max_in_flight = 1;
    config.tick = Duration::from_secs(3600);
    config.client.fast_h1 = !general;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = rt.block_on(async {
        let handle = executor::start(
            config,
            Arc::new(FixedRequest(spec)),
            CancellationToken::new(),
        )?;
        handle.wait().await
    });
    match outcome {
        Ok(o) => println!("{} {}", o.snapshot.requests, o.snapshot.errors.total),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
