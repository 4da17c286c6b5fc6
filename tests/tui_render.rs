//! Rendering tests: every panel and dialog drawn from a fabricated snapshot into a
//! TestBackend at 80x24 and 160x48 and compared with insta snapshots; tiny
//! terminals must not panic; worker output can never put a raw ESC on screen;
//! NO_COLOR draws without a single colour.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use proctor::engine::output::Line as StoredLine;
use proctor::engine::{OutputStore, Snapshot, Stream, WorkerId};
use proctor::tui::app::{App, Focus, Overlay};
use proctor::tui::confirm::{Confirm, Pending};
use proctor::tui::launch_dialog::LaunchDialog;
use proctor::tui::log_view::Search;
use proctor::tui::signal_menu::SignalMenu;
use proctor::tui::text_input::TextInput;
use proctor::tui::{Theme, cores, fake, footer, header, logs, queue_panel, render, workers_table};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::{Frame, Terminal, backend::TestBackend};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

struct Scene {
    snapshot: Snapshot,
    store: OutputStore,
}

fn scene() -> Scene {
    let snapshot = fake::snapshot();
    let store = fake::store(&snapshot);
    Scene { snapshot, store }
}

fn app_for(scene: &Scene, w: u16, h: u16) -> App {
    fake::app(
        &scene.snapshot,
        Theme { color: true },
        Rect::new(0, 0, w, h),
    )
}

/// Draws into a w×h TestBackend and returns the buffer.
fn draw(w: u16, h: u16, f: impl FnOnce(&mut Frame)) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(f).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as text, one line per row.
fn text(buffer: &Buffer) -> String {
    let w = buffer.area.width as usize;
    let cells = buffer.content();
    let mut out = String::new();
    for row in cells.chunks(w) {
        let mut skip = 0;
        for cell in row {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let s = cell.symbol();
            skip = unicode_width(s).saturating_sub(1);
            out.push_str(s);
        }
        out.push('\n');
    }
    out
}

/// Wide characters (CJK) take two cells; everything in these scenes is narrow.
fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width().max(1)
}

fn screen(scene: &Scene, app: &App, w: u16, h: u16) -> String {
    text(&draw(w, h, |f| {
        render(f, app, &scene.snapshot, &scene.store)
    }))
}

#[test]
fn main_screen() {
    let s = scene();
    for (w, h) in SIZES {
        let app = app_for(&s, w, h);
        insta::assert_snapshot!(format!("main_{w}x{h}"), screen(&s, &app, w, h));
    }
}

#[test]
fn each_panel_alone() {
    let s = scene();
    for (w, h) in SIZES {
        let app = app_for(&s, w, h);
        let snap = &s.snapshot;
        let panels: [(&str, Buffer); 6] = [
            (
                "header",
                draw(w, h, |f| header::render(f, f.area(), &app, snap)),
            ),
            (
                "cores",
                draw(w, h, |f| cores::render(f, f.area(), &app, snap)),
            ),
            (
                "queue",
                draw(w, h, |f| queue_panel::render(f, f.area(), &app, snap)),
            ),
            (
                "workers",
                draw(w, h, |f| workers_table::render(f, f.area(), &app, snap)),
            ),
            (
                "logs",
                draw(w, h, |f| logs::render(f, f.area(), &app, snap, &s.store)),
            ),
            (
                "footer",
                draw(w, h, |f| footer::render(f, f.area(), &app, snap)),
            ),
        ];
        for (name, buffer) in panels {
            insta::assert_snapshot!(format!("panel_{name}_{w}x{h}"), text(&buffer));
        }
    }
}

#[test]
fn help_overlay() {
    let s = scene();
    for (w, h) in SIZES {
        let mut app = app_for(&s, w, h);
        app.overlay = Some(Overlay::Help { scroll: 0 });
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&s, &app, w, h));
    }
}

#[test]
fn signal_menu() {
    let s = scene();
    for (w, h) in SIZES {
        let mut app = app_for(&s, w, h);
        let mut menu = SignalMenu::new(vec![WorkerId(0)], "encode#1 (pid 41000)".into());
        menu.group = true;
        app.overlay = Some(Overlay::Signal(menu));
        insta::assert_snapshot!(format!("signal_menu_{w}x{h}"), screen(&s, &app, w, h));
    }
}

fn menu_typed(text: &str) -> SignalMenu {
    let mut menu = SignalMenu::new(vec![WorkerId(0)], "encode#1 (pid 41000)".into());
    for c in text.chars() {
        menu.handle(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    menu
}

#[test]
fn signal_menu_shows_the_filter_and_why_enter_waits() {
    let s = scene();
    let mut app = app_for(&s, 80, 24);
    app.overlay = Some(Overlay::Signal(menu_typed("usr")));
    insta::assert_snapshot!("signal_menu_ambiguous", screen(&s, &app, 80, 24));
    app.overlay = Some(Overlay::Signal(menu_typed("sigusr1")));
    let shown = screen(&s, &app, 80, 24);
    assert!(shown.contains("signal: SIGUSR1▏"), "{shown}");
    assert!(shown.contains(">10  SIGUSR1"), "{shown}");
    assert!(!shown.contains("SIGUSR2"), "{shown}");
}

#[test]
fn the_chosen_signal_stands_out_with_and_without_colour() {
    let s = scene();
    for color in [true, false] {
        let mut app = app_for(&s, 80, 24);
        app.theme = Theme { color };
        app.overlay = Some(Overlay::Signal(menu_typed("kill")));
        let buffer = draw(80, 24, |f| render(f, &app, &s.snapshot, &s.store));
        let shown = text(&buffer);
        let (y, line) = shown
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("> 9  SIGKILL"))
            .expect("the chosen row has a marker");
        assert!(!line.contains(">15"), "one marker");
        let cell = buffer
            .content()
            .iter()
            .skip(y * 80)
            .take(80)
            .find(|c| c.symbol() == "K")
            .expect("a cell of the row");
        assert!(
            cell.modifier.contains(Modifier::REVERSED),
            "reverse video (color {color})"
        );
    }
}

#[test]
fn launch_dialog() {
    let s = scene();
    for (w, h) in SIZES {
        let mut app = app_for(&s, w, h);
        let dialog = LaunchDialog {
            command: TextInput::new("python3 worker.py --queue jobs"),
            count: TextInput::new("4"),
            env: TextInput::new("=oops"),
            error: Some("env '=oops' has an empty name".into()),
            ..LaunchDialog::default()
        };
        app.overlay = Some(Overlay::Launch(Box::new(dialog)));
        insta::assert_snapshot!(format!("launch_dialog_{w}x{h}"), screen(&s, &app, w, h));
    }
}

#[test]
fn confirm_and_summary() {
    let s = scene();
    let mut app = app_for(&s, 80, 24);
    app.overlay = Some(Overlay::Confirm(Confirm {
        title: "Quit".into(),
        message: "8 running and 5 queued workers. Terminate them all and quit?".into(),
        on_yes: Pending::Quit,
    }));
    insta::assert_snapshot!("confirm_80x24", screen(&s, &app, 80, 24));
    app.overlay = Some(Overlay::Summary);
    app.lifecycle.joined_all = Some(false);
    insta::assert_snapshot!("summary_80x24", screen(&s, &app, 80, 24));
}

#[test]
fn merged_logs_with_search_and_filter() {
    let s = scene();
    let mut app = app_for(&s, 160, 48);
    app.focus = Focus::Logs;
    app.logs.toggle_merged();
    app.logs.search = Some(Search::for_pattern("warn|fail"));
    app.workers.filter = TextInput::new("crawl");
    app.sync(&s.snapshot, Rect::new(0, 0, 160, 48));
    insta::assert_snapshot!("merged_search_filter_160x48", screen(&s, &app, 160, 48));
}

#[test]
fn stopping_banner_and_empty_pool_before_first_sample() {
    let s = scene();
    let mut app = app_for(&s, 80, 24);
    app.lifecycle.stopping = Some("SIGTERM received".into());
    insta::assert_snapshot!("stopping_80x24", screen(&s, &app, 80, 24));

    let empty = Scene {
        snapshot: Snapshot {
            max_parallel: 2,
            ..Snapshot::default()
        },
        store: OutputStore::new(10),
    };
    let app = fake::app(
        &empty.snapshot,
        Theme { color: true },
        Rect::new(0, 0, 80, 24),
    );
    insta::assert_snapshot!("empty_pool_80x24", screen(&empty, &app, 80, 24));
    // However narrow, the footer of an empty pool offers a launch.
    for width in [40, 60] {
        let shown = screen(&empty, &app, width, 12);
        let footer = shown.lines().last().unwrap_or_default();
        assert!(footer.contains(" n  launch"), "{width}: {footer}");
    }
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    let s = scene();
    let overlays = [
        None,
        Some(Overlay::Help { scroll: 3 }),
        Some(Overlay::Signal(SignalMenu::new(
            vec![WorkerId(0)],
            "w".into(),
        ))),
        Some(Overlay::Launch(Box::default())),
        Some(Overlay::Summary),
        Some(Overlay::Sort(proctor::tui::sort_menu::SortMenu::new(
            proctor::tui::worker_list::SortKey::Cpu,
            true,
        ))),
    ];
    let mut sizes = vec![
        (1, 1),
        (2, 2),
        (10, 3),
        (0, 0),
        (1, 40),
        (200, 1),
        (250, 70),
    ];
    for w in (1..=90).step_by(7) {
        for h in (1..=30).step_by(4) {
            sizes.push((w, h));
        }
    }
    for (w, h) in sizes {
        for overlay in &overlays {
            let mut app = app_for(&s, w, h);
            app.overlay = overlay.clone();
            app.logs.toggle_merged();
            draw(w, h, |f| render(f, &app, &s.snapshot, &s.store));
        }
    }
}

#[test]
fn escape_sequences_never_reach_the_screen() {
    let mut s = scene();
    let evil = "\x1b[2J\x1b]0;pwned\x07 \u{9b}31m red";
    for w in &mut s.snapshot.workers {
        w.last_line = evil.into();
        w.command = evil.into();
    }
    for id in [WorkerId(0), WorkerId(4)] {
        let seq = s.store.next_seq();
        let buffer = s.store.buffer(id);
        buffer
            .lock()
            .unwrap()
            .push(StoredLine::new(seq, Stream::Stderr, evil));
    }
    for merged in [false, true] {
        let mut app = app_for(&s, 160, 48);
        if merged {
            app.logs.toggle_merged();
        }

        let buffer = draw(160, 48, |f| render(f, &app, &s.snapshot, &s.store));
        let shown = text(&buffer);
        assert!(!shown.contains('\x1b'), "raw ESC on screen:\n{shown}");
        assert!(!shown.contains('\u{9b}'), "raw CSI on screen");
        let log_line = "^[[2J^[]0;pwned^G <U+009B>31m red";
        assert!(
            shown.contains(log_line),
            "the line is shown neutralised:\n{shown}"
        );
        let table = shown.lines().find(|l| l.contains("encode#1 ")).unwrap();
        assert!(
            table.contains("^[[2J^[]0;pwned"),
            "last output neutralised: {table}"
        );
    }
}

#[test]
fn no_color_draws_no_colours() {
    let s = scene();
    let mut app = fake::app(
        &s.snapshot,
        Theme { color: false },
        Rect::new(0, 0, 160, 48),
    );
    for overlay in [
        None,
        Some(Overlay::Help { scroll: 0 }),
        Some(Overlay::Launch(Box::default())),
    ] {
        app.overlay = overlay;
        let buffer = draw(160, 48, |f| render(f, &app, &s.snapshot, &s.store));
        for cell in buffer.content() {
            assert_eq!(cell.fg, Color::Reset, "coloured cell {:?}", cell.symbol());
            assert_eq!(cell.bg, Color::Reset, "coloured cell {:?}", cell.symbol());
        }
    }
}

#[test]
fn stderr_is_marked_and_the_selection_highlighted() {
    let s = scene();
    let app = app_for(&s, 160, 48);
    let buffer = draw(160, 48, |f| render(f, &app, &s.snapshot, &s.store));
    let rows: Vec<String> = text(&buffer).lines().map(str::to_string).collect();
    let y = rows
        .iter()
        .position(|r| r.contains("▌warning"))
        .expect("a stderr line") as u16;
    let x = rows[y as usize].chars().position(|c| c == '▌').unwrap() as u16;
    assert_eq!(buffer[(x, y)].fg, Color::LightRed);
    let sel = rows.iter().position(|r| r.contains("encode#1 ")).unwrap() as u16;
    assert_ne!(
        buffer[(5, sel)].bg,
        Color::Reset,
        "the first worker is selected"
    );
}

#[test]
fn ten_thousand_workers_draw_only_what_shows() {
    let mut snapshot = fake::snapshot();
    let template = snapshot.workers[0].clone();
    for i in snapshot.workers.len()..10_000 {
        let mut w = template.clone();
        w.id = WorkerId(i as u32);
        w.name = format!("bulk#{i}");
        w.stats.cpu = (i % 97) as f32;
        snapshot.workers.push(w);
    }
    let store = fake::store(&snapshot);
    let scene = Scene { snapshot, store };
    let mut app = app_for(&scene, 160, 48);
    app.workers.sort = proctor::tui::worker_list::SortKey::Cpu;
    let start = std::time::Instant::now();
    for i in 0..20 {
        app.workers
            .move_by(if i % 2 == 0 { 500 } else { -250 }, &scene.snapshot);
        app.sync(&scene.snapshot, Rect::new(0, 0, 160, 48));
        draw(160, 48, |f| render(f, &app, &scene.snapshot, &scene.store));
    }
    let per_frame = start.elapsed() / 20;
    // Generous for an unoptimised build on a busy machine; a frame that walked
    // every row would take far longer.
    assert!(per_frame.as_millis() < 250, "{per_frame:?} per frame");
    println!("{per_frame:?} per frame with 10k workers");
}

#[test]
fn narrow_tables_show_whole_pids() {
    let s = scene();
    for w in [30u16, 40, 50, 60] {
        let app = app_for(&s, w, 30);
        let shown = text(&draw(w, 30, |f| {
            workers_table::render(f, f.area(), &app, &s.snapshot)
        }));
        for worker in &s.snapshot.workers {
            let Some(pid) = worker.pid else { continue };
            let row = shown
                .lines()
                .find(|l| {
                    l.contains(&worker.name[..worker.name.len().min(4)])
                        && l.contains(&pid.to_string()[1..])
                })
                .unwrap_or_else(|| panic!("{} at {w} columns:\n{shown}", worker.name));
            let whole = row
                .split(|c: char| !c.is_ascii_digit())
                .any(|field| field == pid.to_string());
            assert!(whole, "pid {pid} whole at {w} columns: {row}");
        }
        if w == 40 {
            insta::assert_snapshot!("workers_40_columns", shown);
        }
    }
}

#[test]
fn a_worker_that_could_not_start_keeps_its_reason_in_row_and_log() {
    let s = scene();
    let mut app = app_for(&s, 160, 48);
    app.workers.selected = Some(WorkerId(12));
    app.now += std::time::Duration::from_secs(60); // any notice is long gone
    app.sync(&s.snapshot, Rect::new(0, 0, 160, 48));
    let shown = screen(&s, &app, 160, 48);
    assert!(
        shown.contains("could not start: No such file or directory (os error 2)"),
        "{shown}"
    );
    let row = shown
        .lines()
        .find(|l| l.contains("report") && l.contains("spawn error"))
        .expect("the row");
    assert!(row.contains("No such file or directory"), "{row}");
}

#[test]
fn process_tree_shows_descendants_and_zombies_with_their_parent() {
    use proctor::sample::ProcSample;
    use proctor::tui::proc_tree::ProcTree;
    let mut s = scene();
    let proc = |pid, ppid, state, depth, command: &str| ProcSample {
        pid,
        ppid,
        start: u64::from(pid) * 10,
        state,
        cpu: 12.5,
        rss: 3 << 20,
        command: command.into(),
        depth,
    };
    s.snapshot.workers[0].stats.procs = vec![
        proc(41001, 41000, 'S', 1, "sh -c make -j2"),
        proc(41002, 41001, 'R', 2, "cc -c \x1b[31mmain.c"),
        proc(41003, 41001, 'Z', 2, ""),
    ]
    .into();
    let mut app = app_for(&s, 80, 24);
    app.tree = Some(ProcTree::new(s.snapshot.workers[0].id));
    let shown = screen(&s, &app, 80, 24);
    assert!(shown.contains("41003   41001 Z"), "{shown}");
    assert!(shown.contains("<defunct>"), "{shown}");
    assert!(!shown.contains('\x1b'), "{shown}");
    insta::assert_snapshot!("process_tree_80x24", shown);
}

#[test]
fn a_few_cores_on_a_tall_panel_get_a_chart_each() {
    let mut s = scene();
    s.snapshot.system = Some(fake::system(2));
    let app = app_for(&s, 200, 50);
    let panel = text(&draw(100, 12, |f| {
        cores::render(f, f.area(), &app, &s.snapshot)
    }));
    let rows: Vec<&str> = panel.lines().collect();
    // Inside the border: core 0's meter, then its history chart below it (the
    // rows that used to stay empty), then core 1's meter at the next band.
    assert!(rows[1].trim_start_matches('│').starts_with("0 "), "{panel}");
    let chart = |r: &str| r.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c));
    assert!(rows[2..6].iter().any(|r| chart(r)), "{panel}");
    assert!(rows[6].trim_start_matches('│').starts_with("1 "), "{panel}");
}

fn deps_scene() -> Scene {
    let snapshot = fake::deps::snapshot();
    let store = fake::store(&snapshot);
    Scene { snapshot, store }
}

/// The state column says `ready`, `unhealthy`, `waiting`, `skipped`; a waiting
/// worker's log says what it waits for, a skipped one's why; `D` lists the jobs in
/// start order with their edges, conditions and states.
#[test]
fn dependency_states_notices_and_view() {
    let s = deps_scene();
    let mut app = app_for(&s, 80, 24);
    app.workers.selected = Some(WorkerId(4));
    app.sync(&s.snapshot, Rect::new(0, 0, 80, 24));
    let shown = screen(&s, &app, 80, 24);
    insta::assert_snapshot!("deps_waiting_80x24", shown);
    assert!(
        shown.contains("waiting for app to be ready (now 1 ready · 1 starting)"),
        "{shown}"
    );
    let mut app = app_for(&s, 160, 48);
    app.workers.selected = Some(WorkerId(7));
    app.sync(&s.snapshot, Rect::new(0, 0, 160, 48));
    let shown = screen(&s, &app, 160, 48);
    assert!(
        shown.contains("skipped: it depends on lint, which exited 1"),
        "{shown}"
    );
    for (name, state) in [
        ("db", "ready"),
        ("cache", "unhealthy"),
        ("tests", "waiting"),
        ("docs", "skipped"),
    ] {
        let row = shown
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {shown}"));
        assert!(row.contains(state), "{name} is not {state}: {row}");
    }

    // Overlays on terminals narrower than their preferred width (a 40x12 window,
    // and smaller) are cut to fit, never a panic.
    for (w, h) in [(40, 12), (30, 8), (12, 4)] {
        for overlay in [
            Overlay::Deps { scroll: 0 },
            Overlay::Help { scroll: 0 },
            Overlay::Summary,
        ] {
            let mut app = app_for(&s, w, h);
            app.overlay = Some(overlay);
            let shown = screen(&s, &app, w, h);
            assert_eq!(shown.lines().count(), h as usize, "{w}x{h}: {shown}");
        }
    }

    for (w, h) in SIZES {
        let mut app = app_for(&s, w, h);
        app.overlay = Some(Overlay::Deps { scroll: 0 });
        let shown = screen(&s, &app, w, h);
        insta::assert_snapshot!(format!("deps_view_{w}x{h}"), shown);
        let order: Vec<usize> = ["db ", "migrate ", "app ", "tests "]
            .iter()
            .map(|j| {
                shown
                    .lines()
                    .position(|l| l.contains(&format!("│ {j}")))
                    .unwrap_or_else(|| panic!("no line for {j}: {shown}"))
            })
            .collect();
        assert!(order.windows(2).all(|p| p[0] < p[1]), "{shown}");
    }
}
