//! Where map mode's tasks come from: stdin, a `--tasks` file or the words after
//! `:::`. Lines are read lazily, as bytes, on a thread of their own, so a huge or
//! endless input never sits in memory and a slow one never blocks the driver.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// The most bytes one task may have: Linux refuses a longer single argument
/// (MAX_ARG_STRLEN, 128 KiB including the terminating NUL).
pub const MAX_TASK_BYTES: usize = 128 * 1024 - 1;

/// Bytes of an over-long task kept to name it in messages.
const PREFIX_BYTES: usize = 200;

/// One task: its 1-based number (counting tasks, not skipped empty lines) and input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub number: u64,
    pub input: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Task(Task),
    /// A line too long to pass as an argument; `task.input` holds its first bytes.
    TooLong {
        task: Task,
        len: usize,
    },
    /// Reading failed; no more items follow.
    ReadError(String),
}

/// Where the tasks are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Stdin,
    File(PathBuf),
    Words(Vec<String>),
}

impl Origin {
    /// Tasks come from stdin (`--tasks -` included).
    pub fn reads_stdin(&self) -> bool {
        match self {
            Origin::Stdin => true,
            Origin::File(path) => path == Path::new("-"),
            Origin::Words(_) => false,
        }
    }
}

enum Lines {
    Reader(Box<dyn BufRead + Send>),
    Words(std::vec::IntoIter<String>),
}

/// The tasks of one run, in input order.
pub struct Source {
    lines: Lines,
    allow_empty: bool,
    next_number: u64,
    done: bool,
    /// Where the input is, for error messages.
    what: String,
}

impl Source {
    /// Opens the input now, so an unreadable file is reported before anything starts.
    pub fn open(origin: &Origin, allow_empty: bool) -> Result<Source, String> {
        let (lines, what) = match origin {
            Origin::Stdin => (
                Lines::Reader(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    std::io::stdin(),
                ))),
                "stdin".to_string(),
            ),
            Origin::File(path) => (
                Lines::Reader(Box::new(BufReader::with_capacity(
                    64 * 1024,
                    open_file(path)?,
                ))),
                format!("tasks file '{}'", path.display()),
            ),
            Origin::Words(words) => (
                Lines::Words(words.clone().into_iter()),
                "arguments".to_string(),
            ),
        };
        Ok(Source {
            lines,
            allow_empty,
            next_number: 1,
            done: false,
            what,
        })
    }

    /// Reads tasks on a thread and hands them over through a channel holding at
    /// most `capacity` of them, so reading stays just ahead of running.
    pub fn spawn(mut self, capacity: usize) -> std::io::Result<mpsc::Receiver<Item>> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        std::thread::Builder::new()
            .name("proctor-tasks".into())
            .spawn(move || {
                for item in self.by_ref() {
                    // The driver is gone (halted or finished): stop reading.
                    if tx.blocking_send(item).is_err() {
                        break;
                    }
                }
            })?;
        Ok(rx)
    }

    fn next_line(&mut self) -> std::io::Result<Option<(Vec<u8>, usize)>> {
        match &mut self.lines {
            Lines::Words(words) => Ok(words.next().map(|w| {
                let len = w.len();
                let mut bytes = w.into_bytes();
                bytes.truncate(MAX_TASK_BYTES + 1);
                (bytes, len)
            })),
            Lines::Reader(reader) => {
                let mut line = Vec::new();
                let len = read_line_capped(reader, &mut line, MAX_TASK_BYTES + 1)?;
                Ok(len.map(|len| (line, len)))
            }
        }
    }
}

impl Iterator for Source {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while !self.done {
            let (mut input, len) = match self.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    self.done = true;
                    return Some(Item::ReadError(format!(
                        "cannot read tasks from {}: {e}",
                        self.what
                    )));
                }
            };
            if input.is_empty() && !self.allow_empty {
                continue;
            }
            let number = self.next_number;
            self.next_number += 1;
            if len > MAX_TASK_BYTES {
                input.truncate(PREFIX_BYTES);
                let task = Task { number, input };
                return Some(Item::TooLong { task, len });
            }
            return Some(Item::Task(Task { number, input }));
        }
        self.done = true;
        None
    }
}

fn open_file(path: &Path) -> Result<Box<dyn Read + Send>, String> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin()));
    }
    let cannot = |e: &dyn std::fmt::Display| {
        format!(
            "cannot read tasks file '{}': {e}; give a readable file with one task per line",
            path.display()
        )
    };
    let file = File::open(path).map_err(|e| cannot(&e))?;
    match file.metadata() {
        Ok(m) if m.is_dir() => Err(cannot(&"it is a directory")),
        Ok(_) => Ok(Box::new(file)),
        Err(e) => Err(cannot(&e)),
    }
}

/// Reads one line without its `\n` (and a `\r` before it), keeping at most `cap`
/// bytes in `line`. Returns the line's full length, or `None` at end of input.
fn read_line_capped(
    reader: &mut dyn BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Option<usize>> {
    let mut len = 0usize;
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        let (chunk, used, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = cap.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        len += chunk.len();
        reader.consume(used);
        if end {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') && len <= cap {
        line.pop();
        len -= 1;
    }
    Ok(Some(len))
}

/// How many tasks the input holds, when that can be known without keeping it:
/// `None` until counted (or for stdin).
#[derive(Debug, Clone)]
pub struct Total(Arc<AtomicU64>);

impl Total {
    const UNKNOWN: u64 = u64::MAX;

    /// Counts in the background for a file, at once for words, never for stdin.
    pub fn start(origin: &Origin, allow_empty: bool) -> Total {
        let total = Total(Arc::new(AtomicU64::new(Self::UNKNOWN)));
        match origin {
            Origin::Stdin => {}
            Origin::File(path) if path == Path::new("-") => {}
            Origin::Words(words) => {
                let n = words
                    .iter()
                    .filter(|w| allow_empty || !w.is_empty())
                    .count();
                total.0.store(n as u64, Ordering::Relaxed);
            }
            Origin::File(path) => {
                let path = path.clone();
                let slot = total.0.clone();
                // Counting is only for the queue depth: if it fails, it stays unknown.
                let _ = std::thread::Builder::new()
                    .name("proctor-count".into())
                    .spawn(move || {
                        if let Ok(n) = File::open(&path).and_then(|f| count_tasks(f, allow_empty)) {
                            slot.store(n, Ordering::Relaxed);
                        }
                    });
            }
        }
        total
    }

    pub fn get(&self) -> Option<u64> {
        match self.0.load(Ordering::Relaxed) {
            Self::UNKNOWN => None,
            n => Some(n),
        }
    }
}

/// Counts the tasks `Source` would read, in one streaming pass that keeps nothing.
pub fn count_tasks(mut input: impl Read, allow_empty: bool) -> std::io::Result<u64> {
    let mut chunk = vec![0u8; 256 * 1024];
    let mut count = 0u64;
    // The current line: its length so far and whether it is just "\r".
    let mut len = 0usize;
    let mut first_cr = false;
    let mut finish_line = |len: usize, first_cr: bool| {
        let empty = len == 0 || (len == 1 && first_cr);
        if allow_empty || !empty {
            count += 1;
        }
    };
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut rest = &chunk[..n];
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if len == 0 && i > 0 {
                first_cr = rest[0] == b'\r';
            }
            finish_line(len + i, first_cr);
            len = 0;
            first_cr = false;
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            if len == 0 {
                first_cr = rest[0] == b'\r';
            }
            len += rest.len();
        }
    }
    if len > 0 {
        finish_line(len, first_cr);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(input: &[u8], allow_empty: bool) -> Source {
        Source {
            lines: Lines::Reader(Box::new(std::io::Cursor::new(input.to_vec()))),
            allow_empty,
            next_number: 1,
            done: false,
            what: "test".into(),
        }
    }

    fn inputs(input: &[u8], allow_empty: bool) -> Vec<Vec<u8>> {
        source(input, allow_empty)
            .map(|item| match item {
                Item::Task(t) => t.input,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn lines_become_tasks_and_empty_lines_are_skipped() {
        let input = b"a\n\nb c\r\n\r\n\xff\xfe\nlast";
        let want: Vec<&[u8]> = vec![b"a", b"b c", b"\xff\xfe", b"last"];
        assert_eq!(inputs(input, false), want);
        let want: Vec<&[u8]> = vec![b"a", b"", b"b c", b"", b"\xff\xfe", b"last"];
        assert_eq!(inputs(input, true), want);
    }

    #[test]
    fn numbers_count_tasks_only() {
        let numbers: Vec<u64> = source(b"\nx\n\ny\n", false)
            .map(|item| match item {
                Item::Task(t) => t.number,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(numbers, [1, 2]);
    }

    #[test]
    fn counting_agrees_with_reading() {
        let cases: [&[u8]; 8] = [
            b"",
            b"\n",
            b"a",
            b"a\n",
            b"a\n\n\nb\n",
            b"\r\n\r\nx\r\n",
            b"\r",
            b"x\n\ry\n\n",
        ];
        for case in cases {
            for allow_empty in [false, true] {
                assert_eq!(
                    count_tasks(case, allow_empty).unwrap(),
                    inputs(case, allow_empty).len() as u64,
                    "{case:?} allow_empty={allow_empty}"
                );
            }
        }
    }

    #[test]
    fn counting_handles_lines_across_chunks() {
        let mut big = Vec::new();
        for i in 0..100_000 {
            big.extend_from_slice(format!("task {i}\n").as_bytes());
            if i % 7 == 0 {
                big.push(b'\n');
            }
        }
        assert_eq!(count_tasks(&big[..], false).unwrap(), 100_000);
        assert_eq!(count_tasks(&big[..], true).unwrap(), 100_000 + 14_286);
    }

    #[test]
    fn overlong_lines_are_reported_not_kept() {
        let mut input = vec![b'x'; MAX_TASK_BYTES + 10];
        input.extend_from_slice(b"\nok\n");
        let items: Vec<Item> = source(&input, false).collect();
        match &items[0] {
            Item::TooLong { task, len } => {
                assert_eq!(*len, MAX_TASK_BYTES + 10);
                assert_eq!(task.input.len(), PREFIX_BYTES);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            items[1],
            Item::Task(Task {
                number: 2,
                input: b"ok".to_vec()
            })
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Source::open(&Origin::File("/nonexistent/tasks.txt".into()), false)
            .err()
            .unwrap();
        assert!(err.contains("'/nonexistent/tasks.txt'"), "{err}");
    }
}
