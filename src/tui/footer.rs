//! The bottom line: the keys that work in the current focus, from the keymap, or the
//! editing keys while a filter or search is typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Overlay};
use super::theme::Theme;
use super::{confirm, keymap, launch_dialog, signal_menu, sort_menu};
use crate::engine::Snapshot;

/// On an empty pool only what works without a worker is offered, so `n launch`
/// always shows.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let entries: Vec<(String, &str)> = match &app.overlay {
        Some(Overlay::Signal(_)) => owned(signal_menu::KEYS),
        Some(Overlay::Sort(_)) => owned(sort_menu::KEYS),
        Some(Overlay::Launch(_)) => owned(launch_dialog::KEYS),
        Some(Overlay::Confirm(_)) => owned(confirm::KEYS),
        Some(Overlay::Help { .. } | Overlay::Deps { .. }) => {
            owned(&[("↑↓", "scroll"), ("Esc", "close")])
        }
        Some(Overlay::Summary) => owned(&[("Esc", "close"), ("q", "quit")]),
        None if app.editing() => owned(&[("Enter", "keep"), ("Esc", "clear"), ("←→", "move")]),
        None => {
            let empty = snapshot.workers.is_empty();
            keymap::footer(&app.contexts(), |action| {
                (app.map.is_none() || action.off_in_map().is_none())
                    && !(empty && action.needs_a_worker())
            })
        }
    };
    let pinned = if app.overlay.is_none() && !app.editing() {
        keymap::FOOTER_PINNED.min(entries.len())
    } else {
        0
    };
    let (left, right) = entries.split_at(entries.len() - pinned);
    let width = area.width as usize;
    let right_width: usize = right.iter().map(chip_width).sum();
    let mut spans = Vec::new();
    let mut used = 0usize;
    for entry in left {
        if used + chip_width(entry) + right_width > width {
            break;
        }
        used += chip_width(entry);
        spans.extend(chip(entry, t));
    }
    if used + right_width <= width {
        spans.push(Span::raw(" ".repeat(width - used - right_width)));
        for entry in right {
            spans.extend(chip(entry, t));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn owned<'a>(keys: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    keys.iter().map(|(k, l)| (k.to_string(), *l)).collect()
}

fn chip_width((key, label): &(String, &str)) -> usize {
    key.chars().count() + label.chars().count() + 4
}

fn chip<'a>((key, label): &(String, &'a str), t: &Theme) -> [Span<'a>; 2] {
    [
        Span::styled(format!(" {key} "), t.key()),
        Span::styled(format!(" {label} "), t.dim()),
    ]
}
