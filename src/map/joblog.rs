//! `--joblog`: one JSON line per finished task, appended as it finishes, and
//! reading it back for `--resume`.

use std::collections::hash_map::DefaultHasher;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::event::TaskRecord;

/// The joblog being written.
pub struct Joblog {
    file: File,
    path: PathBuf,
}

impl Joblog {
    /// Opens for appending with `resume`, else starts the file afresh.
    pub fn open(path: &Path, resume: bool) -> Result<Joblog, String> {
        let mut options = OpenOptions::new();
        options.create(true);
        if resume {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(path).map_err(|e| {
            format!(
                "cannot write joblog '{}': {e}; give a writable path to --joblog",
                path.display()
            )
        })?;
        Ok(Joblog {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record as one write, so a crash leaves whole lines behind.
    pub fn append(&mut self, record: &TaskRecord) -> Result<(), String> {
        let mut line = crate::json_safe::to_vec(record).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| format!("cannot append to joblog '{}': {e}", self.path.display()))
    }
}

/// The tasks a previous run finished with exit code 0, by number and input.
#[derive(Debug, Default)]
pub struct Succeeded {
    /// (task number, hash of its input bytes), sorted: 16 bytes a task, so even
    /// a joblog of millions of lines stays small.
    entries: Vec<(u64, u64)>,
}

#[derive(Deserialize)]
struct Line {
    task: u64,
    input: String,
    #[serde(default)]
    input_hex: Option<String>,
    exit_code: Option<i32>,
}

impl Succeeded {
    /// Reads a joblog; a missing file is an empty one (the first run), a line that
    /// is not a record (e.g. cut short by a crash) is skipped with a warning.
    pub fn read(path: &Path) -> Result<Succeeded, String> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Succeeded::default());
            }
            Err(e) => return Err(format!("cannot read joblog '{}': {e}", path.display())),
        };
        let mut entries = Vec::new();
        for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(|e| format!("cannot read joblog '{}': {e}", path.display()))?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record: Line = match serde_json::from_slice(&line) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "proctor: joblog '{}' line {}: not a task record ({e}); ignored",
                        path.display(),
                        index + 1
                    );
                    continue;
                }
            };
            if record.exit_code != Some(0) {
                continue;
            }
            let input = match record.input_hex.as_deref().map(from_hex) {
                Some(Some(bytes)) => bytes,
                _ => record.input.into_bytes(),
            };
            entries.push((record.task, hash(&input)));
        }
        entries.sort_unstable();
        entries.dedup();
        Ok(Succeeded { entries })
    }

    /// Task `number` with this input already succeeded.
    pub fn contains(&self, number: u64, input: &[u8]) -> bool {
        self.entries.binary_search(&(number, hash(input))).is_ok()
    }

    /// Successes recorded for tasks numbered above `number` (still to be skipped).
    pub fn after(&self, number: u64) -> u64 {
        let first = self.entries.partition_point(|(n, _)| *n <= number);
        (self.entries.len() - first) as u64
    }
}

fn hash(input: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    input.hash(&mut h);
    h.finish()
}

/// The `input` and `input_hex` fields of a record for these input bytes.
pub fn input_fields(input: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(input) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (
            String::from_utf8_lossy(input).into_owned(),
            Some(input.iter().map(|b| format!("{b:02x}")).collect()),
        ),
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(task: u64, input: &[u8], exit_code: Option<i32>) -> TaskRecord {
        let (input, input_hex) = input_fields(input);
        TaskRecord {
            task,
            input,
            input_hex,
            worker: Some(format!("task-{task}")),
            pid: Some(1),
            start: Some(0.0),
            runtime_s: 0.0,
            exit_code,
            signal: None,
            host: None,
            timed_out: false,
            retries: 0,
            output_bytes: 0,
            error: None,
        }
    }

    #[test]
    fn successes_are_found_by_number_and_exact_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let mut log = Joblog::open(&path, false).unwrap();
        log.append(&record(1, b"a", Some(0))).unwrap();
        log.append(&record(2, b"b", Some(1))).unwrap();
        log.append(&record(3, b"\xff", Some(0))).unwrap();
        log.append(&record(4, b"\xfe", Some(0))).unwrap();
        drop(log);
        // A line cut short by a crash is ignored.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"task\":5,\"inp")
            .unwrap();
        let done = Succeeded::read(&path).unwrap();
        assert!(done.contains(1, b"a"));
        assert!(!done.contains(1, b"changed"));
        assert!(!done.contains(2, b"b"), "failed tasks run again");
        assert!(done.contains(3, b"\xff"));
        assert!(!done.contains(3, b"\xfe"), "lossy text must not match");
        assert_eq!(done.after(0), 3);
        assert_eq!(done.after(1), 2);
        assert_eq!(done.after(4), 0);
    }

    #[test]
    fn a_missing_joblog_is_an_empty_one() {
        let done = Succeeded::read(Path::new("/nonexistent/joblog")).unwrap();
        assert_eq!(done.after(0), 0);
    }

    #[test]
    fn hex_round_trips() {
        let (_, hex) = input_fields(b"\x00\xff a");
        assert_eq!(hex.as_deref(), Some("00ff2061"));
        assert_eq!(from_hex("00ff2061"), Some(b"\x00\xff a".to_vec()));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
