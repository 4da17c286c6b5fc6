//! The `join all` summary: how every worker ended, and the ones that did not exit 0.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::draw::{dialog, hint_line};
use super::format;
use crate::engine::{Snapshot, WorkerState};

/// Failures listed by name; the rest are counted.
const LIST: usize = 8;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let t = &app.theme;
    let workers = &snapshot.workers;
    let count = |s: WorkerState| workers.iter().filter(|w| w.state == s).count();
    let ok = workers
        .iter()
        .filter(|w| w.state == WorkerState::Exited && w.code == Some(0))
        .count();
    let bad: Vec<_> = workers
        .iter()
        .filter(|w| w.state.is_finished() && w.state != WorkerState::Cancelled && w.code != Some(0))
        .collect();
    let mut lines = vec![
        Line::default(),
        Line::from(vec![
            Span::styled(format!("  {} workers   ", workers.len()), t.bold()),
            Span::styled(format!("{ok} exited 0"), t.good()),
            Span::raw(format!(
                " · {} failed · {} signaled · {} cancelled",
                count(WorkerState::Failed) + count(WorkerState::Exited) - ok,
                count(WorkerState::Signaled),
                count(WorkerState::Cancelled)
            )),
        ]),
        Line::default(),
    ];
    let verdict = match app.lifecycle.joined_all {
        Some(true) => Span::styled("  ✓ every worker exited 0", t.good()),
        _ => Span::styled("  ✗ not every worker exited 0", t.error()),
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
