//! One worker's kept output, stored compactly: the raw bytes of its lines back to
//! back in one ring, plus a small index entry per line. Ingest is a copy and an
//! index push, with no allocation per line; a line becomes a `String` (decoded as
//! lossy UTF-8 and neutralised) only when a front end reads it.

use std::collections::VecDeque;

use super::{Line, neutralised};
use crate::engine::event::Stream;

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    /// Absolute offset of the line's first byte (counted since the buffer began).
    start: u64,
    len: u32,
    stream: Stream,
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
    /// Lines dropped from the front since the worker started (for scroll anchors).
    pub dropped: u64,
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
        }
    }

    /// Stores one line's raw bytes (no newline).
    pub fn push_bytes(&mut self, seq: u64, stream: Stream, bytes: &[u8]) {
        self.append(seq, stream, bytes);
        self.fit();
    }

    /// Stores a line without enforcing the limits yet: a reader appends a whole
    /// chunk's lines, then calls `fit` once.
    pub fn append(&mut self, seq: u64, stream: Stream, bytes: &[u8]) {
        let start = self.base + self.data.len() as u64;
        self.data.extend(bytes);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.index.push_back(Slot {
            seq,
            start,
            len,
            stream,
        });
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

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Line `i` (0 = oldest kept), decoded and neutralised.
    pub fn line(&self, i: usize) -> Option<Line> {
        let slot = self.index.get(i)?;
        Some(Line {
            seq: slot.seq,
            stream: slot.stream,
            text: self.text_of(slot),
        })
    }

    /// The `seq` of line `i`.
    pub fn seq(&self, i: usize) -> Option<u64> {
        self.index.get(i).map(|s| s.seq)
    }

    /// The index of the first line whose `seq` is not below `seq` (lines are in
    /// `seq` order within a buffer).
    pub fn position_of_seq(&self, seq: u64) -> usize {
        self.index.partition_point(|s| s.seq < seq)
    }

    /// Lines `from..to` (clamped), decoded.
    pub fn lines(&self, from: usize, to: usize) -> impl Iterator<Item = Line> + '_ {
        let to = to.min(self.index.len());
        (from.min(to)..to).filter_map(|i| self.line(i))
    }

    /// The newest line's text, decoded.
    pub fn last_text(&self) -> Option<String> {
        self.index.back().map(|s| self.text_of(s))
    }

    fn text_of(&self, slot: &Slot) -> String {
        let from = (slot.start - self.base) as usize;
        let to = from + slot.len as usize;
        let (a, b) = self.data.as_slices();
        let bytes: std::borrow::Cow<'_, [u8]> = if to <= a.len() {
            std::borrow::Cow::Borrowed(&a[from..to])
        } else if from >= a.len() {
            std::borrow::Cow::Borrowed(&b[from - a.len()..to - a.len()])
        } else {
            std::borrow::Cow::Owned([&a[from..], &b[..to - a.len()]].concat())
        };
        neutralised(String::from_utf8_lossy(&bytes).into_owned())
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
                .map_or(old.start + u64::from(old.len), |s| s.start);
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
}
