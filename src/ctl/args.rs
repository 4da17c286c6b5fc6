//! `proctor ctl`'s flags and subcommands (clap derive); `--help` is made from
//! the doc comments here.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 done; 1 the request failed (e.g. no such worker); \
2 usage error; 3 no such instance; 4 protocol mismatch."
)]
pub struct CtlArgs {
    /// The instance to talk to (default: the one PROCTOR_SOCKET names, else the only one running, else `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub name: Option<String>,

    /// Print JSON (one object per line) instead of tables; warnings go to stderr.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub request: CtlRequest,
}

#[derive(Debug, Subcommand)]
pub enum CtlRequest {
    /// List the running instances.
    Ls,
    /// Workers with state, pid, CPU, memory, exit code and restarts; the queue.
    Status,
    /// A worker's kept output lines; with -f, then its new lines as they come.
    Logs {
        /// Follow: print new lines until the instance ends (Ctrl-C to stop).
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many of the kept lines to print first.
        #[arg(long, default_value_t = 100, value_name = "N")]
        tail: u64,
        worker: String,
    },
    /// Every event as it happens (JSON Lines), after a snapshot.
    Subscribe {
        /// Only events of these workers.
        #[arg(long = "worker", value_name = "NAME")]
        workers: Vec<String>,
        /// Only these kinds of events (exited, output, spawned…).
        #[arg(long = "event", value_name = "KIND")]
        events: Vec<String>,
    },
    /// Launch a job: `proctor ctl launch --name web -- python3 -m http.server`.
    Launch {
        /// The job's name (default: from the program).
        #[arg(long = "job-name", value_name = "NAME")]
        job_name: Option<String>,
        /// Run the command with /bin/sh -c.
        #[arg(long)]
        shell: bool,
        /// Start this many workers.
        #[arg(long, value_name = "N")]
        count: Option<u32>,
        /// Working directory.
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Environment additions, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Send a signal (name like USR1 or number) to workers.
    Signal {
        #[arg(value_parser = signal_name)]
        signal: String,
        #[arg(required = true)]
        workers: Vec<String>,
        /// Signal the whole process tree, not just the worker's own process.
        #[arg(long)]
        group: bool,
    },
    /// Send a signal to one process of a worker's tree (a pid from `status --json`).
    SignalDescendant {
        #[arg(value_parser = signal_name)]
        signal: String,
        worker: String,
        pid: u32,
        /// The process's start time as `status --json` gives it, so that a pid
        /// reused by another process is never signalled.
        #[arg(long)]
        start: Option<u64>,
    },
    /// Stop signal, then SIGKILL after the grace period.
    Terminate {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// SIGKILL to the tree now.
    Kill {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// SIGSTOP to the tree.
    Pause {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// SIGCONT to the tree.
    Resume {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// Terminate if running, then start again.
    Restart {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// Remove queued workers from the queue.
    Cancel {
        #[arg(required = true)]
        workers: Vec<String>,
    },
    /// Wait for a worker to exit (or, without one, close the queue and wait for all).
    Join {
        /// Give up after this long (e.g. 30s, 2m); exit status 1 then.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
        worker: Option<String>,
    },
    /// Set the pool's concurrency limit (1..=10000, as `-j`).
    MaxParallel {
        #[arg(value_parser = max_parallel)]
        n: usize,
    },
    /// No more launches: the instance ends once its pool drains.
    Close,
    /// Give a pool a task; prints its id (the result comes as a `result` event).
    Submit {
        pool: String,
        /// The task's input: JSON (`'{"x": 1}'`, `42`), else taken as a string.
        input: String,
        /// The task's id (default: one made up by the instance).
        #[arg(long, value_name = "ID")]
        task: Option<String>,
    },
    /// Nudge the parents of a worker's zombies to reap them (SIGCHLD).
    ReapZombies { worker: String },
    /// Terminate the parents of a worker's zombies, so proctor reaps the zombies.
    TerminateZombieParents { worker: String },
    /// Stop starting queued workers.
    PauseQueue,
    /// Start queued workers again.
    ResumeQueue,
    /// Close the queue, cancel what waits, terminate what runs.
    StopAll,
    /// Wait until a worker is running, or has exited.
    Wait {
        worker: String,
        #[arg(long, value_parser = ["running", "exited"], default_value = "exited")]
        until: String,
    },
}

/// `-j`'s bounds, checked before anything is sent, so a bad value is a usage error (2).
fn max_parallel(text: &str) -> Result<usize, String> {
    let max = crate::spec::bounds::MAX_PARALLEL;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{text}' is not a number in 1..={max}")),
    }
}

/// A signal the instance would refuse is a usage error here (2), not a failed request.
fn signal_name(text: &str) -> Result<String, String> {
    crate::signals::parse_signal(text).map(|_| text.to_string())
}
