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
    /// `command` for the workers with these names, resolved by the engine in the
    /// step that executes it (an unknown name is an `error` event, answered at
    /// once). `command`'s own worker ids are placeholders; see [`Command::for_workers`].
    Named {
        names: Vec<String>,
        command: Box<Command>,
    },
    /// `signal` to one descendant of `worker`, named by pid and start time; the
    /// engine sends it only if that very process is still in the worker's tree.
    SignalDescendant {
        worker: WorkerId,
        pid: u32,
        start: u64,
        signal: i32,
    },
    /// Second step when nudging did not help: terminate the zombies' parents, so the
    /// zombies are re-parented to proctor and reaped (the leader gets the stop ladder).
    TerminateZombieParents(WorkerId),
}

impl Command {
    /// A short description for help screens and logs.
    pub fn desc(&self) -> &'static str {
        match self {
            Command::Launch(_) => "launch a job",
            Command::Signal { .. } => "send a signal",
            Command::SignalDescendant { .. } => "send a signal to one process of a worker's tree",
            Command::Terminate(_) => "terminate (stop signal, then KILL after grace)",
            Command::Kill(_) => "kill now (SIGKILL)",
            Command::Pause(_) => "pause (SIGSTOP)",
            Command::Resume(_) => "resume (SIGCONT)",
            Command::Restart(_) => "restart",
            Command::Cancel(_) => "cancel a queued worker",
            Command::Join { .. } => "join (wait for exit)",
            Command::PauseQueue => "pause the queue",
            Command::ResumeQueue => "resume the queue",
            Command::SetMaxParallel(_) => "set max parallel",
            Command::CloseQueue => "close the queue",
            Command::StopAll => "stop everything",
            Command::ReapZombies(_) => "reap zombies",
            Command::TerminateZombieParents(_) => "terminate zombies' parents",
            Command::Named { command, .. } => command.desc(),
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
            Command::TerminateZombieParents(old) => {
                Command::TerminateZombieParents(first.unwrap_or(old))
            }
            other => other,
        }
    }
}
