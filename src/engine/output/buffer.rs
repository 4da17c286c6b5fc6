//! One worker's kept output, stored compactly: the raw bytes of its lines back to
//! back in one ring, plus a small index entry per line. Ingest is a copy and an
//! index push, with no allocation per line; a line becomes a `String` (decoded as
//! lossy UTF-8, overlaid as a terminal would show it, and neutralised) only when a
//! front end reads it. Each stream's unfinished line (a prompt, a progress bar) is
//! kept beside the ring and read as the newest line; a restarted worker's runs are
//! separated by a marker entry.

use std::collections::VecDeque;

use super::overlay::overlaid;
use super::{Line, LineKind, neutralised};
use crate::engine::event::Stream;

/// `Slot::len`'s top bits say what the entry is; the rest is the byte length.
const KIND_SHIFT: u32 = 30;
const LEN_MASK: u32 = (1 << KIND_SHIFT) - 1;
const KIND_STDERR: u32 = 1;
/// A run marker: its bytes are the run's number.
const KIND_RUN: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    /// Absolute offset of the line's first byte (counted since the buffer began).
    start: u64,
    /// Length and kind packed, so a slot stays 24 bytes.
    len: u32,
    /// When the line arrived, in seconds since the Unix epoch.
    at: u32,
}

impl Slot {
    fn len(&self) -> usize {
        (self.len & LEN_MASK) as usize
    }

    fn kind(&self) -> u32 {
        self.len >> KIND_SHIFT
    }

    fn stream(&self) -> Stream {
        if self.kind() == KIND_STDERR {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
}

/// A stream's line that has no newline yet.
#[derive(Debug, Default)]
struct Pending {
    seq: u64,
    at: u32,
    bytes: Vec<u8>,
}

/// Now, in the seconds `Line::at` counts.
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// The last `capacity` lines of one worker, and at most `byte_cap` bytes of text.
#[derive(Debug)]
pub struct LogBuffer {
    data: VecDeque<u8>,
    index: VecDeque<Slot>,
    /// Absolute offset of `data[0]`.
    base: u64,
    capacity: usize,
    byte_cap: usize,
    /// Lines dropped from the front since the worker started (for scroll anchors,
    /// and to say how many earlier lines made room for newer ones).
    pub dropped: u64,
    /// The unfinished line of stdout and of stderr.
    pending: [Pending; 2],
    /// Runs started (a restart adds a marker line before the next run's output).
    runs: u32,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        LogBuffer {
            data: VecDeque::new(),
            index: VecDeque::new(),
            base: 0,
            capacity: capacity.max(1),
            byte_cap: usize::MAX,
            dropped: 0,
            pending: Default::default(),
            runs: 0,
        }
    }

    /// Stores one line's raw bytes (no newline).
    pub fn push_bytes(&mut self, seq: u64, stream: Stream, bytes: &[u8]) {
        self.append(seq, stream, unix_now(), bytes);
        self.fit();
    }

    /// Stores a line without enforcing the limits yet: a reader appends a whole
    /// chunk's lines, then calls `fit` once.
    /// `at` is when the line arrived (`unix_now`).
    pub fn append(&mut self, seq: u64, stream: Stream, at: u32, bytes: &[u8]) {
        let kind = match stream {
            Stream::Stdout => 0,
            Stream::Stderr => KIND_STDERR,
        };
        self.append_slot(seq, kind, at, bytes);
    }

    fn append_slot(&mut self, seq: u64, kind: u32, at: u32, bytes: &[u8]) {
        // Lines are cut at `MAX_LINE` long before the length bits run out.
        let bytes = &bytes[..bytes.len().min(LEN_MASK as usize)];
        let start = self.base + self.data.len() as u64;
        self.data.extend(bytes);
        self.index.push_back(Slot {
            seq,
            start,
            len: bytes.len() as u32 | kind << KIND_SHIFT,
            at,
        });
    }

    /// Sets `stream`'s unfinished line (empty: none), shown as the newest line
    /// until its newline arrives.
    pub fn set_pending(&mut self, stream: Stream, seq: u64, at: u32, bytes: &[u8]) {
        let p = &mut self.pending[stream as usize];
        // The time a line shows is when its first bytes came.
        if p.bytes.is_empty() {
            p.at = at;
        }
        p.bytes.clear();
        if bytes.is_empty() {
            p.bytes.shrink_to(256);
            return;
        }
        p.seq = seq;
        p.bytes.extend_from_slice(bytes);
    }

    /// A run starts: from the second run on, a marker line separates it from the
    /// previous run's output.
    pub fn start_run(&mut self, seq: u64) {
        self.runs += 1;
        if self.runs > 1 {
            let number = self.runs.to_string();
            self.append_slot(seq, KIND_RUN, unix_now(), number.as_bytes());
            self.fit();
        }
    }

    /// Drops the oldest lines until both limits hold.
    pub fn fit(&mut self) {
        self.trim();
    }

    /// Stores a line that is already text (tests, fabricated scenes).
    pub fn push(&mut self, line: Line) {
        self.push_bytes(line.seq, line.stream, line.text.as_bytes());
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
        self.data.len()
    }

    /// Lines kept, the unfinished ones included.
    pub fn len(&self) -> usize {
        self.index.len() + self.pendings().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Line `i` (0 = oldest kept), decoded, overlaid and neutralised; the
    /// unfinished lines come last.
    pub fn line(&self, i: usize) -> Option<Line> {
        let Some(slot) = self.index.get(i) else {
            let (stream, seq, p) = self.pendings().nth(i - self.index.len())?;
            return Some(Line {
                seq,
                stream,
                text: show(&p.bytes),
                at: p.at,
                kind: LineKind::Partial,
            });
        };
        let (text, kind) = match slot.kind() {
            KIND_RUN => {
                let run = String::from_utf8_lossy(self.bytes_of(slot).as_ref()).into_owned();
                let number = run.parse().unwrap_or(0);
                (format!("── run {run} ──"), LineKind::RunStart(number))
            }
            _ => (show(self.bytes_of(slot).as_ref()), LineKind::Output),
        };
        Some(Line {
            seq: slot.seq,
            stream: slot.stream(),
            text,
            at: slot.at,
            kind,
        })
    }

    /// The `seq` of line `i`.
    pub fn seq(&self, i: usize) -> Option<u64> {
        match self.index.get(i) {
            Some(s) => Some(s.seq),
            None => self.pendings().nth(i - self.index.len()).map(|p| p.1),
        }
    }

    /// The index of the first line whose `seq` is not below `seq` (lines are in
    /// `seq` order within a buffer).
    pub fn position_of_seq(&self, seq: u64) -> usize {
        let done = self.index.partition_point(|s| s.seq < seq);
        if done < self.index.len() {
            return done;
        }
        done + self.pendings().filter(|p| p.1 < seq).count()
    }

    /// The unfinished lines in `seq` order, each with the `seq` it is read with:
    /// never below the newest finished line's, so a buffer stays in `seq` order.
    fn pendings(&self) -> impl Iterator<Item = (Stream, u64, &Pending)> {
        let floor = self.index.back().map_or(0, |s| s.seq);
        let mut both = [Stream::Stdout, Stream::Stderr].map(|stream| {
            (
                stream,
                self.pending[stream as usize].seq.max(floor),
                &self.pending[stream as usize],
            )
        });
        if both[1].1 < both[0].1 {
            both.swap(0, 1);
        }
        both.into_iter().filter(|p| !p.2.bytes.is_empty())
    }

    /// Lines `from..to` (clamped), decoded.
    pub fn lines(&self, from: usize, to: usize) -> impl Iterator<Item = Line> + '_ {
        let to = to.min(self.len());
        (from.min(to)..to).filter_map(|i| self.line(i))
    }

    /// The newest finished line's text, decoded.
    pub fn last_text(&self) -> Option<String> {
        self.index
            .iter()
            .rev()
            .find(|s| s.kind() != KIND_RUN)
            .map(|s| show(self.bytes_of(s).as_ref()))
    }

    fn bytes_of(&self, slot: &Slot) -> std::borrow::Cow<'_, [u8]> {
        let from = (slot.start - self.base) as usize;
        let to = from + slot.len();
        let (a, b) = self.data.as_slices();
        let bytes: std::borrow::Cow<'_, [u8]> = if to <= a.len() {
            std::borrow::Cow::Borrowed(&a[from..to])
        } else if from >= a.len() {
            std::borrow::Cow::Borrowed(&b[from - a.len()..to - a.len()])
        } else {
            std::borrow::Cow::Owned([&a[from..], &b[..to - a.len()]].concat())
        };
        bytes
    }

    fn trim(&mut self) {
        // The newest line always stays, even if it alone is over the cap.
        while self.index.len() > 1
            && (self.index.len() > self.capacity || self.data.len() > self.byte_cap)
        {
            let Some(old) = self.index.pop_front() else {
                break;
            };
            let next = self
                .index
                .front()
                .map_or(old.start + old.len() as u64, |s| s.start);
            let drop = (next - self.base) as usize;
            self.data.drain(..drop.min(self.data.len()));
            self.base = next;
            self.dropped += 1;
        }
        // Rings only grow by doubling and never give memory back on their own: a
        // buffer that filled up while its share was large (few workers yet) would
        // keep that memory after the share shrank. Give back what is far beyond use.
        if self.data.capacity() > 2 * self.data.len().max(MIN_KEEP) {
            self.data.shrink_to(self.data.len().max(MIN_KEEP));
        }
        if self.index.capacity() > 2 * self.index.len().max(MIN_KEEP / 64) {
            self.index.shrink_to(self.index.len().max(MIN_KEEP / 64));
        }
    }
}

/// What a line's bytes show: lossy UTF-8, as a terminal leaves it, neutralised.
fn show(bytes: &[u8]) -> String {
    neutralised(overlaid(String::from_utf8_lossy(bytes).into_owned()))
}

/// Capacity kept even for a quiet buffer, so shrinking does not churn.
const MIN_KEEP: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(b: &LogBuffer) -> Vec<String> {
        b.lines(0, usize::MAX).map(|l| l.text).collect()
    }

    #[test]
    fn keeps_the_newest_lines_within_both_limits() {
        let mut b = LogBuffer::new(3);
        for i in 0..5u64 {
            b.push_bytes(i, Stream::Stdout, format!("line {i}").as_bytes());
        }
        assert_eq!(texts(&b), ["line 2", "line 3", "line 4"]);
        assert_eq!(b.dropped, 2);
        b.set_byte_cap(12);
        assert_eq!(texts(&b), ["line 3", "line 4"]);
        assert_eq!(b.bytes(), 12);
    }

    #[test]
    fn lines_are_decoded_lossily_and_neutralised_on_read() {
        let mut b = LogBuffer::new(10);
        b.push_bytes(0, Stream::Stderr, b"\x1b[2Jbad \xff byte");
        let line = b.line(0).unwrap();
        assert_eq!(line.text, "^[[2Jbad \u{fffd} byte");
        assert_eq!(line.stream, Stream::Stderr);
    }

    #[test]
    fn reading_works_across_the_ring_wrap() {
        let mut b = LogBuffer::new(4);
        for i in 0..50u64 {
            b.push_bytes(
                i,
                Stream::Stdout,
                format!("{i:03}-{}", "x".repeat(i as usize % 7)).as_bytes(),
            );
        }
        let got = texts(&b);
        let want: Vec<String> = (46..50)
            .map(|i| format!("{i:03}-{}", "x".repeat(i % 7)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(b.position_of_seq(48), 2);
        assert_eq!(b.seq(0), Some(46));
    }

    #[test]
    fn unfinished_lines_read_last_and_carriage_returns_rewrite() {
        let mut b = LogBuffer::new(10);
        b.append(0, Stream::Stdout, 5, b"done");
        b.set_pending(Stream::Stdout, 3, 7, b"10%\r50%");
        b.set_pending(Stream::Stderr, 2, 7, b"password: ");
        assert_eq!(texts(&b), ["done", "password: ", "50%"]);
        let last = b.line(2).unwrap();
        assert_eq!((last.kind, last.at, last.seq), (LineKind::Partial, 7, 3));
        assert_eq!(b.position_of_seq(3), 2);
        b.set_pending(Stream::Stdout, 9, 8, b"");
        b.append(4, Stream::Stdout, 8, b"10%\r100%");
        assert_eq!(texts(&b), ["done", "100%", "password: "]);
        assert_eq!(b.last_text().as_deref(), Some("100%"));
    }

    #[test]
    fn a_restart_puts_a_marker_between_runs() {
        let mut b = LogBuffer::new(10);
        b.start_run(0);
        b.push_bytes(1, Stream::Stdout, b"first");
        b.start_run(2);
        b.push_bytes(3, Stream::Stdout, b"second");
        assert_eq!(texts(&b), ["first", "── run 2 ──", "second"]);
        assert_eq!(b.line(1).unwrap().kind, LineKind::RunStart(2));
        assert_eq!(b.last_text().as_deref(), Some("second"));
    }
}
