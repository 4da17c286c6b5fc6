//! One pool's dispatcher, a pure state machine: tasks wait in a queue and go to
//! idle ready workers one at a time; a worker that dies under a task gives it
//! back (to the head of the queue, for another worker); workers are replaced
//! when they have served enough, and the pool backs off when they keep dying
//! before they are ready. It does no I/O: it returns `Effect`s.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod lifecycle;
mod tasks;
#[cfg(test)]
mod tests;

use super::message::{self, Message};
use super::{Effect, Timer, TimerKind};
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;
use crate::spec::JobSpec;
use crate::spec::pool::{PoolSpec, Protocol};

/// Deaths before ready within this window that make a pool `failing`.
const EARLY_DEATHS: usize = 3;
const EARLY_WINDOW: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a closed worker may take to exit before the stop ladder.
const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Tasks a worker holds at once: the one it works on and the next, so it never
/// waits for a round trip through proctor between tasks (as `Pool.map`'s chunks
/// avoid). A worker processes its tasks in order, so the first is the one a
/// death is blamed on.
const DEPTH: usize = 2;

struct Task {
    id: String,
    input: Value,
    /// Attempts started so far.
    attempts: u32,
    /// The worker it died under last: tried elsewhere first.
    avoid: Option<WorkerId>,
}

struct Member {
    name: String,
    ready: bool,
    served: u32,
    /// Replaced after this many tasks.
    limit: Option<u32>,
    /// Tasks sent and not answered, oldest (the one it works on) first.
    tasks: VecDeque<u64>,
    /// When the first of `tasks` became the one it works on.
    busy_since: Instant,
    born: Instant,
    /// Why it is leaving, once it is (its input closed or it was stopped).
    leaving: Option<&'static str>,
    asked_to_leave: bool,
    rss: u64,
}

pub struct Pool {
    name: String,
    spec: Arc<PoolSpec>,
    /// The workers' job: the pool's command with the task pipes.
    job: JobSpec,
    next_worker: u32,
    next_task: u64,
    queue: VecDeque<u64>,
    tasks: HashMap<u64, Task>,
    /// Ids of tasks queued or running, to refuse duplicates.
    live_ids: HashSet<String>,
    members: BTreeMap<WorkerId, Member>,
    /// Launched, not yet spawned.
    launching: HashSet<String>,
    /// No more tasks come (the queue closed); workers leave once idle.
    closed: bool,
    /// Everything is stopping: queued tasks are cancelled, nothing retries.
    stopping: bool,
    early_deaths: VecDeque<Instant>,
    failing: bool,
    /// Set while backing off: no worker starts until the timer.
    holding: bool,
    backoff: Duration,
    seed: u64,
    /// Tasks ended `done`, and ended otherwise.
    done: u64,
    failed: u64,
    effects: Vec<Effect>,
}

impl Pool {
    pub fn new(job: &JobSpec, spec: Arc<PoolSpec>) -> Pool {
        let mut worker = job.clone();
        worker.pool = None;
        worker.feed = Some(spec.protocol);
        worker.count = 1;
        worker.restart = crate::spec::RestartPolicy::Never;
        worker.explicit_name = true;
        if spec.protocol == Protocol::Jsonl {
            worker.env.insert(
                "PROCTOR_RESULT_FD".into(),
                crate::spec::pool::RESULT_FD.to_string(),
            );
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Pool {
            name: job.name.clone(),
            spec,
            job: worker,
            next_worker: 0,
            next_task: 0,
            queue: VecDeque::new(),
            tasks: HashMap::new(),
            live_ids: HashSet::new(),
            members: BTreeMap::new(),
            launching: HashSet::new(),
            closed: false,
            stopping: false,
            early_deaths: VecDeque::new(),
            failing: false,
            holding: false,
            backoff: FIRST_BACKOFF,
            seed,
            done: 0,
            failed: 0,
            effects: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the workers.
    pub fn start(&mut self, now: Instant) -> Vec<Effect> {
        self.settle(now)
    }

    /// Queues a task; `Err` says why it was refused.
    pub fn submit(
        &mut self,
        id: Option<String>,
        input: Value,
        now: Instant,
    ) -> Result<(String, Vec<Effect>), String> {
        if self.closed {
            return Err(format!("pool '{}' takes no more tasks", self.name));
        }
        if self.spec.protocol == Protocol::Lines && message::line_text(&input).contains('\n') {
            return Err(format!(
                "pool '{}' speaks 'lines': a task's input must be one line",
                self.name
            ));
        }
        self.next_task += 1;
        let seq = self.next_task;
        let id = id.unwrap_or_else(|| seq.to_string());
        if !self.live_ids.insert(id.clone()) {
            return Err(format!(
                "pool '{}' already has a task '{id}' queued or running: give another id",
                self.name
            ));
        }
        self.tasks.insert(
            seq,
            Task {
                id: id.clone(),
                input,
                attempts: 0,
                avoid: None,
            },
        );
        self.queue.push_back(seq);
        Ok((id, self.settle(now)))
    }

    pub fn owns(&self, id: WorkerId) -> bool {
        self.members.contains_key(&id)
    }

    pub fn launched(&self, name: &str) -> bool {
        self.launching.contains(name)
    }

    pub fn spawned(&mut self, id: WorkerId, name: &str, now: Instant) -> Vec<Effect> {
        self.launching.remove(name);
        let limit = self.spec.max_tasks.map(|n| n + self.jitter());
        let ready = self.spec.protocol == Protocol::Lines;
        self.members.insert(
            id,
            Member {
                name: name.to_string(),
                ready,
                served: 0,
                limit,
                tasks: VecDeque::new(),
                busy_since: now,
                born: now,
                leaving: None,
                asked_to_leave: false,
                rss: 0,
            },
        );
        if ready {
            self.became_ready();
        } else {
            self.effects.push(Effect::Arm {
                after: self.spec.init_timeout,
                timer: Timer {
                    pool: self.name.clone(),
                    worker: id,
                    task: 0,
                    kind: TimerKind::Init,
                },
            });
        }
        self.settle(now)
    }

    /// A launched worker never started: a death before ready.
    pub fn spawn_failed(&mut self, name: &str, now: Instant) -> Vec<Effect> {
        self.launching.remove(name);
        self.early_death(now);
        self.settle(now)
    }

    /// One line from a worker's result pipe.
    pub fn line(&mut self, id: WorkerId, line: &str, now: Instant) -> Vec<Effect> {
        let Some(m) = self.members.get_mut(&id) else {
            return Vec::new();
        };
        let name = m.name.clone();
        match message::parse(self.spec.protocol, line) {
            Message::Ready => {
                if !m.ready {
                    m.ready = true;
                    self.became_ready();
                }
            }
            Message::Recycle => m.asked_to_leave = true,
            Message::Result {
                id: task_id,
                ok,
                value,
            } => {
                let tasks = &self.tasks;
                let at = m.tasks.iter().position(|seq| {
                    task_id
                        .as_ref()
                        .is_none_or(|t| tasks.get(seq).is_some_and(|task| &task.id == t))
                });
                match at.and_then(|i| m.tasks.remove(i)) {
                    Some(seq) => {
                        m.served += 1;
                        let next = m.tasks.front().copied();
                        self.finish(seq, ok, value, Some(name));
                        if let Some(next) = next.filter(|_| at == Some(0)) {
                            if let Some(m) = self.members.get_mut(&id) {
                                m.busy_since = now;
                            }
                            self.arm_task_timeout(id, next);
                        }
                    }
                    None => self.warn(format!(
                        "pool worker {name} sent a result for no task it was given: {}",
                        message::preview(line)
                    )),
                }
            }
            Message::Invalid(why) => self.warn(format!(
                "pool worker {name} wrote a line that is not a result ({why}): {}",
                message::preview(line)
            )),
        }
        self.settle(now)
    }

    /// The latest memory figure of a worker's tree (bytes), checked between tasks.
    pub fn rss(&mut self, id: WorkerId, bytes: u64, now: Instant) -> Vec<Effect> {
        match self.members.get_mut(&id) {
            Some(m) => m.rss = bytes,
            None => return Vec::new(),
        }
        self.settle(now)
    }

    pub fn exited(&mut self, id: WorkerId, status: &str, now: Instant) -> Vec<Effect> {
        let Some(m) = self.members.remove(&id) else {
            return Vec::new();
        };
        let mut sent = m.tasks.clone();
        // Only the first was being worked on; the others go back untouched,
        // in order, after it.
        let first = sent.pop_front();
        for seq in sent.into_iter().rev() {
            if let Some(task) = self.tasks.get_mut(&seq) {
                task.attempts -= 1;
                self.queue.push_front(seq);
            }
        }
        if let Some(seq) = first {
            self.task_lost(seq, id, &m.name, status);
        }
        // A `lines` worker is ready at once: one that exits before its first
        // task is as broken as a `jsonl` worker that never said it was ready.
        let unready = !m.ready || (self.spec.protocol == Protocol::Lines && m.served == 0);
        if unready && m.tasks.is_empty() && m.leaving.is_none_or(|why| why == "init_timeout") {
            self.early_death(now);
        }
        self.settle(now)
    }

    pub fn timer(&mut self, timer: &Timer, now: Instant) -> Vec<Effect> {
        let id = timer.worker;
        match timer.kind {
            TimerKind::Backoff => self.holding = false,
            TimerKind::Init => {
                if self.members.get(&id).is_some_and(|m| !m.ready) {
                    self.stop(id, "init_timeout");
                }
            }
            TimerKind::Task => {
                if self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.tasks.front() == Some(&timer.task))
                {
                    self.stop(id, "task_timeout");
                }
            }
            TimerKind::Grace => {
                if self.members.contains_key(&id) {
                    self.effects.push(Effect::Stop(id));
                }
            }
        }
        self.settle(now)
    }

    /// No more tasks: workers leave once the queue has drained.
    pub fn close(&mut self, now: Instant) -> Vec<Effect> {
        self.closed = true;
        self.settle(now)
    }

    /// Everything stops: queued tasks are cancelled; running ones end with their
    /// workers (cancelled too).
    pub fn stop_all(&mut self, now: Instant) -> Vec<Effect> {
        self.closed = true;
        self.stopping = true;
        self.settle(now)
    }

    /// What the UI and `status` show.
    pub fn view(&self, now: Instant) -> crate::engine::snapshot::PoolView {
        use crate::engine::snapshot::{PoolView, PoolWorkerView};
        let (queued, running, _) = self.counts();
        PoolView {
            name: self.name.clone(),
            state: if self.failing { "failing" } else { "running" },
            queued,
            running,
            done: self.done,
            failed: self.failed,
            workers: self
                .members
                .values()
                .map(|m| {
                    let task = m.tasks.front().and_then(|seq| self.tasks.get(seq));
                    PoolWorkerView {
                        worker: m.name.clone(),
                        ready: m.ready,
                        served: m.served,
                        task: task.map(|t| t.id.clone()),
                        task_age: task.map(|_| now.duration_since(m.busy_since)),
                    }
                })
                .collect(),
        }
    }

    /// Tasks queued, running; workers alive.
    pub fn counts(&self) -> (usize, usize, usize) {
        let running = self.members.values().map(|m| m.tasks.len()).sum();
        (self.queue.len(), running, self.members.len())
    }

    fn jitter(&mut self) -> u32 {
        if self.spec.max_tasks_jitter == 0 {
            return 0;
        }
        // xorshift: enough to spread recycling; nothing depends on its quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % (u64::from(self.spec.max_tasks_jitter) + 1)) as u32
    }

    /// After any change: cancel what can no longer run, replace workers that
    /// should go, start missing ones, hand out tasks.
    fn settle(&mut self, now: Instant) -> Vec<Effect> {
        if self.stopping {
            while let Some(seq) = self.queue.pop_front() {
                self.end(
                    seq,
                    "cancelled",
                    None,
                    Some("proctor is stopping".into()),
                    false,
                    None,
                );
            }
        }
        self.retire_idle(now);
        self.replenish();
        self.assign(now);
        std::mem::take(&mut self.effects)
    }

    fn emit(&mut self, kind: EventKind) {
        self.effects.push(Effect::Emit(kind));
    }

    fn warn(&mut self, message: String) {
        self.emit(EventKind::Error { message });
    }
}
