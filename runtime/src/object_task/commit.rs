//! The commit point of an object's task: commits what the turns since the last point did
//! and only then releases their answers, frames and outgoing calls (the output gate) and
//! hands the alarm change to the scheduler; or throws it all away (a failed commit, the CPU
//! budget) and resets the instance. Never runs a handler.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::turns::{Answer, InFlight};
use super::{ObjectTask, Outbox, RESET_CLOSE_CODE, SIZE_EVERY_COMMITS};
use crate::context::{AlarmEffect, Core, OutCall, OutFrame};
use crate::error::Error;
use crate::mailbox::Envelope;
use crate::object::AnyObject;

impl ObjectTask {
    /// The commit point: commits what the turns since the last one did and releases it, or
    /// throws it away (CPU budget) — resetting the instance where production would.
    pub(super) fn settle(
        &mut self,
        core: &Core,
        instance: &mut Option<Arc<dyn AnyObject>>,
        turns: &mut Vec<InFlight>,
        out: &mut Outbox,
    ) {
        self.stats
            .service_us
            .fetch_add(self.clock.take_charged().as_micros() as u64, Relaxed);
        self.cold = false;
        self.written_since_commit = false;
        let mut done = std::mem::take(out);
        if done.over_budget {
            let budget = self.shared.config.cpu_budget.unwrap_or_default();
            let budget_ms = budget.as_millis() as u64;
            Self::drop_in_flight(turns, || Error::CpuExceeded { budget_ms });
            self.reset_after_cpu_limit(core, &mut done, budget);
            self.stats.resets.fetch_add(1, Relaxed);
            *instance = None;
            return;
        }
        if done.crashed {
            self.fail_in_flight(core, turns, &mut done);
        }
        if self.commit(core, &mut done) {
            // The instance may hold state that no longer matches storage: rebuild it from
            // storage on the next turn, as production does after an exception resets it.
            Self::drop_in_flight(turns, || Error::ObjectReset("the object was reset".into()));
            self.stats.resets.fetch_add(1, Relaxed);
            *instance = None;
        }
    }

    /// Commits, then releases the answers, frames and outgoing calls and applies the alarm
    /// change; or, if the commit fails, fails every answer. True if the instance must be
    /// reset.
    pub(super) fn commit(&self, core: &Core, out: &mut Outbox) -> bool {
        let mut tx = core.tx();
        let effect = tx.alarm_effect.take();
        // Write-ahead into the runtime-wide index: it may briefly list an alarm the object
        // does not hold (skipped at fire time), but never misses one the object committed.
        let indexed = match (effect, &self.shared.alarms.index) {
            (Some(AlarmEffect::Set { at_ms, .. }), Some(index)) => {
                index.upsert(&self.object, at_ms)
            }
            _ => Ok(()),
        };
        let committed = indexed.and_then(|()| tx.storage.commit());
        if let Err(e) = committed {
            drop(tx);
            let msg = format!("commit failed, nothing of this batch was stored: {e}");
            self.abandon(core, out, || Error::ObjectReset(msg.clone()));
            return true;
        }
        let commits = self.stats.commits.fetch_add(1, Relaxed) + 1;
        if commits % SIZE_EVERY_COMMITS == 1 {
            self.stats
                .storage_bytes
                .store(tx.storage.size_bytes(), Relaxed);
        }
        let frames = std::mem::take(&mut tx.outgoing);
        let calls = std::mem::take(&mut tx.calls);
        drop(tx);
        for answer in out.answers.drain(..) {
            match answer {
                Answer::Fetch(reply, result) => {
                    let _ = reply.send(result);
                }
                Answer::Call(reply, result) => {
                    let _ = reply.send(result);
                }
            }
        }
        let id = self.object.id();
        for frame in frames {
            match frame {
                OutFrame::Send(to, msg) => self.shared.sockets.send(&id, &to, &msg),
                OutFrame::Close(ws, code, reason) => {
                    self.shared.sockets.close(&id, ws, code, &reason)
                }
            }
        }
        self.post_calls(core, calls);
        self.apply_alarm(effect);
        out.crashed
    }

    /// Posts the committed calls to their callees, in the order they were made; a refused
    /// call's caller hears why at once (overloaded, shutting down).
    fn post_calls(&self, core: &Core, calls: Vec<OutCall>) {
        for OutCall { to, env } in calls {
            self.stats.calls_out.fetch_add(1, Relaxed);
            if let Err((e, back)) = core.runtime.try_post(&to, env) {
                match back {
                    Envelope::Fetch { reply, .. } => {
                        let _ = reply.send(Err(e));
                    }
                    Envelope::Call { call } => {
                        let _ = call.reply.send(Err(e));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Throws what the turns since the last commit did away: rolls their writes back,
    /// answers with `why`, drops their frames and calls, and reschedules the alarm storage
    /// still holds.
    fn abandon(&self, core: &Core, out: &mut Outbox, why: impl Fn() -> Error) {
        let stored = {
            let mut tx = core.tx();
            tx.storage.rollback();
            tx.outgoing.clear();
            tx.calls.clear();
            tx.alarm_effect = None;
            tx.storage.alarm()
        };
        out.crashed = true;
        for answer in out.answers.drain(..) {
            match answer {
                Answer::Fetch(reply, result) => {
                    if let Ok(r) = result {
                        self.drop_accepted(r.accepted);
                    }
                    let _ = reply.send(Err(why()));
                }
                Answer::Call(reply, _) => {
                    let _ = reply.send(Err(why()));
                }
            }
        }
        // The alarm row rolled back with the batch, so a pending alarm still stands:
        // reschedule what storage holds.
        if let Ok(Some(at_ms)) = stored {
            self.apply_alarm(Some(AlarmEffect::Set {
                at_ms,
                retry_count: 0,
            }));
        }
    }

    /// A turn went past the CPU budget: as in production the object is reset. What ran
    /// since the last commit is thrown away (its requests get the CPU-limit error) and its
    /// sockets are closed with [`RESET_CLOSE_CODE`]; the next event constructs the object
    /// again from storage.
    fn reset_after_cpu_limit(&self, core: &Core, out: &mut Outbox, budget: Duration) {
        let budget_ms = budget.as_millis() as u64;
        self.abandon(core, out, || Error::CpuExceeded { budget_ms });
        let id = self.object.id();
        let reason = "the object exceeded its CPU time limit and was reset";
        for socket in self.shared.sockets.ids(&id, None) {
            self.shared
                .sockets
                .close(&id, socket, RESET_CLOSE_CODE, reason);
        }
    }
}
