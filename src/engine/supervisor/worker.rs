//! One worker's record inside the supervisor, and its rendering as a view.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::command::WorkerId;
use crate::engine::event::WorkerSummary;
use crate::engine::snapshot::{DepsView, WorkerState, WorkerStats, WorkerView};
use crate::signals::signal_name;
use crate::spec::JobSpec;

/// Why a stop ladder is running; decides what happens after the exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A person or script asked (terminate or kill): do not restart.
    User,
    Timeout,
    Stuck,
    /// Restart command: start again at once when the tree is gone.
    Restart,
    /// proctor itself is stopping.
    Shutdown,
}

#[derive(Debug, Clone, Copy)]
pub struct Stop {
    pub reason: StopReason,
    pub kill_at: Instant,
    pub kill_at_wall: SystemTime,
    pub killed: bool,
}

#[derive(Debug)]
pub struct Worker {
    pub id: WorkerId,
    pub name: String,
    pub job: Arc<JobSpec>,
    pub state: WorkerState,
    pub pid: Option<u32>,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
    pub started: Option<Instant>,
    pub started_wall: Option<SystemTime>,
    pub ended: Option<Instant>,
    pub restarts: u32,
    /// Bumped on every spawn, so timers armed for an earlier run are ignored.
    pub run: u32,
    pub stop: Option<Stop>,
    pub timed_out: bool,
    pub stuck_terminated: bool,
    /// Waiting out a restart back-off.
    pub restart_pending: bool,
    pub stuck: bool,
    pub unkillable: bool,
    /// Last time the tree used CPU above the stuck threshold or wrote output.
    pub busy_at: Instant,
    pub stats: WorkerStats,
    pub zombies: Vec<(u32, u32)>,
    pub last_line: String,
    /// Readiness, health and why it was skipped.
    pub deps: super::deps::DepState,
    /// Signals sent on a person's request this run (bit N-1 for signal N): a death
    /// by one of them is a stop, not a failure.
    pub user_signals: u64,
    /// Ended because a person (or a front end's stop-all) stopped it: not a failure.
    pub stopped: bool,
}

impl Worker {
    pub fn new(id: WorkerId, name: String, job: Arc<JobSpec>, now: Instant) -> Self {
        Worker {
            id,
            name,
            job,
            state: WorkerState::Queued,
            pid: None,
            code: None,
            signal: None,
            error: None,
            started: None,
            started_wall: None,
            ended: None,
            restarts: 0,
            run: 0,
            stop: None,
            timed_out: false,
            stuck_terminated: false,
            restart_pending: false,
            stuck: false,
            unkillable: false,
            busy_at: now,
            stats: WorkerStats::default(),
            zombies: Vec::new(),
            last_line: String::new(),
            deps: super::deps::DepState::default(),
            user_signals: 0,
            stopped: false,
        }
    }

    /// Clears what belonged to the previous run before a new spawn.
    pub fn reset_for_run(&mut self, now: Instant) {
        self.run += 1;
        self.state = WorkerState::Starting;
        self.pid = None;
        self.code = None;
        self.signal = None;
        self.error = None;
        self.started = Some(now);
        self.started_wall = Some(SystemTime::now());
        self.ended = None;
        self.stop = None;
        self.timed_out = false;
        self.stuck_terminated = false;
        self.stuck = false;
        self.unkillable = false;
        self.busy_at = now;
        self.stats = WorkerStats::default();
        self.zombies.clear();
        self.deps.new_run();
        self.user_signals = 0;
        self.stopped = false;
    }

    /// Notes a signal sent on a person's request.
    pub fn note_user_signal(&mut self, signal: i32) {
        if (1..=64).contains(&signal) {
            self.user_signals |= 1 << (signal - 1);
        }
    }

    /// Whether an exit ended a stop that a person asked for (terminate, kill, stop
    /// all, or a signal from the menu that killed it), rather than a failure.
    pub fn stop_was_wanted(&self, signal: Option<i32>) -> bool {
        if self.timed_out || self.stuck_terminated {
            return false;
        }
        let asked = self
            .stop
            .is_some_and(|s| matches!(s.reason, StopReason::User | StopReason::Shutdown));
        let by_user_signal = signal
            .is_some_and(|s| (1..=64).contains(&s) && self.user_signals & (1 << (s - 1)) != 0);
        asked || by_user_signal
    }

    pub fn runtime(&self, now: Instant) -> Duration {
        match (self.started, self.ended) {
            (Some(s), Some(e)) => e.saturating_duration_since(s),
            (Some(s), None) => now.saturating_duration_since(s),
            _ => Duration::ZERO,
        }
    }

    /// Finished for good: not running, not queued, no restart coming.
    pub fn is_done(&self) -> bool {
        self.state.is_finished() && !self.restart_pending
    }

    pub fn succeeded(&self) -> bool {
        self.state == WorkerState::Exited && self.code == Some(0)
    }

    /// Does not spoil `ok`: exited 0, stopped by a person, or cancelled before it
    /// ever ran.
    pub fn counts_as_ok(&self) -> bool {
        self.succeeded() || self.stopped || self.state == WorkerState::Cancelled && self.run == 0
    }

    pub fn view(&self, now: Instant) -> WorkerView {
        WorkerView {
            id: self.id,
            name: self.name.clone(),
            command: self.job.program.display(),
            pid: self.pid,
            state: self.state,
            code: self.code,
            error: self.error.clone(),
            started: self.started_wall,
            runtime: self.runtime(now),
            restarts: self.restarts,
            timed_out: self.timed_out,
            kill_at: self.stop.filter(|s| !s.killed).map(|s| s.kill_at_wall),
            stuck: self.stuck,
            unkillable: self.unkillable,
            stopped: self.stopped,
            stats: self.stats.clone(),
            last_line: self.last_line.clone(),
            deps: DepsView {
                depends_on: self.job.depends_on.clone(),
                has_ready: self.job.ready.is_some(),
                ready: self.deps.ready,
                unhealthy: self.deps.unhealthy,
                skipped: self.deps.skipped.clone(),
            },
        }
    }

    pub fn summary(&self, now: Instant) -> WorkerSummary {
        WorkerSummary {
            worker: self.name.clone(),
            state: self.state.as_str(),
            code: self.code,
            signal: self.signal.map(signal_name),
            runtime_s: round_ms(self.runtime(now)),
            restarts: self.restarts,
            timed_out: self.timed_out,
            stopped: self.stopped,
            error: self.error.clone(),
        }
    }
}

/// Seconds with millisecond precision, for JSON that people read.
pub fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
