//! The lost-update workload's object: a counter whose increment reads, awaits another object,
//! then writes — the classic race that production's input gate lets happen.
//! `POST /add?guard=0|1&delay_ms=D` reads `n`, calls its helper object (`{name}~helper`,
//! same class) whose `POST /pause?delay_ms=D` sleeps D ms, then writes `n + 1`. With
//! `guard=1` the read → await → write runs inside `block_concurrency` and loses nothing.
//! `GET /` reads `n`. Never holds a storage guard across an await.

use dobench_runtime::{AnyObject, Context, Method, Object, Request, Response, Result};
use serde_json::json;
use std::time::Duration;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "lostupdate";
const KEY: &str = "n";
/// Longest helper pause (ms).
pub const MAX_DELAY_MS: u64 = 1_000;
/// Suffix of the helper object's name.
pub const HELPER_SUFFIX: &str = "~helper";

/// A counter with a read → await → write increment.
#[derive(Debug, Default)]
pub struct LostUpdate;

impl LostUpdate {
    /// Nothing to load: the value lives in storage only.
    pub fn construct(_ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        Ok(Box::new(LostUpdate))
    }
}

fn read(ctx: &mut Context) -> Result<u64> {
    Ok(ctx
        .storage()
        .get(KEY)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

/// Read, await the helper, write: loses updates when other adds run during the await.
async fn add(ctx: &mut Context, delay_ms: u64) -> Result<Response> {
    let n = read(ctx)?;
    let me = ctx.name().map_or_else(|| ctx.id().to_hex(), str::to_string);
    let helper = ctx
        .namespace(CLASS)?
        .get_by_name(&format!("{me}{HELPER_SUFFIX}"));
    let pause = Request::new(Method::POST, "/pause").with_query("delay_ms", delay_ms);
    let answer = helper.fetch(pause).await?;
    if answer.status != 200 {
        return Ok(answer);
    }
    ctx.storage().put(KEY, &(n + 1).to_le_bytes())?;
    Ok(Response::json(200, &json!({ "n": n + 1 })))
}

impl Object for LostUpdate {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/add") => {
                let guard = match params::uint(&req, "guard", Some(0), 0, 1) {
                    Ok(g) => g == 1,
                    Err(resp) => return Ok(resp),
                };
                let delay_ms = match params::uint(&req, "delay_ms", Some(1), 0, MAX_DELAY_MS) {
                    Ok(d) => d,
                    Err(resp) => return Ok(resp),
                };
                if guard {
                    let gate = ctx.input_gate();
                    gate.block_concurrency(add(ctx, delay_ms)).await
                } else {
                    add(ctx, delay_ms).await
                }
            }
            (&Method::POST, "/pause") => {
                let delay_ms = match params::uint(&req, "delay_ms", Some(1), 0, MAX_DELAY_MS) {
                    Ok(d) => d,
                    Err(resp) => return Ok(resp),
                };
                ctx.sleep(Duration::from_millis(delay_ms)).await;
                Ok(Response::json(200, &json!({ "ok": true })))
            }
            (&Method::GET, "/") => Ok(Response::json(200, &json!({ "n": read(ctx)? }))),
            _ => Ok(params::no_route(
                &req,
                &[("POST", "/add"), ("POST", "/pause"), ("GET", "/")],
            )),
        }
    }
}

/// `[lost_update]` of a profile.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LostUpdateOptions {
    /// Objects of each kind (unguarded and guarded); requests alternate between the kinds.
    pub objects: u64,
    /// The helper's pause (ms): the window in which other adds can interleave.
    pub delay_ms: u64,
}

impl Default for LostUpdateOptions {
    fn default() -> Self {
        LostUpdateOptions {
            objects: 4,
            delay_ms: 5,
        }
    }
}

impl LostUpdateOptions {
    /// The field at fault and why, if any.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(1..=10_000).contains(&self.objects) {
            return Err((
                "lost_update.objects",
                "lost_update.objects must be in 1..=10000".into(),
            ));
        }
        if self.delay_ms > MAX_DELAY_MS {
            return Err((
                "lost_update.delay_ms",
                format!("lost_update.delay_ms must be at most {MAX_DELAY_MS}"),
            ));
        }
        Ok(())
    }
}
