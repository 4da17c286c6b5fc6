//! The OS half of the engine: carries out the supervisor's effects (spawn, signal,
//! timers, events) and turns what the kernel reports into supervisor inputs.

pub mod limits;
pub mod log_file;
mod members;
pub mod pidfd;
pub mod pipes;
pub mod probe;
pub mod reaper;
pub mod spawn;
pub mod tree;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::command::WorkerId;
use super::event::{Event, EventKind, Stream};
use super::outbound::EventSender;
use super::output::OutputStore;
use super::supervisor::{Effect, ExitStatus, Input, Scope, TimerKind};
use crate::contain::pool::Pool;
use crate::sample::Sample;
use crate::spec::JobSpec;
use members::Members;
use pidfd::PidFd;
use pipes::{FlushRequest, LogFile, Reader};
use tree::Known;

struct OsWorker {
    pid: u32,
    pidfd: Option<PidFd>,
    reaped: bool,
    flush: Vec<mpsc::UnboundedSender<FlushRequest>>,
    /// Descendants seen so far and the worker's cgroup, to reach those that left
    /// the process group or were re-parented to proctor.
    members: Members,
    /// The pending timeout timer of the current run.
    timeout: Option<tokio::task::AbortHandle>,
    /// A pool worker's task pipe (dropped to close its stdin).
    tasks: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

/// How long, once every process proctor started is gone, a pipe may stay open
/// before its reader gives up: only a process outside proctor's tree (one that
/// was handed the descriptor) can hold it then, and the run must still end.
const ORPHAN_PIPE_WAIT: Duration = Duration::from_secs(5);

pub struct Os {
    /// Events of the input being processed, sent in one batch after it (the front
    /// end then wakes once per input, not once per event).
    batch: Vec<Event>,
    workers: HashMap<WorkerId, OsWorker>,
    pids: HashMap<u32, WorkerId>,
    /// Worker cgroups to reuse (level `cgroup` only).
    groups: Option<Pool>,
    pub store: Arc<OutputStore>,
    pub events: EventSender,
    pub output_events: bool,
    pub raw_output: bool,
    pub inputs: mpsc::UnboundedSender<Input>,
    pub log_dir: Option<PathBuf>,
    /// Set by a reader whose output did not reach where it was asked to go.
    troubled: Arc<AtomicBool>,
    /// Cloned into every pipe reader; see `readers_done`.
    alive: Option<mpsc::Sender<()>>,
    readers_gone: mpsc::Receiver<()>,
    probes: probe::Probes,
}

impl Os {
    pub fn new(
        store: Arc<OutputStore>,
        events: EventSender,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Self {
        let (alive, readers_gone) = mpsc::channel(1);
        Os {
            batch: Vec::new(),
            workers: HashMap::new(),
            pids: HashMap::new(),
            groups: crate::contain::get()
                .and_then(|c| c.cgroup.clone())
                .map(Pool::new),
            store,
            events,
            output_events: false,
            raw_output: false,
            inputs,
            log_dir: None,
            troubled: Arc::new(AtomicBool::new(false)),
            alive: Some(alive),
            readers_gone,
            probes: probe::Probes::default(),
        }
    }

    /// True when some output did not reach where it was asked to go.
    pub fn troubled(&self) -> bool {
        self.troubled.load(Ordering::Relaxed)
    }

    /// Waits until every pipe reader has read its stream to the end and handed
    /// the lines on. Call once every process proctor started is gone.
    pub async fn readers_done(&mut self) {
        let Some(alive) = self.alive.take() else {
            return;
        };
        drop(alive);
        // Every writer proctor knows of is gone, and readers still wait only on
        // credit (the front end reading) or on a writer outside proctor's tree.
        // Credit is no reason to stop; such a writer is, after a while.
        let ended = {
            let events = &self.events;
            let gone = &mut self.readers_gone;
            let all_ended = async move { while gone.recv().await.is_some() {} };
            tokio::pin!(all_ended);
            let mut waited = Duration::ZERO;
            let step = Duration::from_millis(250);
            loop {
                if tokio::time::timeout(step, &mut all_ended).await.is_ok() {
                    break true;
                }
                waited = if events.output_in_flight() {
                    Duration::ZERO
                } else {
                    waited + step
                };
                if waited >= ORPHAN_PIPE_WAIT {
                    break false;
                }
            }
        };
        if ended {
            return;
        }
        self.troubled.store(true, Ordering::Relaxed);
        self.emit(EventKind::Error {
            message: "a worker's output pipe is still held open by a process outside \
                      proctor's tree; stopped reading it"
                .into(),
        });
        self.send_pending();
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
            Effect::Probe {
                id,
                run,
                purpose,
                probe,
            } => self.probes.start(id, run, purpose, probe, &self.inputs),
            Effect::Retire(id) => {
                if let Some(mut w) = self.workers.remove(&id) {
                    w.members.retire(self.groups.as_mut());
                }
                self.store.forget(id);
            }
        }
    }

    fn spawn(&mut self, id: WorkerId, name: &str, job: &JobSpec) -> Input {
        // A restart: whatever the previous run left behind (descendants that ignored
        // the stop signal, daemons it started) goes now, before the new run exists.
        members::adopt_orphans(&self.pids, &mut self.workers, self.groups.as_ref());
        let mut members = match self.workers.remove(&id) {
            Some(mut old) => {
                old.members.kill_leftovers();
                old.members
            }
            None => Members::default(),
        };
        let contain = members.prepare(id, self.groups.as_mut());
        let log_watch = self.probes.spawned(id, job);
        let started = match spawn::spawn(job, &contain) {
            Ok(s) => s,
            Err(error) => {
                members.retire(self.groups.as_mut());
                return Input::SpawnFailed { id, error };
            }
        };
        let pid = started.pid;
        members.spawned(pid);
        // Before the readers start: a restart's marker precedes the run's output.
        self.store.start_run(id);
        let mut flush = Vec::new();
        let shared_name: std::sync::Arc<str> = name.into();
        for (fd, stream) in [
            (started.stdout, Stream::Stdout),
            (started.stderr, Stream::Stderr),
        ] {
            let (tx, rx) = mpsc::unbounded_channel();
            flush.push(tx);
            let Some(alive) = self.alive.clone() else {
                continue; // the run is ending: nothing spawns then
            };
            let reader = Reader {
                id,
                name: std::sync::Arc::clone(&shared_name),
                stream,
                store: self.store.clone(),
                events: self.events.clone(),
                output_events: self.output_events,
                raw_output: self.raw_output,
                inputs: self.inputs.clone(),
                log_file: self.open_log(name, stream),
                troubled: self.troubled.clone(),
                alive,
                log_watch: log_watch.clone(),
            };
            tokio::spawn(reader.run(fd, rx));
        }
        let mut tasks = None;
        if let Some(feed) = started.feed
            && let Some(alive) = self.alive.clone()
        {
            let (tx, rx) = mpsc::unbounded_channel();
            flush.push(tx);
            let inputs = self.inputs.clone();
            tokio::spawn(crate::engine::pool::pipes::read_results(
                id,
                feed.results,
                inputs,
                rx,
                alive,
            ));
            tasks = crate::engine::pool::pipes::writer(feed.tasks);
        }
        let worker = OsWorker {
            pid,
            pidfd: PidFd::open(pid),
            reaped: false,
            flush,
            members,
            timeout: None,
            tasks,
        };
        self.workers.insert(id, worker);
        self.pids.insert(pid, id);
        Input::Spawned { id, pid }
    }

    /// The worker's log file; a log that cannot be opened is reported (an `error`
    /// event), the worker runs with its output kept in memory only, and the run
    /// does not count as a success.
    fn open_log(&mut self, name: &str, stream: Stream) -> Option<LogFile> {
        let dir = self.log_dir.as_ref()?;
        let path = dir.join(log_file::file_name(name, stream).unwrap_or_default());
        match log_file::open_log(dir, name, stream) {
            Ok(file) => Some(LogFile { file, path }),
            Err(e) => {
                let which = match stream {
                    Stream::Stdout => "stdout",
                    Stream::Stderr => "stderr",
                };
                let message = format!(
                    "cannot open the {which} log of '{name}': {e}; its output is kept in memory only"
                );
                self.troubled.store(true, Ordering::Relaxed);
                self.emit(EventKind::Error { message });
                None
            }
        }
    }

    fn signal(&mut self, id: WorkerId, signal: i32, scope: Scope) {
        if let Scope::Descendant { pid, start } = scope {
            self.signal_descendant(id, pid, start, signal);
            return;
        }
        if scope == Scope::Tree {
            members::adopt_orphans(&self.pids, &mut self.workers, self.groups.as_ref());
        }
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if scope == Scope::Tree {
            if !w.reaped {
                w.members.learn(tree::walk(w.pid));
                tree::signal_group(w.pid, signal);
            }
            w.members.refresh();
            for k in &w.members.known {
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

    /// Signals one process of a worker's tree: only one the worker's tree holds now
    /// (or that was re-parented from it), checked by start time, so a recycled
    /// pid, or a process outside the tree, is never hit.
    /// Without a start time, the process the tree holds under that pid now.
    fn signal_descendant(&mut self, id: WorkerId, pid: u32, start: Option<u64>, signal: i32) {
        members::adopt_orphans(&self.pids, &mut self.workers, self.groups.as_ref());
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        if !w.reaped {
            w.members.learn(tree::walk(w.pid));
        }
        w.members.refresh();
        let found = w
            .members
            .known
            .iter()
            .find(|k| k.pid == pid && start.is_none_or(|s| s == k.start))
            .copied();
        match found {
            Some(k) => {
                tree::signal_known(k, signal);
            }
            None => {
                let message = format!(
                    "pid {pid} is not (any more) a process of the worker whose pid is {}: \
                     nothing was signalled; `proctor ctl status --json` lists its processes",
                    w.pid
                );
                self.emit(EventKind::Error { message });
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
            w.members.learn(fresh);
        }
        members::adopt_orphans(&self.pids, &mut self.workers, self.groups.as_ref());
    }

    /// A child was reaped. For a worker's leader, its exit is reported once its pipes
    /// have handed over what was written before it exited.
    pub fn reaped(&mut self, pid: u32, status: ExitStatus) {
        if self.probes.reaped(pid, status) {
            return;
        }
        let Some(id) = self.pids.remove(&pid) else {
            return; // an adopted orphan: reaping it was all there was to do
        };
        let Some(w) = self.workers.get_mut(&id) else {
            return;
        };
        self.probes.stop(id);
        w.reaped = true;
        w.pidfd = None;
        w.tasks = None;
        w.members.run_ended(self.groups.as_mut());
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
        // No time limit: the readers answer once what the worker wrote is handed
        // on, which waits only for the front end (backpressure), never forever.
        let inputs = self.inputs.clone();
        let at = Instant::now();
        tokio::spawn(async move {
            for done in acks {
                let _ = done.await;
            }
            let _ = inputs.send(Input::Exited { id, status, at });
        });
    }

    /// Writes a task line to a pool worker's stdin.
    pub fn pool_send(&mut self, id: WorkerId, line: Vec<u8>) {
        if let Some(tasks) = self.workers.get(&id).and_then(|w| w.tasks.as_ref()) {
            let _ = tasks.send(line);
        }
    }

    /// Closes a pool worker's stdin (after what was sent is written).
    pub fn pool_close(&mut self, id: WorkerId) {
        if let Some(w) = self.workers.get_mut(&id) {
            w.tasks = None;
        }
    }

    /// The worker whose leader has this pid.
    pub fn worker_of(&self, pid: u32) -> Option<WorkerId> {
        self.pids.get(&pid).copied()
    }

    /// Pids of live worker leaders (what the sampler walks).
    pub fn live_leaders(&self) -> Vec<u32> {
        self.pids.keys().copied().collect()
    }

    /// True when no worker leader is left unreaped.
    pub fn all_reaped(&self) -> bool {
        self.pids.is_empty()
    }

    /// Queues an event for the front end; it goes out with the rest of the
    /// input's events in `send_pending`, and never waits for the front end: one
    /// that stops reading must not stall reaping, timers or Ctrl-C.
    pub fn emit(&mut self, kind: EventKind) {
        self.batch.push(Event::now(kind));
    }

    /// How many events wait to be sent (a mark for `errors_since`).
    pub fn pending_len(&self) -> usize {
        self.batch.len()
    }

    /// Messages of `error` events queued since `mark`: what went wrong with the
    /// command just processed, for the client that sent it.
    pub fn errors_since(&self, mark: usize) -> Vec<String> {
        self.batch
            .get(mark..)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Error { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// Hands the events queued so far to the front end.
    pub fn send_pending(&mut self) {
        if !self.batch.is_empty() {
            self.events.send_batch(std::mem::take(&mut self.batch));
        }
    }
}
