//! A pool job's settings: long-lived workers fed many tasks (like Python's
//! `multiprocessing.Pool`), the protocol they speak and when they are replaced.

use std::time::Duration;

/// How a pool worker takes tasks and gives results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A JSON line per task on stdin; result lines on fd 3 (`PROCTOR_RESULT_FD`);
    /// stdout and stderr stay logs.
    Jsonl,
    /// One line in on stdin, exactly one line out on stdout, per task.
    Lines,
}

impl Protocol {
    pub fn parse(text: &str) -> Result<Protocol, String> {
        match text {
            "jsonl" => Ok(Protocol::Jsonl),
            "lines" => Ok(Protocol::Lines),
            other => Err(format!(
                "protocol '{other}' is not known: use 'jsonl' or 'lines'"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Jsonl => "jsonl",
            Protocol::Lines => "lines",
        }
    }
}

/// The descriptor a `jsonl` worker writes results on (also in `PROCTOR_RESULT_FD`).
pub const RESULT_FD: i32 = 3;

/// A pool: `workers` processes started from the job's command, kept running.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub workers: u32,
    pub protocol: Protocol,
    /// Replace a worker after this many tasks (plus up to `max_tasks_jitter`).
    pub max_tasks: Option<u32>,
    pub max_tasks_jitter: u32,
    /// Replace a worker whose tree holds more than this many bytes, between tasks.
    pub max_rss: Option<u64>,
    /// Replace a worker older than this, between tasks.
    pub max_age: Option<Duration>,
    /// A `jsonl` worker not ready by then is stopped (and counts as a start failure).
    pub init_timeout: Duration,
    /// A task running longer ends its worker; the task is retried like after a death.
    pub task_timeout: Option<Duration>,
    /// Attempts after the first for a task whose worker died under it.
    pub retries: u32,
}

impl PoolSpec {
    pub fn new(workers: u32, protocol: Protocol) -> PoolSpec {
        PoolSpec {
            workers,
            protocol,
            max_tasks: None,
            max_tasks_jitter: 0,
            max_rss: None,
            max_age: None,
            init_timeout: Duration::from_secs(120),
            task_timeout: None,
            retries: 2,
        }
    }
}
