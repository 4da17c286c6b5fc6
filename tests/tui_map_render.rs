//! Map mode's screen drawn from a fabricated map run into a TestBackend at 80x24
//! and 160x48 and compared with insta snapshots: the tasks panel and the slowest
//! running tasks lead, the footer leaves out the keys that are off in map mode.

use proctor::engine::{OutputStore, Snapshot};
use proctor::tui::app::{App, Overlay};
use proctor::tui::{Theme, fake, render};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, backend::TestBackend};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

struct Scene {
    snapshot: Snapshot,
    store: OutputStore,
}

fn scene() -> Scene {
    let snapshot = fake::map_snapshot();
    let store = fake::store(&snapshot);
    Scene { snapshot, store }
}

fn app_for(scene: &Scene, w: u16, h: u16) -> App {
    fake::map_app(
        &scene.snapshot,
        Theme { color: true },
        Rect::new(0, 0, w, h),
    )
}

/// The screen as text, one line per row (every cell in these scenes is narrow).
fn screen(scene: &Scene, app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| render(f, app, &scene.snapshot, &scene.store))
        .unwrap();
    text(terminal.backend().buffer())
}

fn text(buffer: &Buffer) -> String {
    fake::text(buffer)
}

#[test]
fn map_screen() {
    let s = scene();
    for (w, h) in SIZES {
        let app = app_for(&s, w, h);
        insta::assert_snapshot!(format!("map_{w}x{h}"), screen(&s, &app, w, h));
    }
}

#[test]
fn map_screen_after_a_halt() {
    let s = scene();
    let mut app = app_for(&s, 80, 24);
    if let Some(map) = &mut app.map {
        map.halted = Some("soon,fail=2".into());
        map.tasks.depth = 0;
    }
    insta::assert_snapshot!("map_halted_80x24", screen(&s, &app, 80, 24));
}

#[test]
fn map_help_lists_the_keys_that_are_off() {
    let s = scene();
    // Tall enough for the whole help (it grew with the process tree and F-keys).
    let mut app = app_for(&s, 200, 90);
    app.overlay = Some(Overlay::Help { scroll: 0 });
    let shown = screen(&s, &app, 200, 90);
    assert!(shown.contains("Off in map mode"), "{shown}");
    assert!(shown.contains("launches no jobs"), "{shown}");
}

#[test]
fn no_running_task_and_tiny_terminals() {
    let mut s = scene();
    s.snapshot.workers.retain(|w| !w.state.is_active());
    for (w, h) in [(80, 24), (40, 12), (20, 6), (1, 1)] {
        let app = app_for(&s, w, h);
        let shown = screen(&s, &app, w, h);
        if w == 80 {
            assert!(shown.contains("no task running"), "{shown}");
        }
    }
}

#[test]
fn progress_from_a_pipe_says_the_total_is_not_known_yet() {
    let s = scene();
    let mut app = app_for(&s, 80, 24);
    let map = app.map.as_mut().expect("map mode");
    // 54 finished, 4 running and 60 read but waiting: 200 will come in all.
    map.tasks.done = 54;
    map.tasks.failed = 0;
    map.tasks.running = 4;
    map.tasks.depth = 60;
    map.total_known = false;
    let shown = screen(&s, &app, 80, 24);
    assert!(shown.contains("54 done · reading input"), "{shown}");
    assert!(
        shown.contains("pending ≥60") && shown.contains("≥60 pending"),
        "{shown}"
    );
    assert!(
        !shown.contains("54/118") && !shown.contains("46%"),
        "{shown}"
    );
    assert!(shown.contains("ETA –"), "{shown}");
    let wide = screen(&s, &app, 160, 48);
    assert!(
        wide.contains("54 done · ≥64 pending · reading input"),
        "{wide}"
    );
    // The input ended: from here on there is a total, a percentage and an ETA.
    let map = app.map.as_mut().expect("map mode");
    map.total_known = true;
    let shown = screen(&s, &app, 80, 24);
    assert!(shown.contains("54/118 · 46%"), "{shown}");
}
