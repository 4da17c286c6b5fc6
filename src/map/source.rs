//! One input of map mode's tasks: stdin, a file (`-a`, `::::`) or the words after
//! `:::`. Records (lines, or NUL-ended with `-0`) are read lazily, as bytes, so a
//! huge or endless input never sits in memory; `--colsep` splits each into values.
//! `tasks.rs` combines several inputs and reads on a thread of its own.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes one task may have: Linux refuses a longer single argument
/// (MAX_ARG_STRLEN, 128 KiB including the terminating NUL).
pub const MAX_TASK_BYTES: usize = 128 * 1024 - 1;

/// Bytes of an over-long task kept to name it in messages.
const PREFIX_BYTES: usize = 200;

/// One task: its 1-based number (counting tasks, not skipped empty lines), its
/// input as read (for the joblog and `--resume`) and the values placeholders take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub number: u64,
    pub input: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

impl Task {
    /// A task of one value, its input.
    pub fn single(number: u64, input: Vec<u8>) -> Task {
        Task {
            number,
            values: vec![input.clone()],
            input,
        }
    }
}

/// How records are read, the same for every input.
#[derive(Debug, Clone)]
pub struct Reading {
    /// `\n`, or NUL with `-0`.
    pub delimiter: u8,
    pub allow_empty: bool,
    /// `--colsep`: each record is split into values where this matches.
    pub colsep: Option<regex::bytes::Regex>,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            delimiter: b'\n',
            allow_empty: false,
            colsep: None,
        }
    }
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

/// Where one input's records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Stdin,
    /// `-` is stdin.
    File(PathBuf),
    Words(Vec<Vec<u8>>),
}

impl Origin {
    /// Records come from stdin (`-a -` included).
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
    Words(std::vec::IntoIter<Vec<u8>>),
}

/// The records of one input, in order, as tasks of their own.
pub struct Source {
    lines: Lines,
    reading: Reading,
    next_number: u64,
    done: bool,
    /// Where the input is, for error messages.
    what: String,
}

impl Source {
    /// Opens the input now, so an unreadable file is reported before anything starts.
    pub fn open(origin: &Origin, reading: &Reading) -> Result<Source, String> {
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
            reading: reading.clone(),
            next_number: 1,
            done: false,
            what,
        })
    }

    /// `--header :`: takes the first record (its values are the column names);
    /// the tasks after it are numbered from 1. `None` when the input is empty.
    pub fn take_header(&mut self) -> Result<Option<Vec<Vec<u8>>>, String> {
        let header = match self.next() {
            None => None,
            Some(Item::Task(task)) => Some(task.values),
            Some(Item::TooLong { len, .. }) => {
                return Err(format!("the header of {} is {len} bytes long", self.what));
            }
            Some(Item::ReadError(message)) => return Err(message),
        };
        self.next_number = 1;
        Ok(header)
    }

    fn next_line(&mut self) -> std::io::Result<Option<(Vec<u8>, usize)>> {
        match &mut self.lines {
            Lines::Words(words) => Ok(words.next().map(|mut bytes| {
                let len = bytes.len();
                bytes.truncate(MAX_TASK_BYTES + 1);
                (bytes, len)
            })),
            Lines::Reader(reader) => {
                let mut line = Vec::new();
                let delimiter = self.reading.delimiter;
                let len = read_line_capped(reader, &mut line, MAX_TASK_BYTES + 1, delimiter)?;
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
            if input.is_empty() && !self.reading.allow_empty {
                continue;
            }
            let number = self.next_number;
            self.next_number += 1;
            if len > MAX_TASK_BYTES {
                input.truncate(PREFIX_BYTES);
                let task = Task::single(number, input);
                return Some(Item::TooLong { task, len });
            }
            let values = match &self.reading.colsep {
                Some(colsep) => colsep.split(&input).map(<[u8]>::to_vec).collect(),
                None => vec![input.clone()],
            };
            return Some(Item::Task(Task {
                number,
                input,
                values,
            }));
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

/// Reads one record without its delimiter (and, for lines, a `\r` before it),
/// keeping at most `cap` bytes in `line`. Returns the record's full length, or
/// `None` at end of input.
fn read_line_capped(
    reader: &mut dyn BufRead,
    line: &mut Vec<u8>,
    cap: usize,
    delimiter: u8,
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
        let (chunk, used, end) = match memchr::memchr(delimiter, buf) {
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
    if delimiter == b'\n' && line.last() == Some(&b'\r') && len <= cap {
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

    pub fn unknown() -> Total {
        Total(Arc::new(AtomicU64::new(Self::UNKNOWN)))
    }

    pub fn known(n: u64) -> Total {
        Total(Arc::new(AtomicU64::new(n)))
    }

    /// Counts a file's lines in the background (tasks of `per_task` lines each);
    /// stdin is never counted.
    pub fn count(path: &Path, allow_empty: bool, per_task: u64) -> Total {
        let total = Total::unknown();
        if path == Path::new("-") {
            return total;
        }
        let path = path.to_path_buf();
        let slot = total.0.clone();
        // Counting is only for the queue depth: if it fails, it stays unknown.
        let _ = std::thread::Builder::new()
            .name("proctor-count".into())
            .spawn(move || {
                if let Ok(n) = File::open(&path).and_then(|f| count_tasks(f, allow_empty)) {
                    slot.store(n.div_ceil(per_task.max(1)), Ordering::Relaxed);
                }
            });
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
            reading: Reading {
                allow_empty,
                ..Reading::default()
            },
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
        assert_eq!(items[1], Item::Task(Task::single(2, b"ok".to_vec())));
    }

    #[test]
    fn nul_records_keep_newlines_and_carriage_returns() {
        let mut s = source(b"a\nb\r\0\0c", true);
        s.reading.delimiter = 0;
        let got: Vec<Vec<u8>> = s
            .map(|item| match item {
                Item::Task(t) => t.input,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got, [b"a\nb\r".to_vec(), Vec::new(), b"c".to_vec()]);
    }

    #[test]
    fn colsep_splits_a_record_into_values() {
        let mut s = source(b"a\tb\t\tc\n", false);
        s.reading.colsep = regex::bytes::Regex::new("\t").ok();
        match s.next() {
            Some(Item::Task(t)) => {
                assert_eq!(t.input, b"a\tb\t\tc");
                assert_eq!(t.values, [&b"a"[..], b"b", b"", b"c"]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Source::open(
            &Origin::File("/nonexistent/tasks.txt".into()),
            &Reading::default(),
        )
        .err()
        .unwrap();
        assert!(err.contains("'/nonexistent/tasks.txt'"), "{err}");
    }
}
