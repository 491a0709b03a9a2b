//! A fixed number of requests through the one executor (closed model, one user, one
//! connection) against a URL, with the collector's tick pushed past the run so that only
//! per-request work remains: what `benches/callgrind_request.sh` counts instructions of.
//! Prints `requests errors` on stdout. Measures nothing itself.
//!
//! Usage: request_path URL REQUESTS [fast|general]

use std::sync::Arc;
use std::time::Duration;

use dobench_loadgen::{executor, ClosedModel, FixedRequest, RequestSpec, RunConfig, Schedule};
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: request_path URL REQUESTS [fast|general]");
        std::process::exit(2);
    };
    let general = args.get(3).map(String::as_str) == Some("general");
    let spec = match RequestSpec::new("GET", dobench_loadgen::http::Method::GET, url) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut config = RunConfig::new(Schedule::Closed(ClosedModel {
        users: 1,
        think: Duration::ZERO,
        iterations: Some(n),
        duration: None,
    }));
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
