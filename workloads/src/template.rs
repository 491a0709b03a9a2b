//! The template language of user-described traffic: text with placeholders (`{key}`,
//! `{object}`, `{shard}`, `{seq}`, `{uuid}`, `{rand:LO-HI}`, `{now_ms}`, `{nonce}`, values
//! captured from earlier answers by name, and — in WebSocket templates only — `{member}`,
//! plus `{msg_id}` and `{intended_us}` in send templates). A template is compiled once, when its profile (or
//! command line) is read, into literal runs and placeholder slots; rendering a request only
//! appends to a `String`. Must never re-parse text per request, do I/O, or panic on any
//! input: a bad template is a [`TemplateError`] naming where it went wrong.
//!
//! Syntax: `{name}` where `name` is letters, digits, `_`, `:`, `.` or `-` (starting with a
//! letter or `_`) is a placeholder; an unknown name is an error. Any other `{` is literal
//! text (so JSON bodies need no escaping), and `{{` writes one literal `{` (for a literal
//! `{key}`, write `{{key}`).

use std::fmt::Write as _;

/// One placeholder kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The logical key drawn from the keyspace.
    Key,
    /// The object (shard) name the strategy picked for the key.
    Object,
    /// The shard's index.
    Shard,
    /// The request's index in the schedule (unique within a run).
    Seq,
    /// A random UUID (version 4).
    Uuid,
    /// A uniform random whole number in `lo..=hi`.
    Rand { lo: u64, hi: u64 },
    /// Wall-clock time in ms since the Unix epoch.
    NowMs,
    /// The run's nonce (6 hex digits, fresh every run).
    Nonce,
    /// A value captured from an earlier answer of the same virtual user (index into the
    /// scope's capture names).
    Capture(usize),
    /// WebSocket send templates: the message's unique id.
    MsgId,
    /// WebSocket send templates: the message's intended send time (µs since the epoch).
    IntendedUs,
    /// WebSocket templates: the member's index in the run (`0..rooms × members`).
    Member,
}

impl Placeholder {
    /// True for placeholders that always render as a plain number (never need escaping).
    fn is_numeric(&self) -> bool {
        matches!(
            self,
            Placeholder::Key
                | Placeholder::Shard
                | Placeholder::Seq
                | Placeholder::Rand { .. }
                | Placeholder::NowMs
                | Placeholder::MsgId
                | Placeholder::IntendedUs
                | Placeholder::Member
        )
    }
}

/// Which placeholders a template may use (they differ by field).
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// Names of values captured from answers, usable as `{name}`.
    pub captures: &'a [String],
    /// `{object}` and `{shard}` (false where no strategy applies, e.g. the object-naming
    /// template itself may use `{shard}` but not `{object}`).
    pub object: bool,
    pub shard: bool,
    /// `{key}`, `{seq}`, `{uuid}`, `{rand:..}`, `{now_ms}` (false where a template is rendered
    /// once per object rather than per request).
    pub per_request: bool,
    /// `{msg_id}` and `{intended_us}` (WebSocket send templates).
    pub message: bool,
    /// `{member}` (WebSocket connect and send templates).
    pub member: bool,
}

/// How substituted values are escaped (literal text is never touched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// As is (headers, bodies).
    #[default]
    None,
    /// Percent-encoded except RFC 3986 path-segment characters (URL paths and queries).
    Path,
}

/// A template that does not compile: what is wrong, and the byte offset in its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Slot(Placeholder),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    escape: Escape,
}

/// The values one rendering draws from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vars<'a> {
    pub key: u64,
    pub object: &'a str,
    pub shard: u64,
    pub seq: u64,
    pub now_ms: u64,
    pub nonce: &'a str,
    /// Captured values by capture index (`None`: not captured yet; renders empty).
    pub captures: &'a [Option<String>],
    pub msg_id: u64,
    pub intended_us: u64,
    pub member: u64,
}

/// The built-in placeholder names, for messages.
pub const BUILTIN_NAMES: &str =
    "{key}, {object}, {shard}, {seq}, {uuid}, {rand:LO-HI}, {now_ms}, {nonce}";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-')
}

impl Template {
    /// Compiles `text` for a field whose placeholders are limited by `scope`.
    pub fn compile(
        text: &str,
        scope: &Scope<'_>,
        escape: Escape,
    ) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find('{') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(escaped) = after.strip_prefix('{') {
                lit.push('{');
                rest = escaped;
                offset += i + 2;
                continue;
            }
            let name_len = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            let name = &after[..name_len];
            let starts_ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !starts_ok || !after[name_len..].starts_with('}') {
                lit.push('{');
                rest = after;
                offset += i + 1;
                continue;
            }
            let at = offset + i;
            let slot = placeholder(name, scope).map_err(|message| TemplateError {
                offset: at,
                message,
            })?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Slot(slot));
            rest = &after[name_len + 1..];
            offset += i + name_len + 2;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts, escape })
    }

    /// True when the template uses placeholder `p` (for `Rand` and `Capture`, any of its kind).
    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.iter().any(|part| match (part, p) {
            (Part::Slot(Placeholder::Rand { .. }), Placeholder::Rand { .. }) => true,
            (Part::Slot(Placeholder::Capture(_)), Placeholder::Capture(_)) => true,
            (Part::Slot(s), p) => *s == p,
            _ => false,
        })
    }

    /// The capture indices the template reads.
    pub fn captures(&self) -> impl Iterator<Item = usize> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Slot(Placeholder::Capture(i)) => Some(*i),
            _ => None,
        })
    }

    /// The text when the template has no placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// Appends the rendering to `out`.
    pub fn render_into(&self, vars: &Vars<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Slot(p) if p.is_numeric() || self.escape == Escape::None => {
                    write_value(*p, vars, out)
                }
                Part::Slot(p) => {
                    let mut raw = String::new();
                    write_value(*p, vars, &mut raw);
                    escape_path(&raw, out);
                }
            }
        }
    }

    /// The rendering as a new string.
    pub fn render(&self, vars: &Vars<'_>) -> String {
        let mut s = String::new();
        self.render_into(vars, &mut s);
        s
    }
}

fn write_value(p: Placeholder, v: &Vars<'_>, out: &mut String) {
    match p {
        Placeholder::Key => {
            let _ = write!(out, "{}", v.key);
        }
        Placeholder::Object => out.push_str(v.object),
        Placeholder::Shard => {
            let _ = write!(out, "{}", v.shard);
        }
        Placeholder::Seq => {
            let _ = write!(out, "{}", v.seq);
        }
        Placeholder::Uuid => {
            let b = rand::random::<u128>();
            // Version 4, RFC 4122 variant.
            let b = (b & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
            let h = format!("{b:032x}");
            let _ = write!(
                out,
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            );
        }
        Placeholder::Rand { lo, hi } => {
            let _ = write!(out, "{}", rand::random_range(lo..=hi));
        }
        Placeholder::NowMs => {
            let _ = write!(out, "{}", v.now_ms);
        }
        Placeholder::Nonce => out.push_str(v.nonce),
        Placeholder::Capture(i) => {
            if let Some(Some(s)) = v.captures.get(i) {
                out.push_str(s);
            }
        }
        Placeholder::MsgId => {
            let _ = write!(out, "{}", v.msg_id);
        }
        Placeholder::IntendedUs => {
            let _ = write!(out, "{}", v.intended_us);
        }
        Placeholder::Member => {
            let _ = write!(out, "{}", v.member);
        }
    }
}

/// Percent-encodes every byte outside RFC 3986's `pchar` set (`/` and `?` included, so a
/// value stays one path segment or one query value).
fn escape_path(raw: &str, out: &mut String) {
    for b in raw.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn placeholder(name: &str, scope: &Scope<'_>) -> Result<Placeholder, String> {
    let per_request = |p: Placeholder| {
        if scope.per_request {
            Ok(p)
        } else {
            Err(format!(
                "{{{name}}} is not available here: this template is rendered once per object, not per request (use {{object}} or {{shard}})"
            ))
        }
    };
    match name {
        "key" => per_request(Placeholder::Key),
        "seq" => per_request(Placeholder::Seq),
        "uuid" => per_request(Placeholder::Uuid),
        "now_ms" => per_request(Placeholder::NowMs),
        "nonce" => Ok(Placeholder::Nonce),
        "object" if scope.object => Ok(Placeholder::Object),
        "shard" if scope.shard => Ok(Placeholder::Shard),
        "object" if scope.shard => Err(
            "{object} cannot be used to name the object itself: use {shard} (and {nonce})".into(),
        ),
        "object" | "shard" => Err(format!(
            "{{{name}}} needs a sharding strategy (a profile's `strategy = \"hash:16\"`, or `--strategy hash:16`)"
        )),
        "msg_id" | "intended_us" if scope.message => Ok(if name == "msg_id" {
            Placeholder::MsgId
        } else {
            Placeholder::IntendedUs
        }),
        "msg_id" | "intended_us" => Err(format!(
            "{{{name}}} exists only in WebSocket send templates (ws.send)"
        )),
        "member" if scope.member => Ok(Placeholder::Member),
        "member" => Err(
            "{member} exists only in WebSocket templates (ws.connect, ws.send)".into(),
        ),
        _ if name.starts_with("rand:") => {
            let range = &name["rand:".len()..];
            let parsed = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
            match parsed {
                Some((lo, hi)) if lo <= hi => per_request(Placeholder::Rand { lo, hi }),
                _ => Err(format!(
                    "{{{name}}}: expected {{rand:LO-HI}} with whole numbers LO ≤ HI"
                )),
            }
        }
        _ => match scope.captures.iter().position(|c| c == name) {
            Some(i) if scope.per_request => Ok(Placeholder::Capture(i)),
            Some(_) => per_request(Placeholder::Capture(0)),
            None => {
                let captured = if scope.captures.is_empty() {
                    String::new()
                } else {
                    format!(", or a captured value ({})", scope.captures.join(", "))
                };
                Err(format!(
                    "unknown placeholder {{{name}}}: use one of {BUILTIN_NAMES}{captured}"
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Scope<'static> {
        Scope {
            captures: &[],
            object: true,
            shard: true,
            per_request: true,
            message: false,
            member: false,
        }
    }

    #[test]
    fn renders_placeholders_and_leaves_json_braces_alone() {
        let t = Template::compile(
            r#"{"room":"{object}","n":{shard},"k":{key},"lit":"{{key}"}"#,
            &all(),
            Escape::None,
        )
        .unwrap();
        let v = Vars {
            key: 7,
            object: "obj-3",
            shard: 3,
            ..Vars::default()
        };
        assert_eq!(
            t.render(&v),
            r#"{"room":"obj-3","n":3,"k":7,"lit":"{key}"}"#
        );
    }

    #[test]
    fn unknown_placeholder_names_its_offset() {
        let e = Template::compile("/v1/{tenant}/x", &all(), Escape::Path).unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("unknown placeholder {tenant}"), "{e}");
        let e = Template::compile("/{object}", &Scope::default(), Escape::Path).unwrap_err();
        assert!(e.message.contains("needs a sharding strategy"), "{e}");
        let e = Template::compile("{rand:9-1}", &all(), Escape::None).unwrap_err();
        assert!(e.message.contains("LO ≤ HI"), "{e}");
        let e = Template::compile("{msg_id}", &all(), Escape::None).unwrap_err();
        assert!(e.message.contains("WebSocket"), "{e}");
    }

    #[test]
    fn captures_and_escaping() {
        let names = vec!["session".to_string()];
        let scope = Scope {
            captures: &names,
            ..all()
        };
        let t = Template::compile("/s/{session}?u={uuid}", &scope, Escape::Path).unwrap();
        let caps = [Some("a b/c".to_string())];
        let out = t.render(&Vars {
            captures: &caps,
            ..Vars::default()
        });
        assert!(out.starts_with("/s/a%20b%2Fc?u="), "{out}");
        let uuid = &out["/s/a%20b%2Fc?u=".len()..];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(t.uses(Placeholder::Uuid) && !t.uses(Placeholder::Key));
        assert_eq!(t.captures().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn rand_stays_in_range() {
        let t = Template::compile("{rand:5-7}", &all(), Escape::None).unwrap();
        for _ in 0..200 {
            let n: u64 = t.render(&Vars::default()).parse().unwrap();
            assert!((5..=7).contains(&n));
        }
    }
}
