//! The `[ws]` section of a `workload = "ws"` profile as written (TOML shape), and its
//! compilation, once, into a [`WsPlan`]: the rooms (the keyspace's keys, each on the object
//! the strategy picks, named by `object_name`), members per room, the connect and send
//! templates, the per-member send rate, and the JSON pointers that find a message's id and
//! intended send time in the frames a member receives — so a chat-like API with a frame
//! format of its own is measured without code. Compile errors carry the dotted field
//! (`ws.send`) and the offset inside its text, like `[http]`'s. Never touches the network
//! and never renders anything.

use serde::Deserialize;

use crate::answer::Pointer;
use crate::http_spec::CompileError;
use crate::template::{Escape, Placeholder, Scope, Template};

/// `[ws]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WsOptions {
    /// What `{object}` (a room's object) renders as: a template over `{shard}` and
    /// `{nonce}` (default `room-{nonce}-{shard}`: fresh rooms every run).
    pub object_name: Option<String>,
    /// Members (WebSockets) per room key.
    pub members: Option<u32>,
    /// Messages per second each member sends (open model).
    pub rate: Option<f64>,
    /// Path and query of a member's WebSocket, appended to the target (`ws://` for an
    /// `http://` target, `wss://` for `https://`).
    pub connect: Option<String>,
    /// The text frame a member sends; must carry `{msg_id}`.
    pub send: Option<String>,
    /// JSON pointer to the message id in a received frame (frames without one — presence,
    /// acks — are not deliveries and are ignored).
    pub id: Option<String>,
    /// JSON pointer to the intended send time (`{intended_us}`) in a received frame: the
    /// delivery is timed from it. Without it, from the plan's intended time of the id.
    pub stamp: Option<String>,
}

/// The default room-object naming template.
pub const DEFAULT_OBJECT_NAME: &str = "room-{nonce}-{shard}";

/// The compiled `[ws]` section.
#[derive(Debug)]
pub struct WsPlan {
    pub object_name: Template,
    pub members: u32,
    /// Messages/s per member.
    pub rate: f64,
    pub connect: Template,
    pub send: Template,
    pub id: Pointer,
    pub stamp: Option<Pointer>,
}

fn missing(field: &str, what: &str) -> CompileError {
    CompileError::new(
        &["ws", field],
        None,
        format!("a `workload = \"ws\"` profile needs ws.{field} ({what})"),
    )
}

fn template(field: &str, text: &str, scope: &Scope<'_>) -> Result<Template, CompileError> {
    Template::compile(text, scope, Escape::None)
        .map_err(|e| CompileError::new(&["ws", field], Some(e.offset), e.message))
}

fn pointer(field: &str, text: &str) -> Result<Pointer, CompileError> {
    Pointer::parse(text).map_err(|m| CompileError::new(&["ws", field], None, m))
}

impl WsPlan {
    /// Compiles the section; `strategy` says whether the profile set a strategy (the rooms'
    /// objects need one).
    pub fn compile(o: &WsOptions, strategy: bool) -> Result<WsPlan, CompileError> {
        if !strategy {
            return Err(CompileError::new(
                &["strategy"],
                None,
                "a `workload = \"ws\"` profile needs a strategy: it picks each room key's object (per-key: one object per room; hash:N: rooms packed into N objects)",
            ));
        }
        let naming = Scope {
            shard: true,
            ..Scope::default()
        };
        let object_name = template(
            "object_name",
            o.object_name.as_deref().unwrap_or(DEFAULT_OBJECT_NAME),
            &naming,
        )?;
        if !object_name.uses(Placeholder::Shard) {
            return Err(CompileError::new(
                &["ws", "object_name"],
                None,
                "ws.object_name must use {shard}, or every room would have one name",
            ));
        }
        let (members, rate) = counts(o)?;
        let per_member = Scope {
            object: true,
            shard: true,
            per_request: true,
            member: true,
            ..Scope::default()
        };
        let connect_text = o
            .connect
            .as_deref()
            .ok_or_else(|| missing("connect", "the path of a member's WebSocket"))?;
        if !connect_text.starts_with('/') {
            return Err(CompileError::new(
                &["ws", "connect"],
                Some(0),
                format!("ws.connect {connect_text:?} must start with `/` (it is appended to the target's URL)"),
            ));
        }
        let connect = Template::compile(connect_text, &per_member, Escape::Path)
            .map_err(|e| CompileError::new(&["ws", "connect"], Some(e.offset), e.message))?;
        crate::http_spec::check_path_literals(connect_text)
            .map_err(|m| CompileError::new(&["ws", "connect"], None, m))?;
        let message = Scope {
            message: true,
            ..per_member
        };
        let send_text = o
            .send
            .as_deref()
            .ok_or_else(|| missing("send", "the text frame a member sends"))?;
        let send = template("send", send_text, &message)?;
        if !send.uses(Placeholder::MsgId) {
            return Err(CompileError::new(
                &["ws", "send"],
                None,
                "ws.send must carry {msg_id}: ws.id finds it in the frames members receive",
            ));
        }
        let (id, stamp) = pointers(o, &send)?;
        Ok(WsPlan {
            object_name,
            members,
            rate,
            connect,
            send,
            id,
            stamp,
        })
    }
}

/// `ws.members` and `ws.rate`, checked.
fn counts(o: &WsOptions) -> Result<(u32, f64), CompileError> {
    let members = o
        .members
        .ok_or_else(|| missing("members", "members per room"))?;
    if members == 0 {
        return Err(CompileError::new(
            &["ws", "members"],
            None,
            "ws.members must be at least 1",
        ));
    }
    let rate = o
        .rate
        .ok_or_else(|| missing("rate", "messages per second per member"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(CompileError::new(
            &["ws", "rate"],
            None,
            "ws.rate (messages per second per member) must be a positive number",
        ));
    }
    Ok((members, rate))
}

/// `ws.id` and `ws.stamp`, parsed; a stamp needs `{intended_us}` in the send template.
fn pointers(o: &WsOptions, send: &Template) -> Result<(Pointer, Option<Pointer>), CompileError> {
    let id = pointer(
        "id",
        o.id.as_deref()
            .ok_or_else(|| missing("id", "the JSON pointer to a message's id in a frame"))?,
    )?;
    let stamp = match o.stamp.as_deref() {
        Some(s) => {
            if !send.uses(Placeholder::IntendedUs) {
                return Err(CompileError::new(
                    &["ws", "send"],
                    None,
                    "ws.stamp is set, so ws.send must carry {intended_us} for it to find",
                ));
            }
            Some(pointer("stamp", s)?)
        }
        None => None,
    };
    Ok((id, stamp))
}

/// The message id a frame carries at the id pointer: a whole number, or the last run of
/// decimal digits in a string (so `"m-42"` and `"a1b2c3-42"` are message 42).
pub fn message_id(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => {
            let end = s.rfind(|c: char| c.is_ascii_digit())? + 1;
            let start = s[..end]
                .rfind(|c: char| !c.is_ascii_digit())
                .map_or(0, |i| i + 1);
            s[start..end].parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> WsOptions {
        WsOptions {
            object_name: None,
            members: Some(3),
            rate: Some(2.0),
            connect: Some("/rooms/{object}/ws?m={member}".into()),
            send: Some(r#"{"id":"{nonce}-{msg_id}","sent":{intended_us}}"#.into()),
            id: Some("/id".into()),
            stamp: Some("/sent".into()),
        }
    }

    #[test]
    fn compiles_and_names_the_field_at_fault() {
        let plan = WsPlan::compile(&options(), true).unwrap();
        assert_eq!(plan.members, 3);
        assert!(plan.stamp.is_some());
        let field = |o: WsOptions, strategy| WsPlan::compile(&o, strategy).unwrap_err().field();
        assert_eq!(field(options(), false), "strategy");
        let mut o = options();
        o.send = Some("{\"sent\":{intended_us}}".into());
        assert_eq!(field(o, true), "ws.send");
        let mut o = options();
        o.connect = Some("/r/{room}".into());
        let e = WsPlan::compile(&o, true).unwrap_err();
        assert_eq!((e.field(), e.offset), ("ws.connect".into(), Some(3)));
        assert!(e.message.contains("unknown placeholder {room}"), "{e:?}");
        let mut o = options();
        o.connect = Some("/r/{msg_id}".into());
        assert!(WsPlan::compile(&o, true)
            .unwrap_err()
            .message
            .contains("ws.send"));
        let mut o = options();
        o.id = Some("id".into());
        assert_eq!(field(o, true), "ws.id");
        let mut o = options();
        o.stamp = Some("/a~2".into());
        assert_eq!(field(o, true), "ws.stamp");
        let mut o = options();
        o.members = None;
        assert_eq!(field(o, true), "ws.members");
    }

    #[test]
    fn message_ids_are_numbers_or_the_last_digits_of_a_string() {
        use serde_json::json;
        assert_eq!(message_id(&json!(42)), Some(42));
        assert_eq!(message_id(&json!("m-42")), Some(42));
        assert_eq!(message_id(&json!("a1b2c3-42x")), Some(42));
        assert_eq!(message_id(&json!("none")), None);
        assert_eq!(message_id(&json!(-1)), None);
        assert_eq!(message_id(&json!(null)), None);
    }
}
