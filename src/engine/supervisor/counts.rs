//! Pool counts kept up to date as workers change, so the queue figures and the
//! "all done?" check cost O(1) per input instead of a walk over every worker
//! (which made each input O(n): 2,000 workers meant millions of visits).

use super::Supervisor;
use super::worker::Worker;
use crate::engine::command::WorkerId;
use crate::engine::snapshot::WorkerState;

/// Which count a worker is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Starting, running or paused.
    Active,
    /// Queued, or finished with a restart coming.
    Waiting,
    DoneOk,
    DoneFailed,
    Cancelled,
}

impl Bucket {
    pub fn of(w: &Worker) -> Bucket {
        if w.state.is_active() {
            Bucket::Active
        } else if !w.is_done() {
            Bucket::Waiting
        } else if w.succeeded() {
            Bucket::DoneOk
        } else if w.state == WorkerState::Cancelled {
            Bucket::Cancelled
        } else {
            Bucket::DoneFailed
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: usize,
    pub waiting: usize,
    pub ok: usize,
    pub failed: usize,
}

impl Counts {
    fn slot(&mut self, b: Bucket) -> Option<&mut usize> {
        match b {
            Bucket::Active => Some(&mut self.active),
            Bucket::Waiting => Some(&mut self.waiting),
            Bucket::DoneOk => Some(&mut self.ok),
            Bucket::DoneFailed => Some(&mut self.failed),
            Bucket::Cancelled => None,
        }
    }

    pub fn add(&mut self, b: Bucket) {
        if let Some(n) = self.slot(b) {
            *n += 1;
        }
    }

    pub fn remove(&mut self, b: Bucket) {
        if let Some(n) = self.slot(b) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The workers an input may change, whose buckets are compared before and after.
pub enum Subjects {
    Some(Vec<WorkerId>),
    All,
}

impl Supervisor {
    /// Buckets of `subjects` now, to be settled after the input.
    pub(super) fn buckets_of(&self, subjects: &Subjects) -> Vec<(WorkerId, Bucket)> {
        match subjects {
            Subjects::Some(ids) => ids
                .iter()
                .filter_map(|&id| self.worker(id).map(|w| (id, Bucket::of(w))))
                .collect(),
            Subjects::All => Vec::new(),
        }
    }

    /// Moves each subject from its old bucket to its current one.
    pub(super) fn settle(&mut self, subjects: Subjects, before: Vec<(WorkerId, Bucket)>) {
        match subjects {
            Subjects::All => self.recount(),
            Subjects::Some(_) => {
                for (id, old) in before {
                    let Some(new) = self.worker(id).map(Bucket::of) else {
                        continue;
                    };
                    if new != old {
                        self.counts.remove(old);
                        self.counts.add(new);
                    }
                }
            }
        }
    }

    /// Counts everything from scratch (rare inputs that touch every worker).
    pub(super) fn recount(&mut self) {
        let mut counts = Counts::default();
        for w in self.workers.values() {
            counts.add(Bucket::of(w));
        }
        self.counts = counts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_workers_count_nowhere() {
        let mut c = Counts::default();
        c.add(Bucket::Cancelled);
        c.add(Bucket::Active);
        c.remove(Bucket::Cancelled);
        assert_eq!(
            c,
            Counts {
                active: 1,
                ..Counts::default()
            }
        );
    }
}
