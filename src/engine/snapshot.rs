//! Owned views of the engine's state that front ends render. The engine publishes a
//! new `Snapshot` when something changed; readers never lock engine state.

use std::time::{Duration, SystemTime};

use super::command::WorkerId;
use crate::sample::SystemSample;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    Queued,
    /// Waiting for its dependencies (not in the queue for a slot yet).
    Waiting,
    Starting,
    Running,
    Paused,
    Exited,
    Signaled,
    Failed,
    Cancelled,
    /// Never started: a dependency failed.
    Skipped,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Queued => "queued",
            WorkerState::Waiting => "waiting",
            WorkerState::Starting => "starting",
            WorkerState::Running => "running",
            WorkerState::Paused => "paused",
            WorkerState::Exited => "exited",
            WorkerState::Signaled => "signaled",
            WorkerState::Failed => "failed",
            WorkerState::Cancelled => "cancelled",
            WorkerState::Skipped => "skipped",
        }
    }

    /// The worker has a live process (or is about to).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            WorkerState::Starting | WorkerState::Running | WorkerState::Paused
        )
    }

    /// The worker will not run again unless restarted.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            WorkerState::Exited
                | WorkerState::Signaled
                | WorkerState::Failed
                | WorkerState::Cancelled
                | WorkerState::Skipped
        )
    }
}

/// Live figures for one worker from the sampler (zero until the first sample).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerStats {
    /// 100.0 = one core fully used.
    pub cpu: f32,
    pub rss: u64,
    pub threads: u32,
    /// OS state letter of the leader: R, S, D, T, Z.
    pub os_state: char,
    pub tree_cpu: f32,
    pub tree_rss: u64,
    pub descendants: u32,
    pub zombies: u32,
    /// Every descendant (zombies too) at the last sample, for the process tree
    /// view; shared, so publishing a snapshot does not copy them.
    pub procs: std::sync::Arc<[crate::sample::ProcSample]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    pub id: WorkerId,
    pub name: String,
    /// The command line, for display.
    pub command: String,
    pub pid: Option<u32>,
    pub state: WorkerState,
    /// 0..255 for a normal exit, -N for signal N.
    pub code: Option<i32>,
    pub error: Option<String>,
    pub started: Option<SystemTime>,
    pub runtime: Duration,
    pub restarts: u32,
    pub timed_out: bool,
    /// Set while a stop ladder runs: when SIGKILL will be sent.
    pub kill_at: Option<SystemTime>,
    pub stuck: bool,
    /// SIGKILL was sent and the process did not go away (e.g. state D).
    pub unkillable: bool,
    /// Ended because a person stopped it (terminate, kill, stop all, a signal from
    /// the menu): not a failure.
    pub stopped: bool,
    pub stats: WorkerStats,
    pub last_line: String,
    pub deps: DepsView,
}

/// A worker's dependencies and probes as the UI shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DepsView {
    /// What its job depends on (empty for most jobs, so publishing copies nothing).
    pub depends_on: Vec<crate::spec::deps::Dependency>,
    /// Its job has a `ready` probe.
    pub has_ready: bool,
    /// The current run passed its `ready` probe.
    pub ready: bool,
    /// Its `health` probe failed `failure_threshold` times in a row.
    pub unhealthy: bool,
    /// Why it never started.
    pub skipped: Option<super::event::SkipReason>,
}

impl WorkerView {
    /// The job the worker was started from: its name up to the `#N` of a `count`.
    pub fn job(&self) -> &str {
        self.name.split('#').next().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    pub depth: usize,
    pub running: usize,
    /// Exited 0.
    pub done: usize,
    /// Ended on their own otherwise: non-zero exit, a signal proctor was not asked
    /// to send, a timeout, or could not start.
    pub failed: usize,
    /// Ended because a person stopped them.
    pub stopped: usize,
}

/// Why queued workers wait though `max_parallel` has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldBy {
    /// proctor's open-file limit: each running worker holds descriptors (its
    /// pipes, a pidfd, log files, a cgroup), and no more would fit.
    OpenFiles,
}

impl HeldBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldBy::OpenFiles => "open_files",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub workers: Vec<WorkerView>,
    pub queue: QueueStats,
    pub max_parallel: usize,
    pub queue_paused: bool,
    pub queue_closed: bool,
    /// Set while queued workers wait for something other than a free slot.
    pub held_by: Option<HeldBy>,
    /// How many workers the open-file limit lets run at once, if it is a limit.
    pub open_file_slots: Option<usize>,
    pub system: Option<SystemSample>,
    /// Set once every worker has finished and the queue is closed.
    pub finished: bool,
    /// Pools and what their workers are doing (`engine/pool`).
    pub pools: Vec<PoolView>,
}

/// A pool as the UI and `status` show it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolView {
    pub name: String,
    /// `running` or `failing`.
    pub state: &'static str,
    pub queued: usize,
    pub running: usize,
    pub done: u64,
    pub failed: u64,
    pub workers: Vec<PoolWorkerView>,
}

/// One pool worker: tasks served, and the task it works on since when.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolWorkerView {
    pub worker: String,
    pub ready: bool,
    pub served: u32,
    pub task: Option<String>,
    pub task_age: Option<std::time::Duration>,
}
