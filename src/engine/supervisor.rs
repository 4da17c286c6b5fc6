//! The pure half of the engine: `handle(input) -> effects`.
//!
//! It owns every worker's state, the pool and the queue, stop ladders, restarts and
//! joins. It does no I/O and never sleeps: the OS half (`engine/os`) carries out the
//! effects and feeds facts (spawned, exited, output, timers, samples) back in. That
//! keeps all the policy unit-testable with plain values.

mod commands;
mod counts;
mod deps;
#[cfg(test)]
mod deps_tests;
mod exit;
mod join;
mod order;
mod probes;
mod retire;
mod stop;
mod stuck;
#[cfg(test)]
mod tests;
pub mod worker;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{Command, WorkerId};
use super::event::{EventKind, WorkerSummary};
use super::snapshot::{HeldBy, QueueStats, Snapshot, WorkerState};
use crate::sample::Sample;
use crate::spec::JobSpec;
use join::PendingJoin;
use worker::{StopReason, Worker};

/// The workers an input may move between counts.
fn subjects(input: &Input) -> counts::Subjects {
    use counts::Subjects;
    let ids = match input {
        Input::Spawned { id, .. } | Input::SpawnFailed { id, .. } | Input::Exited { id, .. } => {
            vec![*id]
        }
        Input::Output { .. } | Input::Pool(_) => Vec::new(),
        Input::Probe { id, .. } => vec![*id],
        Input::Timer(t) if t.kind == TimerKind::Join => Vec::new(),
        Input::Timer(t) => vec![t.id],
        Input::Sample(_) => return Subjects::All,
        Input::Command(cmd) => match cmd {
            Command::Signal { workers, .. } => workers.clone(),
            Command::Terminate(ids)
            | Command::Kill(ids)
            | Command::Pause(ids)
            | Command::Resume(ids)
            | Command::Restart(ids)
            | Command::Cancel(ids) => ids.clone(),
            Command::ReapZombies(id) | Command::TerminateZombieParents(id) => vec![*id],
            Command::SignalDescendant { worker, .. } => vec![*worker],
            // Names are resolved while the command runs: recount everything.
            Command::StopAll | Command::Named { .. } => return Subjects::All,
            Command::Launch(_)
            | Command::Join { .. }
            | Command::PauseQueue
            | Command::ResumeQueue
            | Command::SetMaxParallel(_)
            | Command::CloseQueue
            | Command::Submit { .. } => Vec::new(),
        },
    };
    counts::Subjects::Some(ids)
}

/// How a worker's leader ended, as waitpid reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

/// Facts and requests the supervisor reacts to.
#[derive(Debug, Clone)]
pub enum Input {
    Command(Command),
    Spawned {
        id: WorkerId,
        pid: u32,
    },
    SpawnFailed {
        id: WorkerId,
        error: String,
    },
    /// The leader was reaped (reported after its pipes have handed on what it
    /// wrote, which a slow front end can delay).
    Exited {
        id: WorkerId,
        status: ExitStatus,
        /// When it was reaped: its runtime ends here, not when reported.
        at: Instant,
    },
    /// Output arrived; carries the last complete line of the batch.
    Output {
        id: WorkerId,
        last_line: String,
    },
    Timer(Timer),
    Sample(Box<Sample>),
    /// A probe's verdict for run `run` of a worker (readiness probes report only
    /// a pass; health probes report every check).
    Probe {
        id: WorkerId,
        run: u32,
        purpose: ProbePurpose,
        ok: bool,
        detail: String,
    },
    /// For the pools (`engine/pool.rs`); the supervisor ignores it.
    Pool(crate::engine::pool::PoolInput),
}

/// What a probe is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbePurpose {
    Ready,
    Health,
}

/// Which part of a worker a signal goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The leader process only (through its pidfd).
    Leader,
    /// The leader's process group plus every descendant found through /proc.
    Tree,
    /// One descendant, if (pid, start time) is still in the worker's tree.
    Descendant { pid: u32, start: Option<u64> },
}

/// What the OS half must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Spawn {
        id: WorkerId,
        name: String,
        job: Arc<JobSpec>,
    },
    Signal {
        id: WorkerId,
        signal: i32,
        scope: Scope,
    },
    /// `signal` to these parents of zombies (the OS half checks they are still in the tree).
    SignalParents {
        id: WorkerId,
        parents: Vec<u32>,
        signal: i32,
    },
    Arm {
        after: Duration,
        timer: Timer,
    },
    Emit(EventKind),
    /// Start checking run `run` of a worker with `probe` (until it passes, for
    /// readiness; until the run ends, for health).
    Probe {
        id: WorkerId,
        run: u32,
        purpose: ProbePurpose,
        probe: crate::spec::deps::Probe,
    },
    /// The worker is finished and forgotten (see `Policy::keep_finished`): drop
    /// what the OS half keeps for it, output buffer included.
    Retire(WorkerId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub id: WorkerId,
    /// The run the timer was armed for (see `Worker::run`).
    pub run: u32,
    pub kind: TimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Grace period over: SIGKILL the tree.
    Kill,
    /// Some time after SIGKILL: a process still there is unkillable.
    KillCheck,
    Timeout,
    /// Restart back-off over: queue the worker again.
    Restart,
    /// A join's timeout (the `id` field is unused; `run` holds the join number).
    Join,
    /// The `ready` probe's deadline: not ready by now is a failure.
    ReadyDeadline,
}

/// What the last `queue` event said: stats, waiting, max_parallel, paused, closed,
/// held_by.
type QueueNow = (QueueStats, usize, usize, bool, bool, Option<HeldBy>);

/// Settings the supervisor needs from the CLI and the workload.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_parallel: usize,
    pub stop_grace: Duration,
    /// Stuck detection for jobs without their own `stuck_after`; `None` = off.
    pub stuck_after: Option<Duration>,
    pub stuck_cpu_pct: f64,
    /// How long after SIGKILL a surviving process is declared unkillable.
    pub kill_check: Duration,
    /// Emit a `sample` event for every sampling tick.
    pub sample_events: bool,
    /// Keep at most this many finished workers; older ones are retired: still
    /// counted in queue stats and `ok`, but gone from snapshots, the summary and
    /// commands. Bounds memory for runs of very many workers (map mode).
    /// `None` keeps every worker.
    pub keep_finished: Option<usize>,
    /// At most this many workers run at once because of proctor's open-file limit
    /// (each running worker holds descriptors; the OS half measures the limit).
    /// Below `max_parallel`, the rest wait in the queue. `None`: no such limit.
    pub open_file_slots: Option<usize>,
    /// Whether stop-all stops dependents before what they depend on.
    pub stop_order: crate::spec::deps::StopOrder,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_parallel: 1,
            stop_grace: Duration::from_millis(3000),
            stuck_after: None,
            stuck_cpu_pct: 1.0,
            kill_check: Duration::from_secs(2),
            sample_events: false,
            keep_finished: None,
            open_file_slots: None,
            stop_order: crate::spec::deps::StopOrder::default(),
        }
    }
}

pub struct Supervisor {
    policy: Policy,
    /// By id, in launch order; retired workers are removed.
    workers: BTreeMap<WorkerId, Worker>,
    next_id: u32,
    retired: retire::Retired,
    counts: counts::Counts,
    queue: VecDeque<WorkerId>,
    queue_paused: bool,
    queue_closed: bool,
    /// Set by stop-all: nothing may start or restart any more.
    shutting_down: bool,
    joins: Vec<PendingJoin>,
    next_join: u32,
    last_queue: Option<QueueNow>,
    deps: deps::Deps,
    effects: Vec<Effect>,
    system: Option<crate::sample::SystemSample>,
}

impl Supervisor {
    pub fn new(policy: Policy) -> Self {
        Supervisor {
            policy,
            workers: BTreeMap::new(),
            next_id: 0,
            retired: retire::Retired::default(),
            counts: counts::Counts::default(),
            queue: VecDeque::new(),
            queue_paused: false,
            queue_closed: false,
            shutting_down: false,
            joins: Vec::new(),
            next_join: 0,
            last_queue: None,
            deps: deps::Deps::default(),
            effects: Vec::new(),
            system: None,
        }
    }

    /// Reacts to one input and returns what the OS half must do, in order.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        if let Input::Pool(_) = input {
            return Vec::new();
        }
        if let Input::Output { id, last_line } = input {
            // The hot path with chatty workers: no state changes, nothing to recount.
            if let Some(w) = self.worker_mut(id) {
                w.last_line = last_line;
                w.busy_at = now;
                w.stuck = false;
            }
            return Vec::new();
        }
        let subjects = subjects(&input);
        let before = self.buckets_of(&subjects);
        match input {
            Input::Command(cmd) => self.command(cmd, now),
            Input::Spawned { id, pid } => self.spawned(id, pid, now),
            Input::SpawnFailed { id, error } => self.spawn_failed(id, error, now),
            Input::Exited { id, status, at } => self.exited(id, status, at.min(now)),
            Input::Output { id, last_line } => {
                if let Some(w) = self.worker_mut(id) {
                    w.last_line = last_line;
                    w.busy_at = now;
                    w.stuck = false;
                }
            }
            Input::Timer(timer) => self.timer(timer, now),
            Input::Sample(sample) => self.sample(*sample, now),
            Input::Probe {
                id,
                run,
                purpose,
                ok,
                detail,
            } => self.probe_result(id, run, purpose, ok, detail, now),
            Input::Pool(_) => {}
        }
        self.settle(subjects, before);
        if self.resolve_waiting(now) {
            self.recount();
        }
        self.release_held(now);
        self.fill(now);
        self.check_joins(now);
        self.retire_finished();
        self.emit_queue_if_changed();
        std::mem::take(&mut self.effects)
    }

    /// True once the queue is closed and every worker is finished for good.
    pub fn is_done(&self) -> bool {
        self.queue_closed
            && self.queue.is_empty()
            && self.counts.active == 0
            && self.counts.waiting == 0
    }

    pub fn queue_stats(&self) -> QueueStats {
        QueueStats {
            depth: self.queue.len(),
            running: self.counts.active,
            done: self.retired.done + self.counts.ok,
            failed: self.retired.failed + self.counts.failed,
            stopped: self.retired.stopped + self.counts.stopped,
        }
    }

    pub fn snapshot(&self, now: Instant) -> Snapshot {
        Snapshot {
            workers: self.workers.values().map(|w| w.view(now)).collect(),
            queue: self.queue_stats(),
            max_parallel: self.policy.max_parallel,
            queue_paused: self.queue_paused,
            queue_closed: self.queue_closed,
            held_by: self.held_by(),
            open_file_slots: self.policy.open_file_slots,
            system: self.system.clone(),
            finished: self.is_done(),
            pools: Vec::new(),
        }
    }

    /// Per-worker results; `ok` is true when no worker failed on its own.
    pub fn summary(&self, now: Instant) -> (bool, Vec<WorkerSummary>) {
        (
            self.all_ok(),
            self.workers.values().map(|w| w.summary(now)).collect(),
        )
    }

    /// No worker failed: each exited 0, was stopped by a person, or was cancelled
    /// before it ever ran.
    pub fn all_ok(&self) -> bool {
        self.retired.ok && self.workers.values().all(Worker::counts_as_ok)
    }

    pub fn worker_name(&self, id: WorkerId) -> Option<&str> {
        self.worker(id).map(|w| w.name.as_str())
    }

    /// Worker id by name, for front ends that address workers by name.
    pub fn find(&self, name: &str) -> Option<WorkerId> {
        self.workers.values().find(|w| w.name == name).map(|w| w.id)
    }

    fn worker(&self, id: WorkerId) -> Option<&Worker> {
        self.workers.get(&id)
    }

    fn worker_mut(&mut self, id: WorkerId) -> Option<&mut Worker> {
        self.workers.get_mut(&id)
    }

    /// How many workers may run now: `max_parallel`, or fewer when the open-file
    /// limit allows fewer.
    fn slots(&self) -> usize {
        let files = self.policy.open_file_slots.unwrap_or(usize::MAX);
        self.policy.max_parallel.min(files)
    }

    /// What keeps queued workers from starting though `max_parallel` has room.
    fn held_by(&self) -> Option<HeldBy> {
        let limited = self.slots() < self.policy.max_parallel;
        let held = !self.queue.is_empty() && !self.queue_paused && !self.shutting_down;
        (limited && held && self.counts.active >= self.slots()).then_some(HeldBy::OpenFiles)
    }

    /// A `queue` event whenever depth, counts or queue settings change.
    fn emit_queue_if_changed(&mut self) {
        let now = (
            self.queue_stats(),
            self.deps.waiting.len(),
            self.policy.max_parallel,
            self.queue_paused,
            self.queue_closed,
            self.held_by(),
        );
        if self.last_queue == Some(now) {
            return;
        }
        self.last_queue = Some(now);
        let (stats, waiting, max_parallel, paused, closed, held_by) = now;
        let open_file_slots = held_by.and(self.policy.open_file_slots);
        self.emit(EventKind::Queue {
            stats,
            waiting,
            max_parallel,
            paused,
            closed,
            held_by,
            open_file_slots,
        });
    }

    /// Arms a timer for run `run` of worker `id`.
    fn arm(&mut self, id: WorkerId, run: u32, kind: TimerKind, after: Duration) {
        let timer = Timer { id, run, kind };
        self.effects.push(Effect::Arm { after, timer });
    }

    /// SIGKILL to the worker's whole tree.
    fn kill_tree(&mut self, id: WorkerId) {
        let signal = libc::SIGKILL;
        self.effects.push(Effect::Signal {
            id,
            signal,
            scope: Scope::Tree,
        });
    }

    fn emit(&mut self, kind: EventKind) {
        self.effects.push(Effect::Emit(kind));
    }

    fn error(&mut self, message: String) {
        self.emit(EventKind::Error { message });
    }

    /// Adds a job's workers to the queue; names stay unique across the run.
    fn launch(&mut self, job: JobSpec, now: Instant) {
        // A pool replaces its workers until its queued tasks are done, even once
        // the queue is closed (but not after stop-all).
        let pool_worker = job.feed.is_some() && !self.shutting_down;
        if self.queue_closed && !pool_worker {
            self.error(format!("cannot launch '{}': the queue is closed", job.name));
            return;
        }
        if job.explicit_name
            && let Some(taken) = self
                .workers
                .values()
                .find(|w| w.job.name == job.name || job.worker_names().contains(&w.name))
        {
            self.error(format!(
                "cannot launch '{}': a worker named '{}' exists; give the job a name \
                 no worker has",
                job.name, taken.name
            ));
            return;
        }
        if let Some(message) = self.unknown_dependency(&job) {
            self.error(message);
            return;
        }
        let job = Arc::new(job);
        // Names proctor derived itself get `-2`, `-3`… to stay unique.
        for base in job.worker_names() {
            let mut name = base.clone();
            let mut n = 2;
            while self.workers.values().any(|w| w.name == name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            let id = WorkerId(self.next_id);
            self.next_id += 1;
            self.workers
                .insert(id, Worker::new(id, name, job.clone(), now));
            if job.depends_on.is_empty() {
                self.queue.push_back(id);
            } else {
                self.wait_for_dependencies(id);
            }
            self.counts.add(counts::Bucket::Waiting);
        }
    }

    /// Starts queued workers while the pool has free slots.
    fn fill(&mut self, now: Instant) {
        if self.queue_paused {
            return;
        }
        while self.counts.active < self.slots() {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            let Some(w) = self.workers.get_mut(&id) else {
                continue;
            };
            let before = counts::Bucket::of(w);
            w.reset_for_run(now);
            self.counts.remove(before);
            self.counts.add(counts::Bucket::of(w));
            let effect = Effect::Spawn {
                id,
                name: w.name.clone(),
                job: w.job.clone(),
            };
            self.effects.push(effect);
        }
    }

    fn spawned(&mut self, id: WorkerId, pid: u32, now: Instant) {
        let Some(w) = self.worker_mut(id) else { return };
        w.pid = Some(pid);
        w.state = WorkerState::Running;
        w.busy_at = now;
        let (name, run, timeout) = (w.name.clone(), w.run, w.job.timeout);
        self.emit(EventKind::Spawned {
            worker: name,
            pid,
            pgid: pid,
        });
        if let Some(after) = timeout {
            self.arm(id, run, TimerKind::Timeout, after);
        }
        self.start_probes(id);
    }

    fn spawn_failed(&mut self, id: WorkerId, error: String, now: Instant) {
        let Some(w) = self.worker_mut(id) else { return };
        w.state = WorkerState::Failed;
        w.error = Some(error.clone());
        w.ended = Some(now);
        let worker = w.name.clone();
        self.emit(EventKind::Failed { worker, error });
        self.note_finished(id);
    }

    fn timer(&mut self, timer: Timer, now: Instant) {
        if timer.kind == TimerKind::Join {
            self.join_timed_out(timer.run);
            return;
        }
        let Some(w) = self.worker(timer.id) else {
            return;
        };
        if w.run != timer.run {
            return;
        }
        match timer.kind {
            TimerKind::Kill => self.kill_after_grace(timer.id),
            TimerKind::KillCheck => self.check_killed(timer.id),
            TimerKind::Timeout => {
                if w.state.is_active() && w.stop.is_none() {
                    if let Some(w) = self.worker_mut(timer.id) {
                        w.timed_out = true;
                    }
                    self.terminate(timer.id, StopReason::Timeout, now);
                }
            }
            TimerKind::Restart => self.requeue_after_backoff(timer.id),
            TimerKind::ReadyDeadline => self.ready_deadline(timer.id, now),
            TimerKind::Join => {}
        }
    }
}
