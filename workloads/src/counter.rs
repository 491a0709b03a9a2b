//! The sharded-counter workload's object: a durable `u64` counter.
//! `POST /increment?by=N` adds N (default 1) and answers the new value; `GET /` reads it.
//! `&rows=K` (0–1,000, default 0) also rewrites K padding rows (`pad:0`..`pad:K-1`) in the
//! same turn: a write-heavy handler for measuring the ceiling's per-row cost.
//! The value lives in KV under `value`; the in-memory copy is rebuilt by the constructor,
//! so a reset after a failed commit can never answer a value storage does not hold.

use dobench_runtime::{AnyObject, Context, Method, Object, Request, Response, Result};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "counter";
const KEY: &str = "value";
/// Largest single increment (keeps sums far from overflow and inside JSON's exact range).
pub const MAX_BY: u64 = 1_000_000_000;
/// Most padding rows one increment may write.
pub const MAX_ROWS: u64 = 1_000;

/// A durable counter.
#[derive(Debug)]
pub struct Counter {
    /// The stored value (turns never await between reading and storing it).
    value: AtomicU64,
}

impl Counter {
    /// Loads the stored value (0 for a new object).
    pub fn construct(ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        let value = ctx
            .storage()
            .get(KEY)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        Ok(Box::new(Counter {
            value: value.into(),
        }))
    }
}

impl Object for Counter {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/increment") => {
                let by = match params::uint(&req, "by", Some(1), 1, MAX_BY) {
                    Ok(by) => by,
                    Err(resp) => return Ok(resp),
                };
                let rows = match params::uint(&req, "rows", Some(0), 0, MAX_ROWS) {
                    Ok(rows) => rows,
                    Err(resp) => return Ok(resp),
                };
                let Some(next) = self.value.load(Relaxed).checked_add(by) else {
                    return Ok(Response::error(409, "the counter would overflow u64"));
                };
                let mut storage = ctx.storage();
                for i in 0..rows {
                    storage.put(&format!("pad:{i}"), &next.to_le_bytes())?;
                }
                storage.put(KEY, &next.to_le_bytes())?;
                self.value.store(next, Relaxed);
                Ok(Response::json(200, &json!({ "value": next })))
            }
            (&Method::GET, "/") => Ok(Response::json(
                200,
                &json!({ "value": self.value.load(Relaxed) }),
            )),
            _ => Ok(params::no_route(
                &req,
                &[("POST", "/increment"), ("GET", "/")],
            )),
        }
    }
}
