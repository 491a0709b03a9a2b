//! The patterns of objects that call objects, under load through the real runtime over
//! HTTP, each with its built-in profile's own correctness checks: parent-aggregator
//! (totals kept by a parent equal acknowledged increments and the client-side fan-in),
//! lease-lock (never two holders, every waiter served) and lost-update (the unguarded
//! handler loses updates, the guarded one none; both counted).

mod common;

use common::{config, Server};
use dobench_workloads::{profile, traffic};
use tokio_util::sync::CancellationToken;

async fn run(name: &str, overrides: &[&str]) -> traffic::Finished {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let mut sets: Vec<String> = vec!["load.duration=\"2s\"".into()];
    sets.extend(overrides.iter().map(|o| o.to_string()));
    let p = profile::load(name, &sets).unwrap().profile;
    let running =
        traffic::start(&p, &s.base, &traffic::new_nonce(), CancellationToken::new()).unwrap();
    let done = running.wait().await.unwrap();
    for c in &done.correctness.checks {
        eprintln!(
            "{name}: {} {}: {}",
            if c.passed { "ok" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    s.stop().await;
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parent_aggregator_totals_match_acknowledged_and_fan_in() {
    let done = run("parent-aggregator", &[]).await;
    assert!(done.correctness.passed);
    assert_eq!(done.outcome.snapshot.errors.total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_lock_never_has_two_holders_and_serves_every_waiter() {
    // Busy locks: 2 locks held 5 ms each at 300 holds/s keep waiters queued.
    let done = run(
        "lease-lock",
        &["load.rate=300", "lock.locks=2", "lock.hold_ms=5"],
    )
    .await;
    assert!(done.correctness.passed);
    assert!(done.outcome.snapshot.requests >= 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_update_loses_unguarded_updates_and_none_guarded() {
    let done = run("lost-update", &[]).await;
    assert!(done.correctness.passed);
    let checks = &done.correctness.checks;
    assert!(checks
        .iter()
        .any(|c| c.name.contains("unguarded") && c.passed));
    assert!(checks
        .iter()
        .any(|c| c.name.contains("block_concurrency") && c.detail.starts_with("lost 0 of")));
    assert!(
        done.notes.iter().any(|n| n.starts_with("lost updates:")),
        "{:?}",
        done.notes
    );
}
