//! The `[http]` section of a `workload = "http"` profile as written (TOML shape), and its
//! compilation, once, into an [`HttpPlan`]: weighted requests whose method, path, headers,
//! body and object label are compiled [`Template`]s, with their answer checks and captures
//! ([`crate::answer`]) and the optional counter invariants. Compile errors carry the dotted
//! field path (`http.requests[1].path`) and the offset inside the field's text, so the
//! profile loader can name file, line and field. Never touches the network and never
//! renders anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use dobench_loadgen::http::{HeaderName, Method};
use serde::Deserialize;

use crate::answer::{AnswerChecks, BodyCheckSpec, Pointer};
use crate::template::{Escape, Placeholder, Scope, Template};

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// What `{object}` renders as: a template over `{shard}` and `{nonce}` (default
    /// `obj-{nonce}-{shard}`: fresh objects every run).
    pub object_name: Option<String>,
    /// The requests, picked by weight.
    #[serde(default)]
    pub requests: Vec<HttpRequestSpec>,
    /// Counter invariants judged from answers alone (needs requests with `role`).
    pub invariants: Option<InvariantSpec>,
}

/// The default `{object}` naming template.
pub const DEFAULT_OBJECT_NAME: &str = "obj-{nonce}-{shard}";

/// One `[[http.requests]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestSpec {
    /// Operation name in the per-op statistics (default: `METHOD path`).
    pub name: Option<String>,
    /// Relative weight (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default = "get")]
    pub method: String,
    /// Path and query template, appended to the target's base URL.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// Template naming the Durable Object this request reaches, for per-object analysis
    /// (default `{object}` when a strategy is set; none otherwise; `""`: none).
    pub object: Option<String>,
    /// Statuses that count as a good answer (e.g. `[200, 429]`); empty: not checked.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Assertions on JSON bodies of 2xx answers.
    #[serde(default)]
    pub checks: Vec<BodyCheckSpec>,
    /// `name = "/json/pointer"`: takes a value from a 2xx answer for later `{name}`s of the
    /// same virtual user.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// What the request does to a counter, for `[http.invariants]`.
    pub role: Option<Role>,
}

fn one() -> u32 {
    1
}
fn get() -> String {
    "GET".into()
}

/// A request's part in the counter invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Increment,
    Read,
}

/// `[http.invariants]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantSpec {
    /// Pointer to the counter's value in a read's (2xx) answer.
    pub value: String,
    /// What one acknowledged increment adds (default 1).
    #[serde(default = "one_u64")]
    pub by: u64,
}

fn one_u64() -> u64 {
    1
}

/// A compile error: the dotted field, the offset inside its text (if known), the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Path to the field for locating it in the TOML (`["http","requests","1","path"]`).
    pub path: Vec<String>,
    /// Byte offset inside the field's string value.
    pub offset: Option<usize>,
    pub message: String,
}

impl CompileError {
    pub(crate) fn new(path: &[&str], offset: Option<usize>, message: impl Into<String>) -> Self {
        CompileError {
            path: path.iter().map(|s| s.to_string()).collect(),
            offset,
            message: message.into(),
        }
    }

    /// `http.requests[1].path` for messages.
    pub fn field(&self) -> String {
        let mut s = String::new();
        for p in &self.path {
            if p.parse::<usize>().is_ok() {
                s += &format!("[{p}]");
            } else {
                if !s.is_empty() {
                    s.push('.');
                }
                s += p;
            }
        }
        s
    }
}

/// One compiled request.
#[derive(Debug)]
pub struct CompiledRequest {
    pub op: Arc<str>,
    pub method: Method,
    pub path: Template,
    pub headers: Vec<(HeaderName, Template)>,
    pub body: Option<Template>,
    pub object: Option<Template>,
    pub checks: AnswerChecks,
    /// Capture indices the request's templates read.
    pub needs: Vec<usize>,
    pub role: Option<Role>,
}

/// The compiled `[http]` section.
#[derive(Debug)]
pub struct HttpPlan {
    pub object_name: Template,
    pub requests: Vec<CompiledRequest>,
    /// Cumulative weights (last = total).
    pub cumulative: Vec<u64>,
    /// Every capture name, in the order of capture indices.
    pub captures: Vec<String>,
    /// The request that captures each capture index first.
    pub providers: Vec<usize>,
    pub invariants: Option<CompiledInvariants>,
}

/// The compiled invariants.
#[derive(Debug)]
pub struct CompiledInvariants {
    pub value: Pointer,
    pub by: u64,
    /// The read request (rendered once per object for the final reads).
    pub read: usize,
}

/// What the compiler needs to know besides the section.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The profile (or command line) set a sharding strategy.
    pub strategy: bool,
}

impl HttpPlan {
    /// Compiles the section; `ctx.strategy` says whether `{object}`/`{shard}` may be used.
    pub fn compile(o: &HttpOptions, ctx: Context) -> Result<HttpPlan, CompileError> {
        if o.requests.is_empty() {
            return Err(CompileError::new(
                &["http", "requests"],
                None,
                "a `workload = \"http\"` profile needs at least one [[http.requests]] entry",
            ));
        }
        let object_text = o.object_name.as_deref().unwrap_or(DEFAULT_OBJECT_NAME);
        let naming = Scope {
            shard: true,
            ..Scope::default()
        };
        let object_name = Template::compile(object_text, &naming, Escape::None)
            .map_err(|e| CompileError::new(&["http", "object_name"], Some(e.offset), e.message))?;
        if ctx.strategy && !object_name.uses(Placeholder::Shard) {
            return Err(CompileError::new(
                &["http", "object_name"],
                None,
                "http.object_name must use {shard}, or every shard would have one name",
            ));
        }
        let captures: Vec<String> = o
            .requests
            .iter()
            .flat_map(|r| r.capture.keys().cloned())
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        let mut requests = Vec::with_capacity(o.requests.len());
        for (i, r) in o.requests.iter().enumerate() {
            requests.push(compile_request(i, r, &captures, ctx)?);
        }
        let mut names: Vec<&str> = requests.iter().map(|r| &*r.op).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            let i = requests.iter().rposition(|r| &*r.op == w[0]).unwrap_or(0);
            return Err(CompileError::new(
                &["http", "requests", &i.to_string(), "name"],
                None,
                format!("two requests are named {:?}: names must differ (they are the per-op statistics' keys)", w[0]),
            ));
        }
        let mut acc = 0;
        let cumulative = o
            .requests
            .iter()
            .map(|r| {
                acc += u64::from(r.weight);
                acc
            })
            .collect();
        if acc == 0 {
            return Err(CompileError::new(
                &["http", "requests", "0", "weight"],
                None,
                "every request has weight 0: at least one must be positive",
            ));
        }
        let providers = captures
            .iter()
            .map(|c| {
                o.requests
                    .iter()
                    .position(|r| r.capture.contains_key(c))
                    .unwrap_or(0)
            })
            .collect();
        let invariants = match &o.invariants {
            Some(spec) => Some(compile_invariants(spec, &requests)?),
            None => None,
        };
        Ok(HttpPlan {
            object_name,
            requests,
            cumulative,
            captures,
            providers,
            invariants,
        })
    }

    /// The request for a uniform draw `u` in `0..total weight`.
    pub fn pick(&self, u: u64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let x = u % total;
        self.cumulative.partition_point(|&c| c <= x)
    }
}

fn compile_request(
    i: usize,
    r: &HttpRequestSpec,
    captures: &[String],
    ctx: Context,
) -> Result<CompiledRequest, CompileError> {
    let idx = i.to_string();
    let at = |field: &'static str| vec!["http", "requests", idx.as_str(), field];
    let scope = Scope {
        captures,
        object: ctx.strategy,
        shard: ctx.strategy,
        per_request: true,
        message: false,
        member: false,
    };
    let method = Method::from_bytes(r.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        CompileError::new(
            &at("method"),
            None,
            format!("{:?} is not an HTTP method", r.method),
        )
    })?;
    if !r.path.starts_with('/') {
        return Err(CompileError::new(
            &at("path"),
            Some(0),
            format!(
                "path {:?} must start with `/` (it is appended to the target's URL)",
                r.path
            ),
        ));
    }
    let path = Template::compile(&r.path, &scope, Escape::Path)
        .map_err(|e| CompileError::new(&at("path"), Some(e.offset), e.message))?;
    check_path_literals(&r.path).map_err(|m| CompileError::new(&at("path"), None, m))?;
    let mut headers = Vec::new();
    for (name, value) in &r.headers {
        let hpath = ["http", "requests", idx.as_str(), "headers", name.as_str()];
        let hname = HeaderName::try_from(name.as_str()).map_err(|_| {
            CompileError::new(&hpath, None, format!("{name:?} is not a valid header name"))
        })?;
        let t = Template::compile(value, &scope, Escape::None)
            .map_err(|e| CompileError::new(&hpath, Some(e.offset), e.message))?;
        headers.push((hname, t));
    }
    let body = match &r.body {
        Some(b) => Some(
            Template::compile(b, &scope, Escape::None)
                .map_err(|e| CompileError::new(&at("body"), Some(e.offset), e.message))?,
        ),
        None => None,
    };
    let object = match (&r.object, ctx.strategy) {
        (Some(o), _) if o.is_empty() => None,
        (Some(o), _) => Some(
            Template::compile(o, &scope, Escape::None)
                .map_err(|e| CompileError::new(&at("object"), Some(e.offset), e.message))?,
        ),
        (None, true) => Some(
            Template::compile("{object}", &scope, Escape::None)
                .map_err(|e| CompileError::new(&at("object"), None, e.message))?,
        ),
        (None, false) => None,
    };
    let checks = AnswerChecks::compile(r, captures).map_err(|(below, message)| {
        let mut path: Vec<String> = ["http", "requests", idx.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        path.extend(below);
        CompileError {
            path,
            offset: None,
            message,
        }
    })?;
    let mut needs: Vec<usize> = path
        .captures()
        .chain(headers.iter().flat_map(|(_, t)| t.captures()))
        .chain(body.iter().flat_map(|t| t.captures()))
        .collect();
    needs.sort_unstable();
    needs.dedup();
    let op = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{method} {}", r.path));
    Ok(CompiledRequest {
        op: op.into(),
        method,
        path,
        headers,
        body,
        object,
        checks,
        needs,
        role: r.role,
    })
}

/// Literal path text must be valid in a URL (placeholders are escaped when rendered).
pub(crate) fn check_path_literals(path: &str) -> Result<(), String> {
    match path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '#' | '"' | '<' | '>'))
    {
        Some(c) => Err(format!(
            "path holds {c:?}, which a URL cannot carry (percent-encode it)"
        )),
        None => Ok(()),
    }
}

fn compile_invariants(
    spec: &InvariantSpec,
    requests: &[CompiledRequest],
) -> Result<CompiledInvariants, CompileError> {
    let value = Pointer::parse(&spec.value)
        .map_err(|m| CompileError::new(&["http", "invariants", "value"], None, m))?;
    let reads: Vec<usize> = (0..requests.len())
        .filter(|&i| requests[i].role == Some(Role::Read))
        .collect();
    let increments = requests
        .iter()
        .filter(|r| r.role == Some(Role::Increment))
        .count();
    let [read] = reads.as_slice() else {
        return Err(CompileError::new(
            &["http", "invariants"],
            None,
            format!(
                "the invariants need exactly one request with role = \"read\" (found {})",
                reads.len()
            ),
        ));
    };
    if increments == 0 {
        return Err(CompileError::new(
            &["http", "invariants"],
            None,
            "the invariants need a request with role = \"increment\"",
        ));
    }
    let r = &requests[*read];
    let per_request = [
        Placeholder::Key,
        Placeholder::Seq,
        Placeholder::Uuid,
        Placeholder::Rand { lo: 0, hi: 0 },
        Placeholder::NowMs,
        Placeholder::Capture(0),
    ];
    let templates = std::iter::once(&r.path)
        .chain(r.headers.iter().map(|(_, t)| t))
        .chain(r.body.iter())
        .chain(r.object.iter());
    for t in templates {
        if per_request.iter().any(|p| t.uses(*p)) {
            return Err(CompileError::new(
                &["http", "requests", &read.to_string(), "path"],
                None,
                "the read request is rendered once per object for the invariants' final reads: its templates may use only {object}, {shard} and {nonce}",
            ));
        }
    }
    if requests
        .iter()
        .any(|q| q.role.is_some() && q.object.is_none())
    {
        return Err(CompileError::new(
            &["http", "invariants"],
            None,
            "the invariants are judged per object: set a strategy (or `object`) for the increment and read requests",
        ));
    }
    Ok(CompiledInvariants {
        value,
        by: spec.by,
        read: *read,
    })
}
