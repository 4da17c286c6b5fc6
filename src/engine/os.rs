//! The OS half of the engine: carries out the supervisor's effects (spawn, signal,
//! timers, events) and turns what the kernel reports into supervisor inputs.

pub mod pidfd;
pub mod pipes;
pub mod reaper;
pub mod spawn;
pub mod tree;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::command::WorkerId;
use super::event::{Event, EventKind, Stream};
use super::output::OutputStore;
use super::supervisor::{Effect, ExitStatus, Input, Scope};
use crate::sample::Sample;
use crate::spec::JobSpec;
use pidfd::PidFd;
use pipes::{FlushRequest, Reader};
use tree::Known;

/// How long an exit waits for its pipes to hand over what was already written.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

struct OsWorker {
    pid: u32,
    pidfd: Option<PidFd>,
    reaped: bool,
    flush: Vec<mpsc::UnboundedSender<FlushRequest>>,
    /// Descendants seen so far (from stops and samples), to reach those that left
    /// the process group or were re-parented to proctor.
    known: Vec<Known>,
}

pub struct Os {
    workers: HashMap<WorkerId, OsWorker>,
    pids: HashMap<u32, WorkerId>,
    pub store: Arc<OutputStore>,
    pub events: mpsc::Sender<Event>,
    pub output_events: bool,
    pub inputs: mpsc::UnboundedSender<Input>,
    pub log_dir: Option<PathBuf>,
}

impl Os {
    pub fn new(
        store: Arc<OutputStore>,
        events: mpsc::Sender<Event>,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Self {
        Os {
            workers: HashMap::new(),
            pids: HashMap::new(),
            store,
            events,
            output_events: false,
            inputs,
            log_dir: None,
        }
    }

    /// Carries out one effect; facts it learns at once (spawned or not) go to `next`.
    pub async fn execute(&mut self, effect: Effect, next: &mut Vec<Input>) {
        match effect {
            Effect::Spawn { id, name, job } => next.push(self.spawn(id, &name, &job)),
            Effect::Signal { id, signal, scope } => self.signal(id, signal, scope),
            Effect::SignalParents {
                id,
                parents,
                signal,
            } => {
                self.signal_parents(id, &parents, signal);
            }
            Effect::Arm { after, timer } => {
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = inputs.send(Input::Timer(timer));
                });
            }
            Effect::Emit(kind) => {
                let _ = self.events.send(Event::now(kind)).await;
            }
            Effect::Retire(id) => {
                self.workers.remove(&id);
                self.store.forget(id);
            }
        }
    }

    fn spawn(&mut self, id: WorkerId, name: &str, job: &JobSpec) -> Input {
        let started = match spawn::spawn(job) {
            Ok(s) => s,
            Err(error) => return Input::SpawnFailed { id, error },
        };
        let pid = started.pid;
        let mut flush = Vec::new();
        for (fd, stream) in [
            (started.stdout, Stream::Stdout),
            (started.stderr, Stream::Stderr),
        ] {
            let (tx, rx) = mpsc::unbounded_channel();
            flush.push(tx);
            let reader = Reader {
                id,
                name: name.to_string(),
                stream,
                store: self.store.clone(),
                events: self.output_events.then(|| self.events.clone()),
                inputs: self.inputs.clone(),
                log_file: self.open_log(name, stream),
            };
            tokio::spawn(reader.run(fd, rx));
        }
        let worker = OsWorker {
            pid,
            pidfd: PidFd::open(pid),
            reaped: false,
            flush,
            known: Vec::new(),
        };
        self.workers.insert(id, worker);
        self.pids.insert(pid, id);
        Input::Spawned { id, pid }
    }

    fn open_log(&self, name: &str, stream: Stream) -> Option<std::fs::File> {
        let dir = self.log_dir.as_ref()?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.#".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let suffix = match stream {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
        };
        let path = dir.join(format!("{safe}.{suffix}.log"));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    }

    fn signal(&mut self, id: WorkerId, signal: i32, scope: Scope) {
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if scope == Scope::Tree {
            if !w.reaped {
                let fresh = tree::walk(w.pid);
                tree::remember(&mut w.known, fresh);
                tree::signal_group(w.pid, signal);
            } else {
                tree::remember(&mut w.known, []);
            }
            for k in &w.known {
                tree::signal_known(*k, signal);
            }
        }
        if !w.reaped {
            match &w.pidfd {
                Some(fd) => {
                    let _ = fd.send(signal);
                }
                // Unreaped, so the pid is still ours: kill(2) is safe here.
                // SAFETY: kill with plain integers.
                None => unsafe {
                    libc::kill(w.pid as libc::pid_t, signal);
                },
            }
        }
    }

    /// Signals zombie parents, but only those still inside the worker's tree.
    fn signal_parents(&mut self, id: WorkerId, parents: &[u32], signal: i32) {
        let Some(w) = self.workers.get(&id) else {
            return;
        };
        if w.reaped {
            return;
        }
        let members = tree::walk(w.pid);
        for &parent in parents {
            if parent == w.pid {
                if let Some(fd) = &w.pidfd {
                    let _ = fd.send(signal);
                }
            } else if let Some(k) = members.iter().find(|k| k.pid == parent) {
                tree::signal_known(*k, signal);
                if signal == libc::SIGTERM {
                    tree::signal_known(*k, libc::SIGCONT);
                }
            }
        }
    }

    /// Remembers every worker's descendants from a sample, for later stops.
    pub fn note_sample(&mut self, sample: &Sample) {
        for t in &sample.trees {
            let Some(id) = self.pids.get(&t.root) else {
                continue;
            };
            let Some(w) = self.workers.get_mut(id) else {
                continue;
            };
            let fresh = t.descendants.iter().filter_map(|&pid| {
                crate::sample::proc::start_time(pid).map(|start| Known { pid, start })
            });
            tree::remember(&mut w.known, fresh);
        }
    }

    /// A child was reaped. For a worker's leader, its exit is reported once its pipes
    /// have handed over what was written before it exited.
    pub fn reaped(&mut self, pid: u32, status: ExitStatus) {
        let Some(id) = self.pids.remove(&pid) else {
            return; // an adopted orphan: reaping it was all there was to do
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        w.reaped = true;
        w.pidfd = None;
        let mut acks = Vec::new();
        for tx in &w.flush {
            let (ack, done) = oneshot::channel();
            if tx.send(ack).is_ok() {
                acks.push(done);
            }
        }
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            for done in acks {
                let _ = tokio::time::timeout(FLUSH_WAIT, done).await;
            }
            let _ = inputs.send(Input::Exited { id, status });
        });
    }

    /// Pids of live worker leaders (what the sampler walks).
    pub fn live_leaders(&self) -> Vec<u32> {
        self.pids.keys().copied().collect()
    }

    /// True when no worker leader is left unreaped.
    pub fn all_reaped(&self) -> bool {
        self.pids.is_empty()
    }

    /// Emits an event from outside the supervisor (interrupts, the summary).
    pub async fn emit(&self, kind: EventKind) {
        let _ = self.events.send(Event::now(kind)).await;
    }
}
