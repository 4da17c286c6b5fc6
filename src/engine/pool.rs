//! Pools: jobs whose workers start once and are fed many tasks. The dispatcher
//! lives on the engine thread, beside the supervisor, so it sees a worker's
//! exit the moment the reaper does and no task can be lost in between; `submit`
//! (socket, control lines) and `map --pool` share it.
//!
//! Pool workers are ordinary supervisor workers (named `pool#N`, launched by
//! the dispatcher): stop ladder, containment, sampling and the UI apply as to
//! any worker. This file routes engine inputs to the pool that owns them;
//! `dispatch.rs` is one pool's pure state machine, `pipes.rs` the OS side.

mod dispatch;
pub mod message;
pub mod pipes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::command::{Command, WorkerId};
use super::event::EventKind;
use super::supervisor::{ExitStatus, Input};
use crate::spec::JobSpec;
use dispatch::Pool;

/// What the engine loop must do for the pools.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start a worker (a one-worker job with the task pipes).
    Launch(Box<JobSpec>),
    /// Write a task line to the worker's stdin.
    Send {
        worker: WorkerId,
        line: Vec<u8>,
    },
    /// Close the worker's stdin: it should finish and exit.
    CloseInput(WorkerId),
    /// The stop ladder (terminate) for the worker.
    Stop(WorkerId),
    Arm {
        after: Duration,
        timer: Timer,
    },
    Emit(EventKind),
}

/// A pool's timer; stale ones (the worker gone, the task done) do nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub pool: String,
    pub worker: WorkerId,
    /// The task the timer is for (`Task` timers only).
    pub task: u64,
    pub kind: TimerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// `init_timeout`: not ready by now is a start failure.
    Init,
    /// `task_timeout` for one task.
    Task,
    /// A closed worker's grace period is over: the stop ladder.
    Grace,
    /// The `failing` back-off is over: start workers again.
    Backoff,
}

/// Facts for the pools that the supervisor has no use for.
#[derive(Debug, Clone)]
pub enum PoolInput {
    /// A line from a worker's result pipe.
    Line {
        worker: WorkerId,
        line: String,
    },
    Timer(Timer),
}

/// Every pool of the run, by name.
#[derive(Default)]
pub struct Pools {
    pools: BTreeMap<String, Pool>,
}

impl Pools {
    /// Inputs only pools take (a pool's launch, `submit`, pool facts): handled
    /// here and not shown to the supervisor. `None` for the others.
    pub fn take(&mut self, input: &Input, now: Instant) -> Option<Vec<Effect>> {
        match input {
            Input::Command(Command::Launch(job)) => {
                let spec = job.pool.clone()?;
                Some(self.create(job, spec, now))
            }
            Input::Command(Command::Submit { pool, id, input }) => {
                Some(self.submit(pool, id.clone(), input.clone(), now))
            }
            Input::Pool(PoolInput::Line { worker, line }) => Some(
                self.owner(*worker)
                    .map(|p| p.line(*worker, line, now))
                    .unwrap_or_default(),
            ),
            Input::Pool(PoolInput::Timer(timer)) => Some(
                self.pools
                    .get_mut(&timer.pool)
                    .map(|p| p.timer(timer, now))
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    /// What the pools make of an input the supervisor has just handled. `name`
    /// gives a worker's name (the supervisor's).
    pub fn after(&mut self, input: &Input, name: Option<&str>, now: Instant) -> Vec<Effect> {
        match input {
            Input::Spawned { id, .. } => match name.and_then(|n| self.launcher(n)) {
                Some((pool, n)) => pool.spawned(*id, &n, now),
                None => Vec::new(),
            },
            Input::SpawnFailed { .. } => match name.and_then(|n| self.launcher(n)) {
                Some((pool, n)) => pool.spawn_failed(&n, now),
                None => Vec::new(),
            },
            Input::Exited { id, status, .. } => match self.owner(*id) {
                Some(pool) => pool.exited(*id, &describe(*status), now),
                None => Vec::new(),
            },
            Input::Command(Command::CloseQueue) => self.each(|p| p.close(now)),
            Input::Command(Command::StopAll) => self.each(|p| p.stop_all(now)),
            _ => Vec::new(),
        }
    }

    /// The latest memory figures (worker, bytes of its tree), for `max_rss`.
    pub fn rss(&mut self, figures: &[(WorkerId, u64)], now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (id, bytes) in figures {
            if let Some(pool) = self.owner(*id) {
                effects.extend(pool.rss(*id, *bytes, now));
            }
        }
        effects
    }

    /// No pool has a task queued or running (the run may end).
    pub fn drained(&self) -> bool {
        self.pools.values().all(|p| {
            let (queued, running, _) = p.counts();
            queued == 0 && running == 0
        })
    }

    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    pub fn views(&self, now: Instant) -> Vec<crate::engine::snapshot::PoolView> {
        self.pools.values().map(|p| p.view(now)).collect()
    }

    /// Per pool: name, tasks queued, tasks running, workers alive.
    pub fn counts(&self) -> Vec<(String, usize, usize, usize)> {
        self.pools
            .values()
            .map(|p| {
                let (queued, running, workers) = p.counts();
                (p.name().to_string(), queued, running, workers)
            })
            .collect()
    }

    fn create(
        &mut self,
        job: &JobSpec,
        spec: Arc<crate::spec::pool::PoolSpec>,
        now: Instant,
    ) -> Vec<Effect> {
        if self.pools.contains_key(&job.name) {
            return vec![Effect::Emit(EventKind::Error {
                message: format!(
                    "cannot launch pool '{}': a pool of that name exists; give another name",
                    job.name
                ),
            })];
        }
        let mut pool = Pool::new(job, spec);
        let effects = pool.start(now);
        self.pools.insert(job.name.clone(), pool);
        effects
    }

    fn submit(
        &mut self,
        pool: &str,
        id: Option<String>,
        input: Value,
        now: Instant,
    ) -> Vec<Effect> {
        let refused = |message: String| vec![Effect::Emit(EventKind::Error { message })];
        let Some(p) = self.pools.get_mut(pool) else {
            return refused(format!(
                "cannot submit: no pool named '{pool}' (a pool is a job with a \"pool\" setting)"
            ));
        };
        match p.submit(id, input, now) {
            Ok((task, mut effects)) => {
                effects.insert(
                    0,
                    Effect::Emit(EventKind::Submitted {
                        pool: pool.to_string(),
                        task,
                    }),
                );
                effects
            }
            Err(message) => refused(format!("cannot submit: {message}")),
        }
    }

    fn owner(&mut self, id: WorkerId) -> Option<&mut Pool> {
        self.pools.values_mut().find(|p| p.owns(id))
    }

    fn launcher(&mut self, name: &str) -> Option<(&mut Pool, String)> {
        let pool = self.pools.values_mut().find(|p| p.launched(name))?;
        Some((pool, name.to_string()))
    }

    fn each(&mut self, mut f: impl FnMut(&mut Pool) -> Vec<Effect>) -> Vec<Effect> {
        self.pools.values_mut().flat_map(&mut f).collect()
    }
}

/// How a worker ended, for messages.
fn describe(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(c) => format!("exit code {c}"),
        ExitStatus::Signal(s) => format!("killed by {}", crate::signals::signal_name(s)),
    }
}
