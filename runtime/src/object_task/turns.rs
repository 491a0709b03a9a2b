//! The turns in flight of one object: building a turn's future from its envelope, polling
//! it (metered: CPU budget, rows, the ceiling's clock; a panic caught), and turning its
//! outcome into the answer that waits for commit. Which turns may be polled is the input
//! gate's: while one holds it closed only that one is. Never commits and never releases an
//! answer itself (`mod.rs` does, after commit).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit};

use super::{ObjectTask, Outbox, COLD_START_HEADER};
use crate::context::{Context, Core};
use crate::error::{Error, Result};
use crate::mailbox::{Envelope, Reply, RpcCall};
use crate::object::{AlarmInfo, AnyObject, Response};
use crate::storage::CpuBudget;

type TurnFut = Pin<Box<dyn Future<Output = (Context, Outcome)> + Send>>;

/// What a handler returned.
pub(super) enum Outcome {
    Fetch(Result<Response>),
    Call(Result<serde_json::Value>),
    Done(Result<()>),
}

/// Where a turn's result goes once it is known.
enum TurnEnd {
    Fetch {
        reply: oneshot::Sender<Result<Reply>>,
        /// Admitted while the object was coming into memory.
        cold: bool,
    },
    Call {
        reply: oneshot::Sender<Result<serde_json::Value>>,
    },
    Alarm {
        info: AlarmInfo,
        /// `Tx::alarm_changes` when the handler started.
        changes_before: u64,
        /// Clearing the running alarm from storage worked.
        cleared: bool,
        permit: Option<OwnedSemaphorePermit>,
    },
    Socket,
}

/// One turn in flight.
pub(super) struct InFlight {
    /// Never 0 (the gate's "nobody").
    id: u64,
    fut: TurnFut,
    end: TurnEnd,
    /// CPU time of its polls after the first, when a CPU budget is set (a turn that never
    /// parks costs no clock reads beyond the budget's own).
    cpu_spent: Duration,
    /// It parked at least once.
    resumed: bool,
}

/// An answer waiting for the commit.
pub(super) enum Answer {
    Fetch(oneshot::Sender<Result<Reply>>, Result<Reply>),
    Call(
        oneshot::Sender<Result<serde_json::Value>>,
        Result<serde_json::Value>,
    ),
}

/// What one poll of one turn came to.
pub(super) enum Step {
    Parked,
    Done(Box<(Context, Outcome)>),
    /// Panicked: its caller has been answered already.
    Panicked,
}

/// Where one poll's measurement started.
struct TurnMeter {
    budget: Option<CpuBudget>,
    cpu: Option<Duration>,
    rows: crate::storage::StorageUsage,
}

impl ObjectTask {
    /// Builds the turn an envelope asks for; `None` if there is nothing to run (the event
    /// was answered or dropped already). Call with a constructed instance and an open
    /// transaction.
    pub(super) fn start(
        &mut self,
        core: &Arc<Core>,
        obj: &Arc<dyn AnyObject>,
        env: Envelope,
        out: &mut Outbox,
    ) -> Option<InFlight> {
        let obj = obj.clone();
        let (fut, end): (TurnFut, TurnEnd) = match env {
            Envelope::Fetch {
                req,
                upgrade,
                reply,
                ..
            } => {
                self.stats.turns.fetch_add(1, Relaxed);
                let mut ctx = Context::new(core.clone(), upgrade);
                let fut = Box::pin(async move {
                    let r = obj.fetch_dyn(&mut ctx, *req).await;
                    (ctx, Outcome::Fetch(r))
                });
                let cold = self.cold;
                (fut, TurnEnd::Fetch { reply, cold })
            }
            Envelope::Call { call } => {
                self.stats.turns.fetch_add(1, Relaxed);
                let RpcCall {
                    method,
                    args,
                    reply,
                } = *call;
                let mut ctx = Context::new(core.clone(), false);
                let fut = Box::pin(async move {
                    let r = obj.call_dyn(&mut ctx, &method, args).await;
                    (ctx, Outcome::Call(r))
                });
                (fut, TurnEnd::Call { reply })
            }
            Envelope::Socket {
                socket,
                event,
                held,
            } => {
                // The turn has the message: its bytes are no longer waiting in flight.
                drop(held);
                self.stats.turns.fetch_add(1, Relaxed);
                let mut ctx = Context::new(core.clone(), false);
                let fut = Box::pin(async move {
                    let r = obj.socket_dyn(&mut ctx, socket, &event).await;
                    (ctx, Outcome::Done(r))
                });
                (fut, TurnEnd::Socket)
            }
            Envelope::Alarm {
                scheduled_ms,
                retry_count,
                permit,
            } => {
                let Some((info, cleared, changes_before)) =
                    self.begin_alarm(core, scheduled_ms, retry_count, out)
                else {
                    out.permits.extend(permit);
                    return None;
                };
                let mut ctx = Context::new(core.clone(), false);
                let fut = Box::pin(async move {
                    let r = obj.alarm_dyn(&mut ctx, info).await;
                    (ctx, Outcome::Done(r))
                });
                let end = TurnEnd::Alarm {
                    info,
                    changes_before,
                    cleared,
                    permit,
                };
                (fut, end)
            }
            Envelope::Stall { .. } => return None,
        };
        self.next_turn += 1;
        Some(InFlight {
            id: self.next_turn,
            fut,
            end,
            cpu_spent: Duration::ZERO,
            resumed: false,
        })
    }

    /// Polls the turns the input gate lets run, once each (again while a finished turn
    /// opened the gate), settling those that finish into `out`. True if anything happened
    /// that the commit point must see: a turn finished, or wrote, sent or called.
    pub(super) fn poll_turns(
        &mut self,
        core: &Core,
        turns: &mut Vec<InFlight>,
        cx: &mut std::task::Context<'_>,
        out: &mut Outbox,
    ) -> bool {
        let mut progressed = false;
        loop {
            let holder = core.gate.holder();
            let mut i = 0;
            while i < turns.len() {
                if holder.is_some_and(|h| h != turns[i].id) {
                    i += 1;
                    continue;
                }
                match self.poll_one(core, &mut turns[i], cx, out) {
                    Step::Parked => i += 1,
                    step => {
                        let done = turns.remove(i);
                        progressed = true;
                        if let Step::Done(result) = step {
                            self.finish(core, done, *result, out);
                        }
                        if out.crashed || out.over_budget {
                            return true;
                        }
                    }
                }
            }
            // A section that ended lets the others run now.
            if holder.is_none() || core.gate.holder() == holder {
                break;
            }
        }
        progressed || out.over_budget || self.tx_dirty(core)
    }

    /// Polls one turn under its meter. A finished turn goes to [`ObjectTask::finish`].
    pub(super) fn poll_one(
        &mut self,
        core: &Core,
        turn: &mut InFlight,
        cx: &mut std::task::Context<'_>,
        out: &mut Outbox,
    ) -> Step {
        let meter = self.start_poll(core, turn.resumed);
        core.gate.polling(turn.id);
        let polled = catch_unwind(AssertUnwindSafe(|| turn.fut.as_mut().poll(cx)));
        let step = match polled {
            Ok(Poll::Pending) => {
                turn.resumed = true;
                Step::Parked
            }
            Ok(Poll::Ready(done)) => Step::Done(Box::new(done)),
            Err(_) => Step::Panicked,
        };
        if self.end_poll(core, meter, &mut turn.cpu_spent) {
            out.over_budget = true;
        }
        if let Step::Panicked = step {
            out.crashed = true;
            let end = std::mem::replace(&mut turn.end, TurnEnd::Socket);
            self.fail_end(core, end, out, || {
                Error::Handler("the handler panicked".into())
            });
        }
        step
    }

    /// Turns a finished turn's outcome into its answer (or alarm follow-up).
    pub(super) fn finish(
        &mut self,
        core: &Core,
        turn: InFlight,
        result: (Context, Outcome),
        out: &mut Outbox,
    ) {
        let (mut ctx, outcome) = result;
        match (turn.end, outcome) {
            (TurnEnd::Fetch { reply, cold }, Outcome::Fetch(r)) => {
                let accepted = ctx.accepted.take();
                let r = match r {
                    Ok(mut response) => {
                        if cold {
                            // This request waited for the object to come into memory.
                            response
                                .headers
                                .push((COLD_START_HEADER.into(), "1".into()));
                        }
                        Ok(Reply { response, accepted })
                    }
                    Err(e) => {
                        self.drop_accepted(accepted);
                        Err(e)
                    }
                };
                out.answers.push(Answer::Fetch(reply, r));
            }
            (TurnEnd::Call { reply }, Outcome::Call(r)) => {
                out.answers.push(Answer::Call(reply, r));
            }
            (
                TurnEnd::Alarm {
                    info,
                    changes_before,
                    cleared,
                    permit,
                },
                Outcome::Done(r),
            ) => {
                if let Err(e) = &r {
                    tracing::debug!(object = %self.object.id(), "alarm handler failed: {e}");
                }
                self.finish_alarm(core, info, changes_before, r.is_ok() && cleared);
                out.permits.extend(permit);
            }
            (TurnEnd::Socket, Outcome::Done(Err(e))) => {
                tracing::debug!(object = %self.object.id(), "socket handler failed: {e}");
            }
            _ => {}
        }
    }

    /// A turn that will not finish: its caller hears `why`; an alarm counts as failed (its
    /// retry is stored with the batch).
    fn fail_end(&self, core: &Core, end: TurnEnd, out: &mut Outbox, why: impl Fn() -> Error) {
        match end {
            TurnEnd::Fetch { reply, .. } => out.answers.push(Answer::Fetch(reply, Err(why()))),
            TurnEnd::Call { reply } => out.answers.push(Answer::Call(reply, Err(why()))),
            TurnEnd::Alarm {
                info,
                changes_before,
                permit,
                ..
            } => {
                self.finish_alarm(core, info, changes_before, false);
                out.permits.extend(permit);
            }
            TurnEnd::Socket => {}
        }
    }

    /// Ends every turn in flight after an earlier turn crashed: each caller hears so, each
    /// alarm is retried; the commit that follows stores the retries.
    pub(super) fn fail_in_flight(&self, core: &Core, turns: &mut Vec<InFlight>, out: &mut Outbox) {
        for turn in turns.drain(..) {
            drop(turn.fut);
            self.fail_end(core, turn.end, out, || {
                Error::ObjectReset("an earlier turn crashed".into())
            });
        }
    }

    /// Drops every turn in flight of a batch that is thrown away (rolled back): callers hear
    /// `why`; alarms stand as storage holds them.
    pub(super) fn drop_in_flight(turns: &mut Vec<InFlight>, why: impl Fn() -> Error) {
        for turn in turns.drain(..) {
            drop(turn.fut);
            match turn.end {
                TurnEnd::Fetch { reply, .. } => {
                    let _ = reply.send(Err(why()));
                }
                TurnEnd::Call { reply } => {
                    let _ = reply.send(Err(why()));
                }
                TurnEnd::Alarm { .. } | TurnEnd::Socket => {}
            }
        }
    }

    /// What a poll's cost is measured from: the thread's CPU time (when the clock counts it,
    /// or the budget must add it up over a resumed turn's polls) and the rows storage had
    /// read and written.
    fn start_poll(&self, core: &Core, resumed: bool) -> TurnMeter {
        let limit = self.shared.config.cpu_budget;
        let budget = limit.map(CpuBudget::starting_now);
        let mut tx = core.tx();
        tx.storage.set_budget(budget);
        let costs = &self.shared.config.costs;
        let clock_cpu = self.clock.is_on() && costs.cpu_factor > 0.0;
        TurnMeter {
            budget,
            cpu: (clock_cpu || (resumed && limit.is_some())).then(crate::ceiling::thread_cpu),
            rows: tx.storage.usage(),
        }
    }

    /// Charges what the poll did to the clock (later turns wait for it) and to the stats.
    /// True if the turn went past its CPU budget (whether or not its handler noticed).
    fn end_poll(&mut self, core: &Core, meter: TurnMeter, cpu_spent: &mut Duration) -> bool {
        let rows = {
            let mut tx = core.tx();
            tx.storage.set_budget(None);
            tx.storage.usage().since(meter.rows)
        };
        let cpu = meter.cpu.map_or(Duration::ZERO, |at| {
            crate::ceiling::thread_cpu().saturating_sub(at)
        });
        *cpu_spent += cpu;
        let over_budget = meter.budget.is_some_and(|b| b.exceeded())
            || self
                .shared
                .config
                .cpu_budget
                .is_some_and(|limit| *cpu_spent > limit);
        self.stats.rows_read.fetch_add(rows.rows_read, Relaxed);
        let work = &self.shared.work;
        if rows.rows_read > 0 {
            work.rows_read.fetch_add(rows.rows_read, Relaxed);
        }
        if rows.rows_written > 0 {
            work.rows_written.fetch_add(rows.rows_written, Relaxed);
            self.written_since_commit = true;
        }
        self.stats
            .rows_written
            .fetch_add(rows.rows_written, Relaxed);
        let costs = &self.shared.config.costs;
        if !self.clock.is_on() {
            return over_budget;
        }
        let cpu = if costs.cpu_factor > 0.0 {
            cpu.mul_f64(crate::ceiling::cpu_scale())
        } else {
            Duration::ZERO
        };
        let extra = costs.extra(cpu, rows.rows_read, rows.rows_written);
        self.clock.charge(extra);
        over_budget
    }

    /// Something waits for the commit point: writes, frames, calls or an alarm change.
    pub(super) fn tx_dirty(&self, core: &Core) -> bool {
        if self.written_since_commit {
            return true;
        }
        let tx = core.tx();
        !tx.calls.is_empty() || !tx.outgoing.is_empty() || tx.alarm_effect.is_some()
    }
}
