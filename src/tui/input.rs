//! Routing terminal input: an open dialog gets every key, then a line being typed
//! (filter, search), then the keymap. Mouse clicks select rows and focus panels;
//! the wheel moves the selection or scrolls the logs.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::actions::{self, Request};
use super::app::{App, Focus, Overlay, Reply};
use super::confirm::{Confirm, Pending};
use super::keymap;
use crate::engine::{Command, OutputStore, Snapshot};
use crate::signals::signal_name;

/// Lines one wheel notch scrolls.
const WHEEL: i64 = 3;

/// Handles one terminal event; returns what the event loop must do.
pub fn handle(app: &mut App, event: Event, snap: &Snapshot, store: &OutputStore) -> Vec<Request> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => on_key(app, key, snap, store),
        Event::Mouse(mouse) => {
            on_mouse(app, mouse, snap, store);
            Vec::new()
        }
        Event::Paste(text) => {
            on_paste(app, &text, snap);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn on_key(app: &mut App, key: KeyEvent, snap: &Snapshot, store: &OutputStore) -> Vec<Request> {
    if let Some(overlay) = app.overlay.take() {
        return on_overlay_key(app, overlay, key, snap);
    }
    if app.editing() {
        on_edit_key(app, key, snap, store);
        return Vec::new();
    }
    match keymap::lookup(&key, &app.contexts()) {
        Some(action) => actions::apply(app, action, snap, store),
        None => Vec::new(),
    }
}

/// A scrolling overlay's new offset after a key; `None` for a key that closes it.
fn scrolled(scroll: u16, key: KeyEvent) -> Option<u16> {
    Some(match key.code {
        KeyCode::Up => scroll.saturating_sub(1),
        KeyCode::Down => scroll.saturating_add(1),
        KeyCode::PageUp => scroll.saturating_sub(10),
        KeyCode::PageDown => scroll.saturating_add(10),
        KeyCode::Home => 0,
        _ => return None,
    })
}

fn on_overlay_key(app: &mut App, overlay: Overlay, key: KeyEvent, snap: &Snapshot) -> Vec<Request> {
    match overlay {
        Overlay::Help { scroll } => {
            let Some(scroll) = scrolled(scroll, key) else {
                return Vec::new(); // any other key closes the help
            };
            app.overlay = Some(Overlay::Help { scroll });
        }
        Overlay::Deps { scroll } => {
            let Some(scroll) = scrolled(scroll, key) else {
                return Vec::new(); // any other key closes the view
            };
            app.overlay = Some(Overlay::Deps { scroll });
        }
        Overlay::Summary => {
            if matches!(key.code, KeyCode::Char('q') | KeyCode::F(10)) {
                return actions::quit(app, snap);
            }
        }
        Overlay::Signal(mut menu) => match menu.handle(key) {
            Reply::Stay => app.overlay = Some(Overlay::Signal(menu)),
            Reply::Close => {}
            Reply::Submit((signal, _)) if menu.descendant.is_some() => {
                if let (Some((pid, start)), Some(&worker)) = (menu.descendant, menu.targets.first())
                {
                    let command = Command::SignalDescendant {
                        worker,
                        pid,
                        start: Some(start),
                        signal,
                    };
                    let sent = format!("{} sent to pid {pid}", signal_name(signal));
                    app.notify(super::app::Level::Info, sent);
                    return actions::send(app, vec![command]);
                }
            }
            Reply::Submit((signal, group)) => {
                let n = menu.targets.len();
                let command = Command::Signal {
                    workers: menu.targets,
                    signal,
                    group,
                };
                if n > 1 {
                    let name = signal_name(signal);
                    let to = if group { "the groups of " } else { "" };
                    app.overlay = Some(Overlay::Confirm(Confirm {
                        title: format!("Send {name}"),
                        message: format!("Send {name} to {to}{n} marked workers?"),
                        on_yes: Pending::Send(vec![command]),
                    }));
                    return Vec::new();
                }
                return actions::send(app, vec![command]);
            }
        },
        Overlay::Sort(mut menu) => match menu.handle(key) {
            Reply::Stay => app.overlay = Some(Overlay::Sort(menu)),
            Reply::Close => {}
            Reply::Submit(sort) => {
                app.workers.sort = sort;
                app.workers.reverse = false;
                app.workers.sync(snap);
            }
        },
        Overlay::Launch(mut dialog) => match dialog.handle(key) {
            Reply::Stay => app.overlay = Some(Overlay::Launch(dialog)),
            Reply::Close => {}
            Reply::Submit(job) => return actions::launch(app, job),
        },
        Overlay::Confirm(confirm) => match confirm.handle(key) {
            Reply::Stay => app.overlay = Some(Overlay::Confirm(confirm)),
            Reply::Close => {}
            Reply::Submit(()) => match confirm.on_yes {
                Pending::Send(commands) => {
                    app.workers.marked.clear();
                    return actions::send(app, commands);
                }
                Pending::Quit | Pending::Detach => return actions::confirmed_quit(app),
            },
        },
    }
    Vec::new()
}

/// Keys while a filter or search is typed: live update, Enter keeps, Esc clears.
fn on_edit_key(app: &mut App, key: KeyEvent, snap: &Snapshot, store: &OutputStore) {
    if app.workers.filtering {
        match key.code {
            KeyCode::Enter => app.workers.filtering = false,
            KeyCode::Esc => {
                app.workers.filtering = false;
                app.workers.filter.clear();
            }
            _ => {
                app.workers.filter.handle(key);
            }
        }
        app.workers.sync(snap);
        return;
    }
    let Some(search) = &mut app.logs.search else {
        return;
    };
    match key.code {
        KeyCode::Esc => app.logs.search = None,
        KeyCode::Enter => {
            search.editing = false;
            if search.regex.is_none() {
                app.logs.search = None;
            } else if !app.logs.find(store, false) {
                app.notify(super::app::Level::Info, "no match");
            }
        }
        _ => {
            if search.input.handle(key) {
                search.compile();
            }
        }
    }
}

fn on_paste(app: &mut App, text: &str, snap: &Snapshot) {
    match &mut app.overlay {
        Some(Overlay::Launch(dialog)) => dialog.paste(text),
        Some(_) => {}
        None if app.workers.filtering => {
            app.workers.filter.insert(text);
            app.workers.sync(snap);
        }
        None => {
            if let Some(search) = app.logs.search.as_mut().filter(|s| s.editing) {
                search.input.insert(text);
                search.compile();
            }
        }
    }
}

pub fn on_mouse(app: &mut App, mouse: MouseEvent, snap: &Snapshot, store: &OutputStore) {
    if app.overlay.is_some() {
        return;
    }
    let areas = app.areas(app.screen);
    let at = Position::new(mouse.column, mouse.row);
    let over = |r: Rect| r.contains(at);
    match mouse.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let delta = if mouse.kind == MouseEventKind::ScrollUp {
                -WHEEL
            } else {
                WHEEL
            };
            if over(areas.logs) {
                app.logs.scroll(store, delta);
            } else if over(areas.table) {
                app.workers.move_by(delta as isize, snap);
            }
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if over(areas.logs) {
                app.focus = Focus::Logs;
            } else if over(areas.table) {
                app.focus = Focus::Workers;
                // Rows start below the top border and the header row.
                let first_row = areas.table.y + 2;
                if mouse.row >= first_row && mouse.row < areas.table.bottom().saturating_sub(1) {
                    let row = app.workers.offset + (mouse.row - first_row) as usize;
                    if row < app.workers.order.len() {
                        app.workers.select_row(row, snap);
                    }
                }
            }
        }
        _ => {}
    }
}
