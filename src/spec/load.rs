//! Reading and validating workload files: JSON text in, a [`Workload`] out, or an
//! error that names the file, line, column and field to fix.
//!
//! Every check runs while serde_json reads the value it concerns (see `value.rs`),
//! so serde_json knows the position; `serde_path_to_error` knows the field path.

use std::path::Path;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, MapAccess};
use serde_json::error::Category;

use super::bounds::{MAX_GRACE_MS, MAX_PARALLEL};
use super::{JobSpec, Program, Workload};
use job::{Jobs, field_names};
use kinds::{Whole, text};
use value::{Expect, Visit, quote, unknown_field};

mod deps;
#[cfg(test)]
mod deps_tests;
#[cfg(test)]
mod error_tests;
mod job;
mod kinds;
mod pool;
#[cfg(test)]
mod tests;
mod value;

/// The workload's default grace period between the stop signal and SIGKILL.
pub(super) const DEFAULT_GRACE_MS: u64 = 3000;

/// A workload error a user can act on: where, which field, what was expected.
///
/// Displays as `ORIGIN:LINE:COLUMN: FIELD: problem` (field left out when the
/// problem is not about one field, position left out when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    /// The whole message, exactly as displayed.
    pub message: String,
    /// 1-based `(line, column)` in the file, when the error has a position.
    pub at: Option<(usize, usize)>,
    /// The field path, such as `jobs[1].count`, when the error concerns one field.
    pub field: Option<String>,
}

impl SpecError {
    /// An error with no position or field (e.g. from the command line).
    pub fn new(message: impl Into<String>) -> Self {
        SpecError {
            message: message.into(),
            at: None,
            field: None,
        }
    }

    pub(super) fn located(
        origin: &str,
        at: (usize, usize),
        field: Option<String>,
        problem: &str,
    ) -> Self {
        let mut message = format!("{origin}:{}:{}: ", at.0, at.1);
        if let Some(field) = &field {
            message.push_str(field);
            message.push_str(": ");
        }
        message.push_str(problem);
        SpecError {
            message,
            at: Some(at),
            field,
        }
    }
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

/// Parses a workload file's text; `origin` names it in error messages.
pub fn parse_workload(text: &str, origin: &str) -> Result<Workload, SpecError> {
    let workload = parse_jobs(text, origin, None)?;
    match deps::check_graph(&workload.jobs) {
        None => Ok(workload),
        // Read again with the problem planted at its entry, for its position.
        Some(plant) => match parse_jobs(text, origin, Some(&plant)) {
            Err(e) => Err(e),
            Ok(_) => Err(SpecError::new(format!("{origin}: {}", plant.message))),
        },
    }
}

/// One job for a `launch` command: its dependencies name jobs the engine already
/// has, so they are checked there.
pub fn parse_launch(text: &str, origin: &str) -> Result<Workload, SpecError> {
    parse_jobs(text, origin, None)
}

fn parse_jobs(
    text: &str,
    origin: &str,
    plant: Option<&deps::Planted>,
) -> Result<Workload, SpecError> {
    // Editors that write a byte-order mark show no column for it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(SpecError::located(
            origin,
            (1, 1),
            None,
            "the workload file is empty: expected a JSON object such as \
             {\"jobs\": [{\"cmd\": \"sleep 1\"}]}",
        ));
    }
    let mut json = serde_json::Deserializer::from_str(text);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut json, &mut track);
    let workload = match Visit(WorkloadKind { plant }).deserialize(tracked) {
        Ok(workload) => workload,
        Err(err) => return Err(json_error(&err, Some(&track.path()), text, origin)),
    };
    json.end()
        .map_err(|err| json_error(&err, None, text, origin))?;
    Ok(workload)
}

/// A Procfile and the `.env` beside it (foreman's convention).
fn load_procfile(path: &Path, bytes: &[u8]) -> Result<Workload, SpecError> {
    let origin = path.display().to_string();
    let text = String::from_utf8_lossy(bytes);
    let dotenv_path = path.with_file_name(".env");
    let dotenv = match std::fs::metadata(&dotenv_path) {
        Ok(meta) if meta.is_file() => Some(
            read_limited(&dotenv_path, ".env file")
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| {
                    SpecError::new(format!("{}: cannot read: {e}", dotenv_path.display()))
                })?,
        ),
        _ => None,
    };
    let env_origin = dotenv_path.display().to_string();
    super::procfile::parse(
        &text,
        &origin,
        dotenv.as_deref().map(|t| (t, env_origin.as_str())),
    )
}

/// Largest workload file read: far above any real workload, small enough that a
/// wrong path (a disk image, a log) is refused instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and parses a workload file (a regular file of at most [`MAX_FILE_BYTES`]).
pub fn load_file(path: &Path) -> Result<Workload, SpecError> {
    let origin = path.display().to_string();
    let bytes = read_limited(path, "workload file")
        .map_err(|e| SpecError::new(format!("{origin}: cannot read workload file: {e}")))?;
    if super::procfile::is_procfile(path) {
        return load_procfile(path, &bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let good = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SpecError::located(
            &origin,
            (line, column),
            None,
            "invalid UTF-8: expected a UTF-8 text file",
        )
    })?;
    parse_workload(text, &origin)
}

/// The file's bytes. Devices, sockets and directories are refused before they are
/// opened (reading `/dev/zero` never ends); a pipe (`-f /dev/stdin`, `<(…)`) is
/// read up to the size limit. `what` names the file in the hints (`workload
/// file`, `hosts file`).
pub(crate) fn read_limited(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() && !meta.file_type().is_fifo() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device or socket)"
        };
        return Err(format!("it is {kind}: give the path of a JSON {what}"));
    }
    let too_big = || {
        format!(
            "it is larger than {} MiB: give a {what}, not data",
            MAX_FILE_BYTES / 1024 / 1024
        )
    };
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    // The size may change after the check (or be unknown, as in /proc): read one
    // byte past the limit to notice.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// One job from a positional command line (`--shell` makes it a shell script); a
/// leading `NAME=` names it (see `split_cli_name`).
pub fn job_from_cli(cmdline: &str, shell: bool) -> Result<JobSpec, SpecError> {
    if let Some((name, command)) = super::split_cli_name(cmdline) {
        let mut job = job_from_command(command, shell)?;
        job.name = name.to_string();
        job.explicit_name = true;
        return Ok(job);
    }
    job_from_command(cmdline, shell)
}

/// A job from a command line without a name: `FOO=1 cmd` stays a command.
fn job_from_command(cmdline: &str, shell: bool) -> Result<JobSpec, SpecError> {
    if cmdline.trim().is_empty() {
        let what = if shell {
            "a shell script"
        } else {
            "a program and its arguments"
        };
        return Err(SpecError::new(format!(
            "empty command: expected {what}, got {}",
            quote(cmdline)
        )));
    }
    let program = if shell {
        Program::Shell(cmdline.to_string())
    } else {
        let words = super::split_words(cmdline).map_err(|e| {
            SpecError::new(format!("cannot split {} into words: {e}", quote(cmdline)))
        })?;
        if words.first().is_none_or(|w| w.is_empty()) {
            return Err(SpecError::new(format!(
                "empty command: the program name in {} is empty",
                quote(cmdline)
            )));
        }
        Program::Argv(words)
    };
    Ok(JobSpec::new(job::derived_name(&program), program))
}

/// Turns a serde_json error (and the field path where it happened) into a
/// `SpecError` with a 1-based line and a column counted in characters.
fn json_error(
    err: &serde_json::Error,
    path: Option<&serde_path_to_error::Path>,
    text: &str,
    origin: &str,
) -> SpecError {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let bare = full.strip_suffix(&suffix).unwrap_or(&full);
    let at = (
        err.line().max(1),
        char_column(text, err.line(), err.column()),
    );
    match err.classify() {
        Category::Data => {
            let field = path
                .filter(|p| p.iter().next().is_some())
                .map(|p| p.to_string());
            SpecError::located(origin, at, field, bare)
        }
        // serde_json's own messages quote with backticks; these are fixed words.
        _ => SpecError::located(
            origin,
            at,
            None,
            &format!("invalid JSON: {}", bare.replace('`', "'")),
        ),
    }
}

/// serde_json counts columns in bytes; people count characters.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let chars = text.split('\n').nth(line.saturating_sub(1)).map(|l| {
        l.char_indices()
            .take_while(|(i, _)| *i < byte_column)
            .count()
    });
    chars.unwrap_or(byte_column).max(1)
}

/// The top-level object: `max_parallel`, `stop_grace_ms` and `jobs`.
struct WorkloadKind<'p> {
    plant: Option<&'p deps::Planted>,
}

const TOP_FIELDS: &[&str] = &["max_parallel", "stop_grace_ms", "jobs", "$schema"];

/// The field names the loader accepts (top level, job, ready probe, health probe, pool),
/// for the schema's coverage test.
pub fn accepted_fields() -> [Vec<&'static str>; 5] {
    [
        TOP_FIELDS.to_vec(),
        field_names(),
        deps::ProbeKind { health: false }.fields(),
        deps::ProbeKind { health: true }.fields(),
        pool::FIELDS.to_vec(),
    ]
}

impl<'de> Expect<'de> for WorkloadKind<'_> {
    type Value = Workload;

    fn expected(&self) -> String {
        "a workload object such as {\"jobs\": [{\"cmd\": \"sleep 1\"}]}".into()
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Workload, A::Error> {
        let mut max_parallel = None;
        let mut stop_grace = None;
        let mut jobs = None;
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = TOP_FIELDS.iter().find(|f| **f == key) else {
                let mut message = unknown_field(&key, TOP_FIELDS);
                if field_names().contains(&key.as_str()) {
                    message.push_str(&format!(
                        "; job settings such as {} go inside an entry of 'jobs'",
                        quote(&key)
                    ));
                }
                return Err(de::Error::custom(message));
            };
            if seen.contains(field) {
                return Err(de::Error::custom(format!(
                    "field {} is given twice: expected each field once",
                    quote(&key)
                )));
            }
            seen.push(*field);
            match *field {
                "max_parallel" => {
                    let kind = Whole {
                        lo: 1,
                        hi: MAX_PARALLEL,
                    };
                    max_parallel = Some(map.next_value_seed(Visit(kind))?);
                }
                "stop_grace_ms" => {
                    let kind = Whole {
                        lo: 0,
                        hi: MAX_GRACE_MS,
                    };
                    stop_grace = Some(Duration::from_millis(map.next_value_seed(Visit(kind))?));
                }
                // For editors (see `proctor schema`); proctor itself ignores it.
                "$schema" => {
                    let what = text("the schema's address", |_: &str| Ok(()));
                    map.next_value_seed(Visit(what))?;
                }
                _ => jobs = Some(map.next_value_seed(Visit(Jobs { plant: self.plant }))?),
            }
        }
        let jobs = jobs.ok_or_else(|| {
            de::Error::custom(
                "missing field 'jobs': expected an array of job objects, \
                 e.g. \"jobs\": [{\"cmd\": \"sleep 1\"}]",
            )
        })?;
        Ok(Workload {
            max_parallel,
            stop_grace: stop_grace.unwrap_or(Duration::from_millis(DEFAULT_GRACE_MS)),
            jobs,
        })
    }
}
