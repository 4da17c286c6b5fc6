//! Map mode as the terminal UI follows it: task counts from the map driver's
//! `queue` events (the snapshot counts workers: retries and retired workers blur
//! those), the `--halt` rule once met, and the verdict once the run ended.

use crate::engine::{EventKind, QueueStats};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapRun {
    /// Tasks: `depth` pending (waiting in the driver, plus what is known to remain
    /// in a `--tasks` file), `running`, and `done` / `failed` after retries.
    pub tasks: QueueStats,
    /// The `--halt` rule, once met: no task starts any more.
    pub halted: Option<String>,
    /// Once the engine ended: true when every task succeeded.
    pub ok: Option<bool>,
    /// Every task is counted (the driver's `closed`): the input was read to its
    /// end or its total is known. Until then `pending` counts only tasks read so
    /// far, so there is no total, percentage or ETA to show.
    pub total_known: bool,
}

impl MapRun {
    /// Takes what it needs from one of the driver's events.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Queue { stats, closed, .. } => {
                self.tasks = *stats;
                self.total_known = *closed;
            }
            EventKind::Halted { rule, .. } => self.halted = Some(rule.clone()),
            EventKind::Summary { ok, .. } => self.ok = Some(*ok),
            _ => {}
        }
    }

    /// Every task, once known: finished, running and pending.
    pub fn total(&self) -> Option<usize> {
        self.total_known.then(|| self.finished() + self.left())
    }

    /// Tasks that ended, done or failed.
    pub fn finished(&self) -> usize {
        self.tasks.done + self.tasks.failed
    }

    /// Tasks that have not finished: running or pending.
    pub fn left(&self) -> usize {
        self.tasks.running + self.tasks.depth
    }
}
