//! `dobench k8s PROFILE --parts N --image IMAGE --target URL`: the Kubernetes manifests that
//! run one test from N pods and report it as one run. Kubernetes does the orchestration
//! (dobench never grows its own cluster manager, as k6-operator leaves it to an Indexed Job):
//! a ConfigMap holds the profile; an Indexed Job (`completionMode: Indexed`) runs N pods, each
//! `dobench run --segment $INDEX/N --start-at T` with its completion index as the segment,
//! writing its part to a shared volume (a ReadWriteMany PersistentVolumeClaim); a second Job
//! waits for the parts (`dobench merge --wait`) and merges them into one run, printing the
//! run summary JSON to its log. Pure text generation: never talks to a cluster.

use std::fmt::Write as _;
use std::time::Duration;

/// What the manifests are made of.
#[derive(Debug, Clone)]
pub struct K8sPlan {
    /// Name prefix of every object (a DNS label).
    pub name: String,
    /// The profile's TOML text, as written.
    pub profile_text: String,
    /// `--set` overrides every pod applies.
    pub overrides: Vec<String>,
    pub parts: u32,
    pub image: String,
    pub target: String,
    /// The shared start instant, ms since the Unix epoch.
    pub start_at_ms: u64,
    /// How long the load runs (the profile's duration), and its request timeout.
    pub duration: Duration,
    pub timeout: Duration,
    /// Each load pod's CPU and memory (requests = limits: a generator's figures are only
    /// honest on the CPU it was promised).
    pub cpu: String,
    pub memory: String,
    /// Size of the shared volume the parts are written to.
    pub storage: String,
    /// Storage class of the shared volume (`None`: the cluster's default; it must offer
    /// ReadWriteMany).
    pub storage_class: Option<String>,
}

/// The pods run as the image's unprivileged user; the shared volume is made writable to it.
const SECURITY: &str =
    "      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}\n";

/// A YAML scalar: JSON's string quoting is valid YAML double-quoted style.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Checks the name can prefix Kubernetes object names (a DNS-1123 label of ≤ 50 characters,
/// leaving room for the suffixes).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name {name:?}: use at most 50 lowercase letters, digits and '-', not starting or ending with '-' (a Kubernetes object name)"
        ))
    }
}

/// A safe default name from a profile name.
pub fn default_name(profile: &str) -> String {
    let mut n: String = profile
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n.truncate(40);
    let n = n.trim_matches('-');
    if n.is_empty() {
        "dobench".into()
    } else {
        format!("dobench-{n}")
    }
}

/// The labels every object carries, indented by `indent` spaces.
fn labels_at(name: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}app.kubernetes.io/name: dobench\n{pad}app.kubernetes.io/instance: {}\n",
        q(name)
    )
}

/// The manifests, as one YAML stream: ConfigMap, PersistentVolumeClaim, load Job, merge Job.
pub fn manifests(p: &K8sPlan) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# dobench: {} split {} ways against {}\n\
         # Start instant: {} ms since the epoch. Apply right away (`kubectl apply -f FILE`): pods\n\
         # that reach it late start late and say so in their parts. Results: `kubectl logs job/{}-merge`.",
        p.name, p.parts, p.target, p.start_at_ms, p.name
    );
    profile_map(p, &mut o);
    parts_claim(p, &mut o);
    load_job(p, &mut o);
    merge_job(p, &mut o);
    o
}

/// A YAML flow list of quoted strings.
fn flow(args: &[String]) -> String {
    args.iter().map(|a| q(a)).collect::<Vec<_>>().join(", ")
}

/// The ConfigMap holding the profile's text.
fn profile_map(p: &K8sPlan, o: &mut String) {
    let _ = write!(
        o,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  labels:\n{}data:\n  profile.toml: |2\n",
        q(&format!("{}-profile", p.name)),
        labels_at(&p.name, 4)
    );
    for line in p.profile_text.lines() {
        if line.trim().is_empty() {
            o.push('\n');
        } else {
            let _ = writeln!(o, "    {line}");
        }
    }
}

/// The shared volume the parts are written to.
fn parts_claim(p: &K8sPlan, o: &mut String) {
    let class = p
        .storage_class
        .as_ref()
        .map(|c| format!("  storageClassName: {}\n", q(c)))
        .unwrap_or_default();
    let _ = write!(
        o,
        "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {}\n  labels:\n{}spec:\n  accessModes: [\"ReadWriteMany\"]\n{class}  resources:\n    requests:\n      storage: {}\n",
        q(&format!("{}-parts", p.name)),
        labels_at(&p.name, 4),
        q(&p.storage)
    );
}

/// The Indexed Job: one pod per segment, its completion index as the segment.
fn load_job(p: &K8sPlan, o: &mut String) {
    let mut args = vec![
        "run".to_string(),
        "/profile/profile.toml".into(),
        "--target".into(),
        p.target.clone(),
        "--allow-remote".into(),
        "--segment".into(),
        format!("$(DOBENCH_SEGMENT)/{}", p.parts),
        "--start-at".into(),
        p.start_at_ms.to_string(),
        "--out".into(),
        "/parts/part-$(DOBENCH_SEGMENT).json".into(),
    ];
    for s in &p.overrides {
        args.push("--set".into());
        args.push(s.clone());
    }
    let volumes = format!(
        "      volumes:\n        - name: profile\n          configMap:\n            name: {}\n        - name: parts\n          persistentVolumeClaim:\n            claimName: {}\n",
        q(&format!("{}-profile", p.name)),
        q(&format!("{}-parts", p.name))
    );
    let _ = write!(
        o,
        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  labels:\n{labels}spec:\n  completionMode: Indexed\n  completions: {n}\n  parallelism: {n}\n  backoffLimit: 0\n  template:\n    metadata:\n      labels:\n{pod_labels}    spec:\n      restartPolicy: Never\n{security}      containers:\n        - name: load\n          image: {image}\n          args: [{args}]\n          env:\n            - name: DOBENCH_SEGMENT\n              valueFrom:\n                fieldRef:\n                  fieldPath: \"metadata.annotations['batch.kubernetes.io/job-completion-index']\"\n          resources:\n            requests: {{cpu: {cpu}, memory: {mem}}}\n            limits: {{cpu: {cpu}, memory: {mem}}}\n          volumeMounts:\n            - {{name: profile, mountPath: /profile, readOnly: true}}\n            - {{name: parts, mountPath: /parts}}\n{volumes}",
        name = q(&format!("{}-load", p.name)),
        labels = labels_at(&p.name, 4),
        n = p.parts,
        pod_labels = labels_at(&p.name, 8),
        security = SECURITY,
        image = q(&p.image),
        args = flow(&args),
        cpu = q(&p.cpu),
        mem = q(&p.memory),
    );
}

/// The Job that waits for every part and merges them into one run.
fn merge_job(p: &K8sPlan, o: &mut String) {
    // The load's length, its last timeout, and ten minutes for the slowest pod to start.
    let wait_s = p.duration.as_secs() + 2 * p.timeout.as_secs() + 600;
    let args = [
        "merge".to_string(),
        "/parts".into(),
        "--wait".into(),
        format!("{wait_s}s"),
        "--allow-remote".into(),
        "--db".into(),
        "/parts/results.db".into(),
        "--json".into(),
    ];
    let _ = write!(
        o,
        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  labels:\n{labels}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n{security}      containers:\n        - name: merge\n          image: {image}\n          args: [{args}]\n          resources:\n            requests: {{cpu: \"500m\", memory: \"512Mi\"}}\n          volumeMounts:\n            - {{name: parts, mountPath: /parts}}\n      volumes:\n        - name: parts\n          persistentVolumeClaim:\n            claimName: {claim}\n",
        name = q(&format!("{}-merge", p.name)),
        labels = labels_at(&p.name, 4),
        image = q(&p.image),
        args = flow(&args),
        claim = q(&format!("{}-parts", p.name)),
        security = SECURITY,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> K8sPlan {
        K8sPlan {
            name: "dobench-sharded-counter".into(),
            profile_text: "name = \"x\"\n\n[load]\nrate = 100\n".into(),
            overrides: vec!["load.rate=40000".into()],
            parts: 8,
            image: "ghcr.io/me/dobench:1".into(),
            target: "https://w.example.workers.dev".into(),
            start_at_ms: 1_800_000_000_000,
            duration: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            cpu: "2".into(),
            memory: "1Gi".into(),
            storage: "1Gi".into(),
            storage_class: None,
        }
    }

    #[test]
    fn an_indexed_job_runs_one_segment_per_completion_index() {
        let y = manifests(&plan());
        assert!(y.contains("completionMode: Indexed"), "{y}");
        assert!(y.contains("completions: 8\n  parallelism: 8"), "{y}");
        assert!(
            y.contains(r#""--segment", "$(DOBENCH_SEGMENT)/8", "--start-at", "1800000000000""#),
            "{y}"
        );
        assert!(
            y.contains("batch.kubernetes.io/job-completion-index"),
            "{y}"
        );
        assert!(y.contains(r#""--set", "load.rate=40000""#), "{y}");
        assert!(y.contains("    [load]\n    rate = 100\n"), "{y}");
        assert!(
            y.contains(r#"args: ["merge", "/parts", "--wait", "680s""#),
            "{y}"
        );
        assert_eq!(y.matches("\n---\n").count(), 3, "four documents");
    }

    #[test]
    fn names_must_be_kubernetes_names() {
        assert!(check_name("dobench-x1").is_ok());
        assert!(check_name("Dobench").is_err());
        assert!(check_name("-x").is_err());
        assert_eq!(default_name("Sharded Counter!"), "dobench-sharded-counter");
    }
}
