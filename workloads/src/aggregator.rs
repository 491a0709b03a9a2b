//! The parent-aggregator workload's object: shards that forward their increments to a parent
//! that keeps the total. `POST /increment?parent=P&by=N` on a shard calls parent P's typed
//! `add(N)` (same class), and only once the parent has counted it adds N to its own value;
//! it answers `{"value": shard value, "total": parent total}`. `GET /` is an object's own
//! value (a shard's count), `GET /total` a parent's total. A failed parent call leaves the
//! shard unchanged, so the parent's total always equals the sum over its shards.

use std::sync::Arc;

use dobench_runtime::{AnyObject, Context, Error, Method, Object, Request, Response, Result};
use serde_json::json;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "aggregator";
const VALUE: &str = "value";
const TOTAL: &str = "total";
/// Largest single increment.
pub const MAX_BY: u64 = 1_000_000;
const MAX_NAME_LEN: usize = 256;

/// A shard or a parent (an object is whichever it is used as).
#[derive(Debug, Default)]
pub struct Aggregator;

impl Aggregator {
    /// Nothing to load: values live in storage only.
    pub fn construct(_ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        Ok(Box::new(Aggregator))
    }
}

fn read(ctx: &mut Context, key: &str) -> Result<u64> {
    Ok(ctx
        .storage()
        .get(key)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

/// Adds `by` under `key` (no await between the read and the write) and answers the sum.
fn bump(ctx: &mut Context, key: &str, by: u64) -> Result<u64> {
    let next = read(ctx, key)?.saturating_add(by);
    ctx.storage().put(key, &next.to_le_bytes())?;
    Ok(next)
}

impl Object for Aggregator {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/increment") => {
                let parent: Arc<str> = match params::text(&req, "parent", MAX_NAME_LEN) {
                    Ok(p) => p.into(),
                    Err(resp) => return Ok(resp),
                };
                let by = match params::uint(&req, "by", Some(1), 1, MAX_BY) {
                    Ok(by) => by,
                    Err(resp) => return Ok(resp),
                };
                let stub = ctx.namespace(CLASS)?.get_by_name(&parent);
                let total: u64 = stub.call("add", &by).await?;
                let value = bump(ctx, VALUE, by)?;
                Ok(Response::json(
                    200,
                    &json!({ "value": value, "total": total }),
                ))
            }
            (&Method::GET, "/") => Ok(Response::json(200, &json!({ "value": read(ctx, VALUE)? }))),
            (&Method::GET, "/total") => {
                Ok(Response::json(200, &json!({ "total": read(ctx, TOTAL)? })))
            }
            _ => Ok(params::no_route(
                &req,
                &[("POST", "/increment"), ("GET", "/"), ("GET", "/total")],
            )),
        }
    }

    async fn call(
        &self,
        ctx: &mut Context,
        method: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value> {
        match (method, args.as_u64()) {
            ("add", Some(by)) if (1..=MAX_BY).contains(&by) => Ok(json!(bump(ctx, TOTAL, by)?)),
            _ => Err(Error::Handler(format!(
                "aggregator has no call `{method}` taking {args}"
            ))),
        }
    }
}

/// `[aggregator]` of a profile.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregatorOptions {
    /// Shard objects (increments are spread over them).
    pub shards: u64,
    /// Parent objects (shard `i` reports to parent `i % parents`).
    pub parents: u64,
}

impl Default for AggregatorOptions {
    fn default() -> Self {
        AggregatorOptions {
            shards: 16,
            parents: 1,
        }
    }
}

impl AggregatorOptions {
    /// The field at fault and why, if any.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(1..=100_000).contains(&self.shards) {
            return Err((
                "aggregator.shards",
                "aggregator.shards must be in 1..=100000".into(),
            ));
        }
        if !(1..=self.shards).contains(&self.parents) {
            return Err((
                "aggregator.parents",
                format!(
                    "aggregator.parents must be in 1..=aggregator.shards ({})",
                    self.shards
                ),
            ));
        }
        Ok(())
    }
}
