//! The queue panel: depth, running, done and failed, a progress gauge, the depth
//! history, throughput and an ETA while the queue drains.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph, Sparkline};

use super::app::App;
use super::draw::{panel, put, title};
use super::format;
use crate::engine::Snapshot;
use crate::engine::snapshot::HeldBy;

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let q = &snapshot.queue;
    let (word, style) = if snapshot.queue_paused {
        ("paused".to_string(), t.warn())
    } else if let (Some(HeldBy::OpenFiles), Some(fit)) =
        (snapshot.held_by, snapshot.open_file_slots)
    {
        // The open-file limit, not max_parallel, keeps the rest waiting.
        (format!("held: open-file limit, {fit} fit"), t.warn())
    } else if snapshot.queue_closed {
        ("closed".to_string(), t.dim())
    } else {
        ("open".to_string(), t.good())
    };
    let state =
        Line::from(vec![Span::styled(format!(" {word} "), style)]).alignment(Alignment::Right);
    let block = panel(title("Queue", false, t, Vec::new()), false, t).title(state);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let mut y = inner.y;
    let (run, fail) = if inner.width >= 40 {
        ("running", "failed")
    } else {
        ("run", "fail")
    };
    let mut counts = Line::from(vec![
        Span::styled("depth ", t.dim()),
        Span::styled(q.depth.to_string(), t.bold()),
        Span::styled(format!("  {run} "), t.dim()),
        Span::styled(
            format!("{}/{}", q.running, app.max_parallel(snapshot)),
            t.good(),
        ),
        Span::styled("  done ", t.dim()),
        Span::raw(q.done.to_string()),
        Span::styled(format!("  {fail} "), t.dim()),
        Span::styled(
            q.failed.to_string(),
            if q.failed > 0 { t.error() } else { t.text() },
        ),
    ]);
    if q.stopped > 0 {
        counts.push_span(Span::styled("  stopped ", t.dim()));
        counts.push_span(Span::raw(q.stopped.to_string()));
    }
    put(frame, inner, &mut y, counts);
    let finished = q.done + q.failed + q.stopped;
    let total = finished + q.running + q.depth;
    let ratio = if total > 0 {
        finished as f64 / total as f64
    } else {
        0.0
    };
    if y < inner.bottom() {
        let label = format!("{finished}/{total} · {:.0}%", ratio * 100.0);
        let gauge = Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(label)
            .gauge_style(t.gauge())
            .use_unicode(true);
        frame.render_widget(
            gauge,
            Rect {
                y,
                height: 1,
                ..inner
            },
        );
        y += 1;
    }
    let rate = app.history.throughput();
    let rate_text = rate.map_or("–".to_string(), |r| format!("{r:.2}/s"));
    let eta = app
        .history
        .eta(&snapshot.queue)
        .map_or("–".to_string(), format::duration);
    let mut rate_line = Line::from(vec![
        Span::styled("throughput ", t.dim()),
        Span::raw(rate_text),
        Span::styled("  ETA ", t.dim()),
        Span::styled(eta, t.bold()),
    ]);
    if inner.width >= 56 {
        rate_line
            .spans
            .push(Span::styled("  max parallel ", t.dim()));
        rate_line
            .spans
            .push(Span::raw(app.max_parallel(snapshot).to_string()));
    }
    put(frame, inner, &mut y, rate_line);
    if y < inner.bottom() {
        let chart = Rect {
            y,
            height: inner.bottom() - y,
            ..inner
        };
        // The chart scales to its tallest bar: the label says what that is.
        let depth = &app.history.depth;
        let peak = depth.iter().copied().max().unwrap_or(0);
        let label = format!("depth ≤{peak}");
        let label_w = (label.chars().count() as u16 + 1).min(chart.width);
        frame.render_widget(
            Paragraph::new(Span::styled(label, t.dim())),
            Rect {
                width: label_w,
                height: 1,
                ..chart
            },
        );
        let n = chart.width.saturating_sub(label_w) as usize;
        let data: Vec<u64> = depth
            .iter()
            .skip(depth.len().saturating_sub(n))
            .copied()
            .collect();
        let spark = Rect {
            x: chart.right() - data.len() as u16,
            width: data.len() as u16,
            ..chart
        };
        let chart = Sparkline::default().data(data).max(peak.max(1));
        frame.render_widget(chart.style(t.sparkline()), spark);
    }
}
