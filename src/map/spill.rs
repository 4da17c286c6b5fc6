//! `--keep-order` holds later tasks' output until their turn. Past a memory
//! limit that output goes to a temporary file (unlinked at once, so nothing is
//! left behind on any exit), and comes back when its turn comes: held output
//! costs disk, not memory, however slow the task everyone waits for.

use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::event::Stream;
use crate::engine::{Event, EventKind};

/// Held output kept in memory before the rest goes to the file.
pub const MEMORY_LIMIT: usize = 8 << 20;

/// One held event: in memory, or its text at `at..at+len` in the file.
#[derive(Debug)]
pub enum Held {
    Kept(Event),
    Spilled {
        t: f64,
        host: Option<Arc<str>>,
        worker: Arc<str>,
        stream: Stream,
        /// An `Output` line (JSON Lines), else `Bytes` (plain output).
        line: bool,
        at: u64,
        len: usize,
    },
}

/// The memory held output uses, and the file the rest went to.
pub struct Spill {
    limit: usize,
    dir: PathBuf,
    in_memory: usize,
    file: Option<File>,
    /// Where the next spilled text goes.
    end: u64,
    /// Spilled events not yet taken back: at 0 the file starts over.
    spilled: usize,
    /// The file could not be made or written: keep in memory (never drop).
    failed: bool,
}

impl Spill {
    /// Spills past `limit` bytes into a file in `dir`.
    pub fn new(limit: usize, dir: PathBuf) -> Spill {
        Spill {
            limit,
            dir,
            in_memory: 0,
            file: None,
            end: 0,
            spilled: 0,
            failed: false,
        }
    }

    /// Held output in memory now, in bytes.
    #[cfg(test)]
    fn in_memory(&self) -> usize {
        self.in_memory
    }

    /// Holds `event`: in memory while under the limit, else in the file.
    pub fn hold(&mut self, event: Event) -> Held {
        let Some(len) = text_len(&event.kind) else {
            return Held::Kept(event);
        };
        if self.in_memory + len <= self.limit || self.failed {
            self.in_memory += len;
            return Held::Kept(event);
        }
        let host = event.host;
        let (worker, stream, text, line) = match event.kind {
            EventKind::Output {
                worker,
                stream,
                line,
            } => (worker, stream, line.into_bytes(), true),
            EventKind::Bytes {
                worker,
                stream,
                bytes,
            } => (Arc::from(worker), stream, bytes, false),
            kind => {
                return Held::Kept(Event {
                    t: event.t,
                    host,
                    kind,
                });
            }
        };
        match self.write(&text) {
            Ok(at) => {
                self.spilled += 1;
                Held::Spilled {
                    t: event.t,
                    host,
                    worker,
                    stream,
                    line,
                    at,
                    len: text.len(),
                }
            }
            Err(_) => {
                // Memory rather than loss: the run goes on as it would without a limit.
                self.failed = true;
                self.in_memory += text.len();
                Held::Kept(Event {
                    t: event.t,
                    host,
                    kind: rebuild(worker, stream, text, line),
                })
            }
        }
    }

    /// The event back, to be printed now.
    pub fn take(&mut self, held: Held) -> Event {
        match held {
            Held::Kept(event) => {
                self.in_memory -= text_len(&event.kind).unwrap_or(0);
                event
            }
            Held::Spilled {
                t,
                host,
                worker,
                stream,
                line,
                at,
                len,
            } => {
                let mut text = vec![0; len];
                let read = match &self.file {
                    Some(file) => file.read_exact_at(&mut text, at),
                    None => Err(std::io::ErrorKind::NotFound.into()),
                };
                self.spilled -= 1;
                if self.spilled == 0
                    && let Some(file) = &self.file
                    && file.set_len(0).is_ok()
                {
                    self.end = 0;
                }
                let kind = match read {
                    Ok(()) => rebuild(worker, stream, text, line),
                    Err(e) => EventKind::Error {
                        message: format!(
                            "{len} bytes of {worker}'s output held for --keep-order could \
                             not be read back from the temporary file: {e}"
                        ),
                    },
                };
                Event { t, host, kind }
            }
        }
    }

    fn write(&mut self, text: &[u8]) -> std::io::Result<u64> {
        if self.file.is_none() {
            self.file = Some(temporary(&self.dir)?);
        }
        let Some(file) = &mut self.file else {
            return Err(std::io::ErrorKind::NotFound.into());
        };
        file.write_all_at(text, self.end)?;
        let at = self.end;
        self.end += text.len() as u64;
        Ok(at)
    }
}

/// The size of an output event's text; `None` for other events.
fn text_len(kind: &EventKind) -> Option<usize> {
    match kind {
        EventKind::Output { line, .. } => Some(line.len()),
        EventKind::Bytes { bytes, .. } => Some(bytes.len()),
        _ => None,
    }
}

fn rebuild(worker: Arc<str>, stream: Stream, text: Vec<u8>, line: bool) -> EventKind {
    if line {
        EventKind::Output {
            worker,
            stream,
            // It was a String when it went out.
            line: String::from_utf8(text)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    } else {
        EventKind::Bytes {
            worker: worker.to_string(),
            stream,
            bytes: text,
        }
    }
}

/// A new file only we can read, unlinked at once: it vanishes with proctor.
fn temporary(dir: &std::path::Path) -> std::io::Result<File> {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".proctor-keep-order-{}-{n}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(worker: &str, text: &[u8]) -> Event {
        Event {
            t: 1.0,
            host: None,
            kind: EventKind::Bytes {
                worker: worker.into(),
                stream: Stream::Stdout,
                bytes: text.to_vec(),
            },
        }
    }

    fn text(event: &Event) -> Vec<u8> {
        match &event.kind {
            EventKind::Bytes { bytes, .. } => bytes.clone(),
            EventKind::Output { line, .. } => line.clone().into_bytes(),
            other => panic!("not output: {other:?}"),
        }
    }

    #[test]
    fn output_past_the_limit_goes_to_the_file_and_comes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spill = Spill::new(10, dir.path().to_path_buf());
        let a = spill.hold(bytes("task-1", b"12345678"));
        assert!(matches!(a, Held::Kept(_)));
        let b = spill.hold(bytes("task-2", b"\xffabcdef"));
        assert!(matches!(b, Held::Spilled { .. }));
        let line = Event {
            t: 2.0,
            host: Some(Arc::from("h1")),
            kind: EventKind::Output {
                worker: Arc::from("task-3"),
                stream: Stream::Stderr,
                line: "é line".into(),
            },
        };
        let c = spill.hold(line.clone());
        assert_eq!(spill.in_memory(), 8);
        // Nothing of the file is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        assert_eq!(text(&spill.take(b)), b"\xffabcdef");
        assert_eq!(spill.take(c).kind, line.kind);
        assert_eq!(text(&spill.take(a)), b"12345678");
        assert_eq!(spill.in_memory(), 0);
        // Everything was taken back: the file starts over.
        assert_eq!(spill.end, 0);
    }

    #[test]
    fn other_events_stay_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut spill = Spill::new(0, dir.path().to_path_buf());
        let event = Event {
            t: 1.0,
            host: None,
            kind: EventKind::Error {
                message: "x".into(),
            },
        };
        assert!(matches!(spill.hold(event), Held::Kept(_)));
    }

    #[test]
    fn without_a_file_output_stays_in_memory() {
        let mut spill = Spill::new(0, "/nonexistent/proctor-test".into());
        let held = spill.hold(bytes("task-1", b"kept"));
        assert!(matches!(held, Held::Kept(_)));
        assert_eq!(text(&spill.take(held)), b"kept");
    }
}
