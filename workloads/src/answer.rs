//! Checks on answers of user-described requests: expected statuses, JSON-pointer assertions
//! on 2xx bodies (equals, matches a regex, is of a JSON kind) and captures (a pointer's value
//! kept for later `{name}` placeholders of the same virtual user). Compiled once per profile
//! (pointers validated, regexes built); judged on the executor's hot path with atomics and
//! one short mutex only for the first failing example. Never sends anything and never fails
//! a run by itself: the tallies become named checks in the correctness verdict.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use dobench_loadgen::summary::Check;
use serde::Deserialize;
use serde_json::Value;

use crate::http_spec::HttpRequestSpec;

/// One `[[http.requests.checks]]` entry: a pointer and exactly one assertion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyCheckSpec {
    /// RFC 6901 JSON pointer (`/value`, `/items/0/id`).
    pub pointer: String,
    /// The value there equals this (TOML value compared as JSON; integers equal floats of
    /// the same value).
    pub equals: Option<toml::Value>,
    /// The value there is a string matching this regex.
    pub matches: Option<String>,
    /// The value there is of this JSON kind.
    pub is: Option<JsonKind>,
}

/// A JSON value's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonKind {
    Number,
    String,
    Bool,
    Null,
    Array,
    Object,
}

impl JsonKind {
    fn of(v: &Value) -> JsonKind {
        match v {
            Value::Number(_) => JsonKind::Number,
            Value::String(_) => JsonKind::String,
            Value::Bool(_) => JsonKind::Bool,
            Value::Null => JsonKind::Null,
            Value::Array(_) => JsonKind::Array,
            Value::Object(_) => JsonKind::Object,
        }
    }

    fn word(&self) -> &'static str {
        match self {
            JsonKind::Number => "number",
            JsonKind::String => "string",
            JsonKind::Bool => "bool",
            JsonKind::Null => "null",
            JsonKind::Array => "array",
            JsonKind::Object => "object",
        }
    }
}

/// A validated JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer(String);

impl Pointer {
    /// Checks RFC 6901 syntax: empty, or `/`-separated tokens where `~` is only `~0`/`~1`.
    pub fn parse(s: &str) -> Result<Pointer, String> {
        if !s.is_empty() && !s.starts_with('/') {
            return Err(format!(
                "JSON pointer {s:?} must be empty or start with `/` (e.g. \"/value\")"
            ));
        }
        let b = s.as_bytes();
        for (i, c) in b.iter().enumerate() {
            if *c == b'~' && !matches!(b.get(i + 1), Some(b'0') | Some(b'1')) {
                return Err(format!(
                    "JSON pointer {s:?}: `~` must be followed by 0 or 1 (~0 is `~`, ~1 is `/`)"
                ));
            }
        }
        Ok(Pointer(s.to_string()))
    }

    /// The value at the pointer.
    pub fn find<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        v.pointer(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug)]
enum Assertion {
    Equals(Value),
    Matches(regex::Regex),
    Is(JsonKind),
}

/// How many answers one check saw, how many failed it, and the first failure.
#[derive(Debug, Default)]
pub struct Tally {
    seen: AtomicU64,
    failed: AtomicU64,
    example: Mutex<Option<String>>,
}

impl Tally {
    fn pass(&self) {
        self.seen.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, why: impl FnOnce() -> String) {
        self.seen.fetch_add(1, Ordering::Relaxed);
        if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.example.lock().unwrap_or_else(PoisonError::into_inner) = Some(why());
        }
    }

    fn check(&self, name: String) -> Check {
        let seen = self.seen.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let example = self
            .example
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let detail = match example {
            Some(e) if failed > 0 => format!("{failed} of {seen} answers failed, e.g. {e}"),
            _ => format!("{seen} answers, none failed"),
        };
        Check {
            name,
            passed: failed == 0,
            detail,
        }
    }
}

/// The compiled checks and captures of one request.
#[derive(Debug, Default)]
pub struct AnswerChecks {
    expect: Vec<u16>,
    status: Tally,
    body: Vec<(Pointer, Assertion, Tally)>,
    /// (capture index, pointer, tally).
    captures: Vec<(usize, Pointer, Tally)>,
}

/// A compile error: the field path below the request (`["checks", "1", "pointer"]`) and why.
pub type CheckError = (Vec<String>, String);

impl AnswerChecks {
    /// Compiles a request's `expect_status`, `checks` and `capture`; `names` are every
    /// capture name of the profile (capture indices index it).
    pub fn compile(r: &HttpRequestSpec, names: &[String]) -> Result<AnswerChecks, CheckError> {
        if let Some(bad) = r.expect_status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err((
                vec!["expect_status".into()],
                format!("{bad} is not an HTTP status (100–599)"),
            ));
        }
        let mut body = Vec::new();
        for (i, c) in r.checks.iter().enumerate() {
            let at = |f: &str| vec!["checks".to_string(), i.to_string(), f.to_string()];
            let pointer = Pointer::parse(&c.pointer).map_err(|m| (at("pointer"), m))?;
            let assertion = match (&c.equals, &c.matches, &c.is) {
                (Some(v), None, None) => Assertion::Equals(
                    serde_json::to_value(v).map_err(|e| (at("equals"), e.to_string()))?,
                ),
                (None, Some(re), None) => Assertion::Matches(
                    regex::Regex::new(re)
                        .map_err(|e| (at("matches"), format!("bad regex: {e}")))?,
                ),
                (None, None, Some(k)) => Assertion::Is(*k),
                _ => {
                    return Err((
                        vec!["checks".into(), i.to_string()],
                        "a check needs exactly one of `equals`, `matches` or `is`".into(),
                    ))
                }
            };
            body.push((pointer, assertion, Tally::default()));
        }
        let mut captures = Vec::new();
        for (name, p) in &r.capture {
            let at = vec!["capture".to_string(), name.clone()];
            let builtin = [
                "key",
                "object",
                "shard",
                "seq",
                "uuid",
                "now_ms",
                "nonce",
                "msg_id",
                "intended_us",
            ];
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || builtin.contains(&name.as_str())
            {
                return Err((
                    at,
                    format!("capture name {name:?} must be letters, digits and `_`, and not a built-in placeholder"),
                ));
            }
            let pointer = Pointer::parse(p).map_err(|m| (at.clone(), m))?;
            let idx = names.iter().position(|n| n == name).unwrap_or(0);
            captures.push((idx, pointer, Tally::default()));
        }
        Ok(AnswerChecks {
            expect: r.expect_status.clone(),
            status: Tally::default(),
            body,
            captures,
        })
    }

    /// True when answers' bodies must be parsed as JSON.
    pub fn needs_json(&self) -> bool {
        !self.body.is_empty() || !self.captures.is_empty()
    }

    /// Judges one answer; `json` is its parsed body when [`needs_json`](Self::needs_json)
    /// (and the status is 2xx); captured values land in `captured`.
    pub fn judge(&self, status: u16, json: Option<&Value>, captured: &mut [Option<String>]) {
        if !self.expect.is_empty() {
            if self.expect.contains(&status) {
                self.status.pass();
            } else {
                self.status.fail(|| format!("status {status}"));
            }
        }
        if !(200..300).contains(&status) {
            return;
        }
        for (p, a, t) in &self.body {
            let Some(doc) = json else {
                t.fail(|| "the body is not JSON".into());
                continue;
            };
            match (p.find(doc), a) {
                (None, _) => t.fail(|| format!("no value at {}", p.as_str())),
                (Some(v), Assertion::Equals(want)) if !json_eq(v, want) => {
                    t.fail(|| format!("{v} ≠ {want}"))
                }
                (Some(v), Assertion::Matches(re))
                    if !v.as_str().is_some_and(|s| re.is_match(s)) =>
                {
                    t.fail(|| format!("{v} does not match"))
                }
                (Some(v), Assertion::Is(k)) if JsonKind::of(v) != *k => {
                    t.fail(|| format!("{v} is a {}", JsonKind::of(v).word()))
                }
                _ => t.pass(),
            }
        }
        for (idx, p, t) in &self.captures {
            match json.and_then(|d| p.find(d)) {
                Some(v) => {
                    t.pass();
                    if let Some(slot) = captured.get_mut(*idx) {
                        *slot = Some(match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                    }
                }
                None => t.fail(|| format!("no value at {}", p.as_str())),
            }
        }
    }

    /// The named checks for the verdict (`op` names the request); empty when none are set.
    pub fn verdicts(&self, op: &str, capture_names: &[String]) -> Vec<Check> {
        let mut out = Vec::new();
        if !self.expect.is_empty() {
            out.push(
                self.status
                    .check(format!("{op}: status in {:?}", self.expect)),
            );
        }
        for (p, a, t) in &self.body {
            let what = match a {
                Assertion::Equals(v) => format!("equals {v}"),
                Assertion::Matches(re) => format!("matches /{}/", re.as_str()),
                Assertion::Is(k) => format!("is a {}", k.word()),
            };
            out.push(t.check(format!("{op}: {} {what}", p.as_str())));
        }
        for (idx, p, t) in &self.captures {
            let name = capture_names.get(*idx).map_or("?", String::as_str);
            out.push(t.check(format!("{op}: captures {{{name}}} from {}", p.as_str())));
        }
        out
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_are_validated() {
        assert!(Pointer::parse("/value").is_ok());
        assert!(Pointer::parse("").is_ok());
        assert!(Pointer::parse("/a~1b/~0").is_ok());
        assert!(Pointer::parse("value")
            .unwrap_err()
            .contains("start with `/`"));
        assert!(Pointer::parse("/a~2").unwrap_err().contains("~0 is"));
    }

    #[test]
    fn judges_status_body_and_captures() {
        let spec: HttpRequestSpec = toml::from_str(
            r#"
            path = "/x"
            expect_status = [200, 429]
            checks = [{ pointer = "/n", is = "number" }, { pointer = "/s", matches = "^ab" }, { pointer = "/n", equals = 3 }]
            capture = { tok = "/s" }
            "#,
        )
        .unwrap();
        let names = vec!["tok".to_string()];
        let c = AnswerChecks::compile(&spec, &names).unwrap();
        let mut caps = vec![None];
        let good = serde_json::json!({"n": 3.0, "s": "abc"});
        c.judge(200, Some(&good), &mut caps);
        assert_eq!(caps[0].as_deref(), Some("abc"));
        c.judge(429, None, &mut caps);
        let bad = serde_json::json!({"n": "3", "s": "zz"});
        c.judge(500, Some(&bad), &mut caps);
        c.judge(200, Some(&bad), &mut caps);
        let v = c.verdicts("like", &names);
        assert_eq!(v.len(), 5, "{v:?}");
        assert!(
            !v[0].passed
                && v[0]
                    .detail
                    .starts_with("1 of 4 answers failed, e.g. status 500")
        );
        assert!(!v[1].passed && v[1].detail.contains("is a string"), "{v:?}");
        assert!(!v[2].passed);
        assert!(!v[3].passed);
        assert!(v[4].passed, "{v:?}");
    }
}
