//! Worker output: bounded ring buffers of lines, one per worker, shared with front
//! ends. Lines are neutralised on the way in, so worker output can never drive
//! the terminal, whatever bytes it writes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::command::WorkerId;
use super::event::Stream;

mod read;

/// Lines longer than this are cut and marked.
pub const MAX_LINE: usize = 64 * 1024;

/// One stored line. `seq` orders lines across workers for the merged view.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub seq: u64,
    pub stream: Stream,
    pub text: String,
}

/// Default memory for all workers' output together (text bytes). With many workers
/// each gets an equal share, so 1,000 chatty workers cannot exhaust memory.
pub const DEFAULT_BUDGET: usize = 128 * 1024 * 1024;

/// No worker's share of the budget goes below this, however many workers there are.
const MIN_SHARE: usize = 64 * 1024;

/// The last `capacity` lines of one worker, and at most `byte_cap` bytes of text.
#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<Line>,
    capacity: usize,
    bytes: usize,
    byte_cap: usize,
    /// Lines dropped from the front since the worker started (for scroll anchors).
    pub dropped: u64,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            bytes: 0,
            byte_cap: usize::MAX,
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: Line) {
        self.bytes += line.text.len();
        self.lines.push_back(line);
        self.trim();
    }

    /// Lowers (or raises) this buffer's share of memory, dropping old lines to fit.
    pub fn set_byte_cap(&mut self, cap: usize) {
        if self.byte_cap != cap {
            self.byte_cap = cap;
            self.trim();
        }
    }

    /// Text bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn trim(&mut self) {
        // The newest line always stays, even if it alone is over the cap.
        while self.lines.len() > 1
            && (self.lines.len() > self.capacity || self.bytes > self.byte_cap)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len();
                self.dropped += 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn lines(&self) -> &VecDeque<Line> {
        &self.lines
    }
}

/// Every worker's buffer. Readers of one worker lock only that worker's buffer.
#[derive(Debug)]
pub struct OutputStore {
    /// By worker id; `None` until first used, and again once the worker is retired.
    buffers: RwLock<Vec<Option<Arc<Mutex<LogBuffer>>>>>,
    capacity: usize,
    seq: AtomicU64,
    budget: usize,
    /// Buffers that exist (not yet forgotten).
    live: AtomicUsize,
    /// Each buffer's current byte cap: the budget shared by the buffers that exist.
    share: AtomicUsize,
    /// The share when every buffer was last trimmed to it.
    trimmed_at: AtomicUsize,
}

impl OutputStore {
    pub fn new(capacity: usize) -> Self {
        Self::with_budget(capacity, DEFAULT_BUDGET)
    }

    /// `capacity` lines per worker, `budget` bytes of text for all workers together.
    pub fn with_budget(capacity: usize, budget: usize) -> Self {
        OutputStore {
            buffers: RwLock::new(Vec::new()),
            capacity,
            seq: AtomicU64::new(0),
            budget,
            live: AtomicUsize::new(0),
            share: AtomicUsize::new(budget.max(MIN_SHARE)),
            trimmed_at: AtomicUsize::new(budget.max(MIN_SHARE)),
        }
    }

    /// The byte cap each buffer should have now.
    pub fn share(&self) -> usize {
        self.share.load(Ordering::Relaxed)
    }

    /// The buffer of `id`, created on first use.
    pub fn buffer(&self, id: WorkerId) -> Arc<Mutex<LogBuffer>> {
        let index = id.0 as usize;
        if let Ok(buffers) = self.buffers.read()
            && let Some(Some(b)) = buffers.get(index)
        {
            return b.clone();
        }
        let mut buffers = match self.buffers.write() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buffers.len() <= index {
            buffers.resize(index + 1, None);
        }
        if let Some(b) = &buffers[index] {
            return b.clone();
        }
        let buffer = Arc::new(Mutex::new(LogBuffer::new(self.capacity)));
        buffers[index] = Some(buffer.clone());
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        let share = (self.budget / live).max(MIN_SHARE);
        self.share.store(share, Ordering::Relaxed);
        // Shrink the others only when the share has halved since they were last
        // shrunk: amortised, not per worker, and a quiet buffer never holds more
        // than twice its share (busy ones adopt the share on their next lines).
        if share <= self.trimmed_at.load(Ordering::Relaxed) / 2 {
            self.trimmed_at.store(share, Ordering::Relaxed);
            for b in buffers.iter().flatten() {
                if let Ok(mut b) = b.lock() {
                    b.set_byte_cap(share);
                }
            }
        } else if let Ok(mut b) = buffer.lock() {
            b.set_byte_cap(share);
        }
        buffer
    }

    /// Drops a retired worker's lines (readers holding the buffer keep it alive
    /// until they are done); the others' share grows on their next lines.
    pub fn forget(&self, id: WorkerId) {
        let mut buffers = match self.buffers.write() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(slot) = buffers.get_mut(id.0 as usize)
            && slot.take().is_some()
        {
            let live = self
                .live
                .fetch_sub(1, Ordering::Relaxed)
                .saturating_sub(1)
                .max(1);
            self.share
                .store((self.budget / live).max(MIN_SHARE), Ordering::Relaxed);
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Copies of the last `n` lines of one worker (for drawing only what is visible).
    pub fn tail(&self, id: WorkerId, n: usize) -> Vec<Line> {
        let buffer = self.buffer(id);
        let Ok(b) = buffer.lock() else {
            return Vec::new();
        };
        b.lines
            .iter()
            .skip(b.lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// Number of workers with a buffer.
    pub fn workers(&self) -> usize {
        self.buffers
            .read()
            .map(|b| b.iter().filter(|slot| slot.is_some()).count())
            .unwrap_or(0)
    }
}

/// Makes a line safe to show: control characters (ESC, C1, DEL, CR…) become
/// visible caret notation (`^[`), tabs become spaces. Printable text is untouched.
pub fn neutralise(text: &str) -> String {
    if is_clean(text) {
        return text.to_string();
    }
    escape(text)
}

/// `neutralise` for an owned line: a clean line (the common case) is returned as is,
/// without a copy.
pub fn neutralised(text: String) -> String {
    if is_clean(&text) { text } else { escape(&text) }
}

/// True when nothing in `text` needs escaping. A byte scan first (C0, DEL, and the
/// lead bytes of C1 and bidi controls), chars only when a lead byte shows up.
fn is_clean(text: &str) -> bool {
    // Branch-free per chunk so the compiler vectorises it; this runs on every line.
    let suspicious = text.as_bytes().chunks(32).any(|chunk| {
        chunk.iter().fold(false, |hit, &b| {
            hit | (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xe2)
        })
    });
    !suspicious || !text.chars().any(needs_escape)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("    "),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push((b'@' + c as u8) as char);
            }
            '\u{7f}' => out.push_str("^?"),
            c if needs_escape(c) => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    let n = c as u32;
    // C0, DEL, C1 (some terminals treat U+009B as CSI), and bidi overrides that
    // could make a line display differently from what it says.
    n < 0x20
        || (0x7f..=0x9f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// Splits a byte stream into lines: lossy UTF-8, a trailing CR dropped, lines over
/// `MAX_LINE` cut and marked (the rest of such a line is skipped up to its newline).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Bytes skipped from the line being cut.
    skipping: Option<usize>,
}

impl LineSplitter {
    /// Feeds a chunk; calls `emit` for every complete line.
    pub fn feed(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(String)) {
        while !chunk.is_empty() {
            let newline = memchr::memchr(b'\n', chunk);
            let (piece, rest, complete) = match newline {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if let Some(skipped) = &mut self.skipping {
                *skipped += piece.len();
                if complete {
                    let n = *skipped;
                    self.skipping = None;
                    emit(cut_marker(std::mem::take(&mut self.partial), n));
                }
                continue;
            }
            let room = MAX_LINE - self.partial.len();
            if piece.len() > room {
                self.partial.extend_from_slice(&piece[..room]);
                let skipped = piece.len() - room;
                if complete {
                    emit(cut_marker(std::mem::take(&mut self.partial), skipped));
                } else {
                    self.skipping = Some(skipped);
                }
                continue;
            }
            self.partial.extend_from_slice(piece);
            if complete {
                emit(to_line(std::mem::take(&mut self.partial)));
            }
        }
    }

    /// At end of stream: the last line if it had no newline.
    pub fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if let Some(skipped) = self.skipping.take() {
            emit(cut_marker(std::mem::take(&mut self.partial), skipped));
        } else if !self.partial.is_empty() {
            emit(to_line(std::mem::take(&mut self.partial)));
        }
    }
}

fn to_line(mut bytes: Vec<u8>) -> String {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn cut_marker(bytes: Vec<u8>, skipped: usize) -> String {
    let mut line = to_line(bytes);
    line.push_str(&format!(" [line cut: {skipped} more bytes]"));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| out.push(l));
        }
        s.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn splits_across_chunks_and_keeps_last_partial_line() {
        assert_eq!(split(&[b"a\nb", b"c\r\nd"]), ["a", "bc", "d"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_lost() {
        assert_eq!(split(&[b"ok \xff\xfe end\n"]), ["ok \u{fffd}\u{fffd} end"]);
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let long = vec![b'x'; MAX_LINE + 10];
        let out = split(&[&long, b"\nnext\n"]);
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with("xxx"));
        assert!(out[0].ends_with("[line cut: 10 more bytes]"));
        assert_eq!(out[1], "next");
    }

    #[test]
    fn escape_sequences_are_neutralised() {
        let shown = neutralise("\x1b[2J\x1b]52;c;aGk=\x07title\u{9b}31m");
        assert!(!shown.contains('\x1b'));
        assert!(!shown.contains('\u{9b}'));
        assert_eq!(shown, "^[[2J^[]52;c;aGk=^Gtitle<U+009B>31m");
        assert_eq!(neutralise("plain"), "plain");
    }

    #[test]
    fn the_memory_budget_is_shared_between_workers() {
        let store = OutputStore::with_budget(1000, 4 * MIN_SHARE);
        let first = store.buffer(WorkerId(0));
        let line = |seq| Line {
            seq,
            stream: Stream::Stdout,
            text: "x".repeat(1024),
        };
        for i in 0..200 {
            first.lock().unwrap().push(line(i));
        }
        assert_eq!(first.lock().unwrap().bytes(), 200 * 1024);
        for id in 1..4 {
            store.buffer(WorkerId(id)); // four workers now: each gets a quarter
        }
        let b = first.lock().unwrap();
        assert!(b.bytes() <= MIN_SHARE, "{} bytes kept", b.bytes());
        assert_eq!(b.dropped as usize + b.len(), 200);
    }

    #[test]
    fn ring_buffer_keeps_the_newest_lines() {
        let mut b = LogBuffer::new(2);
        for i in 0..5 {
            b.push(Line {
                seq: i,
                stream: Stream::Stdout,
                text: i.to_string(),
            });
        }
        let texts: Vec<_> = b.lines().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["3", "4"]);
        assert_eq!(b.dropped, 3);
    }

    #[test]
    fn a_retired_worker_s_lines_are_dropped() {
        let store = OutputStore::new(10);
        for id in [WorkerId(0), WorkerId(3)] {
            let line = Line {
                seq: store.next_seq(),
                stream: Stream::Stdout,
                text: "x".into(),
            };
            store.buffer(id).lock().unwrap().push(line);
        }
        assert_eq!(store.workers(), 2, "only used ids get a buffer");
        store.forget(WorkerId(3));
        assert_eq!(store.workers(), 1);
        assert!(store.tail(WorkerId(3), 5).is_empty());
        assert_eq!(store.tail(WorkerId(0), 5).len(), 1);
    }
}
