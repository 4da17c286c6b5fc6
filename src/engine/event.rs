//! What the engine reports. The headless front end prints each one as a JSON line;
//! the terminal UI uses them for notices (joins, failures) and renders snapshots.

use serde::Serialize;

use super::snapshot::{HeldBy, QueueStats};
use crate::sample::SystemSample;

/// An event with its wall-clock timestamp (seconds since the Unix epoch).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub t: f64,
    /// The host of a remote worker (map mode with `--hosts`); absent for this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<std::sync::Arc<str>>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    pub fn now(kind: EventKind) -> Self {
        Event {
            t: unix_now(),
            host: None,
            kind,
        }
    }
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkerSummary {
    pub worker: String,
    pub state: &'static str,
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    pub runtime_s: f64,
    pub restarts: u32,
    pub timed_out: bool,
    /// A person stopped it: not a failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkerSampleOut {
    pub worker: String,
    pub pid: u32,
    pub state: String,
    pub cpu: f32,
    pub rss: u64,
    pub threads: u32,
    pub tree_cpu: f32,
    pub tree_rss: u64,
    pub descendants: u32,
    pub zombies: u32,
}

/// Map mode: how one task ended, after any retries. It is both a `task` event
/// and one line of `--joblog`. Fields describe the last attempt, except
/// `retries` (attempts after the first) and `output_bytes` (all attempts).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskRecord {
    /// 1-based position in the input.
    pub task: u64,
    /// The input line; bytes that are not UTF-8 appear as U+FFFD.
    pub input: String,
    /// The exact input bytes in hex, only when `input` had to replace some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_hex: Option<String>,
    /// `None` when the task never became a worker (e.g. its line was too long).
    pub worker: Option<String>,
    pub pid: Option<u32>,
    /// When the last attempt started (seconds since the Unix epoch).
    pub start: Option<f64>,
    pub runtime_s: f64,
    /// 0..255, or -N when killed by signal N; `None` when it could not start.
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
    pub retries: u32,
    /// Bytes of output lines, newlines included, as the `output` events carry them.
    pub output_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the last attempt ran (`--hosts`: a host's name or `local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// How one pool task ended (the `result` event).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolResult {
    pub pool: String,
    /// The task's id, as submitted (or given by the pool).
    pub task: String,
    /// `done`, `failed` or `cancelled`.
    pub status: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The worker died under the task more than `retries` times.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub poison: bool,
    /// Attempts made, the last included (0 for a task cancelled while queued).
    pub attempts: u32,
    /// The worker of the last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// Why a worker was skipped: which job it depended on, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipReason {
    pub dep: String,
    pub cause: String,
}

/// Every `event` name the JSON Lines stream and `subscribe` can carry (the
/// variants of `EventKind` in snake case, `bytes` excepted: it never leaves the
/// process). A subscriber's `events` filter is checked against it, so a typo is an
/// error instead of a stream that stays silent forever.
pub const EVENT_NAMES: &[&str] = &[
    "started",
    "spawned",
    "output",
    "exited",
    "failed",
    "cancelled",
    "signaled",
    "stopping",
    "killed",
    "unkillable",
    "waiting",
    "skipped",
    "ready",
    "ready_timeout",
    "unhealthy",
    "healthy",
    "restarting",
    "queue",
    "joined",
    "join_timeout",
    "stuck",
    "zombie",
    "sample",
    "error",
    "interrupted",
    "summary",
    "task",
    "halted",
];

/// One variant per name in `EVENT_NAMES` (keep the two in step).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// Always the first event: proctor's version and how it contains what it starts
    /// (`cgroup` or `ledger`, see the README's "Stopping" section).
    Started {
        version: &'static str,
        containment: &'static str,
        detail: String,
        /// The machine's host name and operating system (for CI logs and bug reports).
        host: String,
        os: String,
    },
    Spawned {
        worker: String,
        pid: u32,
        pgid: u32,
    },
    Output {
        /// Shared by every line of the worker: one allocation per worker, not per line.
        worker: std::sync::Arc<str>,
        stream: Stream,
        line: String,
    },
    /// Output exactly as the worker wrote it, in the pieces read (map mode's
    /// plain output, with `EngineConfig::raw_output`); not part of JSON Lines.
    Bytes {
        worker: String,
        stream: Stream,
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    Exited {
        worker: String,
        pid: u32,
        code: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        runtime_s: f64,
        timed_out: bool,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        stuck_terminated: bool,
        restarts: u32,
    },
    Failed {
        worker: String,
        error: String,
    },
    Cancelled {
        worker: String,
    },
    /// A signal was delivered (acknowledges a signal/pause/resume command).
    Signaled {
        worker: String,
        signal: String,
        group: bool,
    },
    /// A stop ladder started; `kill_after_s` is the grace period.
    Stopping {
        worker: String,
        signal: String,
        kill_after_s: f64,
    },
    /// The grace period ran out and SIGKILL was sent.
    Killed {
        worker: String,
    },
    /// SIGKILL did not end these processes (e.g. uninterruptible sleep, state D).
    Unkillable {
        worker: String,
        pids: Vec<u32>,
    },
    /// The worker waits for these jobs before it may take a slot.
    Waiting {
        worker: String,
        on: Vec<String>,
    },
    /// The worker will not run: a dependency failed.
    Skipped {
        worker: String,
        reason: SkipReason,
    },
    /// The worker's `ready` probe passed.
    Ready {
        worker: String,
        after_s: f64,
    },
    /// The `ready` probe did not pass within its deadline: the worker is terminated
    /// and its dependents are skipped.
    ReadyTimeout {
        worker: String,
        deadline_s: f64,
    },
    /// The `health` probe failed `failures` times in a row; `action` is what follows.
    Unhealthy {
        worker: String,
        failures: u32,
        detail: String,
        action: &'static str,
    },
    /// The `health` probe passes again.
    Healthy {
        worker: String,
    },
    Restarting {
        worker: String,
        restarts: u32,
        delay_s: f64,
    },
    Queue {
        #[serde(flatten)]
        stats: QueueStats,
        /// Workers waiting for their dependencies (not counted in `depth`).
        waiting: usize,
        max_parallel: usize,
        paused: bool,
        closed: bool,
        /// `open_files` while queued workers wait because proctor's open-file
        /// limit leaves no room for another running worker.
        #[serde(skip_serializing_if = "Option::is_none")]
        held_by: Option<HeldBy>,
        /// With `held_by`: how many workers that limit lets run at once.
        #[serde(skip_serializing_if = "Option::is_none")]
        open_file_slots: Option<usize>,
    },
    Joined {
        #[serde(skip_serializing_if = "Option::is_none")]
        worker: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        /// True when no worker failed: each exited 0 or was stopped by a person.
        ok: bool,
    },
    JoinTimeout {
        #[serde(skip_serializing_if = "Option::is_none")]
        worker: Option<String>,
    },
    Stuck {
        worker: String,
        idle_s: f64,
    },
    Zombie {
        worker: String,
        pid: u32,
        parent: u32,
    },
    Sample {
        #[serde(flatten)]
        system: SystemSample,
        workers: Vec<WorkerSampleOut>,
    },
    /// A command could not be carried out (unknown worker, wrong state…).
    Error {
        message: String,
    },
    /// proctor received a terminating signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT, …) and
    /// is stopping every worker.
    Interrupted {
        signal: String,
    },
    Summary {
        ok: bool,
        workers: Vec<WorkerSummary>,
    },
    /// Map mode: a task finished for good.
    Task(TaskRecord),
    /// A pool took a task (its id, given or assigned).
    Submitted {
        pool: String,
        task: String,
    },
    /// A pool task ended for good: `done`, `failed` (the worker said so, or it
    /// died under the task more than `retries` times: `poison`) or `cancelled`.
    Result(PoolResult),
    /// A pool worker is being replaced: `max_tasks`, `max_rss`, `max_age`,
    /// `request` (it asked), `task_timeout` or `init_timeout`.
    Recycled {
        pool: String,
        worker: String,
        reason: &'static str,
        served: u32,
    },
    /// A pool's state changed: `failing` (workers die before they are ready;
    /// tasks wait while it backs off) or `running` again.
    PoolState {
        pool: String,
        state: &'static str,
        detail: String,
    },
    /// Map mode: the `--halt` rule was met; no new task starts (and with `now`,
    /// running ones are terminated).
    Halted {
        rule: String,
        failed: u64,
        finished: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::EVENT_NAMES;

    /// The README documents every event a script may subscribe to.
    #[test]
    fn every_event_name_is_in_the_readme() {
        let readme = include_str!("../../README.md");
        for name in EVENT_NAMES {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README lacks `{name}`"
            );
        }
    }
}
