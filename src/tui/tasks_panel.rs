//! Map mode's tasks panel: tasks done, failed, running and pending (counted by the
//! map driver, after retries), a progress gauge, throughput and ETA, and a chart
//! of the tasks finished each second.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Sparkline};

use super::app::App;
use super::draw::{panel, put, title};
use super::format;
use super::map_run::MapRun;
use crate::engine::Snapshot;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let Some(map) = app.map.as_ref().filter(|_| !area.is_empty()) else {
        return;
    };
    let t = &app.theme;
    let (word, style) = state(app, map, snapshot);
    let state = Line::from(Span::styled(format!(" {word} "), style)).alignment(Alignment::Right);
    let block = panel(title("Tasks", false, t, Vec::new()), false, t).title(state);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let q = &map.tasks;
    let mut y = inner.y;
    let ended = vec![
        Span::styled("done ", t.dim()),
        Span::styled(q.done.to_string(), t.good()),
        Span::styled("  failed ", t.dim()),
        Span::styled(
            q.failed.to_string(),
            if q.failed > 0 { t.error() } else { t.text() },
        ),
    ];
    let left = vec![
        Span::styled("running ", t.dim()),
        Span::styled(
            format!("{}/{}", q.running, app.max_parallel(snapshot)),
            t.bold(),
        ),
        Span::styled("  pending ", t.dim()),
        // Until the input ends, only the tasks read so far are known to wait.
        Span::styled(
            if map.total_known {
                q.depth.to_string()
            } else {
                format!("≥{}", q.depth)
            },
            t.bold(),
        ),
    ];
    let (ended, left) = (Line::from(ended), Line::from(left));
    if ended.width() + 2 + left.width() <= inner.width as usize {
        let mut both = ended;
        both.spans.push(Span::raw("  "));
        both.spans.extend(left.spans);
        put(frame, inner, &mut y, both);
    } else {
        put(frame, inner, &mut y, ended);
        put(frame, inner, &mut y, left);
    }
    if y < inner.bottom() {
        let (ratio, label) = progress(map, inner.width as usize);
        let gauge = Gauge::default()
            .ratio(ratio)
            .label(label)
            .gauge_style(t.gauge())
            .use_unicode(true);
        let row = Rect {
            y,
            height: 1,
            ..inner
        };
        frame.render_widget(gauge, row);
        y += 1;
    }
    let rate = app.history.throughput();
    // An ETA needs a total: from the tasks read so far it would be too early.
    let eta = match map.total_known {
        true => app.history.eta(q).map_or("–".to_string(), format::duration),
        false => "–".to_string(),
    };
    let rate_line = Line::from(vec![
        Span::styled("throughput ", t.dim()),
        Span::raw(rate.map_or("–".to_string(), |r| format!("{r:.2}/s"))),
        Span::styled("  ETA ", t.dim()),
        Span::styled(eta, t.bold()),
    ]);
    put(frame, inner, &mut y, rate_line);
    if y < inner.bottom() {
        chart(
            frame,
            Rect {
                y,
                height: inner.bottom() - y,
                ..inner
            },
            app,
        );
    }
}

/// The gauge's fill and label: `54/200 · 27%` from a known total; while the
/// input is still read, only counts: `54 done · ≥64 pending · reading input`
/// (shorter when `width` is narrow).
pub fn progress(map: &MapRun, width: usize) -> (f64, String) {
    let finished = map.finished();
    match map.total() {
        Some(total) => {
            let ratio = if total > 0 {
                (finished as f64 / total as f64).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (ratio, format!("{finished}/{total} · {:.0}%", ratio * 100.0))
        }
        None => {
            let long = format!("{finished} done · ≥{} pending · reading input", map.left());
            let label = if long.chars().count() <= width {
                long
            } else {
                format!("{finished} done · reading input")
            };
            (0.0, label)
        }
    }
}

/// The word on the panel's border: where the run stands.
fn state(app: &App, map: &MapRun, snapshot: &Snapshot) -> (&'static str, Style) {
    let t = &app.theme;
    if map.halted.is_some() {
        ("halted", t.error())
    } else if app.lifecycle.stopping.is_some() {
        ("stopping", t.warn())
    } else if let Some(ok) = map.ok {
        if ok {
            ("all done", t.good())
        } else {
            ("ended", t.error())
        }
    } else if snapshot.queue_paused {
        ("paused", t.warn())
    } else {
        ("running", t.good())
    }
}

/// Tasks finished per second, newest on the right.
fn chart(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    // The chart's top is the busiest sample: the label says what that is.
    let rates = app.history.finished_per_sample();
    let peak = rates.iter().copied().max().unwrap_or(0);
    let text = format!("done/s ≤{peak}");
    let label_w = (text.chars().count() as u16 + 1).min(area.width);
    let label = Rect {
        width: label_w,
        height: 1,
        ..area
    };
    frame.render_widget(Paragraph::new(Span::styled(text, t.dim())), label);
    let n = area.width.saturating_sub(label_w) as usize;
    let data = rates[rates.len().saturating_sub(n)..].to_vec();
    let spark = Rect {
        x: area.right() - data.len() as u16,
        width: data.len() as u16,
        ..area
    };
    let chart = Sparkline::default().data(data).max(peak.max(1));
    frame.render_widget(chart.style(t.sparkline()), spark);
}
