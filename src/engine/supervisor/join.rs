//! Join: wait for one worker, or for all (close the queue, then wait).

use std::time::{Duration, Instant};

use super::{Effect, Supervisor, Timer, TimerKind};
use crate::engine::command::{JoinTarget, WorkerId};
use crate::engine::event::EventKind;
use crate::signals::signal_name;

#[derive(Debug, Clone)]
pub struct PendingJoin {
    pub number: u32,
    pub target: JoinTarget,
}

impl Supervisor {
    pub(super) fn join(&mut self, target: JoinTarget, timeout: Option<Duration>, _now: Instant) {
        if let JoinTarget::Worker(id) = target {
            if self.worker(id).is_none() {
                self.error(format!("cannot join worker #{}: no such worker", id.0));
                return;
            }
        } else {
            self.queue_closed = true;
        }
        let number = self.next_join;
        self.next_join += 1;
        self.joins.push(PendingJoin { number, target });
        if let Some(after) = timeout {
            let timer = Timer {
                id: WorkerId(0),
                run: number,
                kind: TimerKind::Join,
            };
            self.effects.push(Effect::Arm { after, timer });
        }
    }

    /// Answers every join whose condition now holds.
    pub(super) fn check_joins(&mut self, _now: Instant) {
        if self.joins.is_empty() {
            return;
        }
        let mut answered = Vec::new();
        for join in &self.joins {
            let event = match join.target {
                JoinTarget::Worker(id) => match self.worker(id) {
                    Some(w) if w.is_done() => EventKind::Joined {
                        worker: Some(w.name.clone()),
                        code: w.code,
                        signal: w.signal.map(signal_name),
                        ok: w.counts_as_ok(),
                    },
                    _ => continue,
                },
                JoinTarget::All if self.is_done() => EventKind::Joined {
                    worker: None,
                    code: None,
                    signal: None,
                    ok: self.all_ok(),
                },
                JoinTarget::All => continue,
            };
            answered.push((join.number, event));
        }
        for (number, event) in answered {
            self.joins.retain(|j| j.number != number);
            self.emit(event);
        }
    }

    pub(super) fn join_timed_out(&mut self, number: u32) {
        let Some(pos) = self.joins.iter().position(|j| j.number == number) else {
            return; // answered before the timeout
        };
        let join = self.joins.remove(pos);
        let worker = match join.target {
            JoinTarget::Worker(id) => self.worker_name(id).map(str::to_string),
            JoinTarget::All => None,
        };
        self.emit(EventKind::JoinTimeout { worker });
    }
}
