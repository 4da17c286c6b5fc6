//! The OS half of the engine: carries out the supervisor's effects (spawn, signal,
//! timers, events) and turns what the kernel reports into supervisor inputs.

pub mod limits;
pub mod log_file;
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
use super::supervisor::{Effect, ExitStatus, Input, Scope, TimerKind};
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
    /// The pending timeout timer of the current run.
    timeout: Option<tokio::task::AbortHandle>,
}

/// Past this many waiting events, `sample` events are dropped instead of queued.
const OVERFLOW_SAMPLES: usize = 1_000;

pub struct Os {
    overflow: std::collections::VecDeque<Event>,
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
            overflow: std::collections::VecDeque::new(),
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
                let task = tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = inputs.send(Input::Timer(timer));
                });
                // A run's timeout is cancelled when the run ends, so long timeouts over
                // many short tasks do not pile up sleeping timers.
                if timer.kind == TimerKind::Timeout
                    && let Some(w) = self.workers.get_mut(&timer.id)
                {
                    w.timeout = Some(task.abort_handle());
                }
            }
            Effect::Emit(kind) => self.emit(kind),
            Effect::Retire(id) => {
                self.workers.remove(&id);
                self.store.forget(id);
            }
        }
    }

    fn spawn(&mut self, id: WorkerId, name: &str, job: &JobSpec) -> Input {
        // A restart: whatever the previous run left behind (descendants that ignored
        // the stop signal, daemons it started) goes now, before the new run exists.
        if let Some(old) = self.workers.get_mut(&id) {
            tree::remember(&mut old.known, []);
            for k in &old.known {
                tree::signal_known(*k, libc::SIGKILL);
            }
        }
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
            timeout: None,
        };
        self.workers.insert(id, worker);
        self.pids.insert(pid, id);
        Input::Spawned { id, pid }
    }

    /// The worker's log file; a log that cannot be opened is reported (an `error`
    /// event), and the worker runs with its output kept in memory only.
    fn open_log(&mut self, name: &str, stream: Stream) -> Option<std::fs::File> {
        let dir = self.log_dir.as_ref()?;
        match log_file::open_log(dir, name, stream) {
            Ok(file) => Some(file),
            Err(e) => {
                let which = match stream {
                    Stream::Stdout => "stdout",
                    Stream::Stderr => "stderr",
                };
                let message = format!(
                    "cannot open the {which} log of '{name}': {e}; its output is kept in memory only"
                );
                self.emit(EventKind::Error { message });
                None
            }
        }
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
            let fresh = t
                .descendants
                .iter()
                .zip(&t.descendant_starts)
                .map(|(&pid, &start)| Known { pid, start });
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
        if let Some(timeout) = w.timeout.take() {
            timeout.abort();
        }
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
    /// Queues an event for the front end without ever waiting: a front end that
    /// stops reading must not stall reaping, timers or Ctrl-C. Events wait in
    /// `overflow` (in order) until `drain_overflow` finds room in the channel.
    pub fn emit(&mut self, kind: EventKind) {
        let event = Event::now(kind);
        // Samples are the only steady stream; while the front end is stalled they
        // are dropped rather than stored (the next one says the same, newer).
        if matches!(event.kind, EventKind::Sample { .. }) && self.overflow.len() > OVERFLOW_SAMPLES
        {
            return;
        }
        // Handed over in one go by `drain_overflow` after the input is processed:
        // the front end then wakes once per input, not once per event.
        self.overflow.push_back(event);
    }

    /// Moves waiting events into the channel while it has room.
    pub fn drain_overflow(&mut self) {
        while let Some(event) = self.overflow.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.overflow.push_front(event);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.overflow.clear(),
            }
        }
    }

    /// True while events wait for room in the channel.
    pub fn has_overflow(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// At the end: waits until every queued event is in the channel.
    pub async fn flush_events(&mut self) {
        while let Some(event) = self.overflow.pop_front() {
            if self.events.send(event).await.is_err() {
                self.overflow.clear();
            }
        }
    }
}
