//! User-described HTTP traffic (`workload = "http"`, and `dobench http` with a URL
//! template): a [`RequestSource`] that, for each planned index, draws the key from the
//! keyspace, the request by weight, the shard from the strategy, and renders the compiled
//! templates ([`crate::http_spec::HttpPlan`]) against the target's base URL; it labels each
//! request with the object it reaches, so the executor's per-object books (rates against the
//! ceiling, TUI bars, report tables) work on any target. Answers are judged by the request's
//! checks, feed its captures (per executor worker: a closed-model virtual user or an
//! open-model connection) and the counter invariants; the verdict is built from their
//! tallies. Goes through the one executor; never parses a template per request and never
//! prints.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dobench_loadgen::http::{HeaderValue, Method};
use dobench_loadgen::summary::Check;
use dobench_loadgen::{executor, RequestSource, RequestSpec, Response};
use tokio_util::sync::CancellationToken;

use super::{fetch_all, run_config, schedule, verdict, Finished, Running};
use crate::error::Result;
use crate::http_spec::{CompiledRequest, Context, HttpPlan, Role};
use crate::invariant::CounterBooks;
use crate::keyspace::{Keyspace, KeyspaceSpec};
use crate::profile::Profile;
use crate::strategy::{mix64, Strategy};
use crate::template::Vars;

const PICK_SALT: u64 = 0x0b1e_c7ed_0000_0002;

/// The request source of user-described HTTP traffic.
pub struct HttpSource {
    plan: HttpPlan,
    keys: Keyspace,
    strategy: Strategy,
    /// Base URL without a trailing `/`.
    base: String,
    nonce: String,
    /// Captured values per executor worker (empty when the plan captures nothing).
    users: Vec<Mutex<Vec<Option<String>>>>,
    books: Option<CounterBooks>,
    /// Header values that rendered to something a header cannot carry (the header was left
    /// out of that request).
    bad_headers: std::sync::atomic::AtomicU64,
    /// URLs that rendered to something that is not a URL (that request went to the base
    /// URL instead; placeholders are escaped, so only a huge captured value does this).
    bad_urls: std::sync::atomic::AtomicU64,
}

impl HttpSource {
    /// A source for `plan` against `base`; `users` is the most executor workers the run
    /// has (captures are kept per worker).
    pub fn new(
        plan: HttpPlan,
        keyspace: &KeyspaceSpec,
        strategy: Strategy,
        base: &str,
        nonce: &str,
        users: usize,
    ) -> Result<HttpSource> {
        let slots = plan.captures.len();
        let users = if slots == 0 {
            Vec::new()
        } else {
            (0..users.max(1))
                .map(|_| Mutex::new(vec![None; slots]))
                .collect()
        };
        Ok(HttpSource {
            books: plan.invariants.as_ref().map(|_| CounterBooks::default()),
            plan,
            keys: Keyspace::new(keyspace)?,
            strategy,
            base: base.trim_end_matches('/').to_string(),
            nonce: nonce.to_string(),
            users,
            bad_headers: Default::default(),
            bad_urls: Default::default(),
        })
    }

    fn user(&self, user: usize) -> Option<std::sync::MutexGuard<'_, Vec<Option<String>>>> {
        let n = self.users.len();
        (n > 0).then(|| {
            self.users[user % n]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        })
    }

    fn request_of(&self, spec: &RequestSpec) -> Option<&CompiledRequest> {
        self.plan
            .requests
            .iter()
            .find(|r| Arc::ptr_eq(&r.op, &spec.op))
    }

    /// Renders request `r` with `vars` into a spec (the URL falls back to the base, counted
    /// as a failed check, when a rendering could not be parsed).
    fn render(&self, r: &CompiledRequest, vars: &Vars<'_>) -> RequestSpec {
        let mut url = String::with_capacity(self.base.len() + 64);
        url.push_str(&self.base);
        r.path.render_into(vars, &mut url);
        let mut spec = RequestSpec::new(r.op.clone(), r.method.clone(), &url)
            .or_else(|_| {
                self.bad_urls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                RequestSpec::new(r.op.clone(), r.method.clone(), &self.base)
            })
            .unwrap_or_else(|_| {
                RequestSpec::new(r.op.clone(), Method::GET, "http://127.0.0.1/")
                    .expect("static URL")
            });
        for (name, t) in &r.headers {
            match HeaderValue::try_from(t.render(vars)) {
                Ok(v) => {
                    spec.headers.append(name.clone(), v);
                }
                Err(_) => {
                    self.bad_headers
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        if let Some(b) = &r.body {
            spec.body = b.render(vars).into();
        }
        spec
    }

    /// The request for `index` as worker `user` sends it; `book`: count it as sent in the
    /// invariants' books.
    fn build(&self, user: usize, index: u64, book: bool) -> RequestSpec {
        let key = self.keys.pick(index);
        let mut which = self.plan.pick(mix64(index ^ PICK_SALT));
        let captures: Vec<Option<String>> = self.user(user).map(|c| c.clone()).unwrap_or_default();
        // A user without a value its request needs first sends the request that captures
        // it (a user with no session logs in first).
        for _ in 0..self.plan.requests.len() {
            let missing = self.plan.requests[which]
                .needs
                .iter()
                .find(|c| captures.get(**c).is_none_or(|v| v.is_none()));
            match missing {
                Some(c) if self.plan.providers[*c] != which => which = self.plan.providers[*c],
                _ => break,
            }
        }
        let r = &self.plan.requests[which];
        let shard = self.strategy.write_shard(key);
        let object = self.plan.object_name.render(&Vars {
            shard,
            nonce: &self.nonce,
            ..Vars::default()
        });
        let vars = Vars {
            key,
            object: &object,
            shard,
            seq: index,
            now_ms: now_ms(),
            nonce: &self.nonce,
            captures: &captures,
            ..Vars::default()
        };
        let mut spec = self.render(r, &vars);
        if let Some(t) = &r.object {
            let label: Arc<str> = match t.as_literal() {
                Some(l) => l.into(),
                None if *t == *DEFAULT_LABEL => object.as_str().into(),
                None => t.render(&vars).into(),
            };
            if let Some(books) = self.books.as_ref().filter(|_| book) {
                match r.role {
                    Some(Role::Increment) => books.increment_sent(&label, shard),
                    Some(Role::Read) => books.read_sent(index),
                    None => {}
                }
            }
            spec.object = Some(label);
        }
        spec
    }

    /// The verdict's checks: every request's answer checks, then the invariants (whose
    /// final reads this sends, at most 16 at once, each bounded by `timeout`).
    pub async fn checks(&self, timeout: Duration) -> Result<Vec<Check>> {
        let mut out: Vec<Check> = self
            .plan
            .requests
            .iter()
            .flat_map(|r| r.checks.verdicts(&r.op, &self.plan.captures))
            .collect();
        let bad = self.bad_headers.load(std::sync::atomic::Ordering::Relaxed);
        if bad > 0 {
            out.push(super::check(
                "header values render to valid headers",
                false,
                format!("{bad} header values held bytes a header cannot carry and were left out"),
            ));
        }
        let bad = self.bad_urls.load(std::sync::atomic::Ordering::Relaxed);
        if bad > 0 {
            out.push(super::check(
                "paths render to valid URLs",
                false,
                format!(
                    "{bad} requests rendered a path that is not a URL and went to the base URL"
                ),
            ));
        }
        if let (Some(books), Some(inv)) = (&self.books, &self.plan.invariants) {
            let objects = books.incremented();
            let read = &self.plan.requests[inv.read];
            let specs: Vec<RequestSpec> = objects
                .iter()
                .map(|(name, shard)| {
                    let vars = Vars {
                        object: name,
                        shard: *shard,
                        nonce: &self.nonce,
                        ..Vars::default()
                    };
                    self.render(read, &vars)
                })
                .collect();
            let answers = fetch_all(specs, 16, timeout).await;
            let finals: Vec<(Arc<str>, Option<u64>)> = objects
                .into_iter()
                .zip(answers)
                .map(|((name, _), a)| (name, a.and_then(|a| counter_value(&a, &inv.value))))
                .collect();
            out.extend(books.verdicts(&finals, inv.by));
        }
        Ok(out)
    }
}

fn counter_value(a: &Response, p: &crate::answer::Pointer) -> Option<u64> {
    if !(200..300).contains(&a.status) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
    let n = p.find(&v)?;
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
            .map(|f| f as u64)
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RequestSource for HttpSource {
    /// Not a send (the executor asks it for the URL to preconnect to): nothing is booked.
    fn request(&self, index: u64) -> RequestSpec {
        self.build(0, index, false)
    }

    fn request_as(&self, user: usize, index: u64) -> RequestSpec {
        self.build(user, index, true)
    }
    fn observe_as(&self, user: usize, index: u64, spec: &RequestSpec, response: &Response) {
        let Some(r) = self.request_of(spec) else {
            return;
        };
        let counted = self.books.is_some() && r.role.is_some();
        let ok = (200..300).contains(&response.status);
        let json = ((r.checks.needs_json() || counted) && ok)
            .then(|| serde_json::from_slice::<serde_json::Value>(&response.body).ok())
            .flatten();
        match self.user(user) {
            Some(mut caps) => r.checks.judge(response.status, json.as_ref(), &mut caps),
            None => r.checks.judge(response.status, json.as_ref(), &mut []),
        }
        if let (Some(books), Some(inv), Some(obj)) =
            (&self.books, &self.plan.invariants, &spec.object)
        {
            match r.role {
                Some(Role::Increment) => books.increment_answered(obj, response.status),
                Some(Role::Read) => {
                    let value = json
                        .as_ref()
                        .and_then(|v| inv.value.find(v))
                        .and_then(serde_json::Value::as_u64);
                    books.read_answered(index, obj, value);
                }
                None => {}
            }
        }
    }

    fn unsent(&self, index: u64, spec: &RequestSpec) {
        if let (Some(books), Some(r)) = (&self.books, self.request_of(spec)) {
            let inc = (r.role == Some(Role::Increment))
                .then_some(spec.object.as_ref())
                .flatten();
            books.unsent(index, inc);
        }
    }
}

static DEFAULT_LABEL: std::sync::LazyLock<crate::template::Template> =
    std::sync::LazyLock::new(|| {
        crate::template::Template::compile(
            "{object}",
            &crate::template::Scope {
                object: true,
                ..Default::default()
            },
            crate::template::Escape::None,
        )
        .expect("static template")
    });

/// Starts a `workload = "http"` profile against `base`.
pub fn start(
    profile: &Profile,
    base: String,
    nonce: &str,
    cancel: CancellationToken,
) -> Result<Running> {
    let plan = HttpPlan::compile(
        &profile.http,
        Context {
            strategy: profile.strategy_given,
        },
    )
    .map_err(|e| crate::error::Error::Invalid(format!("{}: {}", e.field(), e.message)))?;
    let users = profile
        .load
        .max_in_flight
        .max(profile.load.vus.unwrap_or(0) as usize);
    let source = Arc::new(HttpSource::new(
        plan,
        &profile.keyspace,
        profile.strategy,
        &base,
        nonce,
        users,
    )?);
    let config = run_config(&profile.load, schedule(&profile.load));
    let timeout = profile.load.timeout.0;
    let handle = executor::start(config, source.clone(), cancel)?;
    let snapshots = handle.snapshots.clone();
    let task = tokio::spawn(async move {
        let outcome = handle.wait().await?;
        let checks = source.checks(timeout).await?;
        Ok(Finished {
            objects_used: outcome.snapshot.objects_total,
            outcome,
            correctness: verdict(checks),
            alarms: None,
            read_fan_in: 1,
            notes: Vec::new(),
            evidence: None,
        })
    });
    Ok(Running { snapshots, task })
}
