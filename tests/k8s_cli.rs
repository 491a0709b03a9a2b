//! Issue 21: `dobench k8s` prints manifests that pass Kubernetes schema validation and carry
//! the profile intact. Skipped (with a message) where the validator or PyYAML is missing;
//! `.ci/run` installs them.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_dobench");

/// The manifests pass Kubernetes schema validation (the `kubernetes-validate` pip package;
/// `.ci/run` installs it) and carry the profile text intact (PyYAML, which it brings).
#[test]
fn k8s_manifests_validate() {
    let out = Command::new(BIN)
        .args([
            "k8s",
            "sharded-counter",
            "--parts",
            "4",
            "--image",
            "dobench:test",
        ])
        .args([
            "--target",
            "https://counter.example.workers.dev",
            "--set",
            "load.rate=20000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("completionMode: Indexed"), "{yaml}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dobench.yaml");
    std::fs::write(&file, &yaml).unwrap();
    match Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&file)
        .output()
    {
        Err(e) => eprintln!(
            "SKIPPED schema validation: kubernetes-validate is not installed ({e}); `pip install kubernetes-validate`"
        ),
        Ok(v) => assert!(
            v.status.success(),
            "kubernetes-validate: {}{}\n{yaml}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        ),
    }
    let check = "import sys, yaml\n\
                 docs = list(yaml.safe_load_all(open(sys.argv[1])))\n\
                 assert [d['kind'] for d in docs] == ['ConfigMap', 'PersistentVolumeClaim', 'Job', 'Job'], docs\n\
                 sys.stdout.write(docs[0]['data']['profile.toml'])\n";
    match Command::new("python3")
        .args(["-c", check])
        .arg(&file)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("name = \"sharded-counter\""), "{text}");
            assert!(text.contains("[keyspace]\nkeys = 10000"), "{text}");
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            if err.contains("No module named 'yaml'") {
                eprintln!("SKIPPED YAML round trip: PyYAML is not installed");
            } else {
                panic!("the manifests do not read back as YAML: {err}\n{yaml}");
            }
        }
        Err(e) => eprintln!("SKIPPED YAML round trip: no python3 ({e})"),
    }
}
