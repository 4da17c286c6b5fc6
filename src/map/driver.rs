//! The map driver: sits between the engine and the headless printer. It hands
//! tasks to the engine as pool slots free up, retries failed ones, applies
//! `--halt`, writes `--joblog`, holds output back for `--keep-order`, and
//! forwards every event to the printer.
//!
//! Tasks wait in the driver, not in the engine's queue: the engine only ever gets
//! what it can start now. So halting "soon" is just not launching any more, and
//! at most `window` tasks are in memory however long the input is.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;

use super::halt::{HaltRule, When};
use super::joblog::{Joblog, Succeeded, input_fields};
use super::order::Order;
use super::source::{Item, MAX_TASK_BYTES, Task, Total};
use super::template::Template;
use crate::engine::event::TaskRecord;
use crate::engine::{Command, Event, EventKind, QueueStats};
use crate::spec::JobSpec;

/// What the user asked for, fixed for the run.
pub struct Settings {
    pub template: Template,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub halt: Option<HaltRule>,
    pub keep_order: bool,
    /// `--output events`: forward output lines (they are always counted).
    pub forward_output: bool,
    /// Most tasks read but not yet finished (with `--keep-order`: not yet printed).
    pub window: usize,
    pub max_parallel: usize,
}

/// Where the input stands, for the queue depth.
pub struct Input {
    pub total: Total,
    pub resume: Succeeded,
    pub joblog: Option<Joblog>,
}

/// One task on its way: read, launched, possibly retried.
#[derive(Debug)]
struct Attempt {
    task: Task,
    /// 0 for the first run, N for the Nth retry.
    retry: u32,
    worker: String,
    pid: Option<u32>,
    start: Option<f64>,
    /// Output of every attempt so far.
    output_bytes: u64,
}

impl Attempt {
    fn new(task: Task) -> Self {
        Attempt {
            worker: worker_name(task.number, 0),
            task,
            retry: 0,
            pid: None,
            start: None,
            output_bytes: 0,
        }
    }
}

/// Worker names: `task-7` for task 7, `task-7.retry1` for its first retry.
pub fn worker_name(number: u64, retry: u32) -> String {
    if retry == 0 {
        format!("task-{number}")
    } else {
        format!("task-{number}.retry{retry}")
    }
}

/// How one attempt ended.
struct Ending {
    exit_code: Option<i32>,
    signal: Option<String>,
    runtime_s: f64,
    timed_out: bool,
    error: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    succeeded: u64,
    failed: u64,
    skipped: u64,
}

pub struct Driver {
    settings: Settings,
    input: Input,
    commands: mpsc::UnboundedSender<Command>,
    printer: Option<mpsc::Sender<Event>>,
    /// Read and waiting for a pool slot; retries go to the front.
    pending: VecDeque<Attempt>,
    /// Launched and not yet ended, by worker name.
    running: HashMap<String, Attempt>,
    order: Order<Event>,
    counts: Counts,
    /// The highest task number read so far.
    last_read: u64,
    input_open: bool,
    /// No task starts any more (halted, interrupted, or nobody watching).
    stopping: bool,
    halted: bool,
    input_failed: bool,
    queue_closed: bool,
    last_queue: Option<EventKind>,
}

impl Driver {
    pub fn new(settings: Settings, input: Input, commands: mpsc::UnboundedSender<Command>) -> Self {
        Driver {
            settings,
            input,
            commands,
            printer: None,
            pending: VecDeque::new(),
            running: HashMap::new(),
            order: Order::default(),
            counts: Counts::default(),
            last_read: 0,
            input_open: true,
            stopping: false,
            halted: false,
            input_failed: false,
            queue_closed: false,
            last_queue: None,
        }
    }

    /// Runs until the engine's `events` end; true when every task succeeded.
    /// `printer` takes the events to print; when it is gone, nobody is watching
    /// and the run stops.
    pub async fn run(
        mut self,
        events: &mut mpsc::Receiver<Event>,
        tasks: mpsc::Receiver<Item>,
        printer: mpsc::Sender<Event>,
    ) -> bool {
        self.printer = Some(printer);
        let mut tasks = Some(tasks);
        loop {
            self.launch_ready();
            if !self.input_open {
                tasks = None; // the reader thread stops at its next send
            }
            self.close_queue_when_drained();
            let want_task =
                tasks.is_some() && !self.stopping && self.occupied() < self.settings.window;
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                item = recv(&mut tasks), if want_task => self.on_item(item).await,
            }
        }
        if self.counts.skipped > 0 {
            eprintln!(
                "proctor: --resume: skipped {} task(s) that already succeeded",
                self.counts.skipped
            );
        }
        self.ok()
    }

    fn ok(&self) -> bool {
        self.counts.failed == 0 && !self.input_failed && !self.stopping
    }

    /// Tasks read and not yet released: finished, or with `--keep-order` printed.
    fn occupied(&self) -> usize {
        if self.settings.keep_order {
            (self.last_read + 1).saturating_sub(self.order.next()) as usize
        } else {
            self.pending.len() + self.running.len()
        }
    }

    /// Hands waiting tasks to the engine while the pool has free slots.
    fn launch_ready(&mut self) {
        while !self.stopping && self.running.len() < self.settings.max_parallel {
            let Some(attempt) = self.pending.pop_front() else {
                break;
            };
            let mut job = JobSpec::new(
                attempt.worker.clone(),
                self.settings
                    .template
                    .render(attempt.task.number, &attempt.task.input),
            );
            job.timeout = self.settings.timeout;
            // If the engine is gone its event stream ends too, which ends the run.
            let _ = self.commands.send(Command::Launch(Box::new(job)));
            self.running.insert(attempt.worker.clone(), attempt);
        }
    }

    /// Closes the engine's queue once no task will be launched again, so the
    /// engine ends when the pool drains.
    fn close_queue_when_drained(&mut self) {
        let no_more = !self.input_open || self.stopping;
        if no_more && !self.queue_closed && self.pending.is_empty() && self.running.is_empty() {
            self.queue_closed = true;
            let _ = self.commands.send(Command::CloseQueue);
        }
    }

    async fn on_item(&mut self, item: Option<Item>) {
        match item {
            None => self.input_open = false,
            Some(Item::Task(task)) => {
                self.last_read = task.number;
                if self.input.resume.contains(task.number, &task.input) {
                    self.counts.skipped += 1;
                    self.release(task.number).await;
                } else {
                    self.pending.push_back(Attempt::new(task));
                }
            }
            Some(Item::TooLong { task, len }) => {
                self.last_read = task.number;
                let attempt = Attempt::new(task);
                let error = format!(
                    "task {} is {len} bytes long; one argument can carry at most \
                     {MAX_TASK_BYTES} bytes (pass a file name instead)",
                    attempt.task.number
                );
                let ending = Ending {
                    exit_code: None,
                    signal: None,
                    runtime_s: 0.0,
                    timed_out: false,
                    error: Some(error),
                };
                self.finish(attempt, ending, false).await;
            }
            Some(Item::ReadError(message)) => {
                eprintln!("proctor: {message}");
                self.input_open = false;
                self.input_failed = true;
                self.forward(Event::now(EventKind::Error { message })).await;
            }
        }
    }

    async fn on_event(&mut self, event: Event) {
        match &event.kind {
            EventKind::Spawned { worker, pid, .. } => {
                if let Some(a) = self.running.get_mut(worker) {
                    a.pid = Some(*pid);
                    a.start = Some(event.t);
                }
            }
            EventKind::Output { worker, line, .. } => {
                let number = self.running.get_mut(worker).map(|a| {
                    a.output_bytes += line.len() as u64 + 1;
                    a.task.number
                });
                if !self.settings.forward_output {
                    return;
                }
                if let (true, Some(number)) = (self.settings.keep_order, number) {
                    if let Some(event) = self.order.output(number, event) {
                        self.forward(event).await;
                    }
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
                let ending = Ending {
                    exit_code: Some(*code),
                    signal: signal.clone(),
                    runtime_s: *runtime_s,
                    timed_out: *timed_out,
                    error: None,
                };
                let worker = worker.clone();
                self.forward(event).await;
                self.attempt_ended(&worker, ending).await;
                return;
            }
            EventKind::Failed { worker, error } => {
                let ending = Ending {
                    exit_code: None,
                    signal: None,
                    runtime_s: 0.0,
                    timed_out: false,
                    error: Some(error.clone()),
                };
                let worker = worker.clone();
                self.forward(event).await;
                self.attempt_ended(&worker, ending).await;
                return;
            }
            EventKind::Cancelled { worker } => {
                if let Some(a) = self.running.remove(worker) {
                    let number = a.task.number;
                    self.forward(event).await;
                    self.release(number).await;
                    return;
                }
            }
            EventKind::Queue {
                stats,
                max_parallel,
                paused,
                closed,
            } => {
                self.settings.max_parallel = *max_parallel;
                let kind = EventKind::Queue {
                    stats: self.queue_stats(*stats),
                    max_parallel: *max_parallel,
                    paused: *paused,
                    closed: *closed,
                };
                if self.last_queue.as_ref() == Some(&kind) {
                    return;
                }
                self.last_queue = Some(kind.clone());
                self.forward(Event { t: event.t, kind }).await;
                return;
            }
            EventKind::Interrupted { .. } => {
                // The engine stops everything itself; start nothing more.
                self.stop_and_release().await;
            }
            EventKind::Summary { workers, .. } => {
                // Output still held belongs to tasks that never ended (a launch
                // the engine refused while stopping): print it rather than lose it.
                for held in self.order.drain() {
                    self.forward(held).await;
                }
                let kind = EventKind::Summary {
                    ok: self.ok(),
                    workers: workers.clone(),
                };
                self.forward(Event { t: event.t, kind }).await;
                return;
            }
            _ => {}
        }
        self.forward(event).await;
    }

    /// Depth counts tasks waiting here and what is known to remain in the input;
    /// done and failed count tasks (after retries), not attempts.
    fn queue_stats(&self, engine: QueueStats) -> QueueStats {
        let unread = match (self.input_open && !self.stopping, self.input.total.get()) {
            (true, Some(total)) => total
                .saturating_sub(self.last_read)
                .saturating_sub(self.input.resume.after(self.last_read)),
            _ => 0,
        };
        QueueStats {
            depth: engine.depth + self.pending.len() + unread as usize,
            running: engine.running,
            done: self.counts.succeeded as usize,
            failed: self.counts.failed as usize,
        }
    }

    /// An attempt ended: retry it, or record the task's result.
    async fn attempt_ended(&mut self, worker: &str, ending: Ending) {
        let Some(mut attempt) = self.running.remove(worker) else {
            return;
        };
        let failed = ending.exit_code != Some(0);
        if failed && attempt.retry < self.settings.retries && !self.stopping {
            attempt.retry += 1;
            attempt.worker = worker_name(attempt.task.number, attempt.retry);
            attempt.pid = None;
            attempt.start = None;
            self.pending.push_front(attempt);
            return;
        }
        self.finish(attempt, ending, true).await;
    }

    /// Records a task's final result: counts, joblog, `task` event, halt rule.
    async fn finish(&mut self, attempt: Attempt, ending: Ending, became_worker: bool) {
        let failed = ending.exit_code != Some(0);
        if failed {
            self.counts.failed += 1;
        } else {
            self.counts.succeeded += 1;
        }
        let number = attempt.task.number;
        let record = record(attempt, ending, became_worker);
        if let Some(log) = &mut self.input.joblog
            && let Err(e) = log.append(&record)
        {
            eprintln!("proctor: {e}; the joblog is incomplete from here on");
            self.input.joblog = None;
        }
        self.forward(Event::now(EventKind::Task(record))).await;
        self.release(number).await;
        if failed {
            self.check_halt().await;
        }
    }

    /// Task `number` will produce no more output: print what its turn releases.
    async fn release(&mut self, number: u64) {
        if !self.settings.keep_order {
            return;
        }
        for event in self.order.finish(number) {
            self.forward(event).await;
        }
    }

    async fn check_halt(&mut self) {
        let Some(rule) = self.settings.halt else {
            return;
        };
        let finished = self.counts.succeeded + self.counts.failed;
        if self.halted || !rule.is_met(self.counts.failed, finished) {
            return;
        }
        self.halted = true;
        eprintln!(
            "proctor: --halt {rule}: {} of {finished} finished task(s) failed; starting no more{}",
            self.counts.failed,
            if rule.when == When::Now {
                " and terminating the running ones"
            } else {
                ""
            }
        );
        let kind = EventKind::Halted {
            rule: rule.to_string(),
            failed: self.counts.failed,
            finished,
        };
        self.forward(Event::now(kind)).await;
        if rule.when == When::Now {
            let _ = self.commands.send(Command::StopAll);
        }
        self.stop_and_release().await;
    }

    /// Starts nothing more and stops reading input; returns the numbers of the
    /// waiting tasks, which will never run.
    fn stop(&mut self) -> Vec<u64> {
        self.stopping = true;
        self.input_open = false;
        self.pending.drain(..).map(|a| a.task.number).collect()
    }

    async fn stop_and_release(&mut self) {
        for number in self.stop() {
            self.release(number).await;
        }
    }

    async fn forward(&mut self, event: Event) {
        let Some(printer) = &self.printer else { return };
        if printer.send(event).await.is_err() {
            // Nobody reads our output any more (e.g. `| head`): stop the work
            // rather than run on unobserved.
            self.printer = None;
            let _ = self.stop();
            let _ = self.commands.send(Command::StopAll);
        }
    }
}

async fn recv(tasks: &mut Option<mpsc::Receiver<Item>>) -> Option<Item> {
    match tasks {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

fn record(attempt: Attempt, ending: Ending, became_worker: bool) -> TaskRecord {
    let (input, input_hex) = input_fields(&attempt.task.input);
    TaskRecord {
        task: attempt.task.number,
        input,
        input_hex,
        worker: became_worker.then_some(attempt.worker),
        pid: attempt.pid,
        start: attempt.start,
        runtime_s: ending.runtime_s,
        exit_code: ending.exit_code,
        signal: ending.signal,
        timed_out: ending.timed_out,
        retries: attempt.retry,
        output_bytes: attempt.output_bytes,
        error: ending.error,
    }
}
