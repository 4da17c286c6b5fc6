//! Worker output: bounded ring buffers of lines, one per worker, shared with front
//! ends. Lines are stored raw and neutralised whenever they are read, so worker
//! output can never drive the terminal, whatever bytes it writes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::command::WorkerId;
use super::event::Stream;

mod buffer;
mod overlay;
mod read;
mod split;

pub use buffer::{LogBuffer, unix_now};
pub use split::{LineSplitter, to_text};

/// Lines longer than this are cut and marked.
pub const MAX_LINE: usize = 64 * 1024;

/// One stored line. `seq` orders lines across workers for the merged view.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub seq: u64,
    pub stream: Stream,
    pub text: String,
    /// When it arrived, in seconds since the Unix epoch (0: not known).
    pub at: u32,
    pub kind: LineKind,
}

/// What a stored line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A finished line of output.
    Output,
    /// The stream's current line, with no newline yet.
    Partial,
    /// Not output: the marker before run N of a restarted worker.
    RunStart(u32),
}

impl Line {
    /// A finished output line of unknown time (tests, fabricated scenes).
    pub fn new(seq: u64, stream: Stream, text: impl Into<String>) -> Self {
        Line {
            seq,
            stream,
            text: text.into(),
            at: 0,
            kind: LineKind::Output,
        }
    }
}

/// Default memory for all workers' output together (text bytes). With many workers
/// each gets an equal share, so 1,000 chatty workers cannot exhaust memory.
pub const DEFAULT_BUDGET: usize = 128 * 1024 * 1024;

/// No worker's share of the budget goes below this, however many workers there are.
const MIN_SHARE: usize = 64 * 1024;

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
            let share = (self.budget / live).max(MIN_SHARE);
            self.share.store(share, Ordering::Relaxed);
            // Quiet buffers may now grow to the larger share: measure the next halving
            // from there, so they are trimmed again when the share falls back.
            self.trimmed_at.fetch_max(share, Ordering::Relaxed);
        }
    }

    /// Reserves `n` consecutive sequence numbers and returns the first. A reader
    /// takes one block per chunk (gaps are harmless: only the order matters).
    pub fn reserve_seq(&self, n: u64) -> u64 {
        self.seq.fetch_add(n, Ordering::Relaxed)
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
        b.lines(b.len().saturating_sub(n), b.len()).collect()
    }

    /// Stores one line that arrived from elsewhere (an attached UI mirrors a
    /// remote instance's output here).
    pub fn push_line(&self, id: WorkerId, stream: Stream, line: &[u8]) {
        let buffer = self.buffer(id);
        let Ok(mut b) = buffer.lock() else {
            return;
        };
        b.set_byte_cap(self.share());
        b.push_bytes(self.reserve_seq(1), stream, line);
    }

    /// Lines dropped from the front of a worker's ring to make room for new ones.
    pub fn dropped(&self, id: WorkerId) -> u64 {
        self.buffer(id).lock().map_or(0, |b| b.dropped)
    }

    /// Lines dropped from every worker's ring together (for the merged view).
    pub fn dropped_all(&self) -> u64 {
        self.all()
            .iter()
            .filter_map(|(_, b)| b.lock().ok().map(|b| b.dropped))
            .sum()
    }

    /// A run of `id` starts: a restart puts a marker between the runs' output.
    pub fn start_run(&self, id: WorkerId) {
        let seq = self.next_seq();
        if let Ok(mut b) = self.buffer(id).lock() {
            b.start_run(seq);
        }
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

/// `neutralise` without a copy when nothing needs escaping (the common case).
pub fn neutral(text: &str) -> std::borrow::Cow<'_, str> {
    if is_clean(text) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(escape(text))
    }
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
            hit | (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xd8) | (b == 0xe2)
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
    // C0, and the one list of what JSON output escapes too: DEL, C1 (some
    // terminals treat U+009B as CSI), and the bidi controls and marks that could
    // make a line display differently from what it says.
    (c as u32) < 0x20 || crate::json_safe::is_unsafe(c)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let line = |seq| Line::new(seq, Stream::Stdout, "x".repeat(1024));
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
    fn a_retired_worker_s_lines_are_dropped() {
        let store = OutputStore::new(10);
        for id in [WorkerId(0), WorkerId(3)] {
            let line = Line::new(store.next_seq(), Stream::Stdout, "x");
            store.buffer(id).lock().unwrap().push(line);
        }
        assert_eq!(store.workers(), 2, "only used ids get a buffer");
        store.forget(WorkerId(3));
        assert_eq!(store.workers(), 1);
        assert!(store.tail(WorkerId(3), 5).is_empty());
        assert_eq!(store.tail(WorkerId(0), 5).len(), 1);
    }
}
