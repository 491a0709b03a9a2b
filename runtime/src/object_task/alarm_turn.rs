//! Alarm turns of an object's task: whether a due alarm still stands, running its handler,
//! and what follows — done, the handler's own new alarm, a retry with backoff and jitter, or
//! giving up — plus handing the batch's alarm change to the scheduler after commit. Never
//! touches the scheduler before the batch has committed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;

use super::{ObjectTask, Outbox};
use crate::alarm::{retry_delay, Due, MAX_RETRIES, RETRY_JITTER};
use crate::clock::epoch_ms;
use crate::object::{AlarmEffect, AlarmInfo, Context, Object};

impl ObjectTask {
    /// Runs the alarm handler if the alarm is still the one stored, and decides what comes
    /// next: done, the handler's new alarm, a retry with backoff, or giving up.
    pub(super) fn alarm_turn(
        &self,
        ctx: &mut Context,
        obj: &mut dyn Object,
        scheduled_ms: i64,
        retry_count: u32,
        out: &mut Outbox,
    ) {
        match ctx.storage.alarm() {
            // Replaced or deleted since it was scheduled: the scheduler holds the new one.
            Ok(stored) if stored != Some(scheduled_ms) => return,
            Ok(_) => {}
            Err(_) => {
                // Could not read storage: retry as if the handler failed.
                out.crashed = true;
                return;
            }
        }
        self.stats.turns.fetch_add(1, Relaxed);
        self.stats.alarm_runs.fetch_add(1, Relaxed);
        self.shared.alarms.counters.fired.fetch_add(1, Relaxed);
        // While the handler runs there is no alarm, unless it sets a new one.
        let cleared = ctx.storage.delete_alarm();
        ctx.alarm_effect = None;
        let info = AlarmInfo {
            retry_count,
            is_retry: retry_count > 0,
            scheduled_ms,
        };
        let ok = match catch_unwind(AssertUnwindSafe(|| obj.alarm(ctx, info))) {
            Ok(Ok(())) => cleared.is_ok(),
            Ok(Err(e)) => {
                tracing::debug!(object = %self.object.id(), "alarm handler failed: {e}");
                false
            }
            Err(_) => {
                out.crashed = true;
                false
            }
        };
        if ctx.alarm_effect.is_some() {
            // The handler set (or deleted) an alarm: that stands instead of any retry.
            return;
        }
        if ok {
            ctx.alarm_effect = Some(AlarmEffect::Clear);
        } else if retry_count < MAX_RETRIES {
            let backoff = retry_delay(retry_count + 1, self.shared.config.alarm_time_scale);
            let jitter = backoff.mul_f64(rand::random::<f64>() * RETRY_JITTER);
            let at_ms = epoch_ms() + (backoff + jitter).as_millis() as i64;
            // Stored, so a crash before the retry still fires it (with retry_count 0, as the
            // count is not persisted).
            if ctx.storage.set_alarm(at_ms).is_ok() {
                ctx.alarm_effect = Some(AlarmEffect::Set {
                    at_ms,
                    retry_count: retry_count + 1,
                });
                self.stats.alarm_retries.fetch_add(1, Relaxed);
                self.shared.alarms.counters.retried.fetch_add(1, Relaxed);
            }
        } else {
            ctx.alarm_effect = Some(AlarmEffect::Clear);
            self.stats.alarms_given_up.fetch_add(1, Relaxed);
            self.shared.alarms.counters.given_up.fetch_add(1, Relaxed);
        }
    }

    /// Applies the committed batch's alarm change to the scheduler and the index.
    pub(super) fn apply_alarm(&self, effect: Option<AlarmEffect>) {
        let alarms = &self.shared.alarms;
        match effect {
            Some(AlarmEffect::Set { at_ms, retry_count }) => {
                if retry_count == 0 {
                    self.stats.alarms_set.fetch_add(1, Relaxed);
                    alarms.counters.set.fetch_add(1, Relaxed);
                }
                alarms.schedule(Due {
                    object: self.object.clone(),
                    scheduled_ms: at_ms,
                    fire_at_ms: at_ms,
                    retry_count,
                });
            }
            Some(AlarmEffect::Clear) => {
                alarms.cancel(&self.object.id());
                if let Some(index) = &alarms.index {
                    if let Err(e) = index.delete(&self.object.id()) {
                        // A stale index row only costs a skipped fire after a restart.
                        tracing::warn!("alarm index delete failed: {e}");
                    }
                }
            }
            None => {}
        }
    }
}
