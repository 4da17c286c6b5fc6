//! One task on its way through the pool: its current attempt (a worker), and
//! the record of how it ended.

use super::joblog::input_fields;
use super::source::Task;
use crate::engine::event::TaskRecord;

/// Worker names: `task-7` for task 7, `task-7.retry1` for its first retry.
pub fn worker_name(number: u64, retry: u32) -> String {
    if retry == 0 {
        format!("task-{number}")
    } else {
        format!("task-{number}.retry{retry}")
    }
}

/// The task a worker name belongs to: `task-7.retry1` → 7.
pub fn task_number(worker: &str) -> Option<u64> {
    let rest = worker.strip_prefix("task-")?;
    rest.split('.').next()?.parse().ok()
}

/// A task and its current attempt.
#[derive(Debug)]
pub struct Attempt {
    pub task: Task,
    /// 0 for the first run, N for the Nth retry.
    pub retry: u32,
    pub worker: String,
    /// The pool slot it runs in (`{%}`), 1-based; 0 until launched.
    pub slot: usize,
    pub pid: Option<u32>,
    /// When the attempt started (seconds since the Unix epoch).
    pub start: Option<f64>,
    /// Output of every attempt so far.
    pub output_bytes: u64,
    /// The host it was launched on (`--hosts` only).
    pub host: Option<String>,
}

impl Attempt {
    pub fn new(task: Task) -> Self {
        Attempt {
            worker: worker_name(task.number, 0),
            task,
            retry: 0,
            slot: 0,
            pid: None,
            start: None,
            output_bytes: 0,
            host: None,
        }
    }

    /// The next attempt after a failure: a fresh worker, output counted on.
    pub fn retried(self) -> Self {
        let retry = self.retry + 1;
        Attempt {
            worker: worker_name(self.task.number, retry),
            retry,
            slot: 0,
            pid: None,
            start: None,
            host: None,
            ..self
        }
    }

    /// How the task ended, as the `task` event and the joblog report it.
    pub fn record(self, ending: Ending) -> TaskRecord {
        let (input, input_hex) = input_fields(&self.task.input);
        TaskRecord {
            task: self.task.number,
            input,
            input_hex,
            worker: ending.launched.then_some(self.worker),
            pid: self.pid,
            start: self.start,
            runtime_s: ending.runtime_s,
            exit_code: ending.exit_code,
            signal: ending.signal,
            timed_out: ending.timed_out,
            retries: self.retry,
            output_bytes: self.output_bytes,
            error: ending.error,
            host: self.host,
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub runtime_s: f64,
    pub timed_out: bool,
    pub error: Option<String>,
    /// The engine knew the attempt as a worker (even if it could not start).
    pub launched: bool,
}

impl Ending {
    pub fn exited(code: i32, signal: Option<String>, runtime_s: f64, timed_out: bool) -> Self {
        Ending {
            exit_code: Some(code),
            signal,
            runtime_s,
            timed_out,
            error: None,
            launched: true,
        }
    }

    /// The worker could not start (spawn error).
    pub fn failed(error: String) -> Self {
        Ending {
            exit_code: None,
            signal: None,
            runtime_s: 0.0,
            timed_out: false,
            error: Some(error),
            launched: true,
        }
    }

    /// The task never became a worker (e.g. its line was too long).
    pub fn rejected(error: String) -> Self {
        Ending {
            launched: false,
            ..Ending::failed(error)
        }
    }

    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The status a shell would report: the exit code, 128+N when killed by
    /// signal N, 1 when the task could not start; 0 when it succeeded.
    pub fn status(&self) -> u8 {
        match self.exit_code {
            Some(code) if code < 0 => 128u8.saturating_add(code.unsigned_abs().min(127) as u8),
            Some(code) => code.clamp(0, 255) as u8,
            None => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(number: u64) -> Task {
        Task::single(number, b"in".to_vec())
    }

    #[test]
    fn retries_get_their_own_worker_names_and_keep_counting_output() {
        let mut a = Attempt::new(task(7));
        assert_eq!(a.worker, "task-7");
        a.pid = Some(10);
        a.output_bytes = 5;
        let a = a.retried().retried();
        assert_eq!(a.worker, "task-7.retry2");
        assert_eq!(task_number(&a.worker), Some(7));
        assert_eq!(task_number("task-12"), Some(12));
        assert_eq!(task_number("web#1"), None);
        assert_eq!((a.retry, a.pid, a.output_bytes), (2, None, 5));
        let r = a.record(Ending::exited(0, None, 1.5, false));
        assert_eq!(r.retries, 2);
        assert_eq!(r.worker.as_deref(), Some("task-7.retry2"));
        assert_eq!(r.exit_code, Some(0));
    }

    #[test]
    fn a_rejected_task_has_no_worker() {
        let r = Attempt::new(task(3)).record(Ending::rejected("too long".into()));
        assert_eq!(r.worker, None);
        assert_eq!(r.exit_code, None);
        assert_eq!(r.error.as_deref(), Some("too long"));
        assert!(!Ending::failed("x".into()).succeeded());
    }

    #[test]
    fn statuses_read_as_a_shell_reports_them() {
        assert_eq!(Ending::exited(0, None, 0.0, false).status(), 0);
        assert_eq!(Ending::exited(3, None, 0.0, false).status(), 3);
        assert_eq!(
            Ending::exited(-9, Some("SIGKILL".into()), 0.0, false).status(),
            137
        );
        assert_eq!(Ending::failed("no such file".into()).status(), 1);
    }
}
