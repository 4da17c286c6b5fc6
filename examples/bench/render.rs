//! Render cost: one frame of the main screen at 200x60 with 1,000 workers and full
//! logs, drawn into ratatui's TestBackend (so the terminal's own speed is left out).

use std::time::{Duration, Instant};

use proctor::engine::output::Line;
use proctor::engine::{OutputStore, Stream, WorkerState};
use proctor::tui::{Theme, fake, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use crate::Row;

const WORKERS: u32 = 1000;
const FRAMES: u32 = 200;

pub fn run() -> Row {
    let mut snapshot = fake::snapshot();
    snapshot.workers = (0..WORKERS)
        .map(|i| {
            let mut w = fake::worker(i, &format!("worker#{i}"), WorkerState::Running);
            w.pid = Some(10_000 + i);
            w.last_line = format!("step {i} of {WORKERS}: processing item {}", i * 7);
            w
        })
        .collect();
    snapshot.queue.running = WORKERS as usize;
    let store = OutputStore::new(10_000);
    // The selected worker's ring is full; every other worker has a screenful.
    for w in &snapshot.workers {
        let lines = if w.id.0 == 0 { 10_000 } else { 100 };
        let buffer = store.buffer(w.id);
        let Ok(mut b) = buffer.lock() else { continue };
        for n in 0..lines {
            let text = format!("{} line {n}: {}", w.name, "x".repeat(60));
            b.push(Line::new(store.next_seq(), Stream::Stdout, text));
        }
    }
    let screen = Rect::new(0, 0, 200, 60);
    let app = fake::app(&snapshot, Theme { color: true }, screen);
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 60));
    for _ in 0..20 {
        let _ = terminal.draw(|f| render(f, &app, &snapshot, &store));
    }
    let start = Instant::now();
    for _ in 0..FRAMES {
        let _ = terminal.draw(|f| render(f, &app, &snapshot, &store));
    }
    let per_frame: Duration = start.elapsed() / FRAMES;
    let ms = per_frame.as_secs_f64() * 1000.0;
    Row {
        name: format!("render: main screen 200x60, {WORKERS} workers, full log"),
        target: "< 2 ms per frame".into(),
        measured: format!("{ms:.2} ms"),
        ratio: format!("{:.2} of target", ms / 2.0),
        met: ms < 2.0,
    }
}
