//! Retiring finished workers beyond `Policy::keep_finished`, so a run of very
//! many workers (map mode) keeps bounded state: their results live on as counts.

use std::collections::VecDeque;

use super::{Effect, Supervisor};
use crate::engine::command::WorkerId;
use crate::engine::snapshot::WorkerState;

/// What is left of retired workers.
#[derive(Debug)]
pub struct Retired {
    /// Counted as `queue_stats` counts them.
    pub done: usize,
    pub failed: usize,
    pub stopped: usize,
    /// Every retired worker counted as ok (see `Worker::counts_as_ok`).
    pub ok: bool,
    /// Workers in the order they finished, oldest first (may hold stale ids).
    finished: VecDeque<WorkerId>,
}

impl Default for Retired {
    fn default() -> Self {
        Retired {
            done: 0,
            failed: 0,
            stopped: 0,
            ok: true,
            finished: VecDeque::new(),
        }
    }
}

impl Supervisor {
    /// Notes that a worker reached a finished state, to retire it later.
    pub(super) fn note_finished(&mut self, id: WorkerId) {
        if self.policy.keep_finished.is_some() {
            self.retired.finished.push_back(id);
        }
    }

    /// Retires the oldest finished workers while more than the policy keeps.
    pub(super) fn retire_finished(&mut self) {
        let Some(keep) = self.policy.keep_finished else {
            return;
        };
        while self.retired.finished.len() > keep {
            let Some(&id) = self.retired.finished.front() else {
                break;
            };
            let retirable = match self.worker(id) {
                // Listed twice, or running again (listed anew when it finishes).
                None => false,
                Some(w) if !w.is_done() => false,
                // Its stop ladder may still have descendants to kill.
                Some(w) if w.stop.is_some_and(|s| !s.killed) => break,
                Some(_) => true,
            };
            self.retired.finished.pop_front();
            if !retirable {
                continue;
            }
            if let Some(w) = self.workers.remove(&id) {
                self.counts.remove(super::counts::Bucket::of(&w));
                if w.succeeded() {
                    self.retired.done += 1;
                } else if w.stopped {
                    self.retired.stopped += 1;
                } else if w.state != WorkerState::Cancelled {
                    self.retired.failed += 1;
                }
                self.retired.ok &= w.counts_as_ok();
                self.effects.push(Effect::Retire(id));
            }
        }
    }
}
