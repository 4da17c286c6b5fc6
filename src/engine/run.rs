//! The engine thread: one loop that feeds the supervisor with commands, reaped
//! exits, pipe activity, timers and samples, and carries out its effects.
//!
//! It runs on a dedicated thread that outlives every worker, because the parent-
//! death signal workers ask for is tied to the thread that spawned them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot, watch};

use super::command::Command;
use super::event::EventKind;
use super::os::{Os, reaper};
use super::outbound::{self, EventReceiver, Tap};
use super::output::OutputStore;
use super::pool::{Effect as PoolEffect, PoolInput, Pools};
use super::snapshot::Snapshot;
use super::supervisor::{Input, Policy, Supervisor};
use crate::signals::signal_name;
use crate::spec::JobSpec;

/// Everything the engine needs besides the jobs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub policy: Policy,
    /// Lines kept per worker.
    pub ring_lines: usize,
    /// Bytes of output text kept for all workers together.
    pub output_budget: usize,
    pub log_dir: Option<PathBuf>,
    /// Send every output line as an event (headless `--output events`).
    pub output_events: bool,
    /// Also send output as it was read, byte for byte, as `Bytes` events (map
    /// mode's plain output); they wait for credit as output lines do.
    pub raw_output: bool,
    pub sample_interval: Duration,
    /// Close the queue once the initial jobs are in (headless without a control stream).
    pub close_queue: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            policy: Policy::default(),
            ring_lines: 10_000,
            output_budget: super::output::DEFAULT_BUDGET,
            log_dir: None,
            output_events: true,
            raw_output: false,
            sample_interval: Duration::from_secs(1),
            close_queue: true,
        }
    }
}

/// How the engine ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Every worker exited 0.
    pub ok: bool,
    /// The signal (SIGINT, SIGTERM, SIGQUIT, …) that interrupted proctor, if any.
    pub interrupted: Option<i32>,
}

/// A command whose sender wants to know how it went: `Err` carries the messages
/// of the `error` events it caused (an unknown worker name, say). The snapshot is
/// published before the answer, so what the sender reads next includes it;
/// `None` just asks for that (a fresh snapshot).
pub struct Request {
    pub command: Option<Command>,
    pub reply: oneshot::Sender<Result<(), Vec<String>>>,
}

/// A front end's connection to a running engine.
pub struct EngineHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    /// Commands with an answer (the control socket's).
    pub requests: mpsc::UnboundedSender<Request>,
    pub events: EventReceiver,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub store: Arc<OutputStore>,
    /// Every event, numbered, for control socket subscribers.
    pub tap: Arc<Tap>,
    thread: Option<std::thread::JoinHandle<Outcome>>,
}

impl EngineHandle {
    /// A handle on an engine elsewhere (another instance, through its socket):
    /// the caller feeds `events` and `snapshot` and carries out `commands`.
    /// Dropping it stops nothing.
    pub fn bridged(
        commands: mpsc::UnboundedSender<Command>,
        events: EventReceiver,
        snapshot: watch::Receiver<Arc<Snapshot>>,
        store: Arc<OutputStore>,
    ) -> EngineHandle {
        EngineHandle {
            commands,
            requests: mpsc::unbounded_channel().0,
            events,
            snapshot,
            store,
            tap: Tap::new(),
            thread: None,
        }
    }

    /// Waits for the engine thread; it ends when the queue is closed and drained
    /// (or after a stop), with every child reaped.
    pub fn wait(mut self) -> Outcome {
        let failed = Outcome {
            ok: false,
            interrupted: None,
        };
        match self.thread.take() {
            Some(t) => t.join().unwrap_or(failed),
            None => failed,
        }
    }
}

impl Drop for EngineHandle {
    /// A front end that goes away without `wait` (an error, a panic unwinding) still
    /// must not leave workers behind: stop everything and wait for the engine.
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let _ = self.commands.send(Command::StopAll);
        // Nobody reads events any more; closing lets output waiting for the front
        // end go, so the engine can end.
        self.events.close();
        while self.events.try_recv().is_some() {}
        let _ = thread.join();
    }
}

/// Starts the engine thread with these jobs queued.
pub fn start(config: EngineConfig, jobs: Vec<JobSpec>) -> std::io::Result<EngineHandle> {
    let store = Arc::new(OutputStore::with_budget(
        config.ring_lines,
        config.output_budget,
    ));
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let tap = Tap::new();
    let (event_tx, event_rx) = outbound::channel();
    let event_tx = event_tx.with_tap(tap.clone());
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let engine_store = store.clone();
    // Every thread but the engine's keeps SIGCHLD blocked (threads inherit the mask).
    reaper::route_sigchld_here(false);
    keep_freed_memory();
    let thread = std::thread::Builder::new()
        .name("proctor-engine".into())
        .spawn(move || {
            reaper::route_sigchld_here(true);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let failed = Outcome {
                ok: false,
                interrupted: None,
            };
            let Ok(rt) = runtime else {
                return failed;
            };
            let engine = std::panic::AssertUnwindSafe(|| {
                rt.block_on(run(
                    config,
                    jobs,
                    engine_store,
                    (cmd_rx, req_rx),
                    event_tx,
                    snap_tx,
                ))
            });
            match std::panic::catch_unwind(engine) {
                Ok(outcome) => outcome,
                // The loop that owned the workers is gone: end every process now,
                // by cgroup and marker here, by the ledger in the keeper.
                Err(_) => {
                    if let Some(c) = crate::contain::get() {
                        c.emergency_stop();
                    }
                    failed
                }
            }
        })?;
    Ok(EngineHandle {
        commands: cmd_tx,
        requests: req_tx,
        events: event_rx,
        snapshot: snap_rx,
        store,
        tap,
        thread: Some(thread),
    })
}

/// glibc gives freed memory at the top of a thread's heap straight back to the kernel
/// and takes it again moments later (mprotect and page faults on every worker start,
/// seen in `perf` of the launch benchmark). Keeping up to 32 MiB of it avoids the
/// churn; memory in use is unaffected.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before the threads start.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TOP_PAD, 1 << 20);
    }
}

/// Snapshots are published at most this often; events are never delayed.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(33);

async fn run(
    config: EngineConfig,
    jobs: Vec<JobSpec>,
    store: Arc<OutputStore>,
    (mut commands, mut requests): (
        mpsc::UnboundedReceiver<Command>,
        mpsc::UnboundedReceiver<Request>,
    ),
    events: outbound::EventSender,
    snapshot: watch::Sender<Arc<Snapshot>>,
) -> Outcome {
    reaper::become_subreaper();
    super::os::limits::raise_open_files();
    let (Ok(mut sigchld), Some(mut fatal)) = (signal(SignalKind::child()), catch_fatal()) else {
        return Outcome {
            ok: false,
            interrupted: None,
        };
    };
    let (in_tx, mut in_rx) = mpsc::unbounded_channel();
    let mut os = Os::new(store, events, in_tx.clone());
    os.output_events = config.output_events;
    os.raw_output = config.raw_output;
    os.log_dir = config.log_dir.clone();
    os.emit(EventKind::Started {
        version: env!("CARGO_PKG_VERSION"),
        containment: crate::contain::get().map_or("ledger", |c| c.level.name()),
        detail: crate::contain::describe(),
        host: crate::sample::host::name(),
        os: crate::sample::host::os(),
    });
    let mut policy = config.policy.clone();
    let per_worker = super::os::limits::descriptors_per_worker(config.log_dir.is_some());
    policy.open_file_slots = super::os::limits::worker_slots(per_worker);
    let mut sup = Supervisor::new(policy);
    let mut pools = Pools::default();
    let mut engine = Loop {
        sup: &mut sup,
        os: &mut os,
        pools: &mut pools,
        snapshot: &snapshot,
        dirty: true,
        last_publish: None,
    };

    engine.sup.expect_jobs(jobs.iter().map(|j| j.name.clone()));
    for job in jobs {
        engine
            .process(Input::Command(Command::Launch(Box::new(job))))
            .await;
    }
    if config.close_queue {
        engine.process(Input::Command(Command::CloseQueue)).await;
    }
    let _sampler =
        super::sampling::spawn(config.sample_interval, snapshot.subscribe(), in_tx.clone());
    let mut interrupted = None;
    let mut commands_open = true;
    let mut reaped = Vec::new();
    while !(engine.sup.is_done() && engine.os.all_reaped() && engine.pools.drained()) {
        // Published here, not only when nothing else is ready: pipe activity never
        // runs dry while workers flood, and the UI must stay live through it.
        if engine.publish_due() {
            engine.publish();
        }
        let publish_at = engine.publish_deadline();
        tokio::select! {
            biased;
            _ = sigchld.recv() => {
                reaper::reap_exited(&mut reaped);
                for (pid, status) in reaped.drain(..) {
                    engine.os.reaped(pid, status);
                }
            }
            // Commands and signals come before the stream of pipe activity, which
            // never runs dry while workers flood: a person must always get through.
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => engine.process(Input::Command(cmd)).await,
                // The front end is gone: nobody is watching, so stop everything.
                None => {
                    commands_open = false;
                    engine.process(Input::Command(Command::StopAll)).await;
                }
            },
            Some(request) = requests.recv() => engine.answer(request).await,
            Some(sig) = fatal.recv() => engine.interrupt(sig, &mut interrupted).await,
            Some(input) = in_rx.recv() => {
                test_hooks::engine_panic(&input);
                engine.process(input).await;
            }
            _ = sleep_until(publish_at) => engine.publish(),
        }
    }
    super::sweep::sweep_orphans(config.policy.stop_grace, &mut sigchld).await;
    // Everything proctor started is gone; what they wrote may still be on its way
    // (a slow front end holds the readers back). The run ends after all of it.
    engine.os.readers_done().await;
    if let Some(c) = crate::contain::get() {
        c.goodbye();
    }
    let now = Instant::now();
    let (ok, workers) = engine.sup.summary(now);
    let ok = ok && !engine.os.troubled();
    engine.dirty = true;
    engine.publish();
    engine.os.emit(EventKind::Summary { ok, workers });
    engine.os.send_pending();
    Outcome { ok, interrupted }
}

/// Every catchable signal that would end proctor, as one stream of numbers. Only
/// INT, TERM and HUP are required; a signal the system refuses is left as it is.
fn catch_fatal() -> Option<mpsc::UnboundedReceiver<i32>> {
    let (tx, rx) = mpsc::unbounded_channel();
    for sig in crate::signals::fatal_signals() {
        let mut stream = match signal(SignalKind::from_raw(sig)) {
            Ok(s) => s,
            Err(_) if ![libc::SIGINT, libc::SIGTERM, libc::SIGHUP].contains(&sig) => continue,
            Err(_) => return None,
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    return;
                }
            }
        });
    }
    Some(rx)
}

/// Test-only hooks, compiled in with the `test-hooks` feature (never by default).
mod test_hooks {
    use super::Input;

    /// With `PROCTOR_TEST_ENGINE_PANIC` set, the engine thread panics when a worker
    /// prints the line `panic-now`.
    #[cfg(feature = "test-hooks")]
    pub fn engine_panic(input: &Input) {
        if let Input::Output { last_line, .. } = input
            && last_line == "panic-now"
            && std::env::var_os("PROCTOR_TEST_ENGINE_PANIC").is_some()
        {
            panic!("induced by PROCTOR_TEST_ENGINE_PANIC");
        }
    }

    #[cfg(not(feature = "test-hooks"))]
    pub fn engine_panic(_input: &Input) {}
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// An input the pools hear about after the supervisor, the worker's name, and
/// memory figures (worker, tree bytes).
type PoolFact = (
    Option<Input>,
    Option<String>,
    Vec<(crate::engine::WorkerId, u64)>,
);

/// The state the loop threads through: supervisor, OS half and snapshot publishing.
struct Loop<'a> {
    sup: &'a mut Supervisor,
    os: &'a mut Os,
    pools: &'a mut Pools,
    snapshot: &'a watch::Sender<Arc<Snapshot>>,
    dirty: bool,
    last_publish: Option<Instant>,
}

impl Loop<'_> {
    /// Feeds one input, then every fact its effects produce, to the supervisor.
    async fn process(&mut self, input: Input) {
        self.process_then(input, |_| ()).await;
    }

    /// `process`, then `look` at the OS half before its events go out.
    async fn process_then<T>(&mut self, input: Input, look: impl FnOnce(&Os) -> T) -> T {
        if let Input::Sample(sample) = &input {
            self.os.note_sample(sample);
        }
        let mut pending = vec![input];
        let mut next = Vec::new();
        while let Some(input) = pending.pop() {
            let now = Instant::now();
            if let Some(effects) = self.pools.take(&input, now) {
                self.pool_effects(effects, &mut next);
                pending.extend(next.drain(..).rev());
                continue;
            }
            let seen = self.pool_fact(&input);
            for effect in self.sup.handle(input, now) {
                self.os.execute(effect, &mut next).await;
            }
            if let Some((fact, name, rss)) = seen {
                let mut effects = match fact {
                    Some(fact) => self.pools.after(&fact, name.as_deref(), now),
                    None => Vec::new(),
                };
                effects.extend(self.pools.rss(&rss, now));
                self.pool_effects(effects, &mut next);
            }
            pending.extend(next.drain(..).rev());
        }
        let seen = look(self.os);
        self.os.send_pending();
        self.dirty = true;
        seen
    }

    /// What the pools must hear about `input` once the supervisor has handled
    /// it: the input itself (when it concerns pools), the worker's name, and
    /// memory figures from a sample. `None` on the hot paths and without pools.
    fn pool_fact(&self, input: &Input) -> Option<PoolFact> {
        if self.pools.is_empty() {
            return None;
        }
        match input {
            Input::Spawned { id, .. } | Input::SpawnFailed { id, .. } => Some((
                Some(input.clone()),
                self.sup.worker_name(*id).map(str::to_string),
                Vec::new(),
            )),
            Input::Exited { .. }
            | Input::Command(Command::CloseQueue)
            | Input::Command(Command::StopAll) => Some((Some(input.clone()), None, Vec::new())),
            Input::Sample(sample) => {
                let rss = sample
                    .trees
                    .iter()
                    .filter_map(|t| Some((self.os.worker_of(t.root)?, t.tree_rss)))
                    .collect();
                Some((None, None, rss))
            }
            _ => None,
        }
    }

    /// Carries out what the pools asked for; launches and stops become inputs.
    fn pool_effects(&mut self, effects: Vec<PoolEffect>, next: &mut Vec<Input>) {
        for effect in effects {
            match effect {
                PoolEffect::Launch(job) => next.push(Input::Command(Command::Launch(job))),
                PoolEffect::Stop(id) => next.push(Input::Command(Command::Terminate(vec![id]))),
                PoolEffect::Send { worker, line } => self.os.pool_send(worker, line),
                PoolEffect::CloseInput(id) => self.os.pool_close(id),
                PoolEffect::Emit(kind) => self.os.emit(kind),
                PoolEffect::Arm { after, timer } => {
                    let inputs = self.os.inputs.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = inputs.send(Input::Pool(PoolInput::Timer(timer)));
                    });
                }
            }
        }
    }

    /// Carries out a request and answers it once the snapshot shows its effect.
    async fn answer(&mut self, request: Request) {
        let mut errors = Vec::new();
        if let Some(command) = request.command {
            let mark = self.os.pending_len();
            errors = self
                .process_then(Input::Command(command), |os| os.errors_since(mark))
                .await;
        }
        self.dirty = true;
        self.publish();
        let _ = request.reply.send(if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        });
    }

    async fn interrupt(&mut self, sig: i32, interrupted: &mut Option<i32>) {
        if interrupted.is_none() {
            *interrupted = Some(sig);
            self.os.emit(EventKind::Interrupted {
                signal: signal_name(sig),
            });
        }
        self.process(Input::Command(Command::StopAll)).await;
    }

    fn publish_due(&self) -> bool {
        self.publish_deadline()
            .is_some_and(|at| at <= Instant::now())
    }

    fn publish_deadline(&self) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        Some(
            self.last_publish
                .map_or_else(Instant::now, |t| t + SNAPSHOT_EVERY),
        )
    }

    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        let now = Instant::now();
        let mut snapshot = self.sup.snapshot(now);
        snapshot.pools = self.pools.views(now);
        self.snapshot.send_replace(Arc::new(snapshot));
        self.last_publish = Some(now);
        self.dirty = false;
    }
}
