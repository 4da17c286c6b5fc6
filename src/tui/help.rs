//! The help overlay, generated from the keymap table and the dialogs' key lists, so
//! it always says what the keys do.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::draw::dialog;
use super::format::wrap;
use super::keymap::{self, BINDINGS, Context};
use super::theme::Theme;
use super::{confirm, launch_dialog, signal_menu};

/// Width of the key column.
const KEY_W: usize = 16;

/// The help text in two parts: panel keys and dialogs, then keys that work
/// anywhere (and, in map mode, the keys that are off there).
/// Lines are wrapped to `width` columns, so no help text is cut.
pub fn columns(theme: &Theme, map: bool, width: usize) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let entry = |keys: String, help: String, theme: &Theme| entry(keys, help, theme, width);
    let mut left = Vec::new();
    for context in [
        Context::Workers,
        Context::Logs,
        Context::Search,
        Context::Tree,
    ] {
        left.extend(context_lines(context, theme, width));
    }
    for (name, keys) in [
        ("Signal menu", signal_menu::KEYS),
        ("Launch dialog", launch_dialog::KEYS),
        ("Confirmation", confirm::KEYS),
    ] {
        left.push(section(name, theme));
        left.extend(
            keys.iter()
                .flat_map(|(k, h)| entry(k.to_string(), h.to_string(), theme)),
        );
        left.push(Line::default());
    }
    let mut right = context_lines(Context::Global, theme, width);
    for note in [
        "Typing a filter or search: Enter keeps it, Esc clears it.",
        "Mouse: click selects, wheel scrolls; m frees the mouse.",
    ] {
        for text in wrap(note, width.saturating_sub(1).max(12)) {
            right.push(Line::from(Span::styled(format!(" {text}"), theme.dim())));
        }
    }
    if map {
        right.push(Line::default());
        right.push(section("Off in map mode", theme));
        for b in BINDINGS {
            if let Some(why) = b.action.off_in_map() {
                right.extend(entry(keymap::keys_label(b.keys), why.into(), theme));
            }
        }
    }
    (left, right)
}

/// A context's bindings; pairs such as ↑/↓ that share a description share a line.
fn context_lines(context: Context, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for b in BINDINGS.iter().filter(|b| b.context == context) {
        let help = b.action.help();
        if let Some(i) = seen.iter().position(|(_, h)| *h == help) {
            seen[i].0.push(' ');
            seen[i].0.push_str(&keymap::keys_label(b.keys));
            continue;
        }
        seen.push((keymap::keys_label(b.keys), help.into_owned()));
    }
    let mut out = vec![section(context.title(), theme)];
    out.extend(
        seen.into_iter()
            .flat_map(|(k, h)| entry(k, h, theme, width)),
    );
    out.push(Line::default());
    out
}

fn section(name: &str, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(
        format!(" {name}"),
        theme.accent().patch(theme.bold()),
    ))
}

/// One key's lines: the keys, then the help text word-wrapped beside them.
fn entry(keys: String, help: String, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let indent = 3 + KEY_W.max(keys.chars().count());
    let mut out = Vec::new();
    for (i, text) in wrap(&help, width.saturating_sub(indent).max(12))
        .into_iter()
        .enumerate()
    {
        let lead = if i == 0 {
            Span::styled(format!("   {keys:<KEY_W$}"), theme.bold())
        } else {
            Span::raw(" ".repeat(indent))
        };
        out.push(Line::from(vec![lead, Span::raw(text)]));
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, scroll: u16, theme: &Theme, map: bool) {
    let two = area.width >= 150;
    // The text column's width inside the dialog (two halves, or one).
    let text_width = if two {
        74
    } else {
        area.width.min(80).saturating_sub(2) as usize
    };
    let (left, right) = columns(theme, map, text_width);
    let rows = if two {
        left.len().max(right.len())
    } else {
        left.len() + right.len()
    };
    let width = if two { 150 } else { 80 };
    let height = (rows as u16 + 2).min(area.height);
    let inner = dialog(frame, area, width, height, "Help · proctor keys", theme);
    if inner.is_empty() {
        return;
    }
    let max_scroll = (rows as u16).saturating_sub(inner.height);
    if max_scroll > 0 && inner.height >= 3 {
        let more = Line::from(Span::styled(
            " ↑↓ PgUp PgDn scroll · Esc closes ",
            theme.dim(),
        ));
        let bottom = Rect {
            y: inner.bottom(),
            height: 1,
            ..inner
        };
        frame.render_widget(
            Paragraph::new(more).alignment(ratatui::layout::Alignment::Right),
            bottom,
        );
    }
    let scroll = (scroll.min(max_scroll), 0);
    if two {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(left).scroll(scroll), l);
        frame.render_widget(Paragraph::new(right).scroll(scroll), r);
    } else {
        let mut all = left;
        all.extend(right);
        frame.render_widget(Paragraph::new(all).scroll(scroll), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_help_line_is_wider_than_its_column() {
        for width in [40, 74, 78] {
            let (left, right) = columns(&Theme { color: false }, true, width);
            for line in left.iter().chain(&right) {
                assert!(
                    line.width() <= width.max(3 + KEY_W + 12),
                    "{width}: {line:?}"
                );
            }
        }
    }
}
