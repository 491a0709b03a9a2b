//! Profiles: every built-in and every example profile parses; a typo'd field or a bad value fails naming the file,
//! line and field; `--set` overrides reach the typed profile and bad ones are named.

use std::io::Write;

use dobench_workloads::profile::{self, BUILTIN};
use dobench_workloads::{Error, Strategy, WorkloadKind};

fn temp_profile(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const GOOD: &str = r#"name = "mine"
workload = "counter"
strategy = "hash:4"

[load]
rate = 100
duration = "2s"
"#;

#[test]
fn every_builtin_profile_parses() {
    assert_eq!(BUILTIN.len(), 7);
    for (name, _) in BUILTIN {
        let p = profile::load(name, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&p.profile.name, name);
        assert!(!p.profile.thresholds.is_empty(), "{name} has thresholds");
    }
    let names: Vec<_> = profile::builtin_list()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "sharded-counter",
            "ratelimit-burst",
            "chat-fanout",
            "alarm-storm",
            "parent-aggregator",
            "lease-lock",
            "lost-update"
        ]
    );
}

#[test]
fn every_example_profile_parses() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut kinds = Vec::new();
    for file in [
        "profiles/templated-counter.toml",
        "likes-worker/profiles/likes.toml",
        "likes-worker/profiles/presence.toml",
    ] {
        let path = root.join(file).display().to_string();
        let p = profile::load(&path, &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
        kinds.push(p.profile.workload);
    }
    assert_eq!(
        kinds,
        [WorkloadKind::Http, WorkloadKind::Http, WorkloadKind::Ws]
    );
}

#[test]
fn typo_names_file_line_and_field() {
    let f = temp_profile(&GOOD.replace("rate = 100", "rat = 100"));
    let path = f.path().to_str().unwrap().to_string();
    let err = profile::load(&path, &[]).unwrap_err();
    let msg = err.to_string();
    match &err {
        Error::Profile {
            file, line, field, ..
        } => {
            assert_eq!(file, &path);
            assert_eq!(*line, 6, "{msg}");
            assert_eq!(field.as_deref(), Some("load.rat"), "{msg}");
        }
        other => panic!("wrong error: {other:?}"),
    }
    assert!(msg.contains(&format!("{path}:6:")), "{msg}");
    assert!(msg.contains("unknown field `rat`"), "{msg}");
}

#[test]
fn bad_value_names_its_field() {
    let f = temp_profile(&GOOD.replace("duration = \"2s\"", "duration = \"soon\""));
    let msg = profile::load(f.path().to_str().unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert!(msg.contains(":7:"), "{msg}");
    assert!(msg.contains("load.duration"), "{msg}");
    let f = temp_profile(&GOOD.replace("hash:4", "ring:4"));
    let msg = profile::load(f.path().to_str().unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert!(msg.contains(":3:") && msg.contains("strategy"), "{msg}");
}

#[test]
fn set_overrides_any_field() {
    let p = profile::load(
        "sharded-counter",
        &[
            "load.rate=123".into(),
            "strategy=jump:4".into(),
            "keyspace.distribution=uniform".into(),
            r#"thresholds=["correctness = true"]"#.into(),
            "runtime.ceiling=off".into(),
        ],
    )
    .unwrap()
    .profile;
    assert_eq!(p.load.rate, Some(123.0));
    assert_eq!(p.strategy, Strategy::Jump(4));
    assert_eq!(p.thresholds.len(), 1);
    assert_eq!(p.runtime.ceiling_rps(), None);
    assert_eq!(p.workload, WorkloadKind::Counter);
}

#[test]
fn bad_overrides_are_named() {
    let err = profile::load("sharded-counter", &["load.rat=5".into()]).unwrap_err();
    assert!(matches!(err, Error::Override { .. }), "{err:?}");
    assert!(
        err.to_string().contains("load.rat=5") && err.to_string().contains("rat"),
        "{err}"
    );
    let err = profile::load("sharded-counter", &["strategy".into()]).unwrap_err();
    assert!(err.to_string().contains("key=value"), "{err}");
    let err = profile::load("sharded-counter", &["load.rate=-1".into()]).unwrap_err();
    assert!(err.to_string().contains("load.rate"), "{err}");
}

#[test]
fn unknown_profile_is_clear() {
    let err = profile::load("no-such-profile", &[]).unwrap_err();
    assert!(matches!(err, Error::UnknownProfile(_)));
}
