//! The alarm-storm workload's object: schedules its one alarm on request and records every
//! attempt of its handler. `POST /schedule?at_ms=T&fail_times=K` sets the alarm for epoch-ms T
//! and makes the handler fail its first K attempts; `GET /fired` lists every attempt with its
//! `retry_count`. Records are written before a failure is returned, and kept (as production
//! keeps writes made before an exception).

use dobench_runtime::{
    AlarmInfo, AnyObject, Context, Method, Object, Request, Response, Result, SqlValue,
};
use serde_json::json;

use crate::params;

/// Protocol name of the class.
pub const CLASS: &str = "alarm";
const FAIL_TIMES: &str = "fail_times";
const SCHEDULED: &str = "scheduled_ms";
/// Latest accepted alarm time: year 2100 in epoch ms.
const MAX_AT_MS: u64 = 4_102_444_800_000;

/// An object whose alarm records its own firing.
#[derive(Debug, Default)]
pub struct AlarmRecorder;

impl AlarmRecorder {
    /// Creates the attempts table on first use.
    pub fn construct(ctx: &mut Context) -> Result<Box<dyn AnyObject>> {
        ctx.storage().sql(
            "CREATE TABLE IF NOT EXISTS fired (n INTEGER PRIMARY KEY AUTOINCREMENT, \
             scheduled_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL, attempt INTEGER NOT NULL)",
            &[],
        )?;
        Ok(Box::new(AlarmRecorder))
    }

    fn read_u64(ctx: &mut Context, key: &str) -> Result<u64> {
        Ok(ctx
            .storage()
            .get(key)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0))
    }
}

impl Object for AlarmRecorder {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match (&req.method, req.path.as_str()) {
            (&Method::POST, "/schedule") => {
                let parsed = (|| {
                    Ok::<_, Response>((
                        params::uint(&req, "at_ms", None, 0, MAX_AT_MS)?,
                        params::uint(&req, FAIL_TIMES, Some(0), 0, 1000)?,
                    ))
                })();
                let (at_ms, fail_times) = match parsed {
                    Ok(p) => p,
                    Err(resp) => return Ok(resp),
                };
                ctx.storage().put(FAIL_TIMES, &fail_times.to_le_bytes())?;
                ctx.storage().put(SCHEDULED, &at_ms.to_le_bytes())?;
                ctx.set_alarm(at_ms as i64)?;
                Ok(Response::json(200, &json!({ "scheduled_ms": at_ms })))
            }
            (&Method::GET, "/fired") => {
                let rows = ctx.storage().sql(
                    "SELECT scheduled_ms, fired_ms, attempt FROM fired ORDER BY n",
                    &[],
                )?;
                let fired: Vec<_> = rows
                    .rows
                    .iter()
                    .map(|r| match r.as_slice() {
                        [SqlValue::Integer(s), SqlValue::Integer(f), SqlValue::Integer(a)] => {
                            json!({ "scheduled_ms": s, "fired_ms": f, "attempt": a })
                        }
                        _ => json!(null),
                    })
                    .collect();
                let pending = ctx.get_alarm()?;
                Ok(Response::json(
                    200,
                    &json!({ "fired": fired, "pending_ms": pending }),
                ))
            }
            _ => Ok(params::no_route(
                &req,
                &[("POST", "/schedule"), ("GET", "/fired")],
            )),
        }
    }

    async fn alarm(&self, ctx: &mut Context, info: AlarmInfo) -> Result<()> {
        let scheduled = Self::read_u64(ctx, SCHEDULED)? as i64;
        let now = ctx.now_ms();
        ctx.storage().sql(
            "INSERT INTO fired (scheduled_ms, fired_ms, attempt) VALUES (?1, ?2, ?3)",
            &[
                SqlValue::Integer(scheduled),
                SqlValue::Integer(now),
                SqlValue::Integer(i64::from(info.retry_count)),
            ],
        )?;
        let fail_times = Self::read_u64(ctx, FAIL_TIMES)?;
        if u64::from(info.retry_count) < fail_times {
            return Err(dobench_runtime::Error::Handler(format!(
                "failing on purpose: attempt {} of the first {fail_times}",
                info.retry_count
            )));
        }
        Ok(())
    }
}
