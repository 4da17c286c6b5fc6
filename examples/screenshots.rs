//! Renders proctor's screens with the real widgets and a fabricated snapshot into
//! SVG files under `screenshots/`: `cargo run --example screenshots`.
//!
//! The SVG is a plain picture of the terminal buffer: each cell's background as a
//! rectangle, text in runs of one style, block and box-drawing characters drawn as
//! shapes so bars and borders join up whatever font the viewer has.

use std::fmt::Write as _;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proctor::engine::{OutputStore, Snapshot, WorkerId};
use proctor::tui::app::{App, Focus, Level, Overlay};
use proctor::tui::launch_dialog::LaunchDialog;
use proctor::tui::log_view::Search;
use proctor::tui::signal_menu::SignalMenu;
use proctor::tui::text_input::TextInput;
use proctor::tui::{Theme, fake, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier};

/// Cell size in pixels, padding around the grid, height of the title bar.
const CW: f32 = 8.4;
const CH: f32 = 17.0;
const PAD: f32 = 14.0;
const BAR: f32 = 30.0;
const FG: &str = "#c0caf5";
const BG: &str = "#1a1b26";

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir)?;
    let snapshot = fake::snapshot();
    let store = fake::store(&snapshot);
    type Setup = fn(&mut App, &Snapshot, &OutputStore);
    let scenes: [(&str, u16, u16, Setup); 7] = [
        ("main", 160, 48, main_screen),
        ("main-80x24", 80, 24, main_screen),
        ("signal-menu", 160, 48, signal_menu),
        ("launch-dialog", 160, 48, launch_dialog),
        ("help", 160, 48, |app, _, _| {
            app.overlay = Some(Overlay::Help { scroll: 0 })
        }),
        ("logs-merged-search", 160, 48, merged_search),
        ("main-no-color", 160, 48, |app, snapshot, store| {
            app.theme = Theme { color: false };
            main_screen(app, snapshot, store);
        }),
    ];
    for (name, w, h, setup) in scenes {
        let screen = Rect::new(0, 0, w, h);
        let mut app = fake::app(&snapshot, Theme { color: true }, screen);
        setup(&mut app, &snapshot, &store);
        app.sync(&snapshot, screen);
        write(&dir, name, &app, &snapshot, &store)?;
    }
    // Dependencies: a pipeline with its dependency view open over it.
    let snapshot = fake::deps::snapshot();
    let store = fake::store(&snapshot);
    let screen = Rect::new(0, 0, 120, 32);
    let mut app = fake::app(&snapshot, Theme { color: true }, screen);
    app.workers.selected = Some(WorkerId(4));
    app.sync(&snapshot, screen);
    app.overlay = Some(Overlay::Deps { scroll: 0 });
    write(&dir, "dependencies", &app, &snapshot, &store)?;
    // Map mode: a map run over photos.
    let snapshot = fake::map_snapshot();
    let store = fake::store(&snapshot);
    let app = fake::map_app(&snapshot, Theme { color: true }, Rect::new(0, 0, 160, 48));
    write(&dir, "map", &app, &snapshot, &store)
}

/// Draws the app at its screen size and writes `dir/NAME.svg`.
fn write(
    dir: &Path,
    name: &str,
    app: &App,
    snapshot: &Snapshot,
    store: &OutputStore,
) -> std::io::Result<()> {
    let (w, h) = (app.screen.width, app.screen.height);
    // TestBackend cannot fail (its error type is Infallible).
    let Ok(mut terminal) = Terminal::new(TestBackend::new(w, h));
    let Ok(_) = terminal.draw(|f| render(f, app, snapshot, store));
    let backend = terminal.backend();
    let cursor = backend.cursor_visible().then(|| backend.cursor_position());
    let title = format!("proctor — {w}×{h}");
    let path = dir.join(format!("{name}.svg"));
    std::fs::write(&path, to_svg(backend.buffer(), cursor, &title))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn main_screen(app: &mut App, _: &Snapshot, _: &OutputStore) {
    app.workers.selected = Some(WorkerId(10));
    app.notify(Level::Good, "joined migrate: exit 0");
}

fn signal_menu(app: &mut App, _: &Snapshot, _: &OutputStore) {
    app.workers.selected = Some(WorkerId(8));
    let mut menu = SignalMenu::new(vec![WorkerId(8)], "crawler#1 (pid 41056)".into());
    // From SIGTERM up to SIGKILL, as a person would with the arrow keys.
    for _ in 0..6 {
        menu.handle(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE));
    }
    app.overlay = Some(Overlay::Signal(menu));
}

fn launch_dialog(app: &mut App, _: &Snapshot, _: &OutputStore) {
    let dialog = LaunchDialog {
        command: TextInput::new("python3 worker.py --queue jobs --batch 500"),
        count: TextInput::new("4"),
        env: TextInput::new("LOG_LEVEL=debug REGION='eu west'"),
        ..LaunchDialog::default()
    };
    app.overlay = Some(Overlay::Launch(Box::new(dialog)));
}

fn merged_search(app: &mut App, snapshot: &Snapshot, store: &OutputStore) {
    app.focus = Focus::Logs;
    app.logs.toggle_merged();
    app.logs.search = Some(Search::for_pattern("warn|fail"));
    app.sync(snapshot, app.screen);
    app.logs.find(store, false);
    app.logs.find(store, false);
}

/// The SVG picture of a buffer inside a terminal window frame.
fn to_svg(buffer: &Buffer, cursor: Option<Position>, title: &str) -> String {
    let (cols, rows) = (buffer.area.width, buffer.area.height);
    let width = cols as f32 * CW + 2.0 * PAD;
    let height = rows as f32 * CH + 2.0 * PAD + BAR;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
<rect x="0.5" y="0.5" width="{w}" height="{h}" rx="10" fill="{BG}" stroke="#2f334d"/>
<circle cx="20" cy="15" r="6" fill="#ff5f57"/><circle cx="40" cy="15" r="6" fill="#febc2e"/><circle cx="60" cy="15" r="6" fill="#28c840"/>
<text x="{tx}" y="20" fill="#787c99" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13" text-anchor="middle">{title}</text>
<g font-family="'DejaVu Sans Mono', Menlo, Consolas, monospace" font-size="14">
"##,
        w = width - 1.0,
        h = height - 1.0,
        tx = width / 2.0,
    );
    for y in 0..rows {
        let row: Vec<&Cell> = (0..cols).map(|x| &buffer[(x, y)]).collect();
        backgrounds(&mut svg, &row, y);
        glyphs(&mut svg, &row, y);
    }
    if let Some(at) = cursor {
        let (x, y) = origin(at.x, at.y);
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{y}" width="{CW}" height="{CH}" fill="{FG}" opacity="0.75"/>"#
        );
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

fn origin(x: u16, y: u16) -> (f32, f32) {
    (PAD + x as f32 * CW, BAR + PAD + y as f32 * CH)
}

/// (foreground, background) after REVERSED, as hex.
fn colors(cell: &Cell) -> (String, String) {
    let fg = hex(cell.fg).unwrap_or_else(|| FG.into());
    let bg = hex(cell.bg).unwrap_or_else(|| BG.into());
    if cell.modifier.contains(Modifier::REVERSED) {
        (bg, fg)
    } else {
        (fg, bg)
    }
}

fn backgrounds(svg: &mut String, row: &[&Cell], y: u16) {
    let mut x = 0;
    while x < row.len() {
        let bg = colors(row[x]).1;
        let start = x;
        while x < row.len() && colors(row[x]).1 == bg {
            x += 1;
        }
        if bg != BG {
            let (px, py) = origin(start as u16, y);
            let w = (x - start) as f32 * CW;
            let _ = writeln!(
                svg,
                r#"<rect x="{px}" y="{py}" width="{w:.1}" height="{CH}" fill="{bg}"/>"#
            );
        }
    }
}

/// Text runs of one style; blocks and box drawing as shapes.
fn glyphs(svg: &mut String, row: &[&Cell], y: u16) {
    let mut x = 0;
    while x < row.len() {
        let cell = row[x];
        let symbol = cell.symbol();
        let (fg, _) = colors(cell);
        if shape(svg, symbol, x as u16, y, &fg, cell.modifier) {
            x += 1;
            continue;
        }
        let start = x;
        let mut text = String::new();
        while x < row.len() && same_style(row[x], cell) && !is_shape(row[x].symbol()) {
            text.push_str(row[x].symbol());
            x += 1;
        }
        let trimmed = text.trim_end();
        if trimmed.trim().is_empty() {
            continue;
        }
        let n = trimmed.chars().count();
        let (px, py) = origin(start as u16, y);
        let mut attrs = format!(r#"fill="{fg}""#);
        if cell.modifier.contains(Modifier::BOLD) {
            attrs.push_str(r#" font-weight="bold""#);
        }
        if cell.modifier.contains(Modifier::DIM) {
            attrs.push_str(r#" fill-opacity="0.55""#);
        }
        if cell.modifier.contains(Modifier::ITALIC) {
            attrs.push_str(r#" font-style="italic""#);
        }
        if cell.modifier.contains(Modifier::UNDERLINED) {
            attrs.push_str(r#" text-decoration="underline""#);
        }
        let _ = writeln!(
            svg,
            r#"<text x="{px:.1}" y="{:.1}" {attrs} textLength="{:.1}" lengthAdjust="spacingAndGlyphs" xml:space="preserve">{}</text>"#,
            py + CH * 0.76,
            n as f32 * CW,
            escape(trimmed)
        );
    }
}

fn same_style(a: &Cell, b: &Cell) -> bool {
    a.fg == b.fg && a.bg == b.bg && a.modifier == b.modifier
}

fn is_shape(symbol: &str) -> bool {
    "█▉▊▋▌▍▎▏▁▂▃▄▅▆▇─│╭╮╰╯║".contains(symbol) && symbol.chars().count() == 1
}

/// Draws block elements and box drawing as rectangles and paths; false for text.
fn shape(svg: &mut String, symbol: &str, x: u16, y: u16, fg: &str, modifier: Modifier) -> bool {
    if !is_shape(symbol) {
        return false;
    }
    let (px, py) = origin(x, y);
    let opacity = if modifier.contains(Modifier::DIM) {
        0.55
    } else {
        1.0
    };
    let (cx, cy) = (px + CW / 2.0, py + CH / 2.0);
    let lefts = "▏▎▍▌▋▊▉█";
    let lowers = "▁▂▃▄▅▆▇";
    let rect = |svg: &mut String, x: f32, y: f32, w: f32, h: f32| {
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.2}" height="{h:.2}" fill="{fg}" fill-opacity="{opacity}"/>"#
        );
    };
    if let Some(i) = lefts.chars().position(|c| c.to_string() == symbol) {
        rect(svg, px, py, CW * (i + 1) as f32 / 8.0, CH);
        return true;
    }
    if let Some(i) = lowers.chars().position(|c| c.to_string() == symbol) {
        let h = CH * (i + 1) as f32 / 8.0;
        rect(svg, px, py + CH - h, CW, h);
        return true;
    }
    let r = CW / 2.0;
    let (right, bottom) = (px + CW, py + CH);
    let d = match symbol {
        "─" => format!("M{px:.1},{cy:.1}H{right:.1}"),
        "│" => format!("M{cx:.1},{py:.1}V{bottom:.1}"),
        "║" => format!(
            "M{:.1},{py:.1}V{bottom:.1}M{:.1},{py:.1}V{bottom:.1}",
            cx - 1.5,
            cx + 1.5
        ),
        "╭" => format!(
            "M{cx:.1},{bottom:.1}V{:.1}Q{cx:.1},{cy:.1} {:.1},{cy:.1}H{right:.1}",
            cy + r,
            cx + r
        ),
        "╮" => format!(
            "M{px:.1},{cy:.1}H{:.1}Q{cx:.1},{cy:.1} {cx:.1},{:.1}V{bottom:.1}",
            cx - r,
            cy + r
        ),
        "╰" => format!(
            "M{cx:.1},{py:.1}V{:.1}Q{cx:.1},{cy:.1} {:.1},{cy:.1}H{right:.1}",
            cy - r,
            cx + r
        ),
        _ => format!(
            "M{px:.1},{cy:.1}H{:.1}Q{cx:.1},{cy:.1} {cx:.1},{:.1}V{py:.1}",
            cx - r,
            cy - r
        ),
    };
    let _ = writeln!(
        svg,
        r#"<path d="{d}" stroke="{fg}" stroke-opacity="{opacity}" stroke-width="1.2" fill="none"/>"#
    );
    true
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A dark palette for the 16 ANSI colours; `None` for the terminal default.
fn hex(color: Color) -> Option<String> {
    let named = match color {
        Color::Reset => return None,
        Color::Black => "#15161e",
        Color::Red => "#f7768e",
        Color::Green => "#9ece6a",
        Color::Yellow => "#e0af68",
        Color::Blue => "#7aa2f7",
        Color::Magenta => "#bb9af7",
        Color::Cyan => "#7dcfff",
        Color::Gray => "#a9b1d6",
        Color::DarkGray => "#565f89",
        Color::LightRed => "#ff8fa3",
        Color::LightGreen => "#b9f27c",
        Color::LightYellow => "#ffd479",
        Color::LightBlue => "#8db0ff",
        Color::LightMagenta => "#c9a8ff",
        Color::LightCyan => "#a4daff",
        Color::White => "#e6e9f5",
        Color::Rgb(r, g, b) => return Some(format!("#{r:02x}{g:02x}{b:02x}")),
        // The greys the theme uses for tracks, dialogs and fields, in this palette.
        Color::Indexed(235) => "#1f2335",
        Color::Indexed(236) => "#292e42",
        Color::Indexed(238) => "#3b4261",
        Color::Indexed(i) => return Some(xterm(i)),
    };
    Some(named.into())
}

/// The standard xterm 256-colour palette above the first 16.
fn xterm(i: u8) -> String {
    match i {
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(i / 36),
                level(i / 6 % 6),
                level(i % 6)
            )
        }
        232..=255 => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
        _ => FG.into(),
    }
}
