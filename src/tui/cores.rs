//! The CPU panel: a bar and a short history per logical core, the total with its
//! history, memory and load average. Shows "sampling…" until the first sample.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::app::App;
use super::draw::{panel, title};
use super::format;
use super::theme::Theme;
use crate::engine::Snapshot;
use crate::sample::SystemSample;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let system = snapshot.system.as_ref().filter(|s| !s.cores.is_empty());
    let mut block = panel(title("CPU", false, t, Vec::new()), false, t);
    if let Some(s) = system {
        let load = format!(" load {:.2} {:.2} {:.2} ", s.load[0], s.load[1], s.load[2]);
        block = block.title(Line::from(Span::styled(load, t.dim())).alignment(Alignment::Right));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let Some(system) = system else {
        let y = inner.y + inner.height / 2;
        let line = Paragraph::new(Span::styled("sampling…", t.dim())).alignment(Alignment::Center);
        frame.render_widget(
            line,
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
        return;
    };
    if inner.width >= 90 && inner.height >= 4 {
        // Wide: cores on the left, total and memory with a tall history on the right.
        let [cores, _, total] = Layout::horizontal([
            Constraint::Percentage(60),
            Constraint::Length(2),
            Constraint::Fill(1),
        ])
        .areas(inner);
        render_cores(frame, cores, app, system);
        render_total(frame, total, app, system);
        return;
    }
    // Narrow: the last two lines hold the total and memory.
    let summary = 2.min(inner.height.saturating_sub(1));
    let [cores, below] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(summary)]).areas(inner);
    render_cores(frame, cores, app, system);
    let total: Vec<f32> = app.history.total.iter().copied().collect();
    if below.height >= 1 {
        meter(
            frame,
            Rect { height: 1, ..below },
            "all",
            system.cpu,
            &total,
            t,
        );
    }
    if below.height >= 2 {
        memory(
            frame,
            Rect {
                y: below.y + 1,
                height: 1,
                ..below
            },
            system,
            t,
        );
    }
}

/// One line per core, in as many columns as the core count needs.
fn render_cores(frame: &mut Frame, area: Rect, app: &App, system: &SystemSample) {
    if area.is_empty() {
        return;
    }
    let n = system.cores.len();
    let rows = area.height as usize;
    if n > 0 && rows >= 2 * n {
        tall_cores(frame, area, app, system);
        return;
    }
    let columns = n.div_ceil(rows).max(1);
    let col_width = area.width / columns as u16;
    if col_width < 6 {
        let avg = format!("{n} cores, {:.0}% busy", system.cpu);
        frame.render_widget(Paragraph::new(avg), area);
        return;
    }
    let label_width = (n - 1).to_string().len();
    for (i, &pct) in system.cores.iter().enumerate() {
        let (col, row) = (i / rows, i % rows);
        let cell = Rect {
            x: area.x + col as u16 * col_width,
            y: area.y + row as u16,
            width: col_width.saturating_sub(2),
            height: 1,
        };
        let label = format!("{i:>label_width$}");
        let history = core_history(app, i);
        meter(frame, cell, &label, pct, &history, &app.theme);
    }
}

/// `label ████▌    42% ▂▃▅▇` in one line: bar, percentage and history.
/// Few cores and room to spare (a 2-core machine on a tall terminal): each core
/// gets a band, its meter on top and its history as a tall chart below, instead
/// of two lines over an empty panel.
fn tall_cores(frame: &mut Frame, area: Rect, app: &App, system: &SystemSample) {
    let n = system.cores.len();
    let band = area.height / n as u16;
    let label_width = (n - 1).to_string().len() as u16;
    for (i, &pct) in system.cores.iter().enumerate() {
        let y = area.y + i as u16 * band;
        let top = Rect {
            y,
            height: 1,
            width: area.width.saturating_sub(2),
            ..area
        };
        let t = &app.theme;
        let bar_w = (top.width as usize).saturating_sub(label_width as usize + 6);
        let mut spans = vec![Span::styled(
            format!("{i:>w$} ", w = label_width as usize),
            t.dim(),
        )];
        spans.extend(bar(pct, bar_w, t));
        spans.push(Span::styled(
            format!("{:>5}", format!("{pct:.0}%")),
            t.load(pct),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)), top);
        let chart = Rect {
            x: area.x + label_width + 1,
            y: y + 1,
            width: area.width.saturating_sub(label_width + 3),
            height: band - 1,
        };
        let history = core_history(app, i);
        sparkline(frame, chart, &history, app.theme.sparkline());
    }
}

/// Core `i`'s load history, oldest first.
fn core_history(app: &App, i: usize) -> Vec<f32> {
    app.history
        .cores
        .get(i)
        .map(|h| h.iter().copied().collect())
        .unwrap_or_default()
}

fn meter(frame: &mut Frame, area: Rect, label: &str, pct: f32, history: &[f32], t: &Theme) {
    let width = area.width as usize;
    let label_w = label.chars().count() + 1;
    let spark_w = if width >= 40 {
        width * 2 / 5
    } else if width >= 26 {
        width / 4
    } else {
        0
    };
    let bar_w = width.saturating_sub(label_w + 5 + spark_w + usize::from(spark_w > 0));
    let mut spans = vec![Span::styled(format!("{label} "), t.dim())];
    if bar_w >= 3 {
        spans.extend(bar(pct, bar_w, t));
    }
    spans.push(Span::styled(
        format!("{:>5}", format!("{pct:.0}%")),
        t.load(pct),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if spark_w > 0 {
        let spark = Rect {
            x: area.right() - spark_w as u16,
            width: spark_w as u16,
            ..area
        };
        sparkline(frame, spark, history, t.sparkline());
    }
}

/// A bar `width` cells wide filled to `pct` with eighth-cell resolution, on a track.
pub fn bar(pct: f32, width: usize, t: &Theme) -> Vec<Span<'static>> {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = ((pct.clamp(0.0, 100.0) / 100.0) * (width * 8) as f32).round() as usize;
    let full = eighths / 8;
    let mut filled = "█".repeat(full);
    if full < width {
        filled.push_str(PARTS[eighths % 8]);
    }
    let used = full + usize::from(full < width && !eighths.is_multiple_of(8));
    let empty = if t.color { " " } else { "·" };
    vec![
        // The track's background sits under the filled part too (colour only:
        // without colour the track is dimmed, and a dim bar would read as empty).
        Span::styled(
            filled,
            if t.color {
                t.load(pct).patch(t.track())
            } else {
                t.text()
            },
        ),
        Span::styled(empty.repeat(width.saturating_sub(used)), t.track()),
    ]
}

/// The newest values of a 0..100 series, right-aligned in `area`.
fn sparkline(frame: &mut Frame, area: Rect, history: &[f32], style: Style) {
    let n = area.width as usize;
    let data: Vec<u64> = history[history.len().saturating_sub(n)..]
        .iter()
        .map(|v| v.clamp(0.0, 100.0).round() as u64)
        .collect();
    let area = Rect {
        x: area.right() - data.len() as u16,
        width: data.len() as u16,
        ..area
    };
    frame.render_widget(Sparkline::default().data(data).max(100).style(style), area);
}

/// Total and memory lines, then the total's history as a tall chart.
fn render_total(frame: &mut Frame, area: Rect, app: &App, system: &SystemSample) {
    let t = &app.theme;
    let [total, mem, label, chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    meter(frame, total, "all", system.cpu, &[], t);
    memory(frame, mem, system, t);
    let caption = Line::from(Span::styled("total CPU, last minutes", t.dim()));
    frame.render_widget(Paragraph::new(caption), label);
    let history: Vec<f32> = app.history.total.iter().copied().collect();
    sparkline(frame, chart, &history, t.sparkline());
}

fn memory(frame: &mut Frame, area: Rect, system: &SystemSample, t: &Theme) {
    let pct = if system.mem_total > 0 {
        system.mem_used as f32 * 100.0 / system.mem_total as f32
    } else {
        0.0
    };
    let text = format!(
        " {}/{}",
        format::bytes(system.mem_used),
        format::bytes(system.mem_total)
    );
    let bar_w = (area.width as usize).saturating_sub(4 + text.chars().count());
    let mut spans = vec![Span::styled("mem ", t.dim())];
    if bar_w >= 3 {
        spans.extend(bar(pct, bar_w, t));
    }
    spans.push(Span::raw(text));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pct: f32, width: usize) -> String {
        let t = Theme { color: true };
        bar(pct, width, &t)
            .iter()
            .map(|s| s.content.to_string())
            .collect()
    }

    #[test]
    fn bars_fill_by_eighths() {
        assert_eq!(text(0.0, 4), "    ");
        assert_eq!(text(50.0, 4), "██  ");
        assert_eq!(text(100.0, 4), "████");
        assert_eq!(text(56.25, 4), "██▎ ");
    }
}
