//! The map driver: sits between the engine and the front end (the headless
//! printer or the terminal UI). It hands tasks to the engine as pool slots free
//! up, retries failed ones, applies `--halt`, writes `--joblog`, holds output
//! back for `--keep-order`, and forwards every event to the front end; the
//! terminal UI's commands reach the engine through it too.
//!
//! Tasks wait in the driver, not in the engine's queue: the engine only ever gets
//! what it can start now. So halting "soon" is just not launching any more, and
//! at most `window` tasks are in memory however long the input is.

mod controls;
mod events;
mod placing;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;

use super::attempt::{Attempt, Ending};
use super::halt::{HaltRule, When};
use super::hosts::Hosts;
use super::joblog::{Joblog, Succeeded};
use super::notes::Notes;
use super::outbox::Outbox;
use super::plain::Tags;
use super::source::{Item, MAX_TASK_BYTES, Total};
use super::template::{Fill, Template};
use crate::engine::{Command, Event, EventKind, EventReceiver, EventSender};
use crate::spec::JobSpec;

/// With `--keep-order`, most tasks read but not yet printed: each holds a few
/// hundred bytes besides its output (its record, its turn), so this bounds memory.
const HELD_TASKS: u64 = 10_000;

/// What the user asked for, fixed for the run.
pub struct Settings {
    pub template: Template,
    pub timeout: Option<Duration>,
    /// `--pipe`: each task's stdin is its block there.
    pub spool: Option<std::sync::Arc<super::pipe::Spool>>,
    /// `--delay`: the least time between two starts.
    pub delay: Option<Duration>,
    pub retries: u32,
    pub halt: Option<HaltRule>,
    pub keep_order: bool,
    /// `--output events`: forward output lines (they are always counted).
    pub forward_output: bool,
    /// Plain output: output goes as bytes, a task's record after its output
    /// under `--keep-order`, and errors are the printer's to say.
    pub plain: bool,
    /// `--tag`, `--tagstring`: noted as each task is launched.
    pub tags: Option<Tags>,
    /// Most tasks read but not yet finished.
    pub window: usize,
    pub max_parallel: usize,
}

/// Task results, earlier (`--resume`) and now (`--joblog`).
pub struct Records {
    pub resume: Succeeded,
    pub joblog: Option<Joblog>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Open,
    Done,
    Failed,
}

/// Why no task starts any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Halted,
    Interrupted,
    /// Nobody reads our output any more.
    Unwatched,
    /// The terminal UI stopped the run or closed the queue (quit, join all).
    Asked,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    succeeded: u64,
    failed: u64,
    skipped: u64,
}

pub struct Driver {
    settings: Settings,
    records: Records,
    total: Total,
    commands: mpsc::UnboundedSender<Command>,
    /// Read and waiting for a pool slot; retries go to the front.
    pending: VecDeque<Attempt>,
    /// Launched and not yet ended, by worker name.
    running: HashMap<String, Attempt>,
    slots: Slots,
    counts: Counts,
    /// The highest task number read so far.
    last_read: u64,
    reading: Reading,
    stopped: Option<Stop>,
    /// See `Finish::halt_status`.
    halt_status: Option<u8>,
    /// With `--delay`: no task starts before this.
    next_start: Option<tokio::time::Instant>,
    /// The engine's queue is closed (by us, or by the front end): it refuses launches.
    queue_closed: bool,
    notes: Notes,
    /// `--hosts`: where tasks run; `None` runs every task on this machine.
    hosts: Option<Hosts>,
}

/// Pool slots for `{%}` and `PROCTOR_SLOT`: each running task holds one, the
/// lowest free, so slots stay within 1..=max_parallel.
#[derive(Debug, Default)]
struct Slots {
    free: std::collections::BTreeSet<usize>,
    next: usize,
}

impl Slots {
    fn take(&mut self) -> usize {
        match self.free.pop_first() {
            Some(slot) => slot,
            None => {
                self.next += 1;
                self.next
            }
        }
    }

    fn give_back(&mut self, slot: usize) {
        if slot > 0 {
            self.free.insert(slot);
        }
    }
}

/// How the run went: `ok` when every task succeeded; messages held for later.
pub struct Finish {
    pub ok: bool,
    pub notes: Vec<String>,
    /// Tasks that failed (after their retries).
    pub failed: u64,
    /// The status of the task whose failure met the `--halt` rule.
    pub halt_status: Option<u8>,
}

impl Driver {
    pub fn new(
        settings: Settings,
        records: Records,
        total: Total,
        commands: mpsc::UnboundedSender<Command>,
        notes: Notes,
    ) -> Self {
        Driver {
            settings,
            records,
            total,
            commands,
            pending: VecDeque::new(),
            running: HashMap::new(),
            slots: Slots::default(),
            counts: Counts::default(),
            last_read: 0,
            reading: Reading::Open,
            stopped: None,
            halt_status: None,
            next_start: None,
            queue_closed: false,
            notes,
            hosts: None,
        }
    }

    /// Runs tasks on these hosts instead of only this machine.
    pub fn with_hosts(mut self, hosts: Hosts) -> Self {
        self.hosts = Some(hosts);
        self
    }

    /// Runs until the engine's `events` end. `printer` takes the events for the
    /// front end; when it is gone, nobody is watching and the run stops.
    /// `controls` are the terminal UI's commands for the engine (`None` headless).
    pub async fn run(
        mut self,
        events: &mut EventReceiver,
        tasks: mpsc::Receiver<Item>,
        printer: EventSender,
        mut controls: Option<mpsc::UnboundedReceiver<Command>>,
    ) -> Finish {
        let mut out = Outbox::new(
            printer,
            self.settings.keep_order,
            self.settings.plain && self.settings.keep_order,
        );
        let mut tasks = Some(tasks);
        loop {
            if out.newly_closed() {
                // Nobody reads our output any more: stop the work rather than
                // run on unobserved.
                self.drop_pending(Stop::Unwatched);
                self.stop_all();
            }
            self.launch_ready();
            self.fail_unplaceable(&mut out).await;
            if !self.takes_tasks() {
                tasks = None; // the reader thread stops at its next send
            }
            self.close_queue_when_drained();
            let want_task = tasks.is_some() && self.occupied(&out) < self.settings.window;
            let delayed = self.delayed();
            tokio::select! {
                biased;
                // A person's commands first, as in the engine: the event stream
                // may never run dry while tasks flood output.
                command = controls::recv_command(&mut controls), if controls.is_some() => match command {
                    Some(command) => self.on_command(command, &mut out).await,
                    None => {
                        // The UI is gone: nobody is watching.
                        controls = None;
                        self.on_command(Command::StopAll, &mut out).await;
                    }
                },
                event = events.recv() => match event {
                    Some(event) => self.on_event(event, &mut out).await,
                    None => break,
                },
                item = recv(&mut tasks), if want_task => self.on_item(item, &mut out).await,
                () = wait_until(delayed), if delayed.is_some() => {}
                news = next_news(&mut self.hosts) => self.on_news(news, &mut out).await,
            }
        }
        if let Some(spool) = &self.settings.spool {
            // Blocks of tasks that never ran; the reader may still hold the spool.
            spool.remove();
        }
        if self.counts.skipped > 0 {
            let skipped = self.counts.skipped;
            self.notes.say(format!(
                "--resume: skipped {skipped} task(s) that already succeeded"
            ));
        }
        Finish {
            ok: self.ok(),
            notes: self.notes.into_held(),
            failed: self.counts.failed,
            halt_status: self.halt_status,
        }
    }

    fn ok(&self) -> bool {
        self.counts.failed == 0 && self.reading != Reading::Failed && self.stopped.is_none()
    }

    /// Still reading input and starting tasks.
    fn takes_tasks(&self) -> bool {
        self.reading == Reading::Open && self.stopped.is_none()
    }

    /// Tasks read and not yet finished. With `--keep-order`, tasks finished
    /// but waiting for their turn to print do not count (their output spills to
    /// disk, so the pool runs on past a slow task) until there are `HELD_TASKS`.
    fn occupied(&self, out: &Outbox) -> usize {
        let working = self.pending.len() + self.running.len();
        match out.next_to_print() {
            Some(next) if (self.last_read + 1).saturating_sub(next) >= HELD_TASKS => usize::MAX,
            _ => working,
        }
    }

    /// With `--delay`, when the next waiting task may start (if a slot is free).
    fn delayed(&self) -> Option<tokio::time::Instant> {
        let free = self.running.len() < self.capacity();
        let waiting = !self.pending.is_empty() && self.stopped.is_none() && !self.queue_closed;
        self.next_start
            .filter(|at| free && waiting && *at > tokio::time::Instant::now())
    }

    /// Hands waiting tasks to the engine (or a host) while the pool has free slots.
    fn launch_ready(&mut self) {
        while self.stopped.is_none()
            && !self.queue_closed
            && self.running.len() < self.capacity()
            && !self.pending.is_empty()
        {
            if let Some(delay) = self.settings.delay {
                let now = tokio::time::Instant::now();
                if self.next_start.is_some_and(|at| at > now) {
                    break;
                }
                self.next_start = Some(now + delay);
            }
            let Some(mut attempt) = self.pending.pop_front() else {
                break;
            };
            attempt.slot = self.slots.take();
            let number = attempt.task.number;
            let fill = Fill {
                number,
                slot: attempt.slot,
                values: &attempt.task.values,
            };
            if let Some(tags) = &self.settings.tags {
                tags.note(fill);
            }
            let mut job = JobSpec::new(attempt.worker.clone(), self.settings.template.render(fill));
            job.timeout = self.settings.timeout;
            if let Some(spool) = &self.settings.spool {
                job.stdin = crate::spec::StdinSpec::File(spool.block(number));
            }
            job.env.insert("PROCTOR_SEQ".into(), number.to_string());
            job.env
                .insert("PROCTOR_SLOT".into(), attempt.slot.to_string());
            if let Some(hosts) = &mut self.hosts {
                match hosts.launch(job, &self.commands) {
                    Some(host) => attempt.host = Some(host),
                    None => {
                        // Every free slot's host just went away: wait for news.
                        self.slots.give_back(attempt.slot);
                        self.pending.push_front(attempt);
                        return;
                    }
                }
            } else {
                // If the engine is gone its event stream ends too, which ends the run.
                let _ = self.commands.send(Command::Launch(Box::new(job)));
            }
            self.running.insert(attempt.worker.clone(), attempt);
        }
    }

    /// Closes the engine's queue once no task will be launched again, so the
    /// engine ends when the pool drains.
    fn close_queue_when_drained(&mut self) {
        let drained = self.pending.is_empty() && self.running.is_empty();
        if !self.takes_tasks() && drained && !self.queue_closed {
            self.queue_closed = true;
            if let Some(hosts) = &mut self.hosts {
                // Nothing more will run there: the agents end cleanly.
                hosts.close_all();
            }
            let _ = self.commands.send(Command::CloseQueue);
        }
    }

    async fn on_item(&mut self, item: Option<Item>, out: &mut Outbox) {
        match item {
            None => self.reading = Reading::Done,
            Some(Item::Task(task)) => {
                self.last_read = task.number;
                if self.records.resume.contains(task.number, &task.input) {
                    self.counts.skipped += 1;
                    out.release(task.number).await;
                } else {
                    self.pending.push_back(Attempt::new(task));
                }
            }
            Some(Item::TooLong { task, len }) => {
                self.last_read = task.number;
                let error = format!(
                    "task {} is {len} bytes long; one argument can carry at most \
                     {MAX_TASK_BYTES} bytes (pass a file name instead)",
                    task.number
                );
                let attempt = Attempt::new(task);
                self.finish(attempt, Ending::rejected(error), out).await;
            }
            Some(Item::ReadError(message)) => {
                if !self.settings.plain {
                    self.notes.say(message.clone());
                }
                self.reading = Reading::Failed;
                out.send(Event::now(EventKind::Error { message })).await;
            }
        }
    }

    /// An attempt ended: retry it, or record the task's result.
    async fn attempt_ended(&mut self, worker: &str, ending: Ending, out: &mut Outbox) {
        let Some(attempt) = self.running.remove(worker) else {
            return;
        };
        if let Some(hosts) = &mut self.hosts {
            hosts.ended(worker);
        }
        self.slots.give_back(attempt.slot);
        let retry =
            attempt.retry < self.settings.retries && self.stopped.is_none() && !self.queue_closed;
        if !ending.succeeded() && retry {
            self.pending.push_front(attempt.retried());
            return;
        }
        self.finish(attempt, ending, out).await;
    }

    /// Records a task's final result: counts, joblog, `task` event, halt rule.
    async fn finish(&mut self, attempt: Attempt, ending: Ending, out: &mut Outbox) {
        let failed = !ending.succeeded();
        if failed {
            self.counts.failed += 1;
        } else {
            self.counts.succeeded += 1;
        }
        let number = attempt.task.number;
        if let Some(spool) = &self.settings.spool {
            spool.done(number);
        }
        let status = ending.status();
        let record = attempt.record(ending);
        if let Some(log) = &mut self.records.joblog
            && let Err(e) = log.append(&record)
        {
            let message = format!("{e}; the joblog is incomplete from here on");
            if self.notes.holding() {
                // The terminal UI shows it now; stderr only after it has ended.
                out.send(Event::now(EventKind::Error {
                    message: message.clone(),
                }))
                .await;
            }
            self.notes.say(message);
            self.records.joblog = None;
        }
        out.record(number, Event::now(EventKind::Task(record)))
            .await;
        out.release(number).await;
        if failed {
            self.check_halt(status, out).await;
        }
    }

    /// `status`: the exit status of the task that just failed.
    async fn check_halt(&mut self, status: u8, out: &mut Outbox) {
        let Some(rule) = self.settings.halt else {
            return;
        };
        let finished = self.counts.succeeded + self.counts.failed;
        if self.stopped == Some(Stop::Halted) || !rule.is_met(self.counts.failed, finished) {
            return;
        }
        self.notes.say(format!(
            "--halt {rule}: {} of {finished} finished task(s) failed; starting no more{}",
            self.counts.failed,
            if rule.when == When::Now {
                " and terminating the running ones"
            } else {
                ""
            }
        ));
        self.halt_status = Some(status);
        let kind = EventKind::Halted {
            rule: rule.to_string(),
            failed: self.counts.failed,
            finished,
        };
        out.send(Event::now(kind)).await;
        if rule.when == When::Now {
            self.stop_all();
        }
        self.stop(Stop::Halted, out).await;
    }

    /// Starts nothing more and stops reading input; the waiting tasks will never
    /// run, so output held behind them is printed.
    async fn stop(&mut self, why: Stop, out: &mut Outbox) {
        for number in self.drop_pending(why) {
            out.release(number).await;
        }
    }

    /// `stop` without printing; returns the numbers of the dropped tasks.
    fn drop_pending(&mut self, why: Stop) -> Vec<u64> {
        // The first reason stays: a halt followed by an interrupt is still a halt.
        self.stopped.get_or_insert(why);
        self.pending.drain(..).map(|a| a.task.number).collect()
    }
}

async fn wait_until(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

async fn next_news(hosts: &mut Option<Hosts>) -> Option<crate::remote::News> {
    match hosts {
        Some(h) => h.next().await,
        None => std::future::pending().await,
    }
}

async fn recv(tasks: &mut Option<mpsc::Receiver<Item>>) -> Option<Item> {
    match tasks {
        Some(rx) => rx.recv().await,
        None => None,
    }
}
