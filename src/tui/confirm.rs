//! A yes/no question before a destructive action on many workers, or before quitting
//! while workers run. `y` or Enter answers yes; `n` or Esc cancels.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::Reply;
use super::draw::{dialog, hint_line};
use super::theme::Theme;
use crate::engine::Command;

/// What a yes does.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Send(Vec<Command>),
    /// Stop every worker and leave once the engine has ended.
    Quit,
    /// Leave an attached UI; the instance's work keeps running.
    Detach,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub message: String,
    pub on_yes: Pending,
}

/// The dialog's keys, for its hint line and the help overlay.
pub const KEYS: &[(&str, &str)] = &[("y/Enter", "yes"), ("n/Esc", "no")];

impl Confirm {
    pub fn handle(&self, key: KeyEvent) -> Reply<()> {
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Reply::Submit(()),
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Reply::Close,
            _ => Reply::Stay,
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let width = (self.message.chars().count() as u16 + 6).clamp(36, 76);
        let text_width = width.saturating_sub(4).max(1) as usize;
        let lines = self.message.chars().count().div_ceil(text_width) as u16;
        let inner = dialog(frame, area, width, lines + 4, &self.title, theme);
        if inner.is_empty() {
            return;
        }
        let mut text: Vec<Line> =
            vec![Line::from(Span::styled(self.message.clone(), theme.bold()))];
        text.push(Line::default());
        text.push(hint_line(KEYS, theme));
        let body = Rect {
            x: inner.x + 1,
            width: inner.width.saturating_sub(2),
            ..inner
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), body);
    }
}
