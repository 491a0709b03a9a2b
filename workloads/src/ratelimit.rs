//! The ratelimit-burst workload's object: a sliding-log rate limiter holding many keys.
//! `POST /check?key=K&limit=L&window_ms=W` admits the request iff fewer than L requests for K
//! were admitted in the last W ms (so no W-long window, aligned or not, ever admits more than
//! L). Admissions are rows in the object's own SQL table; never admits without storing it.

use dobench_runtime::{AnyObject, Context, Method, Object, Request, Response, Result, SqlValue};
use serde_json::json;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "ratelimit";
const MAX_KEY_LEN: usize = 512;
const MAX_LIMIT: u64 = 1_000_000;
const MAX_WINDOW_MS: u64 = 86_400_000;

/// A sliding-log rate limiter.
#[derive(Debug, Default)]
pub struct RateLimiter;

impl RateLimiter {
    /// Creates the admissions table on first use.
    pub fn construct(ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        let mut s = ctx.storage();
        s.sql(
            "CREATE TABLE IF NOT EXISTS admissions (key TEXT NOT NULL, at_ms INTEGER NOT NULL)",
            &[],
        )?;
        s.sql(
            "CREATE INDEX IF NOT EXISTS admissions_by_key ON admissions (key, at_ms)",
            &[],
        )?;
        Ok(Box::new(RateLimiter))
    }

    fn check(&self, ctx: &mut Context, req: &Request) -> Result<Response> {
        let parsed = (|| {
            Ok::<_, Response>((
                params::text(req, "key", MAX_KEY_LEN)?.to_string(),
                params::uint(req, "limit", None, 1, MAX_LIMIT)? as i64,
                params::uint(req, "window_ms", None, 1, MAX_WINDOW_MS)? as i64,
            ))
        })();
        let (key, limit, window) = match parsed {
            Ok(p) => p,
            Err(resp) => return Ok(resp),
        };
        let now = ctx.now_ms();
        let mut s = ctx.storage();
        let k = SqlValue::Text(key);
        // Admissions at or before now - W have left the window.
        s.sql(
            "DELETE FROM admissions WHERE key = ?1 AND at_ms <= ?2",
            &[k.clone(), SqlValue::Integer(now - window)],
        )?;
        // The window's admissions, oldest first, as far as the limit: the rows a decision
        // needs, read as rows (an aggregate over the index would scan the same rows but be
        // counted, and billed here, as the one row it returns).
        let rows = s.sql(
            "SELECT at_ms FROM admissions WHERE key = ?1 ORDER BY at_ms LIMIT ?2",
            &[k.clone(), SqlValue::Integer(limit)],
        )?;
        let count = rows.rows.len() as i64;
        let oldest = match rows.rows.first().map(Vec::as_slice) {
            Some([SqlValue::Integer(o)]) => Some(*o),
            _ => None,
        };
        if count < limit {
            s.sql(
                "INSERT INTO admissions (key, at_ms) VALUES (?1, ?2)",
                &[k, SqlValue::Integer(now)],
            )?;
            return Ok(Response::json(
                200,
                &json!({ "allowed": true, "remaining": limit - count - 1 }),
            ));
        }
        let retry_after_ms = (oldest.unwrap_or(now) + window - now).max(1);
        let mut resp = Response::json(
            429,
            &json!({ "allowed": false, "retry_after_ms": retry_after_ms }),
        );
        resp.headers.push((
            "retry-after".into(),
            (retry_after_ms as u64).div_ceil(1000).to_string(),
        ));
        Ok(resp)
    }
}

impl Object for RateLimiter {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/check") => self.check(ctx, &req),
            _ => Ok(params::no_route(&req, &[("POST", "/check")])),
        }
    }
}
