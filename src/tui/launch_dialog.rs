//! The launch dialog: a command line (split into words, no shell unless asked),
//! a count and environment overrides. Enter launches at once; errors stay in the
//! dialog until fixed.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::Reply;
use super::draw::{dialog, hint_line};
use super::text_input::TextInput;
use super::theme::Theme;
use crate::spec::{self, JobSpec, MAX_COUNT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Field {
    #[default]
    Command,
    Count,
    Env,
    Shell,
}

impl Field {
    fn next(self, back: bool) -> Self {
        const ORDER: [Field; 4] = [Field::Command, Field::Count, Field::Env, Field::Shell];
        let i = ORDER.iter().position(|f| *f == self).unwrap_or(0);
        ORDER[if back { (i + 3) % 4 } else { (i + 1) % 4 }]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchDialog {
    pub command: TextInput,
    pub count: TextInput,
    pub env: TextInput,
    pub shell: bool,
    pub field: Field,
    pub error: Option<String>,
}

impl Default for LaunchDialog {
    fn default() -> Self {
        LaunchDialog {
            command: TextInput::default(),
            count: TextInput::new("1"),
            env: TextInput::default(),
            shell: false,
            field: Field::Command,
            error: None,
        }
    }
}

/// The dialog's keys, for its hint line and the help overlay.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "launch"),
    ("Tab", "next field"),
    ("Space", "toggle shell"),
    ("Esc", "cancel"),
];

/// Parses `KEY=VALUE` words (shell quoting allowed) into environment overrides.
pub fn parse_env(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for word in spec::split_words(text)? {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("env '{word}' is not KEY=VALUE"));
        };
        if key.is_empty() {
            return Err(format!("env '{word}' has an empty name"));
        }
        if key.contains('\0') || value.contains('\0') {
            return Err(format!("env '{key}' contains a NUL byte"));
        }
        env.insert(key.to_string(), value.to_string());
    }
    Ok(env)
}

impl LaunchDialog {
    /// The job the fields describe, or what is wrong with them.
    pub fn build(&self) -> Result<JobSpec, String> {
        let line = self.command.text().trim();
        if line.is_empty() {
            return Err("type a command to run, e.g. sleep 30".into());
        }
        let count = self.count.text().trim();
        let count: u32 = match count.parse() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return Err(format!(
                    "count '{count}' must be a number in 1..={MAX_COUNT}"
                ));
            }
        };
        let env = parse_env(self.env.text())?;
        let mut job = spec::job_from_cli(line, self.shell).map_err(|e| e.to_string())?;
        job.count = count;
        job.env = env;
        Ok(job)
    }

    pub fn handle(&mut self, key: KeyEvent) -> Reply<JobSpec> {
        match key.code {
            KeyCode::Esc => return Reply::Close,
            KeyCode::Enter => {
                return match self.build() {
                    Ok(job) => Reply::Submit(job),
                    Err(e) => {
                        self.error = Some(e);
                        Reply::Stay
                    }
                };
            }
            KeyCode::Tab | KeyCode::Down => self.field = self.field.next(false),
            KeyCode::BackTab | KeyCode::Up => self.field = self.field.next(true),
            KeyCode::Char(' ') if self.field == Field::Shell => self.shell = !self.shell,
            _ => {
                if let Some(input) = self.input_mut() {
                    input.handle(key);
                }
            }
        }
        self.error = None;
        Reply::Stay
    }

    /// Pasted text goes into the focused text field.
    pub fn paste(&mut self, text: &str) {
        if let Some(input) = self.input_mut() {
            input.insert(text);
        }
    }

    fn input_mut(&mut self) -> Option<&mut TextInput> {
        match self.field {
            Field::Command => Some(&mut self.command),
            Field::Count => Some(&mut self.count),
            Field::Env => Some(&mut self.env),
            Field::Shell => None,
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        // The error is wrapped, never cut: the dialog grows to hold it.
        let text_width = area.width.min(72).saturating_sub(6).max(12) as usize;
        let error = self
            .error
            .as_deref()
            .map(|e| super::format::wrap(&format!("✗ {e}"), text_width))
            .unwrap_or_default();
        let extra = error.len().saturating_sub(1) as u16;
        let inner = dialog(frame, area, 72, 15 + extra, "Launch a job", theme);
        if inner.height < 2 || inner.width < 14 {
            return;
        }
        let label_w = 11u16;
        let field_w = inner.width.saturating_sub(label_w + 2);
        let fields = [
            (
                Field::Command,
                "Command",
                &self.command,
                field_w,
                "e.g. python worker.py --id 3",
            ),
            (Field::Count, "Count", &self.count, 8.min(field_w), "1"),
            (
                Field::Env,
                "Env",
                &self.env,
                field_w,
                "KEY=VALUE KEY2='with spaces'",
            ),
        ];
        let mut lines = vec![Line::default()];
        let mut cursor = None;
        for (field, label, input, width, placeholder) in fields {
            let focused = self.field == field;
            let style = theme.input(focused);
            let (mut text, col) = input.view(width, style);
            if input.is_empty() {
                text = Line::from(Span::styled(placeholder, style.patch(theme.dim())));
            }
            let pad = width.saturating_sub(text.width() as u16) as usize;
            text.spans.push(Span::styled(" ".repeat(pad), style));
            let label = Span::styled(format!("  {label:<9}"), label_style(focused, theme));
            let mut spans = vec![label];
            spans.extend(text.spans);
            if focused {
                let row = inner.y + lines.len() as u16;
                cursor = Some(Position::new(inner.x + label_w + col, row));
            }
            lines.push(Line::from(spans));
            lines.push(Line::default());
        }
        let check = if self.shell { "[x]" } else { "[ ]" };
        let shell_focused = self.field == Field::Shell;
        let check_style = if shell_focused {
            theme.selected()
        } else {
            theme.accent()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:<9}", "Shell"),
                label_style(shell_focused, theme),
            ),
            Span::styled(check, check_style),
            Span::raw(" run with /bin/sh -c (off: no shell ever sees it)"),
        ]));
        lines.push(Line::default());
        if error.is_empty() {
            lines.push(Line::from(Span::styled(
                "  The new workers join the end of the queue.",
                theme.dim(),
            )));
        }
        for text in error {
            lines.push(Line::from(Span::styled(format!("  {text}"), theme.error())));
        }
        lines.push(Line::default());
        lines.push(hint_line(KEYS, theme));
        frame.render_widget(Paragraph::new(lines), inner);
        if let Some(at) = cursor.filter(|p| inner.contains(*p)) {
            frame.set_cursor_position(at);
        }
    }
}

fn label_style(focused: bool, theme: &Theme) -> ratatui::style::Style {
    if focused {
        theme.accent().patch(theme.bold())
    } else {
        theme.dim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(command: &str, count: &str, env: &str) -> LaunchDialog {
        LaunchDialog {
            command: TextInput::new(command),
            count: TextInput::new(count),
            env: TextInput::new(env),
            ..LaunchDialog::default()
        }
    }

    #[test]
    fn builds_a_job_from_the_fields() {
        let job = dialog("sleep 300", "3", "A=1 B='x y'").build().unwrap();
        assert_eq!(job.name, "sleep");
        assert_eq!(job.count, 3);
        assert_eq!(job.env.get("B").map(String::as_str), Some("x y"));
        assert_eq!(
            job.program,
            crate::spec::Program::Argv(vec!["sleep".into(), "300".into()])
        );
    }

    #[test]
    fn reports_what_is_wrong() {
        assert!(
            dialog("", "1", "")
                .build()
                .unwrap_err()
                .contains("type a command")
        );
        assert!(
            dialog("true", "0", "")
                .build()
                .unwrap_err()
                .contains("count '0'")
        );
        assert!(
            dialog("true", "1", "=x")
                .build()
                .unwrap_err()
                .contains("empty name")
        );
        assert!(
            dialog("true", "1", "NOVALUE")
                .build()
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        assert!(dialog("'unclosed", "1", "").build().is_err());
    }
}
