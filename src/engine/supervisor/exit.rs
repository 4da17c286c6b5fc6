//! What happens when a worker's leader exits: its result, and the restart policy.

use std::time::{Duration, Instant};

use super::worker::{StopReason, round_ms};
use super::{ExitStatus, Supervisor, TimerKind};
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;
use crate::engine::snapshot::WorkerState;
use crate::signals::signal_name;
use crate::spec::RestartPolicy;

/// First restart back-off; doubles on each restart up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The back-off before restart number `restarts + 1`.
pub fn backoff(restarts: u32) -> Duration {
    let factor = 1u32.checked_shl(restarts.min(16)).unwrap_or(u32::MAX);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

impl Supervisor {
    pub(super) fn exited(&mut self, id: WorkerId, status: ExitStatus, now: Instant) {
        let Some(w) = self.worker_mut(id) else { return };
        if !w.state.is_active() {
            return;
        }
        let (code, signal) = match status {
            ExitStatus::Code(c) => (c, None),
            ExitStatus::Signal(s) => (-s, Some(s)),
        };
        w.state = if signal.is_some() {
            WorkerState::Signaled
        } else {
            WorkerState::Exited
        };
        w.code = Some(code);
        w.signal = signal;
        w.ended = Some(now);
        w.stopped = w.stop_was_wanted(signal);
        let reason = w.stop.map(|s| s.reason);
        // A kill timer still armed will clear any descendants the leader left behind,
        // so `stop` stays set until then; only the display countdown ends here.
        let event = EventKind::Exited {
            worker: w.name.clone(),
            pid: w.pid.unwrap_or(0),
            code,
            signal: signal.map(signal_name),
            runtime_s: round_ms(w.runtime(now)),
            timed_out: w.timed_out,
            stuck_terminated: w.stuck_terminated,
            restarts: w.restarts,
        };
        self.emit(event);
        self.after_exit(id, code, reason);
        self.note_finished(id);
    }

    /// Decides whether the worker runs again, and when.
    fn after_exit(&mut self, id: WorkerId, code: i32, reason: Option<StopReason>) {
        if self.shutting_down {
            return; // proctor is ending: nothing starts again
        }
        let Some(w) = self.worker_mut(id) else { return };
        match reason {
            Some(StopReason::Restart) => {
                w.restarts += 1;
                w.state = WorkerState::Queued;
                self.queue.push_front(id);
                return;
            }
            // A person stopped it, or proctor is stopping: it stays stopped.
            Some(StopReason::User | StopReason::Shutdown) => return,
            Some(StopReason::Timeout | StopReason::Stuck) | None => {}
        }
        let failed = code != 0;
        let wanted = match w.job.restart {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Always => true,
        };
        let allowed = w.job.max_restarts.is_none_or(|max| w.restarts < max);
        if !wanted || !allowed {
            return;
        }
        let delay = backoff(w.restarts);
        w.restart_pending = true;
        let (worker, run, restarts) = (w.name.clone(), w.run, w.restarts + 1);
        let delay_s = round_ms(delay);
        self.emit(EventKind::Restarting {
            worker,
            restarts,
            delay_s,
        });
        self.arm(id, run, TimerKind::Restart, delay);
    }

    pub(super) fn requeue_after_backoff(&mut self, id: WorkerId) {
        let Some(w) = self.worker_mut(id) else { return };
        if !w.restart_pending {
            return; // cancelled by stop-all meanwhile
        }
        w.restart_pending = false;
        w.restarts += 1;
        w.state = WorkerState::Queued;
        self.queue.push_front(id);
    }
}
