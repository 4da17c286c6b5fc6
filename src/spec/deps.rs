//! Dependencies between jobs and the probes that say a worker is ready or healthy.

use std::time::Duration;

/// What a dependency must reach before its dependents may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Spawned (a process exists).
    Started,
    /// Its `ready` probe passed.
    Ready,
    /// Exited 0 (the shorthand list form means this).
    Succeeded,
    /// Ended on its own, whatever the code.
    Exited,
}

impl Condition {
    pub const ALL: [Condition; 4] = [
        Condition::Started,
        Condition::Ready,
        Condition::Succeeded,
        Condition::Exited,
    ];

    /// The condition a word names (as `as_str` writes it).
    pub fn named(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == word)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Succeeded => "succeeded",
            Condition::Exited => "exited",
        }
    }
}

/// For a job with `count: N`: whether all of its workers, or any one, must meet the condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Instances {
    #[default]
    All,
    Any,
}

impl Instances {
    pub fn as_str(self) -> &'static str {
        match self {
            Instances::All => "all",
            Instances::Any => "any",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The job depended on.
    pub job: String,
    pub condition: Condition,
    pub instances: Instances,
}

/// How a probe checks a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeCheck {
    /// Runs this argv; exit 0 passes.
    Exec(Vec<String>),
    /// Connects to `host:port`.
    Tcp(String),
    /// GETs this `http://` URL; a 2xx answer passes.
    Http(String),
    /// A line of the worker's output matches this regex.
    Log(String),
}

impl ProbeCheck {
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeCheck::Exec(_) => "exec",
            ProbeCheck::Tcp(_) => "tcp",
            ProbeCheck::Http(_) => "http",
            ProbeCheck::Log(_) => "log",
        }
    }
}

/// A readiness or health probe and its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub check: ProbeCheck,
    /// Wait this long after the spawn before the first check.
    pub initial_delay: Duration,
    /// Between checks.
    pub interval: Duration,
    /// One check's limit (exec, tcp, http).
    pub timeout: Duration,
    /// Readiness only: not ready by then is a failure.
    pub deadline: Duration,
}

impl Probe {
    /// Readiness defaults: check every 250ms, 1s each, give up after 60s.
    pub fn ready(check: ProbeCheck) -> Self {
        Probe {
            check,
            initial_delay: Duration::ZERO,
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(60),
        }
    }

    /// Health defaults: check every 5s, 1s each.
    pub fn health(check: ProbeCheck) -> Self {
        Probe {
            interval: Duration::from_secs(5),
            ..Probe::ready(check)
        }
    }
}

/// What a worker whose health probe failed `failure_threshold` times in a row gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnhealthy {
    /// Marked (an `unhealthy` event) only.
    #[default]
    None,
    Restart,
    Terminate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub probe: Probe,
    pub failure_threshold: u32,
    pub on_unhealthy: OnUnhealthy,
}

/// The stop order when proctor stops everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopOrder {
    /// Dependents first, then what they depend on.
    #[default]
    Dependencies,
    /// Everything at once.
    Parallel,
}
