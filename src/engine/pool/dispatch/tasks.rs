//! A pool's tasks: handing them out, ending them with one `result` each, and
//! giving back those whose worker died.

use std::time::Instant;

use serde_json::Value;

use super::{DEPTH, Pool};
use crate::engine::command::WorkerId;
use crate::engine::event::{EventKind, PoolResult};
use crate::engine::pool::message;
use crate::engine::pool::{Effect, Timer, TimerKind};

impl Pool {
    /// The worker died (or was stopped) under task `seq`.
    pub(super) fn task_lost(&mut self, seq: u64, worker: WorkerId, name: &str, status: &str) {
        let Some(task) = self.tasks.get_mut(&seq) else {
            return;
        };
        if self.stopping {
            self.end(
                seq,
                "cancelled",
                None,
                Some("proctor is stopping".into()),
                false,
                Some(name.into()),
            );
            return;
        }
        if task.attempts > self.spec.retries {
            let error = format!(
                "poison: its worker died under it {} time(s) (last: {name}, {status})",
                task.attempts
            );
            self.end(seq, "failed", None, Some(error), true, Some(name.into()));
            return;
        }
        task.avoid = Some(worker);
        self.queue.push_front(seq);
    }

    pub(super) fn finish(&mut self, seq: u64, ok: bool, value: Value, worker: Option<String>) {
        let (status, output, error) = if ok {
            ("done", Some(value), None)
        } else {
            let error = match value {
                Value::String(s) => s,
                Value::Null => "the worker reported a failure".into(),
                other => other.to_string(),
            };
            ("failed", None, Some(error))
        };
        self.end(seq, status, output, error, false, worker);
    }

    pub(super) fn end(
        &mut self,
        seq: u64,
        status: &'static str,
        output: Option<Value>,
        error: Option<String>,
        poison: bool,
        worker: Option<String>,
    ) {
        let Some(task) = self.tasks.remove(&seq) else {
            return;
        };
        self.live_ids.remove(&task.id);
        if status == "done" {
            self.done += 1;
        } else {
            self.failed += 1;
        }
        self.emit(EventKind::Result(PoolResult {
            pool: self.name.clone(),
            task: task.id,
            status,
            ok: status == "done",
            output,
            error,
            poison,
            attempts: task.attempts,
            worker,
        }));
    }

    /// Hands queued tasks to ready workers, up to `DEPTH` each, round by round
    /// so every worker gets its first before any gets a second.
    pub(super) fn assign(&mut self, now: Instant) {
        // Workers that should be replaced get nothing more: they drain, then go.
        let open: Vec<WorkerId> = self
            .members
            .iter()
            .filter(|(_, m)| m.ready && m.leaving.is_none())
            .filter(|(_, m)| self.why_replace(m, now).is_none())
            .map(|(id, _)| *id)
            .collect();
        for depth in 1..=DEPTH {
            for &id in &open {
                if self.queue.is_empty() {
                    return;
                }
                let Some(m) = self.members.get(&id) else {
                    continue;
                };
                let held = m.tasks.len();
                let room = m
                    .limit
                    .is_none_or(|n| m.served as usize + held < n as usize);
                if held >= depth || !room {
                    continue;
                }
                self.give(id, held == 0, now);
            }
        }
    }

    /// Sends the next task to worker `id` (another worker's retry first).
    pub(super) fn give(&mut self, id: WorkerId, first: bool, now: Instant) {
        let pick = self
            .queue
            .iter()
            .take(8)
            .position(|seq| self.tasks.get(seq).is_some_and(|t| t.avoid != Some(id)))
            .unwrap_or(0);
        let Some(seq) = self.queue.remove(pick) else {
            return;
        };
        let Some(task) = self.tasks.get_mut(&seq) else {
            return;
        };
        task.attempts += 1;
        let line = message::task_line(self.spec.protocol, &task.id, &task.input);
        if let Some(m) = self.members.get_mut(&id) {
            m.tasks.push_back(seq);
            if first {
                m.busy_since = now;
            }
        }
        self.effects.push(Effect::Send { worker: id, line });
        if first {
            self.arm_task_timeout(id, seq);
        }
    }

    /// `task_timeout` runs from when a task becomes the one its worker works on.
    pub(super) fn arm_task_timeout(&mut self, id: WorkerId, seq: u64) {
        if let Some(after) = self.spec.task_timeout {
            self.effects.push(Effect::Arm {
                after,
                timer: Timer {
                    pool: self.name.clone(),
                    worker: id,
                    task: seq,
                    kind: TimerKind::Task,
                },
            });
        }
    }
}
