//! Colours and emphasis in one place. With `NO_COLOR` set (non-empty), every style
//! falls back to modifiers only (bold, reverse, dim, underline), so nothing depends
//! on colour to be read.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::{WorkerState, WorkerView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

/// The palette (ANSI indexes, so a terminal's own theme still applies).
const ACCENT: Color = Color::Cyan;
const MUTED: Color = Color::DarkGray;
const SELECTED_BG: Color = Color::Indexed(236);
const MARKED: Color = Color::Yellow;

impl Theme {
    /// Colour unless the `NO_COLOR` environment variable is set and non-empty.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn pick(&self, color: Style, plain: Style) -> Style {
        if self.color { color } else { plain }
    }

    fn fg(&self, c: Color) -> Style {
        self.pick(Style::new().fg(c), Style::new())
    }

    /// A worker's state cell and row accent.
    pub fn state(&self, w: &WorkerView) -> Style {
        if w.stopped && !w.state.is_active() {
            return self.pick(Style::new().fg(MUTED), Style::new());
        }
        let plain = match w.state {
            WorkerState::Queued
            | WorkerState::Waiting
            | WorkerState::Cancelled
            | WorkerState::Skipped => Style::new().add_modifier(Modifier::DIM),
            WorkerState::Failed | WorkerState::Signaled => {
                Style::new().add_modifier(Modifier::BOLD)
            }
            WorkerState::Exited if w.code != Some(0) => Style::new().add_modifier(Modifier::BOLD),
            _ => Style::new(),
        };
        let color = match w.state {
            WorkerState::Queued | WorkerState::Waiting => Style::new().fg(Color::Gray),
            WorkerState::Starting => Style::new().fg(Color::LightCyan),
            WorkerState::Running if w.stuck || w.unkillable || w.deps.unhealthy => {
                Style::new().fg(Color::LightYellow)
            }
            WorkerState::Running => Style::new().fg(Color::LightGreen),
            WorkerState::Paused => Style::new().fg(Color::Yellow),
            WorkerState::Exited if w.code == Some(0) => Style::new().fg(Color::Blue),
            WorkerState::Exited => Style::new().fg(Color::LightRed),
            WorkerState::Signaled => Style::new().fg(Color::Magenta),
            WorkerState::Failed => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            WorkerState::Cancelled | WorkerState::Skipped => Style::new().fg(MUTED),
        };
        self.pick(color, plain)
    }

    /// Text that matters less (queued rows, units, separators).
    pub fn dim(&self) -> Style {
        self.pick(
            Style::new().fg(MUTED),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    pub fn text(&self) -> Style {
        Style::new()
    }

    pub fn accent(&self) -> Style {
        self.fg(ACCENT)
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn border(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(ACCENT),
            (true, false) => Style::new().fg(MUTED),
            (false, true) => Style::new().add_modifier(Modifier::BOLD),
            (false, false) => Style::new(),
        }
    }

    pub fn title(&self, focused: bool) -> Style {
        let base = Style::new().add_modifier(Modifier::BOLD);
        if self.color && focused {
            base.fg(ACCENT)
        } else if self.color {
            base.fg(Color::Gray)
        } else {
            base
        }
    }

    pub fn table_header(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Gray).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    pub fn selected(&self) -> Style {
        self.pick(
            Style::new().bg(SELECTED_BG).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// The chosen row of a menu: reverse video, which shows on any background and
    /// without colour.
    pub fn menu_choice(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn marked(&self) -> Style {
        self.pick(
            Style::new().fg(MARKED).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    pub fn stderr(&self) -> Style {
        self.fg(Color::LightRed)
    }

    pub fn error(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn warn(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn good(&self) -> Style {
        self.fg(Color::LightGreen)
    }

    pub fn search_match(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Black).bg(Color::Yellow),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// The line holding the current search match.
    pub fn current_line(&self) -> Style {
        self.pick(
            Style::new().bg(SELECTED_BG),
            Style::new().add_modifier(Modifier::UNDERLINED),
        )
    }

    /// A key name in the footer and help.
    pub fn key(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(ACCENT)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    /// The header's banner while everything is stopping.
    pub fn banner(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    /// The product badge at the left of the header.
    pub fn badge(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(ACCENT)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    /// Bars and gauges: green under 60 %, yellow under 85 %, red above.
    pub fn load(&self, pct: f32) -> Style {
        let c = if pct < 60.0 {
            Color::Green
        } else if pct < 85.0 {
            Color::Yellow
        } else {
            Color::Red
        };
        self.fg(c)
    }

    /// The inside of a dialog, a shade off the screen so it stands out.
    pub fn dialog(&self) -> Style {
        self.pick(Style::new().bg(Color::Indexed(235)), Style::new())
    }

    /// A text field in a dialog; the focused one stands out.
    pub fn input(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().bg(Color::Indexed(238)).fg(Color::White),
            (true, false) => Style::new().bg(Color::Indexed(236)),
            (false, true) => Style::new().add_modifier(Modifier::REVERSED),
            (false, false) => Style::new().add_modifier(Modifier::UNDERLINED),
        }
    }

    /// The unfilled part of a bar.
    pub fn track(&self) -> Style {
        self.pick(
            Style::new().bg(Color::Indexed(236)),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    pub fn gauge(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Blue).bg(Color::Indexed(236)),
            Style::new(),
        )
    }

    pub fn sparkline(&self) -> Style {
        self.fg(ACCENT)
    }

    /// A stable colour per worker, for name prefixes in the merged log.
    pub fn worker(&self, index: u32) -> Style {
        const COLORS: [Color; 6] = [
            Color::LightCyan,
            Color::LightMagenta,
            Color::LightGreen,
            Color::LightBlue,
            Color::LightYellow,
            Color::Cyan,
        ];
        self.pick(
            Style::new().fg(COLORS[index as usize % COLORS.len()]),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }
}
