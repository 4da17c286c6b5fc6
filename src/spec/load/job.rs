//! The `jobs` array and each job object: fields, the command, the environment,
//! and job names (explicit duplicates are errors, derived ones are made unique).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, MapAccess, SeqAccess};

use super::deps::{DependsOn, ProbeKind};
use super::kinds::{
    Flag, Percent, Seconds, Signal, Stdin, Text, Whole, choice, no_nul, not_empty, text,
};
use super::value::{Expect, Visit, quote, unknown_field};
use crate::spec::{
    JobSpec, MAX_COUNT, OnStuck, Program, RestartPolicy, default_name, split_words, uniquify_names,
};

use crate::spec::bounds::{MAX_GRACE_MS, MAX_NAME_BYTES};

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Cmd,
    Shell,
    Name,
    Env,
    EnvClear,
    Cwd,
    Count,
    Restart,
    MaxRestarts,
    TimeoutS,
    Stdin,
    StopSignal,
    StopGraceMs,
    StuckAfterS,
    StuckCpuPct,
    OnStuck,
    DependsOn,
    Ready,
    Health,
    Pool,
}

const FIELDS: &[(&str, Field)] = &[
    ("cmd", Field::Cmd),
    ("shell", Field::Shell),
    ("name", Field::Name),
    ("env", Field::Env),
    ("env_clear", Field::EnvClear),
    ("cwd", Field::Cwd),
    ("count", Field::Count),
    ("restart", Field::Restart),
    ("max_restarts", Field::MaxRestarts),
    ("timeout_s", Field::TimeoutS),
    ("stdin", Field::Stdin),
    ("stop_signal", Field::StopSignal),
    ("stop_grace_ms", Field::StopGraceMs),
    ("stuck_after_s", Field::StuckAfterS),
    ("stuck_cpu_pct", Field::StuckCpuPct),
    ("on_stuck", Field::OnStuck),
    ("depends_on", Field::DependsOn),
    ("ready", Field::Ready),
    ("health", Field::Health),
    ("pool", Field::Pool),
];

/// The names of every job field, for messages.
pub(super) fn field_names() -> Vec<&'static str> {
    FIELDS.iter().map(|(name, _)| *name).collect()
}

const RESTART: &[(&str, RestartPolicy)] = &[
    ("never", RestartPolicy::Never),
    ("on-failure", RestartPolicy::OnFailure),
    ("always", RestartPolicy::Always),
];

const ON_STUCK: &[(&str, OnStuck)] = &[("flag", OnStuck::Flag), ("terminate", OnStuck::Terminate)];

/// A job already read, as later jobs see it when checking their names.
struct Prior {
    /// The explicit name, or the one derived from the program (before `-2` suffixes).
    name: String,
    explicit: bool,
}

/// The `jobs` array: at least one job, names unique.
pub(super) struct Jobs<'p> {
    /// A problem found by [`super::deps::check_graph`], to report at its entry.
    pub plant: Option<&'p super::deps::Planted>,
}

impl<'de> Expect<'de> for Jobs<'_> {
    type Value = Vec<JobSpec>;

    fn expected(&self) -> String {
        "an array of job objects".into()
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<JobSpec>, A::Error> {
        let mut priors: Vec<Prior> = Vec::new();
        let mut jobs = Vec::new();
        loop {
            let index = jobs.len();
            let plant = self
                .plant
                .filter(|p| p.job == index)
                .map(|p| (p.dep, p.message.as_str()));
            let job = Job {
                priors: &priors,
                plant,
            };
            let Some((job, explicit)) = seq.next_element_seed(Visit(job))? else {
                break;
            };
            priors.push(Prior {
                name: job.name.clone(),
                explicit,
            });
            jobs.push(job);
        }
        if jobs.is_empty() {
            return Err(de::Error::custom(
                "the workload has no jobs; add at least one",
            ));
        }
        // Explicit names keep their spelling; derived ones get `-2`, `-3`… and
        // never take an explicit name.
        let order: Vec<usize> = (0..jobs.len())
            .filter(|i| priors[*i].explicit)
            .chain((0..jobs.len()).filter(|i| !priors[*i].explicit))
            .collect();
        let mut names: Vec<String> = order.iter().map(|i| jobs[*i].name.clone()).collect();
        uniquify_names(&mut names);
        for (i, name) in order.into_iter().zip(names) {
            jobs[i].name = name;
        }
        Ok(jobs)
    }
}

/// One job object; its value is the job and whether its name was explicit.
struct Job<'p> {
    priors: &'p [Prior],
    /// A dependency problem to report at entry `.0` of `depends_on`.
    plant: Option<(usize, &'p str)>,
}

impl<'de> Expect<'de> for Job<'_> {
    type Value = (JobSpec, bool);

    fn expected(&self) -> String {
        "a job object such as {\"cmd\": [\"sleep\", \"1\"]}".into()
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<(JobSpec, bool), A::Error> {
        let mut job = JobSpec::new(String::new(), Program::Argv(Vec::new()));
        let mut program = None;
        let mut name = None;
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let field = FIELDS
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, field)| *field)
                .ok_or_else(|| de::Error::custom(unknown_field(&key, &field_names())))?;
            if seen.contains(&field) {
                return Err(de::Error::custom(format!(
                    "field {} is given twice: expected each field once",
                    quote(&key)
                )));
            }
            seen.push(field);
            match field {
                Field::Cmd | Field::Shell if program.is_some() => {
                    return Err(de::Error::custom(
                        "both 'cmd' and 'shell' are given: expected exactly one of them",
                    ));
                }
                Field::Cmd => program = Some(Program::Argv(map.next_value_seed(Visit(Cmd))?)),
                Field::Shell => program = Some(Program::Shell(map.next_value_seed(shell())?)),
                Field::Name => {
                    let priors = self.priors;
                    let check = move |v: &str| check_name(v, priors);
                    name = Some(map.next_value_seed(Visit(text("a job name", check)))?);
                }
                Field::Env => job.env = map.next_value_seed(Visit(Env))?,
                Field::EnvClear => job.env_clear = map.next_value_seed(Visit(Flag))?,
                Field::Cwd => job.cwd = Some(map.next_value_seed(cwd())?),
                Field::Count => {
                    job.count = map.next_value_seed(Visit(Whole {
                        lo: 1,
                        hi: MAX_COUNT,
                    }))?;
                }
                Field::Restart => {
                    let kind = choice("a restart policy", RESTART);
                    job.restart = map.next_value_seed(Visit(kind))?;
                }
                Field::MaxRestarts => {
                    let kind = Whole {
                        lo: 0,
                        hi: u32::MAX,
                    };
                    job.max_restarts = Some(map.next_value_seed(Visit(kind))?);
                }
                Field::TimeoutS => {
                    let kind = Seconds;
                    job.timeout = Some(map.next_value_seed(Visit(kind))?);
                }
                Field::Stdin => job.stdin = map.next_value_seed(Visit(Stdin))?,
                Field::StopSignal => job.stop_signal = map.next_value_seed(Visit(Signal))?,
                Field::StopGraceMs => {
                    let kind = Whole {
                        lo: 0,
                        hi: MAX_GRACE_MS,
                    };
                    job.stop_grace = Some(Duration::from_millis(map.next_value_seed(Visit(kind))?));
                }
                Field::StuckAfterS => {
                    let kind = Seconds;
                    job.stuck_after = Some(map.next_value_seed(Visit(kind))?);
                }
                Field::StuckCpuPct => {
                    job.stuck_cpu_pct = Some(map.next_value_seed(Visit(Percent))?);
                }
                Field::OnStuck => {
                    let kind = choice("an on_stuck action", ON_STUCK);
                    job.on_stuck = map.next_value_seed(Visit(kind))?;
                }
                Field::DependsOn => {
                    let plant = self.plant;
                    job.depends_on = map.next_value_seed(Visit(DependsOn { plant }))?;
                }
                Field::Ready => {
                    let probe = map.next_value_seed(Visit(ProbeKind { health: false }))?;
                    job.ready = Some(probe.probe);
                }
                Field::Health => {
                    job.health = Some(map.next_value_seed(Visit(ProbeKind { health: true }))?);
                }
                Field::Pool => {
                    let value: serde_json::Value = map.next_value()?;
                    let spec = super::pool::parse(&value).map_err(de::Error::custom)?;
                    job.pool = Some(std::sync::Arc::new(spec));
                }
            }
        }
        let program = program.ok_or_else(|| {
            de::Error::custom(
                "no command: expected exactly one of 'cmd' (a program and its arguments) \
                 or 'shell' (a script for /bin/sh -c)",
            )
        })?;
        let explicit = name.is_some();
        job.explicit_name = explicit;
        job.name = match name {
            Some(name) => name,
            None => {
                let derived = derived_name(&program);
                if let Some(j) = self
                    .priors
                    .iter()
                    .position(|p| p.explicit && p.name == derived)
                {
                    return Err(de::Error::custom(format!(
                        "duplicate job name {} (derived from this job's command; jobs[{j}] \
                         is named so explicitly): expected a 'name' no other job has",
                        quote(&derived)
                    )));
                }
                derived
            }
        };
        job.program = program;
        Ok((job, explicit))
    }
}

/// The name of a job that has none: [`default_name`], with whitespace, control
/// characters and `#` (which would break worker names) replaced by `_`.
pub(super) fn derived_name(program: &Program) -> String {
    let mut name = String::new();
    // Cut short enough that a `-N` suffix still fits the limit of explicit names.
    for c in default_name(program).chars() {
        if name.len() + c.len_utf8() > MAX_NAME_BYTES - 8 {
            break;
        }
        let safe = c.is_whitespace() || c.is_control() || c == '#';
        name.push(if safe { '_' } else { c });
    }
    name
}

/// An explicit job name: non-empty, no whitespace, control characters or `#`
/// (which separates worker numbers), and not the name of an earlier job.
fn check_name(v: &str, priors: &[Prior]) -> Result<String, String> {
    const EXPECTED: &str = "a name without whitespace, control characters or '#'";
    if v.is_empty() {
        return Err(format!("'' is empty: expected {EXPECTED}"));
    }
    if v.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{} is {} bytes long: expected a name of at most {MAX_NAME_BYTES} bytes (its \
             log file name must fit the file system's limit)",
            quote(&v.chars().take(20).chain("…".chars()).collect::<String>()),
            v.len()
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '#')
    {
        let what = match c {
            '#' => "'#'".to_string(),
            ' ' => "a space".to_string(),
            c => format!("the character {}", c.escape_default()),
        };
        return Err(format!("{} contains {what}: expected {EXPECTED}", quote(v)));
    }
    if let Some(j) = priors.iter().position(|p| p.name == v) {
        let derived = if priors[j].explicit {
            ""
        } else {
            ", derived from its command"
        };
        return Err(format!(
            "duplicate job name {} (jobs[{j}] has it too{derived}): expected a name no other job has",
            quote(v)
        ));
    }
    Ok(v.to_string())
}

/// `shell`: a non-blank script for `/bin/sh -c`.
fn shell() -> Visit<Text<String, impl FnOnce(&str) -> Result<String, String>>> {
    Visit(text("a shell script string", |v: &str| {
        if v.trim().is_empty() {
            return Err(format!(
                "{} is blank: expected a script for /bin/sh -c",
                quote(v)
            ));
        }
        no_nul(v, "a script").map(|()| v.to_string())
    }))
}

/// `cwd`: a non-empty path (whether it exists is checked when the worker spawns).
fn cwd() -> Visit<Text<PathBuf, impl FnOnce(&str) -> Result<PathBuf, String>>> {
    Visit(text("a directory path", |v: &str| {
        not_empty(v, "a directory path").map(|()| PathBuf::from(v))
    }))
}

/// `cmd`: an argv array, or a command line split like `sh` splits words.
pub(super) struct Cmd;

impl<'de> Expect<'de> for Cmd {
    type Value = Vec<String>;

    fn expected(&self) -> String {
        "an array of strings such as [\"sleep\", \"1\"] or a command line string".into()
    }

    fn text<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        if v.trim().is_empty() {
            return Err(E::custom(format!(
                "empty command {}: expected a program and its arguments",
                quote(v)
            )));
        }
        let words = split_words(v)
            .map_err(|e| E::custom(format!("cannot split {} into words: {e}", quote(v))))?;
        for (index, word) in words.iter().enumerate() {
            check_word(word, index).map_err(E::custom)?;
        }
        Ok(words)
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut words = Vec::new();
        while let Some(word) = seq.next_element_seed(Visit(text("a string", |v: &str| {
            check_word(v, words.len()).map(|()| v.to_string())
        })))? {
            words.push(word);
        }
        if words.is_empty() {
            return Err(de::Error::custom(
                "the command is empty: expected at least a program, e.g. [\"sleep\", \"1\"]",
            ));
        }
        Ok(words)
    }
}

/// One argv word: the program (index 0) must not be empty; no word may hold NUL.
fn check_word(word: &str, index: usize) -> Result<(), String> {
    if index == 0 {
        not_empty(word, "a program name or path")
    } else {
        no_nul(word, "an argument")
    }
}

/// `env`: an object of variable names to string values.
struct Env;

impl<'de> Expect<'de> for Env {
    type Value = BTreeMap<String, String>;

    fn expected(&self) -> String {
        "an object of variable names to strings, e.g. {\"RUST_LOG\": \"debug\"}".into()
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = BTreeMap::new();
        // The key is checked here, not in a seed, so the path names `env` itself.
        while let Some(key) = map.next_key::<String>()? {
            env_key(&key).map_err(de::Error::custom)?;
            if env.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "variable {} is given twice: expected each variable once",
                    quote(&key)
                )));
            }
            let value = map.next_value_seed(Visit(text(
                "a string (write numbers in quotes, e.g. \"8080\")",
                |v: &str| no_nul(v, "a value").map(|()| v.to_string()),
            )))?;
            env.insert(key, value);
        }
        Ok(env)
    }
}

/// A variable name: non-empty, without `=` or NUL.
fn env_key(v: &str) -> Result<(), String> {
    not_empty(v, "a variable name")?;
    if v.contains('=') {
        return Err(format!(
            "variable name {} contains '=': expected a name without '='",
            quote(v)
        ));
    }
    Ok(())
}
