//! Turning front-end `Command`s into state changes and effects.

use std::time::Instant;

use super::worker::StopReason;
use super::{Effect, Scope, Supervisor};
use crate::engine::command::{Command, WorkerId};
use crate::engine::event::EventKind;
use crate::engine::snapshot::WorkerState;
use crate::signals::signal_name;

impl Supervisor {
    pub(super) fn command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Named { names, command } => {
                let mut ids = Vec::new();
                for name in &names {
                    match self.find(name) {
                        Some(id) => ids.push(id),
                        None => self.error(format!(
                            "cannot {}: no worker named '{name}'",
                            command.desc()
                        )),
                    }
                }
                if !ids.is_empty() {
                    self.command(command.for_workers(ids), now);
                }
            }
            Command::Launch(job) => self.launch(*job, now),
            Command::Signal {
                workers,
                signal,
                group,
            } => {
                for id in workers {
                    self.signal(id, signal, group);
                }
            }
            Command::SignalDescendant {
                worker,
                pid,
                start,
                signal,
            } => {
                let what = format!("send {} to pid {pid} of", signal_name(signal));
                if self.require_active(worker, &what) {
                    let scope = Scope::Descendant { pid, start };
                    self.effects.push(Effect::Signal {
                        id: worker,
                        signal,
                        scope,
                    });
                }
            }
            Command::Terminate(ids) => {
                for id in ids {
                    if self.is_queued(id) {
                        self.cancel(id, now);
                    } else if self.require_active(id, "terminate") {
                        self.terminate(id, StopReason::User, now);
                    }
                }
            }
            Command::Kill(ids) => {
                for id in ids {
                    if self.require_active(id, "kill") {
                        self.kill_now(id, StopReason::User, now);
                    }
                }
            }
            Command::Pause(ids) => {
                for id in ids {
                    self.signal(id, libc::SIGSTOP, true);
                }
            }
            Command::Resume(ids) => {
                for id in ids {
                    self.signal(id, libc::SIGCONT, true);
                }
            }
            Command::Restart(ids) => {
                for id in ids {
                    self.restart(id, now);
                }
            }
            Command::Cancel(ids) => {
                for id in ids {
                    if self.is_queued(id) {
                        self.cancel(id, now);
                    } else {
                        let name = self.describe(id);
                        self.error(format!("cannot cancel {name}: it is not queued"));
                    }
                }
            }
            Command::Join { target, timeout } => self.join(target, timeout, now),
            Command::PauseQueue => self.queue_paused = true,
            Command::ResumeQueue => self.queue_paused = false,
            Command::SetMaxParallel(n) => {
                if n == 0 {
                    self.error("max_parallel must be at least 1".into());
                } else {
                    self.policy.max_parallel = n;
                }
            }
            Command::CloseQueue => self.queue_closed = true,
            // Pools take these before the supervisor sees them (`engine/pool.rs`).
            Command::Submit { .. } => {}
            Command::StopAll => self.stop_all(now),
            Command::ReapZombies(id) => self.signal_zombie_parents(id, libc::SIGCHLD, now),
            Command::TerminateZombieParents(id) => {
                self.signal_zombie_parents(id, libc::SIGTERM, now);
            }
        }
    }

    fn describe(&self, id: WorkerId) -> String {
        match self.worker(id) {
            Some(w) => format!("'{}'", w.name),
            None => format!("worker #{}", id.0),
        }
    }

    fn is_queued(&self, id: WorkerId) -> bool {
        self.worker(id)
            .is_some_and(|w| matches!(w.state, WorkerState::Queued | WorkerState::Waiting))
    }

    /// True when the worker has a live process; otherwise reports why not.
    fn require_active(&mut self, id: WorkerId, what: &str) -> bool {
        match self.worker(id) {
            Some(w) if w.state.is_active() && w.pid.is_some() => true,
            Some(w) => {
                let msg = format!("cannot {what} '{}': it is {}", w.name, w.state.as_str());
                self.error(msg);
                false
            }
            None => {
                self.error(format!("cannot {what} worker #{}: no such worker", id.0));
                false
            }
        }
    }

    fn signal(&mut self, id: WorkerId, signal: i32, group: bool) {
        if !self.require_active(id, &format!("send {} to", signal_name(signal))) {
            return;
        }
        let scope = if group { Scope::Tree } else { Scope::Leader };
        self.effects.push(Effect::Signal { id, signal, scope });
        let Some(w) = self.worker_mut(id) else { return };
        w.note_user_signal(signal);
        // SIGSTOP/SIGCONT change what the table shows; the kernel confirms nothing
        // to us (no WUNTRACED), so the state follows the request.
        match signal {
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => {
                w.state = WorkerState::Paused;
            }
            libc::SIGCONT => w.state = WorkerState::Running,
            _ => {}
        }
        let worker = w.name.clone();
        let signal = signal_name(signal);
        self.emit(EventKind::Signaled {
            worker,
            signal,
            group,
        });
    }

    fn cancel(&mut self, id: WorkerId, now: Instant) {
        self.queue.retain(|q| *q != id);
        self.deps.waiting.retain(|q| *q != id);
        let Some(w) = self.worker_mut(id) else { return };
        w.state = WorkerState::Cancelled;
        w.ended = Some(now);
        let worker = w.name.clone();
        self.emit(EventKind::Cancelled { worker });
        self.note_finished(id);
    }

    fn restart(&mut self, id: WorkerId, now: Instant) {
        let stopping = self.shutting_down;
        let Some(w) = self.worker_mut(id) else {
            self.error(format!("cannot restart worker #{}: no such worker", id.0));
            return;
        };
        if stopping {
            let msg = format!(
                "cannot restart '{}': proctor is stopping everything",
                w.name
            );
            self.error(msg);
            return;
        }
        if w.state.is_active() {
            self.terminate(id, StopReason::Restart, now);
        } else if !matches!(w.state, WorkerState::Queued | WorkerState::Waiting) {
            w.restarts += 1;
            w.restart_pending = false;
            w.state = WorkerState::Queued;
            if !self.rewait(id) {
                self.queue.push_front(id);
            }
        }
    }

    /// Closes the queue, cancels what waits, stops what runs.
    pub(super) fn stop_all(&mut self, now: Instant) {
        self.queue_closed = true;
        self.shutting_down = true;
        for id in std::mem::take(&mut self.queue) {
            self.cancel(id, now);
        }
        for id in self.deps.waiting.clone() {
            self.cancel(id, now);
        }
        let ids: Vec<WorkerId> = self.workers.keys().copied().collect();
        for id in ids {
            let Some(w) = self.worker_mut(id) else {
                continue;
            };
            if w.restart_pending {
                w.restart_pending = false;
            }
            if w.state.is_active() {
                self.stop_in_order(id, now);
            }
        }
    }

    /// SIGCHLD asks a parent to wait for its zombies; SIGTERM ends a parent that
    /// will not (the leader itself goes through the stop ladder instead).
    fn signal_zombie_parents(&mut self, id: WorkerId, signal: i32, now: Instant) {
        let Some(w) = self.worker(id) else { return };
        let mut parents: Vec<u32> = w.zombies.iter().map(|(_, parent)| *parent).collect();
        parents.sort_unstable();
        parents.dedup();
        if parents.is_empty() {
            let msg = format!("'{}' has no zombies to reap", w.name);
            self.error(msg);
            return;
        }
        if signal == libc::SIGTERM && w.pid.is_some_and(|leader| parents.contains(&leader)) {
            let leader = w.pid;
            parents.retain(|p| Some(*p) != leader);
            self.terminate(id, StopReason::User, now);
        }
        if !parents.is_empty() {
            self.effects.push(Effect::SignalParents {
                id,
                parents,
                signal,
            });
        }
    }
}
