//! The top line: pool and queue counts, the stop banner, and the latest notice.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Level};
use crate::engine::Snapshot;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let q = &app.queue(snapshot);
    // Map mode counts tasks: pending ones wait in the map driver, not the queue.
    let waiting = if app.map.is_some() {
        "pending"
    } else {
        "queued"
    };
    let badge = if app.map.is_some() {
        " proctor map "
    } else {
        " proctor "
    };
    let mut left = vec![Span::styled(badge, t.badge()), Span::raw(" ")];
    if let Some(reason) = &app.lifecycle.stopping {
        let left_n = q.running + q.depth;
        left.push(Span::styled(
            format!(" STOPPING: {reason} · {left_n} left · q again kills now "),
            t.banner(),
        ));
        left.push(Span::raw(" "));
    } else if app.lifecycle.engine_ended {
        let ended = if app.map.is_some() {
            " run ended · q quits "
        } else {
            " all work has ended · q quits "
        };
        left.push(Span::styled(ended, t.banner()));
        left.push(Span::raw(" "));
    }
    let running = format!("{}/{} running", q.running, app.max_parallel(snapshot));
    left.push(Span::styled(running, t.good()));
    left.push(Span::styled(" · ", t.dim()));
    // Tasks still being read from the input are not counted yet.
    let at_least = if app.map.as_ref().is_some_and(|m| !m.total_known) {
        "≥"
    } else {
        ""
    };
    left.push(Span::raw(format!("{at_least}{} {waiting}", q.depth)));
    left.push(Span::styled(" · ", t.dim()));
    left.push(Span::raw(format!("{} done", q.done)));
    left.push(Span::styled(" · ", t.dim()));
    let failed_style = if q.failed > 0 { t.error() } else { t.text() };
    left.push(Span::styled(format!("{} failed", q.failed), failed_style));
    if q.stopped > 0 {
        left.push(Span::styled(" · ", t.dim()));
        left.push(Span::raw(format!("{} stopped", q.stopped)));
    }
    if let Some(rule) = app.map.as_ref().and_then(|m| m.halted.as_ref()) {
        left.push(Span::styled(format!(" · halted ({rule})"), t.error()));
    }
    if snapshot.queue_paused {
        left.push(Span::styled(" · queue paused", t.warn()));
    }
    if snapshot.queue_closed {
        left.push(Span::styled(" · queue closed", t.dim()));
    }
    let left = Line::from(left);
    let right = match app.current_notice() {
        Some(n) => {
            let style = match n.level {
                Level::Info => t.accent(),
                Level::Good => t.good(),
                Level::Error => t.error(),
            };
            Line::from(Span::styled(format!("{} ", n.text), style))
        }
        None => status(app),
    };
    frame.render_widget(Paragraph::new(left.clone()), area);
    let room = area.width.saturating_sub(left.width() as u16 + 2);
    if room >= 8 {
        let right_area = Rect {
            x: area.right() - room,
            width: room,
            ..area
        };
        frame.render_widget(
            Paragraph::new(right).alignment(Alignment::Right),
            right_area,
        );
    }
}

/// Filter, marks and mouse state, when no notice is showing.
fn status(app: &App) -> Line<'static> {
    let t = &app.theme;
    let w = &app.workers;
    let mut spans = Vec::new();
    if !w.filter.is_empty() {
        spans.push(Span::styled(" · filter ", t.dim()));
        spans.push(Span::styled(format!("'{}'", w.filter.text()), t.accent()));
    }
    if !w.marked.is_empty() {
        spans.push(Span::styled(
            format!(" · {} marked", w.marked.len()),
            t.marked(),
        ));
    }
    if !app.mouse {
        spans.push(Span::styled(" · mouse off", t.dim()));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}
