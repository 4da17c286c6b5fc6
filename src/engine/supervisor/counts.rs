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
    /// Ended because a person stopped it.
    DoneStopped,
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
        } else if w.stopped {
            Bucket::DoneStopped
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
    pub stopped: usize,
}

impl Counts {
    fn slot(&mut self, b: Bucket) -> Option<&mut usize> {
        match b {
            Bucket::Active => Some(&mut self.active),
            Bucket::Waiting => Some(&mut self.waiting),
            Bucket::DoneOk => Some(&mut self.ok),
            Bucket::DoneFailed => Some(&mut self.failed),
            Bucket::DoneStopped => Some(&mut self.stopped),
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
    use std::time::Instant;

    use super::*;
    use crate::engine::command::Command;
    use crate::engine::supervisor::{ExitStatus, Input, Policy};
    use crate::spec::{JobSpec, Program};

    /// Three running workers `w#1..#3`.
    fn three(now: Instant) -> Supervisor {
        let mut s = Supervisor::new(Policy {
            max_parallel: 3,
            ..Policy::default()
        });
        let mut j = JobSpec::new("w", Program::Argv(vec!["sleep".into(), "9".into()]));
        j.count = 3;
        s.handle(Input::Command(Command::Launch(Box::new(j))), now);
        for id in 0..3 {
            let (id, pid) = (WorkerId(id), 1000 + id);
            s.handle(Input::Spawned { id, pid }, now);
        }
        s
    }

    fn exit(s: &mut Supervisor, id: u32, status: ExitStatus, now: Instant) {
        let id = WorkerId(id);
        s.handle(
            Input::Exited {
                id,
                status,
                at: now,
            },
            now,
        );
    }

    #[test]
    fn workers_a_person_stopped_are_stopped_not_failed() {
        let now = Instant::now();
        let mut s = three(now);
        s.handle(Input::Command(Command::Terminate(vec![WorkerId(0)])), now);
        exit(&mut s, 0, ExitStatus::Signal(libc::SIGTERM), now);
        let usr1 = Command::Signal {
            workers: vec![WorkerId(1)],
            signal: libc::SIGUSR1,
            group: true,
        };
        s.handle(Input::Command(usr1), now);
        exit(&mut s, 1, ExitStatus::Signal(libc::SIGUSR1), now);
        s.handle(Input::Command(Command::StopAll), now);
        exit(&mut s, 2, ExitStatus::Code(143), now);
        let q = s.queue_stats();
        assert_eq!((q.done, q.failed, q.stopped), (0, 0, 3));
        assert!(s.all_ok(), "stopping workers on purpose is not a failure");
        let (ok, summary) = s.summary(now);
        assert!(ok && summary.iter().all(|w| w.stopped));
    }

    #[test]
    fn a_worker_that_dies_on_its_own_still_fails() {
        let now = Instant::now();
        let mut s = three(now);
        s.handle(Input::Command(Command::Terminate(vec![WorkerId(0)])), now);
        exit(&mut s, 0, ExitStatus::Signal(libc::SIGTERM), now);
        // A signal nobody asked proctor to send (the OOM killer, say).
        exit(&mut s, 1, ExitStatus::Signal(libc::SIGKILL), now);
        exit(&mut s, 2, ExitStatus::Code(0), now);
        let q = s.queue_stats();
        assert_eq!((q.done, q.failed, q.stopped), (1, 1, 1));
        assert!(!s.all_ok());
    }

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
