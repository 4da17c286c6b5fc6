//! The screen layout, shared helpers for panels and dialogs, and `render`, which
//! draws one frame from the UI state, a snapshot and the output store.
//!
//! Panels collapse as the terminal shrinks: the CPU and queue panels go first,
//! then the logs; below a few cells nothing but what fits is drawn. Map mode puts
//! the tasks panel and the slowest running tasks on top instead.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

use super::app::{App, Overlay};
use super::theme::Theme;
use super::{
    cores, footer, header, help, logs, proc_tree, queue_panel, slowest, summary, tasks_panel,
    workers_table,
};
use crate::engine::{OutputStore, Snapshot};

/// Where each panel goes; a hidden panel has an empty rect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub header: Rect,
    pub cores: Rect,
    pub queue: Rect,
    /// Map mode: the slowest running tasks.
    pub slowest: Rect,
    pub table: Rect,
    pub logs: Rect,
    pub footer: Rect,
}

/// Splits the screen into panels.
pub fn areas(screen: Rect) -> Areas {
    let (mut a, mut body) = frame_lines(screen);
    let top = match body.height {
        h if h >= 40 => 12,
        h if h >= 30 => 9,
        h if h >= 18 => 6,
        _ => 0,
    };
    if top > 0 {
        let [panels, rest] =
            Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(body);
        if panels.width >= 70 {
            let [c, q] =
                Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                    .areas(panels);
            (a.cores, a.queue) = (c, q);
        } else {
            a.queue = panels;
        }
        body = rest;
    }
    (a.table, a.logs) = table_and_logs(body);
    a
}

/// Map mode: the tasks panel and the slowest running tasks lead, taller than
/// the plain queue panel; the CPU panel joins them on wide screens.
pub fn map_areas(screen: Rect) -> Areas {
    let (mut a, mut body) = frame_lines(screen);
    let top = match body.height {
        h if h >= 40 => 10,
        h if h >= 18 => 8,
        h if h >= 12 => 6,
        _ => 0,
    };
    if top > 0 {
        let [panels, rest] =
            Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(body);
        if panels.width >= 150 {
            let [c, q, s] = Layout::horizontal([
                Constraint::Percentage(34),
                Constraint::Percentage(30),
                Constraint::Percentage(36),
            ])
            .areas(panels);
            (a.cores, a.queue, a.slowest) = (c, q, s);
        } else if panels.width >= 70 {
            let [q, s] =
                Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                    .areas(panels);
            (a.queue, a.slowest) = (q, s);
        } else {
            a.queue = panels;
        }
        body = rest;
    }
    (a.table, a.logs) = table_and_logs(body);
    a
}

/// The header and footer lines, and the body between them.
fn frame_lines(screen: Rect) -> (Areas, Rect) {
    let mut a = Areas::default();
    let mut body = screen;
    if body.height >= 3 {
        a.header = Rect { height: 1, ..body };
        body.y += 1;
        body.height -= 1;
    }
    if body.height >= 2 {
        a.footer = Rect {
            y: body.bottom() - 1,
            height: 1,
            ..body
        };
        body.height -= 1;
    }
    (a, body)
}

/// The workers table and the logs: side by side when very wide, else stacked;
/// the table alone when short.
fn table_and_logs(body: Rect) -> (Rect, Rect) {
    if body.width >= 200 && body.height >= 20 {
        let [t, l] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
            .areas(body);
        (t, l)
    } else if body.height >= 10 {
        let [t, l] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        (t, l)
    } else {
        (body, Rect::default())
    }
}

/// Draws one frame. Everything it shows comes from the arguments; `app.now` is
/// the clock, so the same inputs always draw the same screen.
pub fn render(frame: &mut Frame, app: &App, snapshot: &Snapshot, store: &OutputStore) {
    let screen = frame.area();
    let a = app.areas(screen);
    header::render(frame, a.header, app, snapshot);
    cores::render(frame, a.cores, app, snapshot);
    if app.map.is_some() {
        tasks_panel::render(frame, a.queue, app, snapshot);
        slowest::render(frame, a.slowest, app, snapshot);
    } else {
        queue_panel::render(frame, a.queue, app, snapshot);
    }
    workers_table::render(frame, a.table, app, snapshot);
    if app.tree.is_some() {
        proc_tree::render(frame, a.logs, app, snapshot);
    } else {
        logs::render(frame, a.logs, app, snapshot, store);
    }
    footer::render(frame, a.footer, app, snapshot);
    let theme = &app.theme;
    match &app.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => {
            help::render(frame, screen, *scroll, theme, app.map.is_some())
        }
        Some(Overlay::Signal(menu)) => menu.render(frame, screen, theme),
        Some(Overlay::Sort(menu)) => menu.render(frame, screen, theme),
        Some(Overlay::Launch(dialog)) => dialog.render(frame, screen, theme),
        Some(Overlay::Confirm(confirm)) => confirm.render(frame, screen, theme),
        Some(Overlay::Summary) => summary::render(frame, screen, app, snapshot),
        Some(Overlay::Deps { scroll }) => {
            super::deps_view::render(frame, screen, app, snapshot, *scroll)
        }
    }
}

/// A bordered panel with a title.
pub fn panel<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border(focused))
        .title(title)
}

/// A panel title: ` Name ` in the title style, plus extra spans.
pub fn title<'a>(name: &'a str, focused: bool, theme: &Theme, extra: Vec<Span<'a>>) -> Line<'a> {
    let mut spans = vec![Span::styled(format!(" {name} "), theme.title(focused))];
    spans.extend(extra);
    Line::from(spans)
}

/// Draws one line at `*y` inside `inner` and moves down, while there is room.
pub fn put(frame: &mut Frame, inner: Rect, y: &mut u16, content: Line) {
    if *y < inner.bottom() {
        let area = Rect {
            y: *y,
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(content), area);
        *y += 1;
    }
}

/// A `width`×`height` rect centred in `area` (clamped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Clears a centred box, draws its frame and returns the inside.
pub fn dialog(
    frame: &mut Frame,
    area: Rect,
    width: u16,
    height: u16,
    name: &str,
    theme: &Theme,
) -> Rect {
    let outer = centered(area, width, height);
    frame.render_widget(Clear, outer);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border(true))
        .style(theme.dialog())
        .title(Span::styled(format!(" {name} "), theme.title(true)));
    let inner = block.inner(outer);
    frame.render_widget(block, outer);
    inner
}

/// ` key label  key label ` as a line of key chips.
/// Shows the terminal cursor at column `x` of `area`'s bottom border (where an
/// input field sits in a panel's bottom title), if that is on screen.
pub fn cursor_on_bottom_border(frame: &mut Frame, area: Rect, x: u16) {
    let at =
        ratatui::layout::Position::new(area.x.saturating_add(x), area.bottom().saturating_sub(1));
    if area.contains(at) {
        frame.set_cursor_position(at);
    }
}

pub fn hint_line<'a>(keys: &[(&'a str, &'a str)], theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (key, label) in keys {
        spans.push(Span::styled(format!(" {key} "), theme.key()));
        spans.push(Span::styled(format!(" {label}  "), theme.dim()));
    }
    Line::from(spans)
}
