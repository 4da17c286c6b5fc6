//! What front ends ask the engine to do. Keys, the headless control stream and
//! (later) a control socket all produce these, so they cannot drift apart.

use std::time::Duration;

use crate::spec::JobSpec;

/// A worker's stable identity for the life of one proctor run (an index, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct WorkerId(pub u32);

/// Which workers a join waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinTarget {
    Worker(WorkerId),
    /// Close the queue, then wait for every worker.
    All,
}

/// One word of the command vocabulary: what keys, help, `--control` lines, the
/// socket, `proctor ctl` and the README are all checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    /// The `cmd` of a control line (`proctor ctl` spells `_` as `-`).
    pub name: &'static str,
    /// Its fields besides `cmd`.
    pub fields: &'static str,
    pub desc: &'static str,
}

/// Every command, once.
pub const WORDS: &[Word] = &[
    Word {
        name: "launch",
        fields: "`job`: a job object as in a workload file",
        desc: "launch a job",
    },
    Word {
        name: "signal",
        fields: "`worker`, `signal` (name or number), `group` (whole tree; default false)",
        desc: "send a signal",
    },
    Word {
        name: "signal_descendant",
        fields: "`worker` (one), `pid` (a process of its tree), `signal`, `start` (optional: the process's start time from `status`, so a recycled pid is never hit)",
        desc: "send a signal to one process of a worker's tree",
    },
    Word {
        name: "terminate",
        fields: "`worker`",
        desc: "terminate (stop signal, then KILL after grace)",
    },
    Word {
        name: "kill",
        fields: "`worker`",
        desc: "kill now (SIGKILL)",
    },
    Word {
        name: "pause",
        fields: "`worker`",
        desc: "pause (SIGSTOP)",
    },
    Word {
        name: "resume",
        fields: "`worker`",
        desc: "resume (SIGCONT)",
    },
    Word {
        name: "restart",
        fields: "`worker`",
        desc: "restart",
    },
    Word {
        name: "cancel",
        fields: "`worker`",
        desc: "cancel a queued worker",
    },
    Word {
        name: "join",
        fields: "`worker` (none: join all, which closes the queue), `timeout_s`",
        desc: "join (wait for exit)",
    },
    Word {
        name: "pause_queue",
        fields: "",
        desc: "pause the queue",
    },
    Word {
        name: "resume_queue",
        fields: "",
        desc: "resume the queue",
    },
    Word {
        name: "max_parallel",
        fields: "`n` (at least 1)",
        desc: "set max parallel",
    },
    Word {
        name: "close",
        fields: "",
        desc: "close the queue",
    },
    Word {
        name: "stop_all",
        fields: "",
        desc: "stop everything",
    },
    Word {
        name: "submit",
        fields: "`pool`, `input` (any JSON value), `task`: its id (optional)",
        desc: "give a pool a task",
    },
    Word {
        name: "reap_zombies",
        fields: "`worker`",
        desc: "reap zombies",
    },
    Word {
        name: "terminate_zombie_parents",
        fields: "`worker`",
        desc: "terminate zombies' parents",
    },
];

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Add a job's workers to the end of the queue.
    Launch(Box<JobSpec>),
    /// Send `signal` to each worker's process, or its whole tree when `group` is set.
    Signal {
        workers: Vec<WorkerId>,
        signal: i32,
        group: bool,
    },
    /// Stop signal to the tree, SIGCONT, then SIGKILL after the grace period.
    Terminate(Vec<WorkerId>),
    /// SIGKILL to the tree now.
    Kill(Vec<WorkerId>),
    /// SIGSTOP to the tree.
    Pause(Vec<WorkerId>),
    /// SIGCONT to the tree.
    Resume(Vec<WorkerId>),
    /// Terminate if running, then start again (a finished worker starts again too).
    Restart(Vec<WorkerId>),
    /// Remove queued workers from the queue.
    Cancel(Vec<WorkerId>),
    /// Wait for exit; answered by a `joined` event (or `join_timeout`).
    Join {
        target: JoinTarget,
        timeout: Option<Duration>,
    },
    /// Stop starting queued workers (running ones are unaffected).
    PauseQueue,
    ResumeQueue,
    SetMaxParallel(usize),
    /// No more launches; the engine finishes when the pool drains.
    CloseQueue,
    /// Close the queue, cancel what is queued, terminate everything running.
    StopAll,
    /// Nudge the parents of a worker's zombies with SIGCHLD.
    ReapZombies(WorkerId),
    /// Give a pool a task: a `submitted` event names it, a `result` event ends it.
    Submit {
        pool: String,
        id: Option<String>,
        input: serde_json::Value,
    },
    /// `command` for the workers with these names, resolved by the engine in the
    /// step that executes it (an unknown name is an `error` event, answered at
    /// once). `command`'s own worker ids are placeholders; see [`Command::for_workers`].
    Named {
        names: Vec<String>,
        command: Box<Command>,
    },
    /// `signal` to one descendant of `worker`, named by pid and start time (when
    /// known); the engine sends it only if that very process is in the worker's tree.
    SignalDescendant {
        worker: WorkerId,
        pid: u32,
        start: Option<u64>,
        signal: i32,
    },
    /// Second step when nudging did not help: terminate the zombies' parents, so the
    /// zombies are re-parented to proctor and reaped (the leader gets the stop ladder).
    TerminateZombieParents(WorkerId),
}

impl Command {
    /// A short description for help screens and logs (from `WORDS`).
    pub fn desc(&self) -> &'static str {
        let word = self.word();
        WORDS
            .iter()
            .find(|w| w.name == word)
            .map_or(word, |w| w.desc)
    }

    /// The command's name in the control vocabulary (`--control` lines, the
    /// socket, `proctor ctl`): one entry of `WORDS`.
    pub fn word(&self) -> &'static str {
        match self {
            Command::Launch(_) => "launch",
            Command::Signal { .. } => "signal",
            Command::SignalDescendant { .. } => "signal_descendant",
            Command::Terminate(_) => "terminate",
            Command::Kill(_) => "kill",
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Restart(_) => "restart",
            Command::Cancel(_) => "cancel",
            Command::Join { .. } => "join",
            Command::PauseQueue => "pause_queue",
            Command::ResumeQueue => "resume_queue",
            Command::SetMaxParallel(_) => "max_parallel",
            Command::CloseQueue => "close",
            Command::StopAll => "stop_all",
            Command::ReapZombies(_) => "reap_zombies",
            Command::Submit { .. } => "submit",
            Command::TerminateZombieParents(_) => "terminate_zombie_parents",
            Command::Named { command, .. } => command.word(),
        }
    }

    /// This command aimed at `ids` instead (commands for one worker take the first).
    pub fn for_workers(self, ids: Vec<WorkerId>) -> Command {
        let first = ids.first().copied();
        match self {
            Command::Signal { signal, group, .. } => Command::Signal {
                workers: ids,
                signal,
                group,
            },
            Command::Terminate(_) => Command::Terminate(ids),
            Command::Kill(_) => Command::Kill(ids),
            Command::Pause(_) => Command::Pause(ids),
            Command::Resume(_) => Command::Resume(ids),
            Command::Restart(_) => Command::Restart(ids),
            Command::Cancel(_) => Command::Cancel(ids),
            Command::Join {
                target: JoinTarget::Worker(old),
                timeout,
            } => Command::Join {
                target: JoinTarget::Worker(first.unwrap_or(old)),
                timeout,
            },
            Command::ReapZombies(old) => Command::ReapZombies(first.unwrap_or(old)),
            Command::SignalDescendant {
                worker,
                pid,
                start,
                signal,
            } => Command::SignalDescendant {
                worker: first.unwrap_or(worker),
                pid,
                start,
                signal,
            },
            Command::TerminateZombieParents(old) => {
                Command::TerminateZombieParents(first.unwrap_or(old))
            }
            other => other,
        }
    }
}
