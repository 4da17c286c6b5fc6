//! Plain output, as GNU parallel prints it: each task's stdout and stderr go to
//! proctor's stdout and stderr exactly as written (no line cut, no lossy UTF-8,
//! a missing final newline kept). `--group` (the default) prints a task's output
//! in one piece when it ends, `--line-buffer` whole lines as they come,
//! `--ungroup` bytes as they come. Failed tasks and the summary go to stderr.
//!
//! The bytes come from the engine as `Bytes` events that wait for credit, so a
//! slow stdout slows the workers, never drops output.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::attempt::task_number;
use super::progress::{Progress, Show};
use super::template::{Fill, Word};
use crate::engine::event::{Stream, TaskRecord};
use crate::engine::{EventKind, EventReceiver};

/// How output reaches the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Group,
    LineBuffer,
    Ungroup,
}

/// Each task's tag (`--tag`, `--tagstring`), noted by the driver when the task
/// is launched (before it can write anything) and taken by the printer.
#[derive(Clone)]
pub struct Tags {
    /// `None` for `--tag`: the values joined by spaces.
    word: Option<Word>,
    tags: Arc<Mutex<HashMap<u64, Vec<u8>>>>,
}

impl Tags {
    pub fn new(word: Option<Word>) -> Tags {
        Tags {
            word,
            tags: Arc::default(),
        }
    }

    pub fn note(&self, fill: Fill<'_>) {
        let tag = match &self.word {
            Some(word) => word.fill(fill),
            None => fill.values.join(&b' '),
        };
        if let Ok(mut tags) = self.tags.lock() {
            tags.insert(fill.number, tag);
        }
    }

    fn get(&self, number: u64) -> Vec<u8> {
        self.tags
            .lock()
            .ok()
            .and_then(|t| t.get(&number).cloned())
            .unwrap_or_default()
    }

    fn forget(&self, number: u64) {
        if let Ok(mut tags) = self.tags.lock() {
            tags.remove(&number);
        }
    }
}

/// What the user asked of plain output.
pub struct Options {
    pub grouping: Grouping,
    pub tags: Option<Tags>,
    pub results: Option<PathBuf>,
    /// `--bar`, `--eta`.
    pub progress: Show,
}

/// How the run went, for the summary.
#[derive(Debug, Default)]
pub struct Printed {
    pub tasks: u64,
    pub failed: u64,
    /// Tasks ended by the stop that followed proctor's own interrupt (Ctrl-C,
    /// SIGTERM): not failures of theirs, and `--resume` runs them again.
    pub interrupted: u64,
    /// False when stdout went away before the end.
    pub complete: bool,
    /// Some output did not reach where it was asked to go (`--results`).
    pub troubled: bool,
}

/// One task's output not yet printed, and its `--results` files.
#[derive(Default)]
struct Pending {
    /// The attempt (worker) the output is from: a retry supersedes it.
    worker: Option<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    files: Option<[File; 2]>,
}

impl Pending {
    /// Output of `worker` arrives: a new attempt (a retry, so the earlier one
    /// failed) replaces what an earlier attempt left unprinted and its results.
    fn attempt(&mut self, worker: &str) {
        if self.worker.as_deref() == Some(worker) {
            return;
        }
        if self.worker.is_some() {
            self.stdout.clear();
            self.stderr.clear();
            self.files = None;
        }
        self.worker = Some(worker.to_owned());
    }
}

struct Printer {
    options: Options,
    out: BufWriter<std::io::StdoutLock<'static>>,
    err: std::io::Stderr,
    /// Which of stdout and stderr are terminals: there, task output is shown
    /// neutralised (see [`for_terminal`]); into pipes and files it goes byte for byte.
    ttys: [bool; 2],
    pending: HashMap<u64, Pending>,
    printed: Printed,
    progress: Option<Progress>,
    /// proctor was interrupted: tasks killed from now on were stopped by it.
    interrupted: bool,
}

/// Prints until the driver's events end, or stdout is gone.
pub fn print(events: &mut EventReceiver, options: Options) -> Printed {
    let progress = Progress::new(options.progress);
    let mut p = Printer {
        options,
        out: BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
        err: std::io::stderr(),
        ttys: [
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ],
        pending: HashMap::new(),
        printed: Printed::default(),
        progress,
        interrupted: false,
    };
    while let Some(event) = events.blocking_recv() {
        let written = match event.kind {
            EventKind::Bytes {
                worker,
                stream,
                bytes,
            } => match task_number(&worker) {
                Some(number) => {
                    p.pending.entry(number).or_default().attempt(&worker);
                    p.bytes(number, stream, &bytes)
                }
                None => Ok(()),
            },
            EventKind::Task(record) => p.task(&record),
            EventKind::Queue { stats, closed, .. } => p.out.flush().map(|()| {
                // stdout first: the line is drawn after what is already written.
                if let Some(progress) = &mut p.progress {
                    progress.update(stats, closed);
                }
            }),
            EventKind::Error { message } => {
                p.note(&message);
                Ok(())
            }
            EventKind::Interrupted { .. } => {
                p.interrupted = true;
                Ok(())
            }
            _ => Ok(()),
        };
        if written.is_err() || (events.is_empty() && p.out.flush().is_err()) {
            return p.printed;
        }
    }
    // Output that came after its task's record (from a descendant that kept
    // the pipe open) is still printed, in task order.
    let mut late: Vec<u64> = p.pending.keys().copied().collect();
    late.sort_unstable();
    for number in late {
        let pending = p.pending.remove(&number).unwrap_or_default();
        let flushed = p
            .write_lines(number, Stream::Stdout, &pending.stdout)
            .and_then(|()| p.write_lines(number, Stream::Stderr, &pending.stderr));
        if flushed.is_err() {
            return p.printed;
        }
    }
    p.printed.complete = p.out.flush().is_ok();
    if let Some(progress) = &mut p.progress {
        progress.finish();
    }
    p.printed
}

impl Printer {
    fn bytes(&mut self, number: u64, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        let grouping = self.options.grouping;
        let results = self.options.results.clone();
        let pending = self.pending.entry(number).or_default();
        if let Some(dir) = &results {
            let written = match &mut pending.files {
                Some(files) => files[stream as usize].write_all(bytes),
                None => open_results(dir, number).and_then(|files| {
                    pending.files.insert(files)[stream as usize].write_all(bytes)
                }),
            };
            if let Err(e) = written {
                self.results_failed(dir, e);
            }
        }
        let pending = self.pending.entry(number).or_default();
        let held = match stream {
            Stream::Stdout => &mut pending.stdout,
            Stream::Stderr => &mut pending.stderr,
        };
        match grouping {
            Grouping::Ungroup => self.write(stream, bytes),
            Grouping::Group => {
                held.extend_from_slice(bytes);
                Ok(())
            }
            Grouping::LineBuffer => {
                held.extend_from_slice(bytes);
                let Some(end) = memchr::memrchr(b'\n', held) else {
                    return Ok(());
                };
                let lines: Vec<u8> = held.drain(..=end).collect();
                self.write_lines(number, stream, &lines)
            }
        }
    }

    /// A task ended: what it still holds goes out, stdout first.
    fn task(&mut self, record: &TaskRecord) -> std::io::Result<()> {
        let number = record.task;
        let mut pending = self.pending.remove(&number).unwrap_or_default();
        if let Some(worker) = &record.worker {
            // The final attempt wrote nothing: an earlier one's output goes.
            pending.attempt(worker);
        }
        if let Some(dir) = self.options.results.clone()
            && pending.files.is_none()
            && let Err(e) = open_results(&dir, number)
        {
            // A task without output still gets its files.
            self.results_failed(&dir, e);
        }
        self.write_lines(number, Stream::Stdout, &pending.stdout)?;
        self.write_lines(number, Stream::Stderr, &pending.stderr)?;
        if let Some(tags) = &self.options.tags {
            tags.forget(number);
        }
        self.printed.tasks += 1;
        if record.exit_code != Some(0) {
            self.out.flush()?;
            self.clear_progress();
            if self.interrupted && record.signal.is_some() && !record.timed_out {
                self.printed.interrupted += 1;
                let _ = writeln!(
                    self.err,
                    "proctor: task {number} stopped by the interrupt: {}",
                    why(record)
                );
            } else {
                self.printed.failed += 1;
                let _ = writeln!(self.err, "proctor: task {number} failed: {}", why(record));
            }
        }
        Ok(())
    }

    /// Bytes of one stream, each line prefixed with the task's tag if asked.
    fn write_lines(&mut self, number: u64, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(tags) = &self.options.tags else {
            return self.write(stream, bytes);
        };
        let mut tag = tags.get(number);
        tag.push(b'\t');
        let mut text = Vec::with_capacity(bytes.len() + tag.len() * 4);
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            text.extend_from_slice(&tag);
            text.extend_from_slice(line);
        }
        self.write(stream, &text)
    }

    fn write(&mut self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        self.clear_progress();
        let shown;
        let bytes = if self.ttys[stream as usize] {
            shown = for_terminal(bytes);
            shown.as_bytes()
        } else {
            bytes
        };
        match stream {
            Stream::Stdout => self.out.write_all(bytes),
            Stream::Stderr => {
                // Keeps stdout and stderr in the order they were written.
                self.out.flush()?;
                let _ = self.err.write_all(bytes);
                Ok(())
            }
        }
    }

    /// Says so once, and writes no more results: the run then fails.
    fn results_failed(&mut self, dir: &Path, e: std::io::Error) {
        self.note(&format!(
            "cannot write --results to '{}': {e}; no more results are written",
            dir.display()
        ));
        self.options.results = None;
        self.printed.troubled = true;
    }

    fn clear_progress(&mut self) {
        if let Some(progress) = &mut self.progress {
            progress.clear();
        }
    }

    fn note(&mut self, message: &str) {
        let _ = self.out.flush();
        self.clear_progress();
        let _ = writeln!(self.err, "proctor: {message}");
    }
}

/// `DIR/N/stdout`, `DIR/N/stderr` and `DIR/N/seq` (N, the task number).
fn open_results(dir: &Path, number: u64) -> std::io::Result<[File; 2]> {
    let task_dir = dir.join(number.to_string());
    std::fs::create_dir_all(&task_dir)?;
    std::fs::write(task_dir.join("seq"), format!("{number}\n"))?;
    Ok([
        File::create(task_dir.join("stdout"))?,
        File::create(task_dir.join("stderr"))?,
    ])
}

/// Why a task failed, in a few words.
fn why(record: &TaskRecord) -> String {
    let mut text = match (&record.error, record.exit_code, &record.signal) {
        (Some(error), _, _) => error.clone(),
        (None, _, Some(signal)) => format!("killed by {signal}"),
        (None, Some(code), None) => format!("exit code {code}"),
        (None, None, None) => "did not run".into(),
    };
    if record.timed_out {
        text.push_str(" (timed out)");
    }
    if record.retries > 0 {
        text.push_str(&format!(" after {} retries", record.retries));
    }
    text.push_str(&format!(" (input '{}')", record.input.escape_debug()));
    text
}

/// Task output for a terminal: worker text is untrusted, so escape sequences and
/// other control characters are shown in caret notation (`^[`) and cannot drive
/// the terminal; newlines stay newlines. Bytes that are not UTF-8 show as U+FFFD.
fn for_terminal(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            shown.push('\n');
        }
        shown.push_str(&crate::engine::output::neutral(line));
    }
    shown
}
