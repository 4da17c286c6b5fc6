//! The stop ladder: the stop signal and SIGCONT to the whole tree, SIGKILL after
//! the grace period, and a check that reports a process SIGKILL could not end.

use std::time::Instant;

use super::worker::{Stop, StopReason};
use super::{Effect, Scope, Supervisor, TimerKind};
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;

impl Supervisor {
    /// Starts the stop ladder: stop signal and SIGCONT to the tree, SIGKILL later.
    pub(super) fn terminate(&mut self, id: WorkerId, reason: StopReason, now: Instant) {
        let grace = self.policy.stop_grace;
        let Some(w) = self.worker_mut(id) else { return };
        if !w.state.is_active() {
            return;
        }
        if let Some(stop) = &mut w.stop {
            // Already stopping: a stronger reason may replace a weaker one, but nothing
            // replaces Shutdown (a restart must not bring back what proctor is ending).
            if reason != StopReason::User && stop.reason != StopReason::Shutdown {
                stop.reason = reason;
            }
            return;
        }
        let grace = w.job.stop_grace.unwrap_or(grace);
        let signal = w.job.stop_signal;
        w.stop = Some(Stop {
            reason,
            kill_at: now + grace,
            kill_at_wall: std::time::SystemTime::now() + grace,
            killed: false,
        });
        let (name, run) = (w.name.clone(), w.run);
        self.effects.push(Effect::Signal {
            id,
            signal,
            scope: Scope::Tree,
        });
        if signal != libc::SIGCONT && signal != libc::SIGKILL {
            let cont = Effect::Signal {
                id,
                signal: libc::SIGCONT,
                scope: Scope::Tree,
            };
            self.effects.push(cont);
        }
        self.emit(EventKind::Stopping {
            worker: name,
            signal: crate::signals::signal_name(signal),
            kill_after_s: grace.as_secs_f64(),
        });
        self.arm(id, run, TimerKind::Kill, grace);
    }

    /// SIGKILL now, and arm the check that reports a process that will not die.
    pub(super) fn kill_now(&mut self, id: WorkerId, reason: StopReason, now: Instant) {
        let check = self.policy.kill_check;
        let Some(w) = self.worker_mut(id) else { return };
        if !w.state.is_active() {
            return;
        }
        let stop = w.stop.get_or_insert(Stop {
            reason,
            kill_at: now,
            kill_at_wall: std::time::SystemTime::now(),
            killed: true,
        });
        stop.killed = true;
        let run = w.run;
        self.kill_tree(id);
        self.arm(id, run, TimerKind::KillCheck, check);
    }

    pub(super) fn kill_after_grace(&mut self, id: WorkerId) {
        let check = self.policy.kill_check;
        let Some(w) = self.worker_mut(id) else { return };
        // The leader may be gone already while descendants linger: kill the rest of
        // the tree regardless, so a stop always ends with nothing left.
        let alive = w.state.is_active();
        if let Some(stop) = &mut w.stop {
            stop.killed = true;
        }
        let (name, run) = (w.name.clone(), w.run);
        self.kill_tree(id);
        if alive {
            self.emit(EventKind::Killed { worker: name });
            self.arm(id, run, TimerKind::KillCheck, check);
        }
    }

    pub(super) fn check_killed(&mut self, id: WorkerId) {
        let Some(w) = self.worker_mut(id) else { return };
        if !w.state.is_active() || w.unkillable {
            return;
        }
        // Reported once, not retried forever: SIGKILL cannot end a process in state D.
        w.unkillable = true;
        let worker = w.name.clone();
        let pids = w.pid.into_iter().collect();
        self.emit(EventKind::Unkillable { worker, pids });
    }
}
