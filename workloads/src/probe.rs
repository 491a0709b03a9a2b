//! The conformance probe: one class, in Rust here and in `worker/src/worker.js`, whose
//! routes expose what the conformance suite compares between the reference runtime and
//! workerd beyond the workloads: E-order of calls, an exception as a 500, storage size
//! limits, constructions (a WebSocket `ping` auto-response constructs nothing), close codes
//! both ways, the alarm API inside the alarm handler and the full retry schedule.
//!
//! - `POST /eorder?to=X&n=N`: N calls in flight at once to probe X's `/append?i=k`, then X's
//!   `/list` (`{"list": [...]}`); `POST /append?i=K`; `GET /list`.
//! - `GET /throw`: the handler fails (a 500 with a JSON error).
//! - `POST /put?key_bytes=K&value_bytes=V`: stores a K-byte key with a V-byte value:
//!   `{"ok": true}` or `{"ok": false, "error": ...}`.
//! - `GET /constructions`: epoch-ms times the instance was constructed.
//! - `GET /ws`: accepts a WebSocket (auto-response `ping` → `pong`); a message
//!   `close:CODE:REASON` closes it with that code, any other is echoed as `echo:TEXT`;
//!   closes the client starts are recorded: `GET /closes`.
//! - `POST /alarm?at_ms=T&mode=inspect|fail`: sets the alarm. `inspect`: the handler records
//!   `getAlarm` on entry, after `setAlarm(now + 60 s)`, and after `deleteAlarm`. `fail`: it
//!   records each attempt and fails. `GET /alarms`: the records.
//!
//! - `GET /aba?me=A&via=B`: calls B's `/back?to=A`, which calls A's `/noop` (A → B → A).
//! - `GET /noop`: answers at once; `GET /hop?to=X&n=N`: N typed calls one after another to
//!   probe X's `noop` (what one hop between objects adds, for `benches/object_calls.sh`).
//!
//! Records live in storage as JSON lists.

use dobench_runtime::{
    epoch_ms, AlarmInfo, AnyObject, Context, Error, Method, Object, Request, Response, Result,
    SocketId, WsMessage,
};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "probe";
const MAX_CALLS: u64 = 1_000;

/// The probe object.
#[derive(Debug, Default)]
pub struct Probe;

impl Probe {
    /// Records the construction (and sets the auto-response, which production answers
    /// without constructing the object).
    pub fn construct(ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        let now = epoch_ms();
        push(ctx, "constructions", json!(now))?;
        ctx.set_websocket_auto_response(Some(("ping", "pong")))?;
        Ok(Box::new(Probe))
    }
}

fn list(ctx: &mut Context, key: &str) -> Result<Vec<Value>> {
    Ok(ctx
        .storage()
        .get(key)?
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default())
}

fn push(ctx: &mut Context, key: &str, item: Value) -> Result<()> {
    let mut items = list(ctx, key)?;
    items.push(item);
    let bytes = serde_json::to_vec(&items).map_err(|e| Error::Handler(e.to_string()))?;
    ctx.storage().put(key, &bytes)
}

fn answer_list(ctx: &mut Context, key: &str) -> Result<Response> {
    Ok(Response::json(200, &json!({ key: list(ctx, key)? })))
}

async fn e_order(ctx: &mut Context, to: &str, n: u64) -> Result<Response> {
    let callee = ctx.namespace(CLASS)?.get_by_name(to);
    let calls =
        (0..n).map(|i| callee.fetch(Request::new(Method::POST, "/append").with_query("i", i)));
    for r in join_all(calls).await {
        let r = r?;
        if r.status != 200 {
            return Ok(r);
        }
    }
    let r = callee.fetch(Request::new(Method::GET, "/list")).await?;
    Ok(r)
}

fn put(ctx: &mut Context, key_bytes: usize, value_bytes: usize) -> Response {
    let key = "k".repeat(key_bytes);
    match ctx.storage().put(&key, &vec![b'v'; value_bytes]) {
        Ok(()) => Response::json(200, &json!({ "ok": true })),
        Err(e) => Response::json(200, &json!({ "ok": false, "error": e.to_string() })),
    }
}

impl Object for Probe {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        let uint =
            |name: &str, default: u64, max: u64| params::uint(&req, name, Some(default), 0, max);
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/eorder") => {
                let to = match params::text(&req, "to", 256) {
                    Ok(t) => t.to_string(),
                    Err(resp) => return Ok(resp),
                };
                match uint("n", 10, MAX_CALLS) {
                    Ok(n) => e_order(ctx, &to, n).await,
                    Err(resp) => Ok(resp),
                }
            }
            (&Method::POST, "/append") => match uint("i", 0, u64::MAX) {
                Ok(i) => {
                    push(ctx, "list", json!(i))?;
                    Ok(Response::json(200, &json!({ "ok": true })))
                }
                Err(resp) => Ok(resp),
            },
            (&Method::GET, "/list") => answer_list(ctx, "list"),
            (&Method::GET, "/noop") => Ok(Response::json(200, &json!({ "ok": true }))),
            (&Method::GET, "/aba") | (&Method::GET, "/back") => {
                let (first, then) = if req.path == "/aba" {
                    ("via", "me")
                } else {
                    ("to", "")
                };
                let target = match params::text(&req, first, 256) {
                    Ok(t) => t.to_string(),
                    Err(resp) => return Ok(resp),
                };
                let stub = ctx.namespace(CLASS)?.get_by_name(&target);
                if then.is_empty() {
                    return stub.fetch(Request::new(Method::GET, "/noop")).await;
                }
                let me = match params::text(&req, then, 256) {
                    Ok(m) => m.to_string(),
                    Err(resp) => return Ok(resp),
                };
                let back = Request::new(Method::GET, "/back").with_query("to", me);
                let r = stub.fetch(back).await?;
                Ok(Response::json(r.status, &json!({ "back": r.json_body() })))
            }
            (&Method::GET, "/hop") => {
                let to = match params::text(&req, "to", 256) {
                    Ok(t) => t.to_string(),
                    Err(resp) => return Ok(resp),
                };
                let n = match uint("n", 1, MAX_CALLS) {
                    Ok(n) => n,
                    Err(resp) => return Ok(resp),
                };
                let callee = ctx.namespace(CLASS)?.get_by_name(&to);
                for _ in 0..n {
                    let _: Value = callee.call("noop", &()).await?;
                }
                Ok(Response::json(200, &json!({ "calls": n })))
            }
            (&Method::GET, "/throw") => Err(Error::Handler("the probe throws on purpose".into())),
            (&Method::POST, "/put") => {
                let sizes = uint("key_bytes", 1, 1 << 20)
                    .and_then(|k| Ok((k, uint("value_bytes", 1, 8 << 20)?)));
                match sizes {
                    Ok((k, v)) => Ok(put(ctx, k as usize, v as usize)),
                    Err(resp) => Ok(resp),
                }
            }
            (&Method::GET, "/constructions") => answer_list(ctx, "constructions"),
            (&Method::GET, "/ws") => {
                if !req.is_websocket_upgrade() {
                    return Ok(Response::error(426, "this route needs a WebSocket upgrade"));
                }
                ctx.accept_websocket(&[])?;
                Ok(Response::switching_protocols())
            }
            (&Method::GET, "/closes") => answer_list(ctx, "closes"),
            (&Method::POST, "/alarm") => {
                let at = match uint("at_ms", 0, i64::MAX as u64) {
                    Ok(at) => at as i64,
                    Err(resp) => return Ok(resp),
                };
                let mode = match req.query("mode").unwrap_or("inspect") {
                    m @ ("inspect" | "fail") => m.to_string(),
                    other => {
                        return Ok(Response::error(
                            400,
                            format!("mode `{other}`: use inspect or fail"),
                        ))
                    }
                };
                ctx.storage().put("mode", mode.as_bytes())?;
                ctx.set_alarm(at)?;
                Ok(Response::json(200, &json!({ "scheduled_ms": at })))
            }
            (&Method::GET, "/alarms") => answer_list(ctx, "alarms"),
            _ => Ok(Response::error(
                404,
                format!("no route for {} {}", req.method, req.path),
            )),
        }
    }

    async fn call(&self, _ctx: &mut Context, method: &str, _args: Value) -> Result<Value> {
        match method {
            "noop" => Ok(json!(true)),
            other => Err(Error::Handler(format!("the probe has no call `{other}`"))),
        }
    }

    async fn alarm(&self, ctx: &mut Context, info: AlarmInfo) -> Result<()> {
        let mode = ctx.storage().get("mode")?.unwrap_or_default();
        if mode == b"fail" {
            push(
                ctx,
                "alarms",
                json!({ "retry_count": info.retry_count, "at_ms": epoch_ms() }),
            )?;
            return Err(Error::Handler("the probe's alarm fails on purpose".into()));
        }
        let on_entry = ctx.get_alarm()?;
        ctx.set_alarm(epoch_ms() + 60_000)?;
        let after_set = ctx.get_alarm()?;
        ctx.delete_alarm()?;
        let after_delete = ctx.get_alarm()?;
        push(
            ctx,
            "alarms",
            json!({
                "retry_count": info.retry_count,
                "on_entry": on_entry,
                "after_set_is_set": after_set.is_some(),
                "after_delete": after_delete,
            }),
        )
    }

    async fn websocket_message(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        msg: WsMessage,
    ) -> Result<()> {
        let WsMessage::Text(text) = msg else {
            return Ok(());
        };
        if let Some(rest) = text.strip_prefix("close:") {
            let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
            let code = code.parse().unwrap_or(1000);
            ctx.close(ws, code, reason);
            return Ok(());
        }
        ctx.send(ws, WsMessage::Text(format!("echo:{text}")));
        Ok(())
    }

    async fn websocket_close(
        &self,
        ctx: &mut Context,
        ws: SocketId,
        code: u16,
        reason: &str,
        _was_clean: bool,
    ) -> Result<()> {
        let _ = ws;
        push(ctx, "closes", json!({ "code": code, "reason": reason }))
    }
}
