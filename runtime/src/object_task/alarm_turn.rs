//! Alarm turns of an object's task: whether a due alarm still stands, what the handler is
//! told, and what follows its (async) handler — done, the handler's own new alarm, a retry with backoff and jitter, or
//! giving up — plus handing the batch's alarm change to the scheduler after commit. Never
//! touches the scheduler before the batch has committed.

use std::sync::atomic::Ordering::Relaxed;

use super::{ObjectTask, Outbox};
use crate::alarm::{retry_delay, Due, MAX_RETRIES, RETRY_JITTER};
use crate::clock::epoch_ms;
use crate::context::{AlarmEffect, Core};
use crate::object::AlarmInfo;

impl ObjectTask {
    /// Starts an alarm turn if the alarm is still the one stored: counts it and clears it
    /// while the handler runs. The handler's info, whether clearing worked, and the alarm
    /// change count before the handler; `None` if there is nothing to run.
    pub(super) fn begin_alarm(
        &self,
        core: &Core,
        scheduled_ms: i64,
        retry_count: u32,
        out: &mut Outbox,
    ) -> Option<(AlarmInfo, bool, u64)> {
        let mut tx = core.tx();
        match tx.storage.alarm() {
            // Replaced or deleted since it was scheduled: the scheduler holds the new one.
            Ok(stored) if stored != Some(scheduled_ms) => return None,
            Ok(_) => {}
            Err(_) => {
                // Could not read storage: retry as if the handler failed.
                out.crashed = true;
                return None;
            }
        }
        self.stats.turns.fetch_add(1, Relaxed);
        self.stats.alarm_runs.fetch_add(1, Relaxed);
        self.shared.alarms.counters.fired.fetch_add(1, Relaxed);
        // While the handler runs there is no alarm, unless it sets a new one.
        let cleared = tx.storage.delete_alarm().is_ok();
        let info = AlarmInfo {
            retry_count,
            is_retry: retry_count > 0,
            scheduled_ms,
        };
        Some((info, cleared, tx.alarm_changes))
    }

    /// Decides what follows an alarm handler: the handler's own new alarm (or deletion)
    /// stands; otherwise done, a retry with backoff and jitter, or giving up.
    pub(super) fn finish_alarm(&self, core: &Core, info: AlarmInfo, changes_before: u64, ok: bool) {
        let mut tx = core.tx();
        if tx.alarm_changes != changes_before {
            // The handler set (or deleted) an alarm: that stands instead of any retry.
            return;
        }
        let retry_count = info.retry_count;
        if ok {
            tx.alarm_effect = Some(AlarmEffect::Clear);
        } else if retry_count < MAX_RETRIES {
            let backoff = retry_delay(retry_count + 1, self.shared.config.alarm_time_scale);
            let jitter = backoff.mul_f64(rand::random::<f64>() * RETRY_JITTER);
            let at_ms = epoch_ms() + (backoff + jitter).as_millis() as i64;
            // Stored, so a crash before the retry still fires it (with retry_count 0, as the
            // count is not persisted).
            if tx.storage.set_alarm(at_ms).is_ok() {
                tx.alarm_effect = Some(AlarmEffect::Set {
                    at_ms,
                    retry_count: retry_count + 1,
                });
                self.stats.alarm_retries.fetch_add(1, Relaxed);
                self.shared.alarms.counters.retried.fetch_add(1, Relaxed);
            }
        } else {
            tx.alarm_effect = Some(AlarmEffect::Clear);
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
