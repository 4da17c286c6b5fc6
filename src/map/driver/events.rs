//! The engine's events as the driver reads them: they track each attempt, end
//! it (for a retry or the task's result), and are passed on to the front end,
//! `queue` events rewritten to count tasks.

use super::{Driver, Stop};
use crate::engine::{Event, EventKind, QueueStats};
use crate::map::attempt::Ending;
use crate::map::outbox::Outbox;

impl Driver {
    pub(super) async fn on_event(&mut self, event: Event, out: &mut Outbox) {
        match &event.kind {
            EventKind::Spawned { worker, pid, .. } => {
                if let Some(a) = self.running.get_mut(worker) {
                    a.pid = Some(*pid);
                    a.start = Some(event.t);
                }
            }
            EventKind::Output { worker, line, .. } => {
                let number = self.running.get_mut(&**worker).map(|a| {
                    a.output_bytes += line.len() as u64 + 1;
                    a.task.number
                });
                if !self.settings.forward_output {
                    return;
                }
                if let Some(number) = number {
                    out.output(number, event).await;
                    return;
                }
            }
            EventKind::Bytes { worker, bytes, .. } => {
                let number = self.running.get_mut(&**worker).map(|a| {
                    a.output_bytes += bytes.len() as u64;
                    a.task.number
                });
                if let Some(number) = number {
                    out.output(number, event).await;
                    return;
                }
            }
            EventKind::Exited {
                worker,
                code,
                signal,
                runtime_s,
                timed_out,
                ..
            } => {
                let ending = Ending::exited(*code, signal.clone(), *runtime_s, *timed_out);
                let worker = worker.clone();
                out.send(event).await;
                self.attempt_ended(&worker, ending, out).await;
                return;
            }
            EventKind::Failed { worker, error } => {
                let ending = Ending::failed(error.clone());
                let worker = worker.clone();
                out.send(event).await;
                self.attempt_ended(&worker, ending, out).await;
                return;
            }
            EventKind::Cancelled { worker } => {
                if let Some(a) = self.running.remove(worker) {
                    if let Some(hosts) = &mut self.hosts {
                        hosts.ended(worker);
                    }
                    self.slots.give_back(a.slot);
                    let number = a.task.number;
                    out.send(event).await;
                    out.release(number).await;
                    return;
                }
            }
            EventKind::Queue {
                stats,
                max_parallel,
                paused,
                closed,
                held_by,
                open_file_slots,
                ..
            } => {
                self.settings.max_parallel = *max_parallel;
                // In map mode `closed` says the task counts are complete: no
                // task beyond them will be read (the input ended, or its total
                // is known, or the run takes no more). Until then `depth` counts
                // only what was read, and front ends must not show it as a total.
                let kind = EventKind::Queue {
                    waiting: 0,
                    stats: self.queue_stats(*stats),
                    max_parallel: *max_parallel,
                    paused: *paused,
                    closed: *closed || self.total_known(),
                    held_by: *held_by,
                    open_file_slots: *open_file_slots,
                };
                out.queue(event.t, kind).await;
                return;
            }
            EventKind::Interrupted { .. } => {
                // The engine stops everything itself (the hosts are told); start
                // nothing more.
                if let Some(hosts) = &mut self.hosts {
                    hosts.stop_all();
                }
                self.stop(Stop::Interrupted, out).await;
            }
            EventKind::Summary { workers, .. } => {
                // Output still held belongs to tasks that never ended (a launch
                // the engine refused while stopping): print it rather than lose it.
                out.release_all().await;
                let kind = EventKind::Summary {
                    ok: self.ok(),
                    workers: workers.clone(),
                };
                out.send(Event {
                    t: event.t,
                    host: None,
                    kind,
                })
                .await;
                return;
            }
            _ => {}
        }
        out.send(event).await;
    }

    /// Whether every task is counted: the input is read to its end (or no more
    /// is taken), or its total was known or counted up front.
    fn total_known(&self) -> bool {
        !self.takes_tasks() || self.total.get().is_some()
    }

    /// Depth counts tasks waiting here and what is known to remain in the input;
    /// done and failed count tasks (after retries), not attempts.
    fn queue_stats(&self, engine: QueueStats) -> QueueStats {
        let unread = match (self.takes_tasks(), self.total.get()) {
            (true, Some(total)) => total
                .saturating_sub(self.last_read)
                .saturating_sub(self.records.resume.after(self.last_read)),
            _ => 0,
        };
        QueueStats {
            depth: engine.depth + self.pending.len() + unread as usize,
            running: engine.running,
            done: self.counts.succeeded as usize,
            failed: self.counts.failed as usize,
            stopped: 0, // tasks a person stopped count as failed tasks
        }
    }
}
