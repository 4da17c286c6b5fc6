//! The logs panel: the selected worker's output, or every worker's merged by `seq`
//! with name prefixes. stderr lines carry a red marker; search matches are
//! highlighted. Only the lines on screen are copied out of the store.

use ratatui::Frame;
use ratatui::layout::{Alignment, Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::app::{App, Focus};
use super::draw::{cursor_on_bottom_border, panel, title};
use super::format;
use super::log_rows::{self, Layout};
use crate::engine::output::Line as StoredLine;
use crate::engine::{OutputStore, Snapshot, WorkerId, WorkerState};

/// Where the visible lines came from, for the title and the scrollbar.
struct Window {
    lines: Vec<(Option<WorkerId>, StoredLine, u64)>,
    /// (first kept, end) for one worker; `None` for the merged view.
    extent: Option<(u64, u64)>,
    /// Earlier lines the rings dropped to make room (of this worker, or of all).
    dropped: u64,
}

fn fetch(app: &App, store: &OutputStore, height: usize) -> Window {
    let view = &app.logs;
    if view.merged {
        let lines = store
            .merged(view.top, height)
            .into_iter()
            .map(|(id, l)| {
                let seq = l.seq;
                (Some(id), l, seq)
            })
            .collect();
        return Window {
            lines,
            extent: None,
            dropped: store.dropped_all(),
        };
    }
    let Some(id) = view.worker else {
        return Window {
            lines: Vec::new(),
            extent: None,
            dropped: 0,
        };
    };
    let (first, end) = store.extent(id);
    let bottom = end.saturating_sub(height as u64).max(first);
    let from = view.top.unwrap_or(bottom).clamp(first, bottom);
    let lines = store
        .range(id, from, height)
        .into_iter()
        .enumerate()
        .map(|(i, l)| (None, l, from + i as u64))
        .collect();
    Window {
        lines,
        extent: Some((first, end)),
        dropped: first,
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, store: &OutputStore) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let view = &app.logs;
    let focused = app.focus == Focus::Logs;
    let subject = if view.merged {
        "all workers".to_string()
    } else {
        app.workers
            .selected_view(snapshot)
            .map_or("no worker selected".to_string(), |w| {
                format::safe(&w.name).into_owned()
            })
    };
    let mut extra = vec![Span::styled(format!("· {subject} "), t.bold())];
    if let Some(w) = app.workers.selected_view(snapshot).filter(|_| !view.merged) {
        extra.push(Span::styled(
            format!("{} ", format::safe(&w.command)),
            t.dim(),
        ));
    }
    let mut block = panel(title("Logs", focused, t, extra), focused, t);
    let selected = app.workers.selected_view(snapshot).filter(|_| !view.merged);
    let failure = selected
        .filter(|w| w.state == WorkerState::Failed)
        .and_then(|w| w.error.as_deref());
    // Why the selected worker has not run: what it waits for, or why it was skipped.
    let why = selected.and_then(|w| super::deps_view::notice(w, snapshot, app.now));
    let notices = u16::from(failure.is_some()) + u16::from(why.is_some());
    let height = area.height.saturating_sub(2 + notices) as usize;
    let window = fetch(app, store, height);
    let position = match (view.top, window.extent) {
        (None, _) => Span::styled(" ● follow ", t.good()),
        (Some(top), Some((first, end))) => {
            // 1-based numbers of the first and last visible line among those kept.
            let from = top.saturating_sub(first) + 1;
            let to = (top + height as u64).min(end).saturating_sub(first);
            let total = end - first;
            Span::styled(format!(" {from}–{to} of {total} · End follows "), t.warn())
        }
        (Some(_), None) => Span::styled(" scrolled · End follows ", t.warn()),
    };
    let mut right = vec![position];
    if window.dropped > 0 {
        let dropped = format!(" {} dropped ", window.dropped);
        right.insert(0, Span::styled(dropped, t.warn()));
    }
    block = block.title(Line::from(right).alignment(Alignment::Right));
    if let Some(search) = &view.search {
        let (text, cursor) = search
            .input
            .view(area.width.saturating_sub(30).max(1), t.accent());
        let mut spans = vec![Span::styled(" /", t.bold())];
        spans.extend(text.spans);
        match &search.error {
            Some(e) => spans.push(Span::styled(format!("  ✗ {e} "), t.error())),
            None if !search.editing => spans.push(Span::styled("  n next · N prev ", t.dim())),
            None => spans.push(Span::raw(" ")),
        }
        block = block.title_bottom(Line::from(spans));
        if search.editing {
            cursor_on_bottom_border(frame, area, 3 + cursor);
        }
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let mut inner = inner;
    if let Some(error) = failure {
        // The reason stays here (and in the row) after the notice is gone.
        let text = format!("✗ could not start: {}", format::safe(error));
        let row = Rect {
            y: inner.bottom().saturating_sub(1),
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.error())), row);
        inner.height = inner.height.saturating_sub(1);
    }
    if let Some(text) = &why {
        let style = if selected.is_some_and(|w| w.state == WorkerState::Skipped) {
            t.warn()
        } else {
            t.dim()
        };
        let row = Rect {
            y: inner.bottom().saturating_sub(1),
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(Span::styled(text.as_str(), style)), row);
        inner.height = inner.height.saturating_sub(1);
    }
    if window.lines.is_empty() {
        let text = if failure.is_none() && why.is_none() && (view.merged || view.worker.is_some()) {
            "no output yet"
        } else {
            ""
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim())), inner);
        return;
    }
    let regex = view.search.as_ref().and_then(|s| s.regex.as_ref());
    let current = view.search.as_ref().and_then(|s| s.current);
    let prefix_width = if view.merged {
        window
            .lines
            .iter()
            .filter_map(|(id, _, _)| name_of(snapshot, *id))
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .min(16)
    } else {
        0
    };
    let layout = Layout {
        width: inner.width as usize,
        wrap: !view.nowrap,
        skip: view.skip,
        timestamps: view.timestamps,
        regex,
    };
    let mut lines: Vec<Line> = Vec::new();
    let dropped_here = window
        .extent
        .zip(window.lines.first())
        .is_some_and(|((first, _), (_, _, number))| *number == first);
    if dropped_here && window.dropped > 0 {
        let text = format!(
            " ⋯ {} dropped to make room for newer output",
            format::count(window.dropped as usize, "earlier line")
        );
        lines.push(Line::from(Span::styled(text, t.warn())));
    }
    for (id, line, number) in &window.lines {
        let name = view.merged.then(|| {
            let name = format::safe(name_of(snapshot, *id).unwrap_or("?"));
            let name: String = name.chars().take(prefix_width).collect();
            Span::styled(
                format!("{name:<prefix_width$}"),
                t.worker(id.map_or(0, |i| i.0)),
            )
        });
        let is_current = current == Some(*number);
        lines.extend(log_rows::rows(line, name, &layout, is_current, t));
    }
    // Following shows the newest rows; a scrolled view starts at its top line.
    let rows = inner.height as usize;
    if view.top.is_none() && lines.len() > rows {
        lines.drain(..lines.len() - rows);
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((first, end)) = window.extent {
        let total = (end - first) as usize;
        if total > height {
            let top = view
                .top
                .map_or(total - height, |t| (t.saturating_sub(first)) as usize);
            let mut bar = ScrollbarState::new(total - height).position(top.min(total - height));
            frame.render_stateful_widget(
                Scrollbar::new(ScrollbarOrientation::VerticalRight).style(t.dim()),
                area.inner(Margin {
                    horizontal: 0,
                    vertical: 1,
                }),
                &mut bar,
            );
        }
    }
}

fn name_of(snapshot: &Snapshot, id: Option<WorkerId>) -> Option<&str> {
    let id = id?;
    snapshot.workers.get(id.0 as usize).map(|w| w.name.as_str())
}
