//! Readiness and health: which probes a new run gets, and what their verdicts do.
//! The probes themselves run in the OS half (`engine/os/probe.rs`).

use std::time::Instant;

use super::worker::{StopReason, round_ms};
use super::{Effect, ProbePurpose, Supervisor, TimerKind};
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;
use crate::spec::deps::OnUnhealthy;

impl Supervisor {
    /// A run just spawned: its readiness probe and deadline, or (with no readiness
    /// probe) its health probe.
    pub(super) fn start_probes(&mut self, id: WorkerId) {
        let Some(w) = self.worker(id) else { return };
        let run = w.run;
        if let Some(probe) = w.job.ready.clone() {
            // The deadline counts from the first check, so an `initial_delay`
            // longer than the deadline does not fail the run before it is checked.
            let deadline = probe.initial_delay + probe.deadline;
            let purpose = ProbePurpose::Ready;
            self.effects.push(Effect::Probe {
                id,
                run,
                purpose,
                probe,
            });
            self.arm(id, run, TimerKind::ReadyDeadline, deadline);
        } else {
            self.start_health(id);
        }
    }

    fn start_health(&mut self, id: WorkerId) {
        let Some(w) = self.worker(id) else { return };
        if let Some(health) = &w.job.health {
            let effect = Effect::Probe {
                id,
                run: w.run,
                purpose: ProbePurpose::Health,
                probe: health.probe.clone(),
            };
            self.effects.push(effect);
        }
    }

    pub(super) fn probe_result(
        &mut self,
        id: WorkerId,
        run: u32,
        purpose: ProbePurpose,
        ok: bool,
        detail: String,
        now: Instant,
    ) {
        let Some(w) = self.worker_mut(id) else { return };
        if w.run != run || !w.state.is_active() || w.stop.is_some() {
            return; // a verdict about an earlier run, or one that is ending
        }
        match purpose {
            ProbePurpose::Ready if ok && !w.deps.ready => {
                w.deps.ready = true;
                w.deps.was_ready = true;
                let worker = w.name.clone();
                let after_s = round_ms(w.runtime(now));
                self.emit(EventKind::Ready { worker, after_s });
                self.start_health(id);
            }
            ProbePurpose::Ready => {}
            ProbePurpose::Health => self.health_result(id, ok, detail, now),
        }
    }

    fn health_result(&mut self, id: WorkerId, ok: bool, detail: String, now: Instant) {
        let Some(w) = self.worker_mut(id) else { return };
        let Some(health) = w.job.health.clone() else {
            return;
        };
        if ok {
            w.deps.health_failures = 0;
            if w.deps.unhealthy {
                w.deps.unhealthy = false;
                let worker = w.name.clone();
                self.emit(EventKind::Healthy { worker });
            }
            return;
        }
        w.deps.health_failures += 1;
        if w.deps.unhealthy || w.deps.health_failures < health.failure_threshold {
            return;
        }
        w.deps.unhealthy = true;
        let (action, reason) = match health.on_unhealthy {
            OnUnhealthy::None => ("none", None),
            OnUnhealthy::Restart => ("restart", Some(StopReason::Restart)),
            OnUnhealthy::Terminate => ("terminate", Some(StopReason::User)),
        };
        let event = EventKind::Unhealthy {
            worker: w.name.clone(),
            failures: w.deps.health_failures,
            detail,
            action,
        };
        self.emit(event);
        if let Some(reason) = reason {
            self.terminate(id, reason, now);
        }
    }

    /// Not ready by the deadline: a failure. The worker is terminated (it is not
    /// restarted) and what depends on its readiness is skipped.
    pub(super) fn ready_deadline(&mut self, id: WorkerId, now: Instant) {
        let Some(w) = self.worker_mut(id) else { return };
        if w.deps.ready || !w.state.is_active() || w.stop.is_some() {
            return;
        }
        w.deps.ready_missed = true;
        let worker = w.name.clone();
        let deadline_s = w.job.ready.as_ref().map_or(0.0, |p| round_ms(p.deadline));
        self.emit(EventKind::ReadyTimeout { worker, deadline_s });
        self.terminate(id, StopReason::User, now);
    }
}
