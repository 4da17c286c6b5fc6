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
    /// The first failed tasks, described (`task 7 'x.jpg' failed: exit 1`), for
    /// the report printed when the UI closes.
    pub failures: Vec<String>,
}

/// Failed tasks described one by one in the report; the rest are counted.
const REPORT_FAILURES: usize = 20;

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

    /// Notes a task that failed for good.
    pub fn failed(&mut self, description: String) {
        if self.failures.len() < REPORT_FAILURES {
            self.failures.push(description);
        }
    }

    /// What the run produced, printed on the terminal once the UI has closed, so
    /// it outlives the screen: the counts, the halt, the failed tasks.
    pub fn report(&self) -> Vec<String> {
        let q = &self.tasks;
        let mut head = format!(
            "proctor map: {} task(s): {} succeeded, {} failed",
            self.finished(),
            q.done,
            q.failed
        );
        if self.left() > 0 || !self.total_known {
            let at_least = if self.total_known { "" } else { "at least " };
            head.push_str(&format!(", {at_least}{} not run (stopped)", self.left()));
        }
        if let Some(rule) = &self.halted {
            head.push_str(&format!("; halted by --halt {rule}"));
        }
        let mut lines = vec![head];
        lines.extend(self.failures.iter().map(|f| format!("  {f}")));
        let more = q.failed.saturating_sub(self.failures.len());
        if more > 0 {
            lines.push(format!(
                "  … and {more} more (--joblog FILE lists every task)"
            ));
        }
        lines
    }

    /// Tasks that have not finished: running or pending.
    pub fn left(&self) -> usize {
        self.tasks.running + self.tasks.depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_counts_tasks_and_names_the_failed_ones() {
        let mut run = MapRun {
            tasks: QueueStats {
                done: 5,
                failed: 22,
                depth: 3,
                ..QueueStats::default()
            },
            total_known: true,
            ..MapRun::default()
        };
        for n in 1..=22 {
            run.failed(format!("task {n} 'x' failed: exit 1"));
        }
        let report = run.report();
        assert_eq!(
            report[0],
            "proctor map: 27 task(s): 5 succeeded, 22 failed, 3 not run (stopped)"
        );
        assert_eq!(report[1], "  task 1 'x' failed: exit 1");
        assert_eq!(report.len(), 1 + REPORT_FAILURES + 1);
        assert!(report[REPORT_FAILURES + 1].starts_with("  … and 2 more"));
        run.tasks.depth = 0;
        run.tasks.failed = 0;
        run.failures.clear();
        assert_eq!(
            run.report(),
            ["proctor map: 5 task(s): 5 succeeded, 0 failed"]
        );
    }
}
