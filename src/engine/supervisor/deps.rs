//! Dependencies between jobs: workers wait (state `waiting`, outside the queue)
//! until what they depend on reaches its condition, and are skipped, transitively,
//! when it never will. Every wait ends.

use std::time::Instant;

use super::Supervisor;
use super::worker::Worker;
use crate::engine::command::WorkerId;
use crate::engine::event::{EventKind, SkipReason};
use crate::engine::snapshot::WorkerState;
use crate::signals::signal_name;
use crate::spec::JobSpec;
use crate::spec::deps::{Condition, Dependency, Instances};

/// Dependency bookkeeping of the whole supervisor.
#[derive(Debug, Default)]
pub struct Deps {
    /// Workers in state `waiting`, in launch order.
    pub waiting: Vec<WorkerId>,
    /// Jobs of the workload still to be launched, which dependencies may name.
    pub expected: Vec<String>,
    /// Stop-all: workers whose stop ladder waits for their dependents to exit.
    pub held: Vec<WorkerId>,
}

/// One worker's readiness and health, and why it was skipped.
#[derive(Debug, Clone, Default)]
pub struct DepState {
    /// Spawned at least once.
    pub started: bool,
    /// The current run passed its `ready` probe.
    pub ready: bool,
    /// Some run passed its `ready` probe (what dependents wait for).
    pub was_ready: bool,
    /// The `ready` probe missed its deadline.
    pub ready_missed: bool,
    /// Health checks failed in a row in the current run.
    pub health_failures: u32,
    pub unhealthy: bool,
    pub skipped: Option<SkipReason>,
}

impl DepState {
    pub fn new_run(&mut self) {
        self.started = true;
        self.ready = false;
        self.ready_missed = false;
        self.health_failures = 0;
        self.unhealthy = false;
        self.skipped = None;
    }
}

/// Where one dependency (or one worker of it) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Met,
    Pending,
    /// It will never be met; the cause, for the `skipped` reason.
    Failed(String),
}

/// How a finished worker ended, in a few words.
fn cause(w: &Worker) -> String {
    match w.state {
        WorkerState::Exited => format!("exited {}", w.code.unwrap_or(0)),
        WorkerState::Signaled => match w.signal {
            Some(s) => format!("killed by {}", signal_name(s)),
            None => "killed by a signal".into(),
        },
        WorkerState::Failed => format!(
            "failed to start: {}",
            w.error.as_deref().unwrap_or("unknown error")
        ),
        other => other.as_str().into(),
    }
}

/// Where one worker of a dependency stands for `condition`.
fn instance(w: &Worker, condition: Condition) -> Verdict {
    let done = w.is_done();
    let ran = matches!(w.state, WorkerState::Exited | WorkerState::Signaled);
    let met = match condition {
        Condition::Started => w.deps.started && w.state != WorkerState::Failed,
        Condition::Ready => w.deps.was_ready,
        Condition::Succeeded => w.succeeded(),
        Condition::Exited => done && ran,
    };
    if met {
        Verdict::Met
    } else if condition == Condition::Ready && w.deps.ready_missed {
        Verdict::Failed("missed its readiness deadline".into())
    } else if done {
        Verdict::Failed(cause(w))
    } else {
        Verdict::Pending
    }
}

/// All (or any) of the verdicts of a job's workers; no workers yet is pending.
fn combine(verdicts: Vec<Verdict>, instances: Instances) -> Verdict {
    if verdicts.is_empty() {
        return Verdict::Pending;
    }
    let first_failure = verdicts.iter().find(|v| matches!(v, Verdict::Failed(_)));
    match instances {
        Instances::All => {
            if let Some(failed) = first_failure {
                failed.clone()
            } else if verdicts.iter().all(|v| *v == Verdict::Met) {
                Verdict::Met
            } else {
                Verdict::Pending
            }
        }
        Instances::Any => {
            if verdicts.contains(&Verdict::Met) {
                Verdict::Met
            } else if verdicts.iter().all(|v| matches!(v, Verdict::Failed(_))) {
                first_failure.cloned().unwrap_or(Verdict::Pending)
            } else {
                Verdict::Pending
            }
        }
    }
}

impl Supervisor {
    /// Names the jobs of a workload before they are launched one by one, so a job
    /// may depend on one that comes later in the file.
    pub fn expect_jobs(&mut self, names: impl IntoIterator<Item = String>) {
        self.deps.expected.extend(names);
    }

    /// A launch whose dependencies name no job: the message, or `None`.
    pub(super) fn unknown_dependency(&self, job: &JobSpec) -> Option<String> {
        let known = |name: &str| {
            self.deps.expected.iter().any(|n| n == name)
                || self.workers.values().any(|w| w.job.name == name)
        };
        let dep = job.depends_on.iter().find(|d| !known(&d.job))?;
        Some(format!(
            "cannot launch '{}': it depends on '{}', and no job has that name",
            job.name, dep.job
        ))
    }

    /// Puts a worker in state `waiting` (out of the queue) and says what for.
    pub(super) fn wait_for_dependencies(&mut self, id: WorkerId) {
        let Some(w) = self.worker_mut(id) else { return };
        w.state = WorkerState::Waiting;
        let worker = w.name.clone();
        let on = w.job.depends_on.iter().map(|d| d.job.clone()).collect();
        if !self.deps.waiting.contains(&id) {
            self.deps.waiting.push(id);
        }
        self.emit(EventKind::Waiting { worker, on });
    }

    /// Where one dependency stands now.
    fn dependency(&self, dep: &Dependency) -> Verdict {
        let verdicts = self
            .workers
            .values()
            .filter(|w| w.job.name == dep.job)
            .map(|w| instance(w, dep.condition))
            .collect();
        combine(verdicts, dep.instances)
    }

    /// Queues waiting workers whose dependencies are met and skips those with a
    /// failed one, until nothing changes (a skip may fail further dependents).
    /// True when some worker changed state.
    pub(super) fn resolve_waiting(&mut self, now: Instant) -> bool {
        let mut changed = false;
        loop {
            let mut progress = false;
            for id in self.deps.waiting.clone() {
                let Some(w) = self.worker(id) else { continue };
                let mut outcome = Verdict::Met;
                let mut failed_dep = String::new();
                for dep in &w.job.depends_on {
                    match self.dependency(dep) {
                        Verdict::Met => {}
                        Verdict::Pending => outcome = Verdict::Pending,
                        Verdict::Failed(cause) => {
                            failed_dep = dep.job.clone();
                            outcome = Verdict::Failed(cause);
                            break;
                        }
                    }
                }
                match outcome {
                    Verdict::Pending => continue,
                    Verdict::Met => self.release(id),
                    Verdict::Failed(cause) => self.skip(id, failed_dep, cause, now),
                }
                progress = true;
            }
            if !progress {
                return changed;
            }
            changed = true;
        }
    }

    fn release(&mut self, id: WorkerId) {
        self.deps.waiting.retain(|w| *w != id);
        if let Some(w) = self.worker_mut(id) {
            w.state = WorkerState::Queued;
            self.queue.push_back(id);
        }
    }

    fn skip(&mut self, id: WorkerId, dep: String, cause: String, now: Instant) {
        self.deps.waiting.retain(|w| *w != id);
        let Some(w) = self.worker_mut(id) else { return };
        let reason = SkipReason { dep, cause };
        w.state = WorkerState::Skipped;
        w.ended = Some(now);
        w.deps.skipped = Some(reason.clone());
        let worker = w.name.clone();
        self.emit(EventKind::Skipped { worker, reason });
        self.note_finished(id);
    }

    /// A finished worker asked to run again: back to waiting when its job has
    /// dependencies, and what was skipped because of its job waits again too.
    /// True when the worker waits (the caller must not queue it).
    pub(super) fn rewait(&mut self, id: WorkerId) -> bool {
        let Some(w) = self.worker(id) else {
            return false;
        };
        let mut jobs = vec![w.job.name.clone()];
        let waits = !w.job.depends_on.is_empty();
        while let Some(job) = jobs.pop() {
            let skipped: Vec<WorkerId> = self
                .workers
                .values()
                .filter(|w| w.deps.skipped.as_ref().is_some_and(|r| r.dep == job))
                .map(|w| w.id)
                .collect();
            for s in skipped {
                if let Some(w) = self.worker_mut(s) {
                    w.deps.skipped = None;
                    w.ended = None;
                    jobs.push(w.job.name.clone());
                }
                self.wait_for_dependencies(s);
            }
        }
        if waits {
            self.wait_for_dependencies(id);
        }
        waits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_is_met_by_one_and_failed_only_by_all() {
        let failed = || Verdict::Failed("exited 1".into());
        let v = vec![failed(), Verdict::Met];
        assert_eq!(combine(v.clone(), Instances::Any), Verdict::Met);
        assert_eq!(combine(v, Instances::All), failed());
        let v = vec![failed(), Verdict::Pending];
        assert_eq!(combine(v, Instances::Any), Verdict::Pending);
        assert_eq!(combine(vec![], Instances::All), Verdict::Pending);
    }
}
