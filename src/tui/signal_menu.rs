//! The signal menu (like htop's): every signal by number and name, real-time ones
//! included, sent to the worker's process or to its whole group. Typing filters:
//! a name (`usr1`, `SIGTERM`, any case) or a number; a filter that matches more
//! than one signal, or none, sends nothing until the choice is clear.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::Reply;
use super::draw::{dialog, hint_line};
use super::theme::Theme;
use crate::engine::WorkerId;
use crate::signals::all_signals;

#[derive(Debug, Clone, PartialEq)]
pub struct SignalMenu {
    pub targets: Vec<WorkerId>,
    /// Who gets the signal, as shown: `web#1 (pid 4242)` or `3 marked workers`.
    pub target_label: String,
    /// Signal the whole process group (tree) instead of the process.
    pub group: bool,
    /// One process of the worker's tree, (pid, start time), instead of the worker.
    pub descendant: Option<(u32, u64)>,
    /// Every signal, (number, bare name), from `signals::all_signals`.
    signals: Vec<(i32, String)>,
    /// What was typed: a name, a name's start, or a number.
    filter: String,
    /// Indexes into `signals` that the filter lets through, in number order.
    shown: Vec<usize>,
    /// The chosen signal (an index into `signals`); `None` while the filter is
    /// ambiguous or matches nothing, and Enter then sends nothing.
    chosen: Option<usize>,
}

/// The menu's keys, for its hint line and the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("a-z 0-9", "filter by name or number"),
    ("↑↓", "choose"),
    ("Bksp", "edit filter"),
    ("Tab", "process / group"),
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
        let signals = all_signals();
        let chosen = signals.iter().position(|(n, _)| *n == libc::SIGTERM);
        let shown = (0..signals.len()).collect();
        SignalMenu {
            targets,
            target_label,
            group: false,
            descendant: None,
            signals,
            filter: String::new(),
            shown,
            chosen,
        }
    }

    /// The chosen signal's number; `None` when the filter leaves no clear choice.
    pub fn signal(&self) -> Option<i32> {
        self.chosen.map(|i| self.signals[i].0)
    }

    /// What was typed, as shown.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Enter submits (signal, group) when one signal is chosen.
    pub fn handle(&mut self, key: KeyEvent) -> Reply<(i32, bool)> {
        match key.code {
            KeyCode::Esc => return Reply::Close,
            KeyCode::Enter => {
                if let Some(sig) = self.signal() {
                    return Reply::Submit((sig, self.group));
                }
            }
            KeyCode::Char(' ') | KeyCode::Tab | KeyCode::BackTab => self.group = !self.group,
            KeyCode::Up => self.step(-1),
            KeyCode::Down => self.step(1),
            KeyCode::PageUp => self.step(-10),
            KeyCode::PageDown => self.step(10),
            KeyCode::Home => self.step(isize::MIN / 2),
            KeyCode::End => self.step(isize::MAX / 2),
            KeyCode::Backspace => {
                self.filter.pop();
                self.refilter();
            }
            KeyCode::Char(c) if c.is_ascii_alphanumeric() || c == '+' || c == '-' => {
                self.filter.push(c.to_ascii_uppercase());
                self.refilter();
            }
            _ => {}
        }
        Reply::Stay
    }

    /// Moves the choice within the rows shown; an explicit pick, so it also settles
    /// an ambiguous filter.
    fn step(&mut self, delta: isize) {
        if self.shown.is_empty() {
            return;
        }
        let last = self.shown.len() - 1;
        let pos = match self
            .chosen
            .and_then(|c| self.shown.iter().position(|&i| i == c))
        {
            Some(pos) => pos.saturating_add_signed(delta).min(last),
            None if delta < 0 => last,
            None => 0,
        };
        self.chosen = Some(self.shown[pos]);
    }

    /// Applies the filter: digits pick by number; anything else matches names
    /// (with or without `SIG`) by their start, and an exact name wins.
    fn refilter(&mut self) {
        let all = 0..self.signals.len();
        if self.filter.is_empty() {
            self.shown = all.collect();
            // Keep the current choice, or go back to the one the menu opened on.
            if self.chosen.is_none() {
                self.chosen = self.signals.iter().position(|(n, _)| *n == libc::SIGTERM);
            }
            return;
        }
        if let Ok(n) = self.filter.parse::<i32>() {
            self.shown = all.filter(|&i| self.signals[i].0 == n).collect();
            self.chosen = self.shown.first().copied();
            return;
        }
        // `SI` and `SIG` are the start of every full name; `S` alone also starts
        // bare names such as SEGV and SYS.
        let bare = if self.filter.len() >= 2 && "SIG".starts_with(self.filter.as_str()) {
            ""
        } else {
            self.filter.strip_prefix("SIG").unwrap_or(&self.filter)
        };
        let starts = |name: &str| name.starts_with(bare) || name.starts_with(&self.filter);
        self.shown = all.filter(|&i| starts(&self.signals[i].1)).collect();
        if self.shown.is_empty()
            && let Ok(n) = crate::signals::parse_signal(&self.filter)
        {
            // A name the list spells another way (`RTMAX-1` is listed as an
            // `RTMIN+N`): the same names `proctor ctl signal` and --control accept.
            self.shown = (0..self.signals.len())
                .filter(|&i| self.signals[i].0 == n)
                .collect();
        }
        let exact = self
            .shown
            .iter()
            .copied()
            .find(|&i| self.signals[i].1 == bare || self.signals[i].1 == self.filter);
        self.chosen = match self.shown.as_slice() {
            [one] => Some(*one),
            _ => exact,
        };
    }

    /// Why Enter would send nothing now, if it would not.
    fn blocked(&self) -> Option<String> {
        if self.chosen.is_some() {
            return None;
        }
        Some(match self.shown.len() {
            0 => "no such signal".to_string(),
            n => format!("{n} match: type more or ↑↓"),
        })
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let height = (self.signals.len() as u16 + 7).min(area.height);
        let inner = dialog(frame, area, 46, height, "Send signal", theme);
        if inner.height < 2 {
            return;
        }
        let mut lines = vec![Line::from(vec![
            Span::styled(" to ", theme.dim()),
            Span::styled(self.target_label.clone(), theme.bold()),
        ])];
        lines.push(self.filter_line(theme));
        let list_height = inner.height.saturating_sub(4) as usize;
        let cursor = self
            .chosen
            .and_then(|c| self.shown.iter().position(|&i| i == c))
            .unwrap_or(0);
        let offset = cursor
            .saturating_sub(list_height / 2)
            .min(self.shown.len().saturating_sub(list_height));
        let width = inner.width as usize;
        for &i in self.shown.iter().skip(offset).take(list_height) {
            let (n, name) = &self.signals[i];
            let chosen = self.chosen == Some(i);
            // The marker keeps the choice visible without colour (NO_COLOR).
            let mark = if chosen { '>' } else { ' ' };
            let text = format!("{mark}{n:>2}  SIG{name:<10} {}", purpose(*n));
            let row = format!("{text:<width$}");
            let style = if chosen {
                theme.menu_choice()
            } else {
                theme.text()
            };
            lines.push(Line::from(Span::styled(row, style)));
        }
        for _ in self.shown.len().saturating_sub(offset)..list_height {
            lines.push(Line::default());
        }
        let check = if self.group { "[x]" } else { "[ ]" };
        lines.push(Line::from(vec![
            Span::styled(format!(" {check} "), theme.accent()),
            Span::raw("whole process group (Tab)"),
        ]));
        lines.push(hint_line(&[("Enter", "send"), ("Esc", "cancel")], theme));
        frame.render_widget(Paragraph::new(lines), inner);
    }

    /// ` signal: usr1▏` and, when Enter would send nothing, why.
    fn filter_line(&self, theme: &Theme) -> Line<'static> {
        let mut spans = vec![Span::styled(" signal: ", theme.dim())];
        if self.filter.is_empty() {
            spans.push(Span::styled("type a name or number", theme.dim()));
        } else {
            spans.push(Span::styled(self.filter.clone(), theme.bold()));
            spans.push(Span::styled("▏", theme.accent()));
        }
        if let Some(why) = self.blocked() {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(why, theme.warn()));
        }
        Line::from(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(text: &str) -> SignalMenu {
        let mut m = SignalMenu::new(vec![WorkerId(0)], "w".into());
        for c in text.chars() {
            m.handle(key(KeyCode::Char(c)));
        }
        m
    }

    #[test]
    fn opens_on_term() {
        assert_eq!(typed("").signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn names_pick_that_signal_in_any_case_with_or_without_sig() {
        for (text, sig) in [
            ("usr1", libc::SIGUSR1),
            ("SIGUSR1", libc::SIGUSR1),
            ("term", libc::SIGTERM),
            ("kill", libc::SIGKILL),
            ("KiLl", libc::SIGKILL),
            ("sigquit", libc::SIGQUIT),
            ("int", libc::SIGINT),
            ("io", libc::SIGIO),
            ("hup", libc::SIGHUP),
        ] {
            assert_eq!(typed(text).signal(), Some(sig), "{text}");
        }
        assert_eq!(typed("usr1").filter(), "USR1");
    }

    #[test]
    fn digits_pick_by_number_and_real_time_signals_are_listed() {
        assert_eq!(typed("9").signal(), Some(libc::SIGKILL));
        assert_eq!(typed("10").signal(), Some(libc::SIGUSR1));
        assert_eq!(typed("99").signal(), None);
        let rt = libc::SIGRTMIN();
        assert_eq!(typed("rtmin+2").signal(), Some(rt + 2));
        assert_eq!(typed(&rt.to_string()).signal(), Some(rt));
        let max = libc::SIGRTMAX();
        assert_eq!(typed("rtmax").signal(), Some(max));
        assert_eq!(typed("sigrtmax-1").signal(), Some(max - 1));
    }

    #[test]
    fn ambiguous_or_unmatched_filters_send_nothing_until_chosen() {
        let mut m = typed("usr");
        assert_eq!(m.signal(), None);
        assert_eq!(m.handle(key(KeyCode::Enter)), Reply::Stay);
        assert!(m.blocked().is_some_and(|w| w.contains("2 match")));
        m.handle(key(KeyCode::Down));
        assert_eq!(m.signal(), Some(libc::SIGUSR1));
        m.handle(key(KeyCode::Down));
        assert_eq!(m.signal(), Some(libc::SIGUSR2));
        let mut none = typed("xyz");
        assert_eq!(none.handle(key(KeyCode::Enter)), Reply::Stay);
        assert!(none.blocked().is_some_and(|w| w.contains("no such signal")));
        none.handle(key(KeyCode::Backspace));
        none.handle(key(KeyCode::Backspace));
        none.handle(key(KeyCode::Backspace));
        assert_eq!(
            none.signal(),
            Some(libc::SIGTERM),
            "an empty filter keeps the choice"
        );
    }

    #[test]
    fn tab_toggles_the_group_and_enter_sends() {
        let mut m = typed("kill");
        m.handle(key(KeyCode::Tab));
        assert_eq!(
            m.handle(key(KeyCode::Enter)),
            Reply::Submit((libc::SIGKILL, true))
        );
        assert_eq!(typed("").handle(key(KeyCode::Esc)), Reply::Close);
    }
}
