//! Map mode's slowest running tasks: the running workers with the longest
//! runtime and their last output line, so a straggler shows at a glance.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::draw::{panel, title};
use super::format;
use crate::engine::{Snapshot, WorkerView};

/// The most tasks listed, however tall the panel.
const MOST: usize = 8;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let running = slowest(snapshot, app.now);
    let count = Span::styled(format!(" {} running ", running.len()), t.dim());
    let block = panel(title("Slowest running", false, t, Vec::new()), false, t)
        .title(Line::from(count).alignment(Alignment::Right));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    if running.is_empty() {
        let row = Rect {
            y: inner.y + inner.height / 2,
            height: 1,
            ..inner
        };
        let text = Paragraph::new(Span::styled("no task running", t.dim()));
        frame.render_widget(text.alignment(Alignment::Center), row);
        return;
    }
    let rows = (inner.height.saturating_sub(1) as usize).min(MOST);
    let shown = &running[..rows.min(running.len())];
    let name_w = shown
        .iter()
        .map(|w| w.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 24);
    let header = format!("{:<name_w$} {:>7}  LAST OUTPUT", "TASK", "TIME");
    let mut lines = vec![Line::from(Span::styled(header, t.table_header()))];
    for w in shown {
        let name: String = format::safe(&w.name).chars().take(name_w).collect();
        let time = format::duration(format::runtime(w, app.now));
        let last = if w.last_line.is_empty() {
            Span::styled("–", t.dim())
        } else {
            Span::raw(format::safe(&w.last_line).into_owned())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<name_w$} "), t.bold()),
            Span::styled(format!("{time:>7}  "), t.state(w)),
            last,
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Running workers, longest runtime first (launch order breaks ties, so rows
/// do not trade places).
pub fn slowest(snapshot: &Snapshot, now: SystemTime) -> Vec<&WorkerView> {
    let mut running: Vec<(std::time::Duration, &WorkerView)> = snapshot
        .workers
        .iter()
        .filter(|w| w.state.is_active())
        .map(|w| (format::runtime(w, now), w))
        .collect();
    running.sort_by(|(ra, a), (rb, b)| rb.cmp(ra).then(a.id.cmp(&b.id)));
    running.into_iter().map(|(_, w)| w).collect()
}
