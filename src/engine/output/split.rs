//! Splitting a byte stream into lines, without allocating per line: complete
//! lines inside a chunk are handed out as slices of it; only a line that spans
//! chunks is gathered in a buffer of its own.

use super::MAX_LINE;

/// Splits a byte stream into lines: a trailing CR dropped, lines over `MAX_LINE`
/// cut and marked (the rest of such a line is skipped up to its newline).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Bytes skipped from the line being cut.
    skipping: Option<usize>,
}

impl LineSplitter {
    /// Feeds a chunk; calls `emit` with every complete line (no newline).
    pub fn feed<F: FnMut(&[u8]) + ?Sized>(&mut self, mut chunk: &[u8], emit: &mut F) {
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
                    self.emit_cut(n, emit);
                }
                continue;
            }
            let room = MAX_LINE - self.partial.len();
            if piece.len() > room {
                self.partial.extend_from_slice(&piece[..room]);
                let skipped = piece.len() - room;
                if complete {
                    self.emit_cut(skipped, emit);
                } else {
                    self.skipping = Some(skipped);
                }
                continue;
            }
            if !complete {
                self.partial.extend_from_slice(piece);
            } else if self.partial.is_empty() {
                emit(strip_cr(piece)); // the fast path: a whole line inside the chunk
            } else {
                self.partial.extend_from_slice(piece);
                emit(strip_cr(&self.partial));
                self.partial.clear();
            }
        }
    }

    /// The line gathered so far that has no newline yet.
    pub fn pending(&self) -> &[u8] {
        &self.partial
    }

    /// At end of stream: the last line if it had no newline.
    pub fn finish<F: FnMut(&[u8]) + ?Sized>(&mut self, emit: &mut F) {
        if let Some(skipped) = self.skipping.take() {
            self.emit_cut(skipped, emit);
        } else if !self.partial.is_empty() {
            emit(strip_cr(&self.partial));
            self.partial.clear();
        }
    }

    fn emit_cut<F: FnMut(&[u8]) + ?Sized>(&mut self, skipped: usize, emit: &mut F) {
        let kept = strip_cr(&self.partial).len();
        self.partial.truncate(kept);
        self.partial
            .extend_from_slice(format!(" [line cut: {skipped} more bytes]").as_bytes());
        emit(&self.partial);
        self.partial.clear();
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line's bytes as text for the event stream: lossy UTF-8 (JSON escapes the rest).
pub fn to_text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| out.push(to_text(l)));
        }
        s.finish(&mut |l| out.push(to_text(l)));
        out
    }

    #[test]
    fn splits_across_chunks_and_keeps_last_partial_line() {
        assert_eq!(split(&[b"a\nb", b"c\r\nd"]), ["a", "bc", "d"]);
        assert_eq!(split(&[b"x\r\n\n"]), ["x", ""]);
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
        let out = split(&[&long]);
        assert!(
            out[0].ends_with("[line cut: 10 more bytes]"),
            "cut at end of stream too"
        );
    }
}
