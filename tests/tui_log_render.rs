//! The logs panel's terminal rules, drawn into a TestBackend and compared with
//! insta snapshots: a carriage return rewrites the line, the unfinished line shows,
//! long lines wrap (or are cut and scrolled sideways), a restart's runs are
//! separated, and lines a full ring dropped are counted.

use proctor::engine::{OutputStore, Snapshot, Stream, WorkerId};
use proctor::tui::{Theme, fake, logs};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, backend::TestBackend};

const W: u16 = 60;
const H: u16 = 12;

/// The logs panel of the first worker over `store`, as text.
fn panel(
    snapshot: &Snapshot,
    store: &OutputStore,
    adjust: impl FnOnce(&mut proctor::tui::app::App),
) -> String {
    let mut app = fake::app(snapshot, Theme { color: true }, Rect::new(0, 0, W, H));
    adjust(&mut app);
    let mut terminal = Terminal::new(TestBackend::new(W, H)).expect("backend");
    terminal
        .draw(|f| logs::render(f, f.area(), &app, snapshot, store))
        .expect("draw");
    text(terminal.backend().buffer())
}

fn text(buffer: &Buffer) -> String {
    fake::text(buffer)
}

/// A store where the selected worker (id 0) wrote `lines`, then `pending` without
/// a newline; the ring keeps `capacity` lines.
fn store_with(capacity: usize, lines: &[&[u8]], pending: &[u8]) -> OutputStore {
    let store = OutputStore::new(capacity);
    let buffer = store.buffer(WorkerId(0));
    let mut b = buffer.lock().expect("buffer");
    b.start_run(store.next_seq());
    for line in lines {
        b.push_bytes(store.next_seq(), Stream::Stdout, line);
    }
    b.set_pending(Stream::Stdout, store.next_seq(), 0, pending);
    drop(b);
    store
}

#[test]
fn a_carriage_return_rewrites_the_line() {
    let snap = fake::snapshot();
    let store = store_with(
        100,
        &[
            b"downloading",
            b"10%\r50%\r100% done",
            b"step 1\r\x1b[Kfinished",
        ],
        b"",
    );
    let shown = panel(&snap, &store, |_| {});
    assert!(shown.contains("100% done"), "{shown}");
    assert!(
        !shown.contains("10%"),
        "earlier states are overwritten:\n{shown}"
    );
    assert!(!shown.contains("^M"), "{shown}");
    insta::assert_snapshot!("log_carriage_return", shown);
}

#[test]
fn the_unfinished_line_is_shown() {
    let snap = fake::snapshot();
    let store = store_with(100, &[b"connecting"], b"password: ");
    let shown = panel(&snap, &store, |_| {});
    assert!(shown.contains("password: "), "{shown}");
    let progress = store_with(100, &[b"fetching"], b"[##   ] 40%\r[#### ] 80%");
    let shown = panel(&snap, &progress, |_| {});
    assert!(
        shown.contains("[#### ] 80%") && !shown.contains("40%"),
        "{shown}"
    );
    insta::assert_snapshot!("log_partial_line", shown);
}

#[test]
fn long_lines_wrap_or_scroll_sideways() {
    let snap = fake::snapshot();
    let long: Vec<u8> = (0..150).map(|i| b'a' + (i % 26) as u8).collect();
    let store = store_with(100, &[b"short", &long, b"after"], b"");
    let wrapped = panel(&snap, &store, |_| {});
    assert!(wrapped.contains("after"), "{wrapped}");
    assert!(
        wrapped.contains("uvwxyz"),
        "the end of the long line shows:\n{wrapped}"
    );
    insta::assert_snapshot!("log_wrap", wrapped);
    let cut = panel(&snap, &store, |app| app.logs.toggle_wrap());
    assert!(wrapped.contains("│ fghijkl"), "{wrapped}");
    assert!(!cut.contains("│ fghijkl"), "no continuation row:\n{cut}");
    let sideways = panel(&snap, &store, |app| {
        app.logs.toggle_wrap();
        app.logs.scroll_sideways(100);
    });
    let row = sideways
        .lines()
        .find(|l| l.contains("wxyzabc"))
        .unwrap_or("");
    assert!(
        row.contains("│ wxyzabcdefghijklmnopqrst"),
        "scrolled by 100:\n{sideways}"
    );
    insta::assert_snapshot!("log_cut_sideways", sideways);
}

#[test]
fn dropped_lines_and_restarts_are_said() {
    let snap = fake::snapshot();
    let store = OutputStore::new(5);
    {
        let buffer = store.buffer(WorkerId(0));
        let mut b = buffer.lock().expect("buffer");
        b.start_run(store.next_seq());
        for i in 0..12 {
            b.push_bytes(
                store.next_seq(),
                Stream::Stdout,
                format!("line {i}").as_bytes(),
            );
        }
        b.start_run(store.next_seq());
        b.push_bytes(store.next_seq(), Stream::Stdout, b"second run");
    }
    let shown = panel(&snap, &store, |_| {});
    // 12 lines, a marker and one more line in a ring of 5: 9 made room.
    assert!(
        shown.contains("9 dropped"),
        "the title counts them:\n{shown}"
    );
    assert!(
        shown.contains("9 earlier lines dropped to make room"),
        "the view says so where the kept lines start:\n{shown}"
    );
    assert!(shown.contains("── run 2 ──"), "{shown}");
    insta::assert_snapshot!("log_dropped_and_restart", shown);
    let none = store_with(100, &[b"a", b"b"], b"");
    let shown = panel(&snap, &none, |_| {});
    assert!(
        !shown.contains("dropped"),
        "nothing dropped, nothing said:\n{shown}"
    );
}

#[test]
fn timestamps_show_when_asked() {
    let snap = fake::snapshot();
    let store = store_with(100, &[b"hello"], b"");
    let plain = panel(&snap, &store, |_| {});
    let stamped = panel(&snap, &store, |app| app.logs.timestamps = true);
    let row = |s: &str| {
        s.lines()
            .find(|l| l.contains("hello"))
            .unwrap_or("")
            .to_string()
    };
    let (plain, stamped) = (row(&plain), row(&stamped));
    let at = stamped.find("hello").unwrap_or(0);
    let clock = &stamped[..at];
    assert!(
        clock.chars().filter(|c| *c == ':').count() == 2,
        "HH:MM:SS before the text: {stamped:?} (without: {plain:?})"
    );
}
