//! Results store: rows land as the run goes, histograms round-trip, abandoned runs read as
//! incomplete, ids resolve, and the schema migrates forward and refuses newer versions.

mod common;

use common::Sim;
use dobench_loadgen::hist::from_v2;
use dobench_loadgen::Percentiles;
use dobench_reports::migrate::{self, SCHEMA_VERSION};
use dobench_reports::{Error, GroupKind, RunFilter, RunStatus, Store};

#[test]
fn seconds_are_readable_while_the_run_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let sim = Sim {
        seconds: 5,
        ..Sim::default()
    };
    let mut writer = Store::open(&path)
        .unwrap()
        .begin_run(&common::meta(&sim))
        .unwrap();
    let id = writer.id().to_string();
    let mut seen = Vec::new();
    let outcome = common::drive(&mut writer, &sim, |second, _| {
        // Another connection (as another process would) sees every closed second.
        let reader = Store::open(&path).unwrap();
        assert_eq!(reader.row(&id).unwrap().status, RunStatus::Running);
        seen.push(reader.seconds(&id).unwrap().len() as u64);
        let objects = reader.object_seconds(&id).unwrap();
        assert!(objects.iter().all(|o| o.second <= second));
    });
    // Second k is committed by the snapshot that reaches k + 1 s, before the run ends.
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    let s = common::summary(&sim, &outcome);
    writer.finish(&s, Some(&outcome.aggregate)).unwrap();
    let store = Store::open(&path).unwrap();
    let run = store.load(&id).unwrap();
    assert_eq!(run.row.status, RunStatus::Complete);
    assert_eq!(run.seconds.len(), 5);
    assert_eq!(
        run.seconds.iter().map(|s| s.requests).sum::<u64>(),
        s.requests
    );
    assert_eq!(run.summary.run_id, id);
    assert!(run.server_stats.len() >= 4);
    // Top N (16) per second: 8 objects, so no remainder row.
    assert!(run.objects.iter().all(|o| !o.remainder));
}

#[test]
fn histograms_round_trip_recomputed_p99_equals_stored_p99() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let sim = Sim {
        seconds: 3,
        ..Sim::default()
    };
    let id = common::record(&path, &sim, None);
    let store = Store::open(&path).unwrap();
    let summary = store.summary(&id).unwrap();
    let hists = store.histograms(&id).unwrap();
    assert_eq!(Percentiles::of(&hists["*"]).p99, summary.latency_ms.p99);
    assert_eq!(Percentiles::of(&hists["*"]), summary.latency_ms);
    for (op, st) in &summary.ops {
        assert_eq!(
            Percentiles::of(&hists[op]).p99,
            st.latency_ms.p99,
            "op {op}"
        );
        assert_eq!(hists[op].len(), st.requests, "op {op} count");
    }
    // Per-second histograms merge to the whole run's exactly.
    let mut merged = dobench_loadgen::hist::new_histogram();
    for s in store.seconds(&id).unwrap() {
        let h = store
            .second_histogram(&id, s.second)
            .unwrap()
            .expect("stored per-second histogram");
        assert_eq!(Percentiles::of(&h).p99, s.latency_ms.p99);
        merged.add(&h).unwrap();
    }
    assert_eq!(merged, hists["*"]);
    // And the blob is plain V2.
    let blob: Vec<u8> = rusqlite_blob(&path, &id);
    assert_eq!(from_v2(&blob).unwrap(), hists["*"]);
}

fn rusqlite_blob(path: &std::path::Path, id: &str) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT v2 FROM histograms WHERE run_id = ?1 AND op = '*'",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_run_whose_writer_is_gone_reads_as_incomplete_with_its_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let sim = Sim {
        seconds: 3,
        ..Sim::default()
    };
    let mut writer = Store::open(&path)
        .unwrap()
        .begin_run(&common::meta(&sim))
        .unwrap();
    let id = writer.id().to_string();
    let _ = common::drive(&mut writer, &sim, |_, _| {});
    drop(writer); // never finished
                  // This process is alive, so the run still reads as running...
    assert_eq!(
        Store::open(&path).unwrap().row(&id).unwrap().status,
        RunStatus::Running
    );
    // ...until its writer is someone else (pid reused / process gone).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE runs SET pid_start = 'gone', heartbeat_ms = 0 WHERE id = ?1",
        [&id],
    )
    .unwrap();
    let store = Store::open(&path).unwrap();
    let row = store.row(&id).unwrap();
    assert_eq!(
        (row.status, row.verdict()),
        (RunStatus::Incomplete, "incomplete")
    );
    assert_eq!(store.seconds(&id).unwrap().len(), 3);
    let s = store.summary(&id).unwrap();
    assert!(s.stopped_early);
    assert!(s.requests > 0);
}

#[test]
fn resolve_latest_prefix_and_compare_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::open(&path).unwrap();
    let group = store.create_compare_group("sharded-counter").unwrap();
    let mut ids = Vec::new();
    for (i, strategy) in ["single", "hash:8", "jump:8"].into_iter().enumerate() {
        let sim = Sim {
            strategy,
            seconds: 2,
            seed: i as u64,
            extras: false,
            ..Sim::default()
        };
        ids.push(common::record(&path, &sim, Some(&group)));
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    store.set_compare_best(&group, "hash:8").unwrap();
    assert_eq!(store.resolve(&group).unwrap(), ids);
    assert_eq!(store.resolve("latest").unwrap(), vec![ids[2].clone()]);
    assert_eq!(store.resolve(&ids[1]).unwrap(), vec![ids[1].clone()]);
    assert_eq!(
        store.resolve(&ids[0][..ids[0].len() - 2]).unwrap(),
        vec![ids[0].clone()]
    );
    assert!(matches!(store.resolve("nope"), Err(Error::NoSuchRun(_))));
    assert_eq!(
        store.compare_best(&group).unwrap().as_deref(),
        Some("hash:8")
    );
    let rows = store
        .list(&RunFilter {
            limit: Some(2),
            profile: Some("sharded-counter".into()),
        })
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()]
    );
    assert!(store
        .list(&RunFilter {
            limit: None,
            profile: Some("other".into())
        })
        .unwrap()
        .is_empty());
}

/// Issue 16: `latest~N`, a unique suffix, labels (the newest run with one; a labelled
/// repeat group's runs), and an ambiguous prefix named with its candidates.
#[test]
fn resolve_latest_n_suffix_labels_and_repeat_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::open(&path).unwrap();
    let rep = store
        .create_group("sharded-counter", GroupKind::Repeat)
        .unwrap();
    assert!(rep.starts_with("rep-"));
    assert_eq!(store.group_kind(&rep).unwrap(), GroupKind::Repeat);
    let mut ids = Vec::new();
    for i in 0..4u64 {
        let sim = Sim {
            seconds: 2,
            seed: i,
            extras: false,
            ..Sim::default()
        };
        let group = (i < 2).then_some(rep.as_str());
        ids.push(common::record(&path, &sim, group));
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    store.set_label(&ids[0], "before").unwrap();
    store.set_label(&ids[1], "before").unwrap();
    store.set_label(&ids[2], "after").unwrap();
    store.set_label(&ids[3], "after").unwrap();
    assert_eq!(store.resolve("latest~0").unwrap(), vec![ids[3].clone()]);
    assert_eq!(store.resolve("latest~2").unwrap(), vec![ids[1].clone()]);
    assert!(matches!(
        store.resolve("latest~9"),
        Err(Error::NoSuchRun(_))
    ));
    assert!(matches!(
        store.resolve("latest~x"),
        Err(Error::NoSuchRun(_))
    ));
    let suffix = &ids[2][ids[2].len() - 8..];
    assert_eq!(store.resolve(suffix).unwrap(), vec![ids[2].clone()]);
    // A label names its newest run; a repeat group's label names the whole group.
    assert_eq!(store.resolve("after").unwrap(), vec![ids[3].clone()]);
    assert_eq!(store.resolve("before").unwrap(), ids[..2].to_vec());
    assert_eq!(store.row(&ids[3]).unwrap().label.as_deref(), Some("after"));
    // Every id starts with the same hex milliseconds prefix digit: ambiguous, both named.
    match store.resolve(&ids[0][..1]) {
        Err(Error::AmbiguousRun { candidates, .. }) => assert!(candidates.contains(&ids[0])),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.set_label("no-such-run", "x"),
        Err(Error::NoSuchRun(_))
    ));
}

#[test]
fn an_older_schema_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrate::migrate_to(&mut conn, "old.db", 1).unwrap();
        conn.execute(
            "INSERT INTO runs (id, started_ms, status, profile, target, dobench_version, summary) \
             VALUES ('old-run', 1700000000000, 'running', 'legacy', 'embedded', '0.0.1', NULL)",
            [],
        )
        .unwrap();
        assert_eq!(migrate::version(&conn).unwrap(), 1);
    }
    let store = Store::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(migrate::version(&conn).unwrap(), SCHEMA_VERSION);
    // v2 columns and tables exist; the old run survived, and (no writer) reads as incomplete.
    let row = store.row("old-run").unwrap();
    assert_eq!(
        (row.profile.as_str(), row.status),
        ("legacy", RunStatus::Incomplete)
    );
    assert!(row.compare_group.is_none());
    assert!(store.server_stats("old-run").unwrap().is_empty());
    store.create_compare_group("legacy").unwrap();
    // Opening again is a no-op.
    drop(store);
    Store::open(&path).unwrap();
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = Store::open(&path)
        .err()
        .expect("newer schema must be refused");
    assert!(matches!(
        err,
        Error::SchemaTooNew {
            found: 99,
            supported: SCHEMA_VERSION,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("99") && msg.contains(&format!("version {SCHEMA_VERSION}")),
        "{msg}"
    );
}
