//! The workload: jobs and their settings, from the command line or a JSON file.
//!
//! These are the validated types the engine runs. Parsing and validation of the
//! file live in `spec/load.rs`; shell-word splitting in `spec/words.rs`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub mod bounds;
pub mod deps;
mod load;
mod names;
pub mod pool;
mod procfile;
pub mod schema;
mod words;

pub(crate) use load::read_limited;
pub use load::{SpecError, accepted_fields, job_from_cli, load_file, parse_launch, parse_workload};
pub use names::split_cli_name;
pub use words::split_words;

/// Upper bound on `count` for one job: far above any real pool, low enough that a
/// typo (an extra zero or three) is caught before it forks the machine to death.
pub const MAX_COUNT: u32 = 10_000;

/// A whole workload file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `None` means "number of logical CPUs" (like `Pool()`).
    pub max_parallel: Option<usize>,
    pub stop_grace: Duration,
    pub jobs: Vec<JobSpec>,
}

/// What a worker executes.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// argv, executed directly: no shell ever sees these words.
    Argv(Vec<String>),
    /// A script the user explicitly asked `/bin/sh -c` to run.
    Shell(String),
    /// argv whose words may be any bytes but NUL (what Unix allows): map mode uses
    /// it for tasks that are not valid UTF-8, so they reach the worker unchanged.
    ArgvOs(Vec<OsString>),
}

impl Program {
    /// The argv that will be executed, for display: bytes that are not UTF-8
    /// become U+FFFD (`argv_os` is exact).
    pub fn argv(&self) -> Vec<String> {
        match self {
            Program::Argv(words) => words.clone(),
            Program::Shell(script) => vec!["/bin/sh".into(), "-c".into(), script.clone()],
            Program::ArgvOs(words) => words
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect(),
        }
    }

    /// The exact argv that will be executed.
    pub fn argv_os(&self) -> Vec<OsString> {
        match self {
            Program::ArgvOs(words) => words.clone(),
            _ => self.argv().into_iter().map(OsString::from).collect(),
        }
    }

    /// A one-line rendering for tables and logs.
    pub fn display(&self) -> String {
        match self {
            Program::Argv(words) => words.join(" "),
            Program::Shell(script) => format!("sh -c {script}"),
            Program::ArgvOs(_) => self.argv().join(" "),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StdinSpec {
    /// `/dev/null`: a worker never stops on terminal input.
    #[default]
    Null,
    Inherit,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStuck {
    /// Only flag the worker.
    #[default]
    Flag,
    Terminate,
}

/// One job: a command line plus its settings. A job with `count: N` becomes N workers.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Unique among jobs; workers are `name` (count 1) or `name#1..#N`.
    pub name: String,
    /// The name was given by the user (not derived from the program): a launch
    /// whose explicit name is taken is refused rather than renamed.
    pub explicit_name: bool,
    pub program: Program,
    /// Added to the inherited environment (or to an empty one with `env_clear`).
    pub env: BTreeMap<String, String>,
    pub env_clear: bool,
    pub cwd: Option<PathBuf>,
    pub count: u32,
    pub restart: RestartPolicy,
    /// `None` = unlimited restarts.
    pub max_restarts: Option<u32>,
    pub timeout: Option<Duration>,
    pub stdin: StdinSpec,
    /// Signal that starts the stop ladder (default SIGTERM).
    pub stop_signal: i32,
    /// Overrides the workload's grace period for this job.
    pub stop_grace: Option<Duration>,
    pub stuck_after: Option<Duration>,
    pub stuck_cpu_pct: Option<f64>,
    pub on_stuck: OnStuck,
    /// Jobs that must reach a condition before this job's workers may start.
    pub depends_on: Vec<deps::Dependency>,
    /// Readiness probe: dependents with `condition: ready` wait for it.
    pub ready: Option<deps::Probe>,
    /// Liveness probe, checked while the worker runs (after it is ready).
    pub health: Option<deps::Health>,
    /// A pool job: its workers are started once and fed tasks (`Submit`).
    pub pool: Option<std::sync::Arc<pool::PoolSpec>>,
    /// Set on a pool's workers: started with a task pipe on stdin and a result
    /// pipe (fd 3 for `jsonl`, stdout for `lines`).
    pub feed: Option<pool::Protocol>,
}

impl JobSpec {
    /// A job with every setting at its default.
    pub fn new(name: impl Into<String>, program: Program) -> Self {
        JobSpec {
            name: name.into(),
            explicit_name: false,
            program,
            env: BTreeMap::new(),
            env_clear: false,
            cwd: None,
            count: 1,
            restart: RestartPolicy::Never,
            max_restarts: None,
            timeout: None,
            stdin: StdinSpec::Null,
            stop_signal: libc::SIGTERM,
            stop_grace: None,
            stuck_after: None,
            stuck_cpu_pct: None,
            on_stuck: OnStuck::Flag,
            depends_on: Vec::new(),
            ready: None,
            health: None,
            pool: None,
            feed: None,
        }
    }

    /// Worker names for this job: `name` alone, or `name#1..#count`.
    pub fn worker_names(&self) -> Vec<String> {
        if self.count == 1 {
            vec![self.name.clone()]
        } else {
            (1..=self.count)
                .map(|i| format!("{}#{i}", self.name))
                .collect()
        }
    }
}

/// A default job name from a program: the basename of argv[0], or of the first
/// program a script runs (`sh` when that cannot be told).
pub fn default_name(program: &Program) -> String {
    match program {
        Program::Argv(words) => words
            .first()
            .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "job".into()),
        Program::Shell(script) => names::shell_program(script).unwrap_or_else(|| "sh".into()),
        Program::ArgvOs(_) => default_name(&Program::Argv(program.argv())),
    }
}

/// Makes every job name unique by suffixing `-2`, `-3`… to later repeats
/// (used for names proctor derives itself; explicit duplicates are an error).
pub fn uniquify_names(names: &mut [String]) {
    let mut seen = std::collections::HashSet::new();
    for name in names.iter_mut() {
        if seen.insert(name.clone()) {
            continue;
        }
        let mut n = 2;
        while !seen.insert(format!("{name}-{n}")) {
            n += 1;
        }
        *name = format!("{name}-{n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_come_from_the_program() {
        let p = Program::Argv(vec!["/usr/bin/sleep".into(), "1".into()]);
        assert_eq!(default_name(&p), "sleep");
        assert_eq!(default_name(&Program::Shell("echo".into())), "echo");
        assert_eq!(default_name(&Program::Shell("$X".into())), "sh");
    }

    #[test]
    fn byte_argv_is_exact_and_displays_lossily() {
        use std::os::unix::ffi::OsStringExt;
        let word = OsString::from_vec(b"caf\xe9".to_vec());
        let p = Program::ArgvOs(vec!["/bin/echo".into(), word.clone()]);
        assert_eq!(p.argv_os(), vec![OsString::from("/bin/echo"), word]);
        assert_eq!(p.display(), "/bin/echo caf\u{fffd}");
        assert_eq!(default_name(&p), "echo");
    }

    #[test]
    fn uniquify_suffixes_repeats() {
        let mut names = vec!["a".to_string(), "a".into(), "b".into(), "a".into()];
        uniquify_names(&mut names);
        assert_eq!(names, ["a", "a-2", "b", "a-3"]);
    }

    #[test]
    fn worker_names_follow_count() {
        let mut j = JobSpec::new("w", Program::Shell("true".into()));
        assert_eq!(j.worker_names(), ["w"]);
        j.count = 3;
        assert_eq!(j.worker_names(), ["w#1", "w#2", "w#3"]);
    }
}
