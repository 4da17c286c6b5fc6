//! The bottom line: the keys that work in the current focus, from the keymap, or the
//! editing keys while a filter or search is typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Overlay};
use super::{confirm, keymap, launch_dialog, signal_menu};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let entries: Vec<(String, &str)> = match &app.overlay {
        Some(Overlay::Signal(_)) => owned(signal_menu::KEYS),
        Some(Overlay::Launch(_)) => owned(launch_dialog::KEYS),
        Some(Overlay::Confirm(_)) => owned(confirm::KEYS),
        Some(Overlay::Help { .. }) => owned(&[("↑↓", "scroll"), ("Esc", "close")]),
        Some(Overlay::Summary) => owned(&[("Esc", "close"), ("q", "quit")]),
        None if app.editing() => owned(&[("Enter", "keep"), ("Esc", "clear"), ("←→", "move")]),
        None => keymap::footer(&app.contexts()),
    };
    let mut spans = Vec::new();
    let mut used = 0usize;
    let width = area.width as usize;
    for (key, label) in entries {
        let chip = format!(" {key} ");
        let text = format!(" {label} ");
        let need = chip.chars().count() + text.chars().count();
        if used + need > width {
            break;
        }
        used += need;
        spans.push(Span::styled(chip, t.key()));
        spans.push(Span::styled(text, t.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn owned<'a>(keys: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
    keys.iter().map(|(k, l)| (k.to_string(), *l)).collect()
}
