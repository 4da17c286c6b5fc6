//! htop's F6: the sort column picked from a list rather than cycled to.
//! ↑↓ choose, Enter sorts by it, the first letter picks at once, Esc closes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::Reply;
use super::draw::{dialog, hint_line};
use super::theme::Theme;
use super::worker_list::SortKey;

/// Every sort, in the order the table's columns go.
pub const CHOICES: [SortKey; 6] = [
    SortKey::Launch,
    SortKey::Name,
    SortKey::State,
    SortKey::Cpu,
    SortKey::Memory,
    SortKey::Runtime,
];

/// The menu's keys, for its hint line and the footer.
pub const KEYS: &[(&str, &str)] = &[("↑↓", "choose"), ("Enter", "sort"), ("Esc", "close")];

#[derive(Debug, Clone, PartialEq)]
pub struct SortMenu {
    pub cursor: usize,
    /// CPU and memory of whole trees: the labels say so, as the table does.
    tree: bool,
}

impl SortMenu {
    /// Opens on the current sort.
    pub fn new(current: SortKey, tree: bool) -> Self {
        let cursor = CHOICES.iter().position(|&k| k == current).unwrap_or(0);
        SortMenu { cursor, tree }
    }

    pub fn handle(&mut self, key: KeyEvent) -> Reply<SortKey> {
        match key.code {
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down => self.cursor = (self.cursor + 1).min(CHOICES.len() - 1),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = CHOICES.len() - 1,
            KeyCode::Enter => return Reply::Submit(CHOICES[self.cursor]),
            KeyCode::Esc | KeyCode::F(6) | KeyCode::Char('q') => return Reply::Close,
            KeyCode::Char(c) => {
                let first = |k: &SortKey| k.label(false).starts_with(c.to_ascii_lowercase());
                if let Some(&k) = CHOICES.iter().find(|k| first(k)) {
                    return Reply::Submit(k);
                }
            }
            _ => {}
        }
        Reply::Stay
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let height = CHOICES.len() as u16 + 4;
        let inner = dialog(frame, area, 34, height, "Sort by", theme);
        if inner.is_empty() {
            return;
        }
        let mut lines: Vec<Line> = CHOICES
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let text = format!(" {:<8} {}", k.label(self.tree), k.direction(false));
                let style = if i == self.cursor {
                    theme.selected()
                } else {
                    theme.text()
                };
                Line::from(Span::styled(text, style))
            })
            .collect();
        lines.push(Line::default());
        lines.push(hint_line(KEYS, theme));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyModifiers;

    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn arrows_choose_enter_sorts_and_a_letter_picks_at_once() {
        let mut menu = SortMenu::new(SortKey::Name, true);
        assert_eq!(CHOICES[menu.cursor], SortKey::Name);
        menu.handle(key(KeyCode::Down));
        menu.handle(key(KeyCode::Down));
        assert_eq!(
            menu.handle(key(KeyCode::Enter)),
            Reply::Submit(SortKey::Cpu)
        );
        assert_eq!(
            menu.handle(key(KeyCode::Char('m'))),
            Reply::Submit(SortKey::Memory)
        );
        assert_eq!(menu.handle(key(KeyCode::Char('?'))), Reply::Stay);
        assert_eq!(menu.handle(key(KeyCode::Esc)), Reply::Close);
    }
}
