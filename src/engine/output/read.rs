//! Read access for front ends: windows of one worker's lines by absolute line
//! number, the merged view of every worker ordered by `seq`, and search. Each call
//! copies only the lines asked for and holds one buffer's lock at a time.
//!
//! An absolute line number counts the lines a ring has dropped, so it stays the same
//! line while new output arrives (a scroll position does not drift).

use std::sync::{Arc, Mutex};

use super::{Line, LogBuffer, OutputStore};
use crate::engine::command::WorkerId;

impl OutputStore {
    /// Absolute numbers of the first line kept for `id` and one past its last line.
    pub fn extent(&self, id: WorkerId) -> (u64, u64) {
        self.read(id, |b| (b.dropped, b.dropped + b.len() as u64))
            .unwrap_or((0, 0))
    }

    /// Up to `n` lines of one worker from absolute line `from` (clamped to what is kept).
    pub fn range(&self, id: WorkerId, from: u64, n: usize) -> Vec<Line> {
        self.read(id, |b| {
            let start = from.saturating_sub(b.dropped) as usize;
            b.lines(start, start.saturating_add(n)).collect()
        })
        .unwrap_or_default()
    }

    /// The absolute number of the first line at or after `from` (`forward`), or the
    /// last at or before it, whose text matches.
    pub fn find(
        &self,
        id: WorkerId,
        from: u64,
        forward: bool,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Option<u64> {
        self.read(id, |b| {
            let at = from.saturating_sub(b.dropped) as usize;
            let mut hit = |i: usize| b.line(i).is_some_and(|l| matches(&l.text));
            let found = if forward {
                (at..b.len()).find(|&i| hit(i))
            } else if from < b.dropped {
                None
            } else {
                (0..=at.min(b.len().checked_sub(1)?))
                    .rev()
                    .find(|&i| hit(i))
            };
            found.map(|i| b.dropped + i as u64)
        })
        .flatten()
    }

    /// The merged view: up to `n` lines of all workers in `seq` order, from the first
    /// line with `seq >= from`, or the newest `n` lines when `from` is `None`.
    pub fn merged(&self, from: Option<u64>, n: usize) -> Vec<(WorkerId, Line)> {
        if n == 0 {
            return Vec::new();
        }
        // First pass: only seq numbers, to find the window without copying text.
        let mut seqs = Vec::new();
        for (_, buffer) in self.all() {
            if let Ok(b) = buffer.lock() {
                let start = match from {
                    Some(s) => b.position_of_seq(s),
                    None => b.len().saturating_sub(n),
                };
                let end = start.saturating_add(n).min(b.len());
                seqs.extend((start..end).filter_map(|i| b.seq(i)));
            }
        }
        // Only the window's edge matters: select it in linear time, no full sort.
        let (low, high) = match from {
            Some(s) if seqs.len() > n => (s, *seqs.select_nth_unstable(n - 1).1),
            Some(s) => (s, u64::MAX),
            None if seqs.len() > n => {
                let at = seqs.len() - n;
                (*seqs.select_nth_unstable(at).1, u64::MAX)
            }
            None => (0, u64::MAX),
        };
        let mut out = Vec::new();
        for (id, buffer) in self.all() {
            if let Ok(b) = buffer.lock() {
                let start = b.position_of_seq(low);
                let end = b.position_of_seq(high.saturating_add(1)).max(start);
                out.extend(b.lines(start, end).map(|l| (id, l)));
            }
        }
        out.sort_unstable_by_key(|(_, l)| l.seq);
        out.truncate(n);
        out
    }

    /// The `seq` of the line `back` lines before the line with `seq` `before` in the
    /// merged view (the oldest kept line when there are fewer).
    pub fn merged_back(&self, before: u64, back: usize) -> Option<u64> {
        let mut seqs = Vec::new();
        for (_, buffer) in self.all() {
            if let Ok(b) = buffer.lock() {
                let end = b.position_of_seq(before);
                let start = end.saturating_sub(back);
                seqs.extend((start..end).filter_map(|i| b.seq(i)));
            }
        }
        if seqs.len() > back {
            let at = seqs.len() - back;
            return Some(*seqs.select_nth_unstable(at).1);
        }
        seqs.into_iter().min()
    }

    /// The `seq` of the nearest matching line at or after `from` (`forward`), or at or
    /// before it, over all workers.
    pub fn merged_find(
        &self,
        from: u64,
        forward: bool,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Option<u64> {
        let mut best: Option<u64> = None;
        for (_, buffer) in self.all() {
            let Ok(b) = buffer.lock() else { continue };
            let found = if forward {
                let start = b.position_of_seq(from);
                b.lines(start, b.len())
                    .find(|l| matches(&l.text))
                    .map(|l| l.seq)
            } else {
                let end = b.position_of_seq(from.saturating_add(1));
                (0..end)
                    .rev()
                    .filter_map(|i| b.line(i))
                    .find(|l| matches(&l.text))
                    .map(|l| l.seq)
            };
            best = match (best, found) {
                (Some(a), Some(b)) if forward => Some(a.min(b)),
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        best
    }

    fn read<T>(&self, id: WorkerId, f: impl FnOnce(&LogBuffer) -> T) -> Option<T> {
        let buffer = self.buffers.read().ok()?.get(id.0 as usize)?.clone()?;
        let b = buffer.lock().ok()?;
        Some(f(&b))
    }

    pub(super) fn all(&self) -> Vec<(WorkerId, Arc<Mutex<LogBuffer>>)> {
        self.buffers
            .read()
            .map(|b| {
                b.iter()
                    .enumerate()
                    .filter_map(|(i, b)| Some((WorkerId(i as u32), b.clone()?)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Stream;

    /// Two workers with interleaved lines: a0 b0 a1 b1 … (seq 0..2n), ring of `cap`.
    fn store(n: usize, cap: usize) -> OutputStore {
        let store = OutputStore::new(cap);
        for i in 0..n {
            for (w, name) in [(0, "a"), (1, "b")] {
                let seq = store.next_seq();
                let buffer = store.buffer(WorkerId(w));
                buffer
                    .lock()
                    .unwrap()
                    .push(Line::new(seq, Stream::Stdout, format!("{name}{i}")));
            }
        }
        store
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn ranges_use_absolute_line_numbers_across_drops() {
        let s = store(10, 4);
        assert_eq!(s.extent(WorkerId(0)), (6, 10));
        assert_eq!(texts(&s.range(WorkerId(0), 7, 2)), ["a7", "a8"]);
        assert_eq!(texts(&s.range(WorkerId(0), 0, 2)), ["a6", "a7"]);
        assert!(s.range(WorkerId(5), 0, 2).is_empty());
        assert_eq!(s.extent(WorkerId(5)), (0, 0));
    }

    #[test]
    fn find_searches_both_ways_inclusively() {
        let s = store(10, 100);
        let is = |t: &'static str| move |x: &str| x == t;
        assert_eq!(s.find(WorkerId(0), 0, true, is("a3")), Some(3));
        assert_eq!(s.find(WorkerId(0), 3, true, is("a3")), Some(3));
        assert_eq!(s.find(WorkerId(0), 4, true, is("a3")), None);
        assert_eq!(s.find(WorkerId(0), 9, false, is("a3")), Some(3));
        assert_eq!(s.find(WorkerId(0), 99, false, is("a9")), Some(9));
        assert_eq!(s.find(WorkerId(0), 2, false, is("a3")), None);
    }

    #[test]
    fn merged_view_orders_by_seq_and_pages() {
        let s = store(5, 100);
        let names =
            |v: Vec<(WorkerId, Line)>| v.into_iter().map(|(_, l)| l.text).collect::<Vec<_>>();
        assert_eq!(names(s.merged(None, 3)), ["b3", "a4", "b4"]);
        assert_eq!(names(s.merged(Some(2), 3)), ["a1", "b1", "a2"]);
        assert_eq!(s.merged_back(7, 3), Some(4));
        assert_eq!(s.merged_back(2, 5), Some(0));
        assert_eq!(s.merged_find(0, true, |t| t.starts_with('b')), Some(1));
        assert_eq!(s.merged_find(8, false, |t| t == "b2"), Some(5));
        assert_eq!(s.merged_find(4, false, |t| t == "b2"), None);
    }

    #[test]
    fn merged_view_of_an_empty_store_is_empty() {
        let s = OutputStore::new(10);
        assert!(s.merged(None, 5).is_empty());
        assert!(s.merged(Some(3), 5).is_empty());
        assert_eq!(s.merged_back(3, 2), None);
    }
}
