//! The `join all` summary: how every worker ended, and the ones that failed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::draw::{dialog, hint_line};
use super::format;
use crate::engine::{Snapshot, WorkerState, WorkerView};

/// Failures listed by name; the rest are counted.
const LIST: usize = 8;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let t = &app.theme;
    let workers = &snapshot.workers;
    // The header's words and counts: done (exited 0), failed (on its own), stopped
    // (by a person), cancelled (never ran).
    let q = &snapshot.queue;
    let cancelled = workers
        .iter()
        .filter(|w| w.state == WorkerState::Cancelled)
        .count();
    let bad: Vec<_> = workers.iter().filter(|w| failed(w)).collect();
    let mut lines = vec![
        Line::default(),
        Line::from(vec![
            Span::styled(format!("  {} workers   ", workers.len()), t.bold()),
            Span::styled(format!("{} done", q.done), t.good()),
            Span::raw(" · "),
            Span::styled(
                format!("{} failed", q.failed),
                if q.failed > 0 { t.error() } else { t.text() },
            ),
            Span::raw(format!(" · {} stopped · {cancelled} cancelled", q.stopped)),
        ]),
        Line::default(),
    ];
    let verdict = match app.lifecycle.joined_all {
        Some(true) if q.stopped > 0 => Span::styled(
            "  ✓ no worker failed (the stopped ones were stopped by you)",
            t.good(),
        ),
        Some(true) => Span::styled("  ✓ no worker failed", t.good()),
        _ => Span::styled("  ✗ some workers failed:", t.error()),
    };
    lines.push(Line::from(verdict));
    for w in bad.iter().take(LIST) {
        let code = format::exit_code(w);
        lines.push(Line::from(vec![
            Span::styled(format!("    {:<20} ", format::safe(&w.name)), t.bold()),
            Span::styled(code, t.state(w)),
        ]));
    }
    if bad.len() > LIST {
        lines.push(Line::from(Span::styled(
            format!("    … and {} more", bad.len() - LIST),
            t.dim(),
        )));
    }
    lines.push(Line::default());
    lines.push(hint_line(&[("Esc", "close"), ("q", "quit")], t));
    let inner = dialog(
        frame,
        area,
        72,
        lines.len() as u16 + 2,
        "Join all · done",
        t,
    );
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Ended on its own without success: what the exit status counts as a failure.
fn failed(w: &WorkerView) -> bool {
    w.state.is_finished() && w.state != WorkerState::Cancelled && !w.stopped && w.code != Some(0)
}
