//! Stop order: when proctor stops everything, a worker's stop ladder starts only
//! once the workers that depend on its job have exited (or been sent SIGKILL,
//! so the whole stop stays bounded by the grace periods).

use std::time::Instant;

use super::Supervisor;
use super::worker::StopReason;
use crate::engine::command::WorkerId;
use crate::spec::deps::StopOrder;

impl Supervisor {
    /// Stops a worker for stop-all now, or holds it until its dependents are gone.
    pub(super) fn stop_in_order(&mut self, id: WorkerId, now: Instant) {
        if self.policy.stop_order == StopOrder::Parallel || !self.has_live_dependents(id) {
            self.terminate(id, StopReason::Shutdown, now);
        } else if !self.deps.held.contains(&id) {
            self.deps.held.push(id);
        }
    }

    /// Starts the stop ladder of held workers whose dependents are gone.
    pub(super) fn release_held(&mut self, now: Instant) {
        if self.deps.held.is_empty() {
            return;
        }
        for id in self.deps.held.clone() {
            if !self.has_live_dependents(id) {
                self.deps.held.retain(|h| *h != id);
                self.terminate(id, StopReason::Shutdown, now);
            }
        }
    }

    /// Some worker whose job depends on this worker's job still runs (and has not
    /// been sent SIGKILL).
    fn has_live_dependents(&self, id: WorkerId) -> bool {
        let Some(job) = self.worker(id).map(|w| w.job.name.clone()) else {
            return false;
        };
        self.workers.values().any(|w| {
            w.state.is_active()
                && !w.stop.is_some_and(|s| s.killed)
                && w.job.depends_on.iter().any(|d| d.job == job)
        })
    }
}
