//! The lease-lock workload's object: one lock that many clients take in turn.
//! `POST /hold?hold_ms=H&ttl_ms=T` waits (in arrival order) until the lock is free, takes it
//! with a lease of T ms and the next fencing token, holds it H ms (H < T), releases it and
//! answers `{"token", "granted_us", "released_us", "expires_us", "waited_us"}`. Waiting and
//! holding are awaits that open the input gate, so other clients queue meanwhile; the
//! waiters live in memory (a reset drops them with their turns). `GET /state` answers the
//! grants, holder overlaps seen (`violations`, should stay 0) and who waits now.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use dobench_runtime::{
    epoch_us, AnyObject, Context, Error, Method, Object, Request, Response, Result,
};
use serde_json::json;
use tokio::sync::oneshot;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "lock";
const TOKEN: &str = "token";
const VIOLATIONS: &str = "violations";
/// Longest hold and lease (ms).
pub const MAX_HOLD_MS: u64 = 10_000;
pub const MAX_TTL_MS: u64 = 60_000;

/// Who holds the lock and who waits for it.
#[derive(Debug, Default)]
struct Queue {
    held: bool,
    waiters: VecDeque<oneshot::Sender<()>>,
}

/// A lock with a FIFO of waiters.
#[derive(Debug, Default)]
pub struct Lock {
    queue: Mutex<Queue>,
    /// Holders right now: more than one is a violation.
    holders: AtomicU32,
}

impl Lock {
    /// A free lock (tokens and violations come from storage).
    pub fn construct(_ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        Ok(Box::new(Lock::default()))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock, waiting behind earlier arrivals.
    async fn acquire(&self) -> Result<()> {
        let wait = {
            let mut q = self.queue();
            if q.held {
                let (tx, rx) = oneshot::channel();
                q.waiters.push_back(tx);
                Some(rx)
            } else {
                q.held = true;
                None
            }
        };
        if let Some(rx) = wait {
            rx.await
                .map_err(|_| Error::Handler("the lock was reset while waiting".into()))?;
        }
        Ok(())
    }

    /// Hands the lock to the next waiter still waiting, or frees it.
    fn release(&self) {
        let mut q = self.queue();
        while let Some(next) = q.waiters.pop_front() {
            if next.send(()).is_ok() {
                return;
            }
        }
        q.held = false;
    }

    async fn hold(&self, ctx: &mut Context, hold_ms: u64, ttl_ms: u64) -> Result<Response> {
        let arrived = epoch_us();
        self.acquire().await?;
        let overlap = self.holders.fetch_add(1, Relaxed) > 0;
        let granted = epoch_us();
        let token = bump(ctx, TOKEN)?;
        if overlap {
            bump(ctx, VIOLATIONS)?;
        }
        ctx.sleep(Duration::from_millis(hold_ms)).await;
        let released = epoch_us();
        self.holders.fetch_sub(1, Relaxed);
        self.release();
        Ok(Response::json(
            200,
            &json!({
                "token": token,
                "granted_us": granted,
                "released_us": released,
                "expires_us": granted + (ttl_ms as i64) * 1000,
                "waited_us": granted - arrived,
            }),
        ))
    }
}

fn read(ctx: &mut Context, key: &str) -> Result<u64> {
    Ok(ctx
        .storage()
        .get(key)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

fn bump(ctx: &mut Context, key: &str) -> Result<u64> {
    let next = read(ctx, key)? + 1;
    ctx.storage().put(key, &next.to_le_bytes())?;
    Ok(next)
}

impl Object for Lock {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/hold") => {
                let hold_ms = match params::uint(&req, "hold_ms", Some(1), 0, MAX_HOLD_MS) {
                    Ok(h) => h,
                    Err(resp) => return Ok(resp),
                };
                let ttl_ms = match params::uint(&req, "ttl_ms", Some(1_000), 1, MAX_TTL_MS) {
                    Ok(t) => t,
                    Err(resp) => return Ok(resp),
                };
                if hold_ms >= ttl_ms {
                    return Ok(Response::error(
                        400,
                        format!("hold_ms ({hold_ms}) must be shorter than ttl_ms ({ttl_ms})"),
                    ));
                }
                self.hold(ctx, hold_ms, ttl_ms).await
            }
            (&Method::GET, "/state") => {
                let (held, waiting) = {
                    let q = self.queue();
                    (q.held, q.waiters.len())
                };
                Ok(Response::json(
                    200,
                    &json!({
                        "grants": read(ctx, TOKEN)?,
                        "violations": read(ctx, VIOLATIONS)?,
                        "held": held,
                        "waiting": waiting,
                    }),
                ))
            }
            _ => Ok(params::no_route(
                &req,
                &[("POST", "/hold"), ("GET", "/state")],
            )),
        }
    }
}

/// `[lock]` of a profile.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockOptions {
    /// Lock objects (each request takes one of them).
    pub locks: u64,
    /// How long a client holds the lock (ms).
    pub hold_ms: u64,
    /// Lease length (ms), longer than `hold_ms`.
    pub ttl_ms: u64,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            locks: 4,
            hold_ms: 1,
            ttl_ms: 1_000,
        }
    }
}

impl LockOptions {
    /// The field at fault and why, if any.
    pub fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(1..=100_000).contains(&self.locks) {
            return Err(("lock.locks", "lock.locks must be in 1..=100000".into()));
        }
        if self.hold_ms > MAX_HOLD_MS {
            return Err((
                "lock.hold_ms",
                format!("lock.hold_ms must be at most {MAX_HOLD_MS}"),
            ));
        }
        if self.ttl_ms <= self.hold_ms || self.ttl_ms > MAX_TTL_MS {
            return Err((
                "lock.ttl_ms",
                format!(
                    "lock.ttl_ms must be longer than lock.hold_ms ({}) and at most {MAX_TTL_MS}",
                    self.hold_ms
                ),
            ));
        }
        Ok(())
    }
}
