//! The signal menu (like htop's): every signal by number and name, sent to the
//! worker's process or to its whole group.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::Reply;
use super::draw::{dialog, hint_line};
use super::theme::Theme;
use crate::engine::WorkerId;
use crate::signals::SIGNALS;

#[derive(Debug, Clone, PartialEq)]
pub struct SignalMenu {
    pub targets: Vec<WorkerId>,
    /// Who gets the signal, as shown: `web#1 (pid 4242)` or `3 marked workers`.
    pub target_label: String,
    /// Index into `SIGNALS`.
    pub selected: usize,
    /// Signal the whole process group (tree) instead of the process.
    pub group: bool,
    /// Digits typed so far, to pick a signal by number.
    typed: String,
}

/// The menu's keys, for its hint line and the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("↑↓", "choose"),
    ("0-9", "number"),
    ("g", "group"),
    ("Enter", "send"),
    ("Esc", "cancel"),
];

/// What the most used signals do, shown next to them.
fn purpose(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "hang up / reload",
        libc::SIGINT => "interrupt (Ctrl-C)",
        libc::SIGQUIT => "quit with core",
        libc::SIGKILL => "kill, cannot be caught",
        libc::SIGUSR1 | libc::SIGUSR2 => "user defined",
        libc::SIGTERM => "terminate politely",
        libc::SIGCONT => "resume",
        libc::SIGSTOP => "pause, cannot be caught",
        libc::SIGTSTP => "pause (Ctrl-Z)",
        _ => "",
    }
}

impl SignalMenu {
    /// A menu on SIGTERM, as htop opens it.
    pub fn new(targets: Vec<WorkerId>, target_label: String) -> Self {
        let selected = SIGNALS
            .iter()
            .position(|(n, _)| *n == libc::SIGTERM)
            .unwrap_or(0);
        SignalMenu {
            targets,
            target_label,
            selected,
            group: false,
            typed: String::new(),
        }
    }

    /// The signal number under the cursor.
    pub fn signal(&self) -> i32 {
        SIGNALS
            .get(self.selected)
            .map_or(libc::SIGTERM, |(n, _)| *n)
    }

    /// Enter submits (signal, group).
    pub fn handle(&mut self, key: KeyEvent) -> Reply<(i32, bool)> {
        let last = SIGNALS.len() - 1;
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return Reply::Close,
            KeyCode::Enter => return Reply::Submit((self.signal(), self.group)),
            KeyCode::Char('g' | ' ') | KeyCode::Tab => self.group = !self.group,
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(last),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            KeyCode::Char(c) if c.is_ascii_digit() => {
                self.typed.push(c);
                if !self.pick_typed() {
                    self.typed = c.to_string();
                    self.pick_typed();
                }
                return Reply::Stay;
            }
            KeyCode::Char(c) if c.is_ascii_alphabetic() => self.jump_to_letter(c),
            _ => {}
        }
        self.typed.clear();
        Reply::Stay
    }

    fn pick_typed(&mut self) -> bool {
        let Ok(n) = self.typed.parse::<i32>() else {
            return false;
        };
        match SIGNALS.iter().position(|(s, _)| *s == n) {
            Some(i) => {
                self.selected = i;
                true
            }
            None => false,
        }
    }

    /// The next signal whose name starts with `c`, after the current one.
    fn jump_to_letter(&mut self, c: char) {
        let c = c.to_ascii_uppercase();
        let n = SIGNALS.len();
        if let Some(i) = (1..=n)
            .map(|k| (self.selected + k) % n)
            .find(|&i| SIGNALS[i].1.starts_with(c))
        {
            self.selected = i;
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let height = (SIGNALS.len() as u16 + 6).min(area.height);
        let inner = dialog(frame, area, 44, height, "Send signal", theme);
        if inner.height < 2 {
            return;
        }
        let mut lines = vec![Line::from(vec![
            Span::styled(" to ", theme.dim()),
            Span::styled(self.target_label.clone(), theme.bold()),
        ])];
        let list_height = inner.height.saturating_sub(4) as usize;
        let offset = self
            .selected
            .saturating_sub(list_height / 2)
            .min(SIGNALS.len().saturating_sub(list_height));
        lines.push(Line::default());
        for (i, (n, name)) in SIGNALS.iter().enumerate().skip(offset).take(list_height) {
            let text = format!(" {n:>2}  SIG{name:<8}");
            let style = if i == self.selected {
                theme.selected()
            } else {
                theme.text()
            };
            let width = inner.width as usize;
            let row = format!("{text} {:<w$}", purpose(*n), w = width.saturating_sub(15));
            lines.push(Line::from(Span::styled(row, style)));
        }
        let check = if self.group { "[x]" } else { "[ ]" };
        lines.push(Line::from(vec![
            Span::styled(format!(" {check} "), theme.accent()),
            Span::raw("whole process group (g)"),
        ]));
        lines.push(hint_line(&[("Enter", "send"), ("Esc", "cancel")], theme));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn opens_on_term_and_picks_by_number_or_letter() {
        let mut m = SignalMenu::new(vec![WorkerId(0)], "w".into());
        assert_eq!(m.signal(), libc::SIGTERM);
        m.handle(key(KeyCode::Char('9')));
        assert_eq!(m.signal(), libc::SIGKILL);
        m.handle(key(KeyCode::Char('1')));
        assert_eq!(m.signal(), libc::SIGHUP);
        m.handle(key(KeyCode::Char('5')));
        assert_eq!(m.signal(), libc::SIGTERM);
        m.handle(key(KeyCode::Char('u')));
        assert_eq!(m.signal(), libc::SIGURG);
        m.handle(key(KeyCode::Char('g')));
        assert_eq!(
            m.handle(key(KeyCode::Enter)),
            Reply::Submit((libc::SIGURG, true))
        );
    }
}
