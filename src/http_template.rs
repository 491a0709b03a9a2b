//! `dobench http` with a URL template: turns the URL (`http://127.0.0.1:8787/v1/{object}/x`),
//! `-X/-H/--body` and the keyspace/strategy flags into the same `[http]` request a profile
//! would hold, compiles it once (errors name the flag at fault), and builds the workload
//! layer's `HttpSource`, so an ad-hoc command and a profile share one template language and
//! one request path. Also used by `dobench init` to check what it writes. Never sends
//! anything itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use dobench_workloads::http_spec::{Context, HttpOptions, HttpPlan, HttpRequestSpec};
use dobench_workloads::keyspace::{Distribution, KeyspaceSpec};
use dobench_workloads::traffic::http::HttpSource;
use dobench_workloads::Strategy;

use crate::cli::HttpTemplateArgs;

/// A URL split into its base (`scheme://authority`) and its path-and-query.
pub fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let after = url
        .find("://")
        .map(|i| i + 3)
        .with_context(|| format!("{url:?} is not an absolute URL (http://HOST:PORT/PATH)"))?;
    let cut = url[after..].find('/').map_or(url.len(), |i| after + i);
    let (base, path) = url.split_at(cut);
    if base.contains('{') {
        bail!("{url:?}: placeholders may appear only in the path and query, not the host");
    }
    Ok((base, if path.is_empty() { "/" } else { path }))
}

/// True when the URL has a placeholder or a template flag was given.
pub fn is_template(path: &str, t: &HttpTemplateArgs) -> bool {
    let probe = dobench_workloads::template::Scope {
        object: true,
        shard: true,
        per_request: true,
        ..Default::default()
    };
    let has_slot = dobench_workloads::template::Template::compile(
        path,
        &probe,
        dobench_workloads::template::Escape::Path,
    )
    .map_or(true, |t| t.as_literal().is_none());
    has_slot
        || t.key_space.is_some()
        || t.zipf.is_some()
        || t.strategy.is_some()
        || t.object_name.is_some()
        || t.object.is_some()
}

/// The keyspace the flags describe (default: 1000 uniform keys, as in a profile).
pub fn keyspace(t: &HttpTemplateArgs) -> KeyspaceSpec {
    let mut k = KeyspaceSpec::default();
    if let Some(n) = t.key_space {
        k.keys = n;
    }
    if let Some(s) = t.zipf {
        k.distribution = Distribution::Zipf;
        k.s = s;
    }
    k
}

/// The one request the flags describe, as a profile's `[[http.requests]]` would hold it.
pub fn request(
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<&str>,
    t: &HttpTemplateArgs,
) -> anyhow::Result<HttpRequestSpec> {
    let mut map = BTreeMap::new();
    for h in headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("-H {h:?} is not `name: value`"))?;
        map.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(HttpRequestSpec {
        name: Some(method.to_ascii_uppercase()),
        weight: 1,
        method: method.to_string(),
        path: path.to_string(),
        headers: map,
        body: body.map(str::to_string),
        object: t.object.clone(),
        expect_status: Vec::new(),
        checks: Vec::new(),
        capture: BTreeMap::new(),
        role: None,
    })
}

/// Compiles the flags' request; an error names the flag at fault.
pub fn compile(req: HttpRequestSpec, t: &HttpTemplateArgs) -> anyhow::Result<HttpPlan> {
    let options = HttpOptions {
        object_name: t.object_name.clone(),
        requests: vec![req],
        invariants: None,
    };
    let ctx = Context {
        strategy: t.strategy.is_some(),
    };
    HttpPlan::compile(&options, ctx).map_err(|e| {
        let flag = match e.path.get(3).map(String::as_str) {
            _ if e.path.get(1).map(String::as_str) == Some("object_name") => "--object-name",
            Some("path") => "the URL template",
            Some("headers") => "-H",
            Some("body") => "--body",
            Some("object") => "--object",
            Some("method") => "--method",
            _ => "the request",
        };
        anyhow::anyhow!("{flag}: {}", e.message)
    })
}

/// The strategy the flags name (`single` when none).
pub fn strategy(t: &HttpTemplateArgs) -> anyhow::Result<Strategy> {
    Ok(match &t.strategy {
        Some(s) => s.parse().context("--strategy")?,
        None => Strategy::Single,
    })
}

/// The request source for a templated `dobench http` run.
pub fn source(
    base: &str,
    plan: HttpPlan,
    t: &HttpTemplateArgs,
    connections: usize,
) -> anyhow::Result<Arc<HttpSource>> {
    let nonce = dobench_workloads::traffic::new_nonce();
    let source = HttpSource::new(plan, &keyspace(t), strategy(t)?, base, &nonce, connections)
        .map_err(|e| anyhow::anyhow!("--key-space/--zipf: {e}"))?;
    Ok(Arc::new(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_at_the_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8787/v1/{key}?a=1").unwrap(),
            ("http://127.0.0.1:8787", "/v1/{key}?a=1")
        );
        assert_eq!(
            split_url("http://localhost:1").unwrap(),
            ("http://localhost:1", "/")
        );
        assert!(split_url("http://{object}.local/").is_err());
        assert!(split_url("/v1").is_err());
    }
}
