//! `dobench init [URL_TEMPLATE] -o FILE`: writes a commented starting profile
//! (`workload = "http"`) from a URL template and the same flags `dobench http` takes, for the
//! user to edit. The text is checked by the profile loader before it is written (a bad
//! template is exit 2 and no file); an existing file is kept unless `--force`. Never sends
//! anything.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use dobench_workloads::profile;

use crate::cli::InitArgs;

/// A TOML basic string of `s` (a JSON string's escapes are all valid TOML escapes).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The profile text for the flags.
pub fn render(a: &InitArgs) -> anyhow::Result<String> {
    let url = a
        .url
        .as_deref()
        .unwrap_or("http://127.0.0.1:8787/v1/items/{object}");
    let (base, path) = crate::http_template::split_url(url)?;
    let uses_object = path.contains("{object}") || path.contains("{shard}");
    let strategy = match (&a.template.strategy, uses_object) {
        (Some(s), _) => Some(s.clone()),
        (None, true) => Some("hash:16".to_string()),
        (None, false) => None,
    };
    let name = a.name.clone().unwrap_or_else(|| "my-workload".into());
    let method = a.method.to_ascii_uppercase();
    let mut t = String::new();
    t += &format!(
        "# {name}: a starting profile written by `dobench init`; edit it, then run it with\n\
         #   dobench run FILE --target {base}\n\
         # or let dobench start your server for the run (it fills in {{port}}):\n\
         #   dobench run FILE --target-cmd \"npx wrangler dev --port {{port}}\" --health-path /\n\
         # Placeholders: {{key}} (the logical key), {{object}} (the shard object the strategy\n\
         # picked for it), {{shard}} (its index), {{seq}}, {{uuid}}, {{rand:LO-HI}}, {{now_ms}},\n\
         # {{nonce}} (fresh every run) and values captured from earlier answers.\n"
    );
    t += &format!("name = {}\n", quoted(&name));
    t += &format!(
        "description = {}\n",
        quoted(&format!("{method} {path}, written by dobench init"))
    );
    t += "workload = \"http\"\n";
    t += "# Which object a key's requests reach: single, hash:N, jump:N, random:N or per-key.\n";
    match &strategy {
        Some(s) => t += &format!("strategy = {}\n", quoted(s)),
        None => t += "# strategy = \"hash:16\"\n",
    }
    t += "# A broken threshold makes `dobench run` exit 1 (for CI).\n";
    t += "thresholds = [\"p99_ms < 100\", \"error_rate < 1%\", \"correctness = true\"]\n\n";
    t += "[load]\n";
    t += "# Open model: `rate` requests/s for `duration` (closed: model = \"closed\", vus = N).\n";
    t += &format!("rate = {}\n", a.rate);
    t += &format!("duration = {}\n", quoted(&a.duration));
    t += "max_in_flight = 64\n\n";
    let keys = crate::http_template::keyspace(&a.template);
    t += "[keyspace]\n# The logical keys {key} draws from.\n";
    t += &format!("keys = {}\n", keys.keys);
    match a.template.zipf {
        Some(s) => t += &format!("distribution = \"zipf\"\ns = {s}\n\n"),
        None => t += "distribution = \"uniform\"   # or \"zipf\" with s = 0.8\n\n",
    }
    t += "[http]\n# What {object} renders as for shard N ({nonce}: fresh objects every run).\n";
    let object_name = a
        .template
        .object_name
        .as_deref()
        .unwrap_or(dobench_workloads::http_spec::DEFAULT_OBJECT_NAME);
    t += &format!("object_name = {}\n\n", quoted(object_name));
    t += "[[http.requests]]\n";
    t += &format!("name = {}\n", quoted(&method.to_ascii_lowercase()));
    t += "weight = 1\n";
    t += &format!("method = {}\n", quoted(&method));
    t += &format!("path = {}\n", quoted(path));
    if a.headers.is_empty() {
        t += "# headers = { \"content-type\" = \"application/json\" }\n";
    } else {
        let parts = a
            .headers
            .iter()
            .map(|h| {
                let (n, v) = h
                    .split_once(':')
                    .with_context(|| format!("-H {h:?} is not `name: value`"))?;
                Ok(format!("{} = {}", quoted(n.trim()), quoted(v.trim())))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        t += &format!("headers = {{ {} }}\n", parts.join(", "));
    }
    match &a.body {
        Some(b) => t += &format!("body = {}\n", quoted(b)),
        None => t += "# body = '{\"key\": \"{key}\"}'\n",
    }
    if let Some(o) = &a.template.object {
        t += &format!("object = {}\n", quoted(o));
    } else {
        t += "# The Durable Object this request reaches, for the per-object table.\n# object = \"{object}\"\n";
    }
    t += "# Statuses that count as good (429 is counted as a refusal either way).\n";
    t += "expect_status = [200]\n";
    t +=
        "# JSON-pointer assertions on 2xx bodies: equals, matches (a regex) or is (a JSON kind).\n";
    t += "# checks = [{ pointer = \"/value\", is = \"number\" }]\n";
    t += "# A value from the answer, for {session} in this virtual user's later requests.\n";
    t += "# capture = { session = \"/session\" }\n";
    Ok(t)
}

/// `dobench init`.
pub fn run(a: InitArgs) -> anyhow::Result<ExitCode> {
    let text = render(&a)?;
    let shown = a.output.display().to_string();
    profile::parse(&shown, &text, &[]).context("the profile dobench init would write")?;
    if a.output.exists() && !a.force {
        bail!("{shown} exists: give --force to overwrite it, or another -o FILE");
    }
    std::fs::write(&a.output, &text).with_context(|| format!("writing {shown}"))?;
    eprintln!("wrote {shown}: edit it, then `dobench run {shown} --target URL`");
    Ok(ExitCode::SUCCESS)
}
