//! Stored log lines laid out as screen rows: a prefix (stderr marker, optional
//! arrival time, worker name in the merged view), then the text wrapped to the
//! panel's width or cut and scrolled sideways. Search matches are highlighted.

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use regex::Regex;

use super::format;
use super::theme::Theme;
use crate::engine::Stream;
use crate::engine::output::{Line as StoredLine, LineKind};

/// How the rows are laid out.
pub struct Layout<'a> {
    pub width: usize,
    pub wrap: bool,
    /// Characters skipped at the start of each line when not wrapping.
    pub skip: usize,
    pub timestamps: bool,
    pub regex: Option<&'a Regex>,
}

/// One stored line's rows. `name` is the merged view's prefix, already padded;
/// `current` marks the search's current match.
pub fn rows(
    line: &StoredLine,
    name: Option<Span<'static>>,
    layout: &Layout,
    current: bool,
    t: &Theme,
) -> Vec<Line<'static>> {
    let mut prefix = gutter(line.stream, t);
    if layout.timestamps {
        let clock = if line.at == 0 {
            " ".repeat(9)
        } else {
            format!("{} ", format::clock(line.at))
        };
        prefix.push(Span::styled(clock, t.dim()));
    }
    if let Some(name) = name {
        prefix.push(name);
        prefix.push(Span::styled(" │ ", t.dim()));
    }
    let prefix_width: usize = prefix.iter().map(Span::width).sum();
    let room = layout.width.saturating_sub(prefix_width).max(1);
    let base = match (line.kind, line.stream) {
        (LineKind::RunStart(_), _) => t.accent(),
        (_, Stream::Stderr) => t.stderr(),
        _ => t.text(),
    };
    let spans = highlight(
        format::safe(&line.text),
        layout.regex,
        base,
        t.search_match(),
    );
    let pieces = if layout.wrap {
        split(spans, room)
    } else {
        vec![window(spans, layout.skip, room)]
    };
    let blank = Span::raw(" ".repeat(prefix_width));
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut all = if i == 0 {
                prefix.clone()
            } else {
                vec![blank.clone()]
            };
            all.extend(body);
            let row = Line::from(all);
            if current {
                row.style(t.current_line())
            } else {
                row
            }
        })
        .collect()
}

/// A one-cell marker: a red bar for stderr (`!` without colour), blank for stdout.
fn gutter(stream: Stream, t: &Theme) -> Vec<Span<'static>> {
    match stream {
        Stream::Stderr if t.color => vec![Span::styled("▌", t.stderr())],
        Stream::Stderr => vec![Span::styled("!", t.bold())],
        Stream::Stdout => vec![Span::raw(" ")],
    }
}

/// The line's text split into plain and matching spans.
fn highlight(
    text: Cow<'_, str>,
    regex: Option<&Regex>,
    base: Style,
    hit: Style,
) -> Vec<Span<'static>> {
    let Some(regex) = regex else {
        return vec![Span::styled(text.into_owned(), base)];
    };
    let mut spans = Vec::new();
    let mut at = 0;
    for m in regex.find_iter(&text).filter(|m| !m.is_empty()) {
        if m.start() > at {
            spans.push(Span::styled(text[at..m.start()].to_string(), base));
        }
        spans.push(Span::styled(m.as_str().to_string(), base.patch(hit)));
        at = m.end();
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    spans
}

/// The spans cut into rows of at most `width` characters (at least one row).
fn split(spans: Vec<Span<'static>>, width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        let style = span.style;
        let mut rest: &str = &span.content;
        while !rest.is_empty() {
            if used == width {
                rows.push(Vec::new());
                used = 0;
            }
            let take = byte_at(rest, width - used);
            let (head, tail) = rest.split_at(take);
            used += head.chars().count();
            if let Some(row) = rows.last_mut() {
                row.push(Span::styled(head.to_string(), style));
            }
            rest = tail;
        }
    }
    rows
}

/// The characters `skip..skip + width` of the spans.
fn window(spans: Vec<Span<'static>>, mut skip: usize, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut left = width;
    for span in spans {
        if left == 0 {
            break;
        }
        let text: &str = &span.content;
        let n = text.chars().count();
        if skip >= n {
            skip -= n;
            continue;
        }
        let text = &text[byte_at(text, skip)..];
        skip = 0;
        let shown = &text[..byte_at(text, left)];
        left -= shown.chars().count();
        out.push(Span::styled(shown.to_string(), span.style));
    }
    out
}

/// The byte offset of character `n` (the end when there are fewer).
fn byte_at(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(rows: &[Vec<Span<'static>>]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn split_and_window_count_characters() {
        let spans = vec![Span::raw("abcdé"), Span::raw("fgh")];
        assert_eq!(plain(&split(spans.clone(), 3)), ["abc", "déf", "gh"]);
        assert_eq!(plain(&split(vec![Span::raw("")], 3)), [""]);
        assert_eq!(plain(&[window(spans.clone(), 4, 3)]), ["éfg"]);
        assert_eq!(plain(&[window(spans, 10, 3)]), [""]);
    }
}
