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
}

impl MapRun {
    /// Takes what it needs from one of the driver's events.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Queue { stats, .. } => self.tasks = *stats,
            EventKind::Halted { rule, .. } => self.halted = Some(rule.clone()),
            EventKind::Summary { ok, .. } => self.ok = Some(*ok),
            _ => {}
        }
    }

    /// Tasks that have not finished: running or pending.
    pub fn left(&self) -> usize {
        self.tasks.running + self.tasks.depth
    }
}
