//! Keys, mouse and engine events against a fabricated snapshot: which engine
//! Commands the UI sends, which dialogs open, and how quitting proceeds. No
//! terminal and no engine: the input layer is pure.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use proctor::engine::event::{Event as EngineEvent, EventKind, TaskRecord};
use proctor::engine::{Command, JoinTarget, OutputStore, QueueStats, Snapshot, WorkerId};
use proctor::spec::Program;
use proctor::tui::actions::Request;
use proctor::tui::app::{App, Focus, Overlay};
use proctor::tui::{Theme, draw, events, fake, input};
use ratatui::layout::Rect;

const SCREEN: Rect = Rect::new(0, 0, 160, 48);

struct Ui {
    app: App,
    snapshot: Snapshot,
    store: OutputStore,
}

impl Ui {
    fn new() -> Ui {
        let snapshot = fake::snapshot();
        let store = fake::store(&snapshot);
        let app = fake::app(&snapshot, Theme { color: true }, SCREEN);
        Ui {
            app,
            snapshot,
            store,
        }
    }

    /// Map mode over a fabricated map run.
    fn map() -> Ui {
        let snapshot = fake::map_snapshot();
        let store = fake::store(&snapshot);
        let app = fake::map_app(&snapshot, Theme { color: true }, SCREEN);
        Ui {
            app,
            snapshot,
            store,
        }
    }

    fn event(&mut self, event: Event) -> Vec<Command> {
        let requests = input::handle(&mut self.app, event, &self.snapshot, &self.store);
        self.app.sync(&self.snapshot, SCREEN);
        requests
            .into_iter()
            .filter_map(|r| match r {
                Request::Send(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn key(&mut self, code: KeyCode) -> Vec<Command> {
        self.event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn ch(&mut self, c: char) -> Vec<Command> {
        self.key(KeyCode::Char(c))
    }

    fn select(&mut self, id: u32) {
        self.app.workers.selected = Some(WorkerId(id));
        self.app.sync(&self.snapshot, SCREEN);
    }
}

#[test]
fn the_first_worker_is_selected_and_arrows_move() {
    let mut ui = Ui::new();
    assert_eq!(ui.app.workers.selected, Some(WorkerId(0)));
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Down);
    assert_eq!(ui.app.workers.selected, Some(WorkerId(2)));
    ui.key(KeyCode::End);
    assert_eq!(ui.app.workers.selected, Some(WorkerId(18)));
    ui.key(KeyCode::Home);
    assert_eq!(ui.app.workers.selected, Some(WorkerId(0)));
}

#[test]
fn signal_menu_sends_the_chosen_signal_to_process_or_group() {
    let mut ui = Ui::new();
    assert!(ui.ch('k').is_empty());
    assert!(matches!(ui.app.overlay, Some(Overlay::Signal(_))));
    ui.ch('9');
    let sent = ui.key(KeyCode::Enter);
    let expected = Command::Signal {
        workers: vec![WorkerId(0)],
        signal: libc::SIGKILL,
        group: false,
    };
    assert_eq!(sent, [expected]);
    assert!(ui.app.overlay.is_none());

    ui.key(KeyCode::F(9));
    ui.key(KeyCode::Tab);
    let sent = ui.key(KeyCode::Enter);
    assert!(
        matches!(&sent[..], [Command::Signal { signal, group: true, .. }] if *signal == libc::SIGTERM)
    );
    ui.ch('k');
    assert!(ui.key(KeyCode::Esc).is_empty(), "Esc cancels");
}

/// Opens the signal menu, types `text` and presses Enter: what was sent.
fn signal_typed(ui: &mut Ui, text: &str) -> Vec<Command> {
    ui.ch('k');
    for c in text.chars() {
        assert!(ui.ch(c).is_empty(), "typing '{text}' sends nothing");
    }
    ui.key(KeyCode::Enter)
}

#[test]
fn a_typed_signal_name_sends_exactly_that_signal() {
    let mut ui = Ui::new();
    for (text, sig) in [
        ("usr1", libc::SIGUSR1),
        ("SIGUSR1", libc::SIGUSR1),
        ("term", libc::SIGTERM),
        ("kill", libc::SIGKILL),
        ("Quit", libc::SIGQUIT),
        ("rtmin+1", libc::SIGRTMIN() + 1),
    ] {
        let sent = signal_typed(&mut ui, text);
        let expected = Command::Signal {
            workers: vec![WorkerId(0)],
            signal: sig,
            group: false,
        };
        assert_eq!(sent, [expected], "typed '{text}'");
        assert!(ui.app.overlay.is_none());
    }
    // Ambiguous or unknown: Enter sends nothing and the menu stays open.
    for text in ["usr", "t", "nosuch"] {
        assert!(signal_typed(&mut ui, text).is_empty(), "typed '{text}'");
        assert!(matches!(ui.app.overlay, Some(Overlay::Signal(_))));
        ui.key(KeyCode::Esc);
    }
}

#[test]
fn actions_on_one_worker_go_straight_to_the_engine() {
    let mut ui = Ui::new();
    assert_eq!(ui.ch('t'), [Command::Terminate(vec![WorkerId(0)])]);
    assert_eq!(ui.ch('K'), [Command::Kill(vec![WorkerId(0)])]);
    assert_eq!(ui.ch('p'), [Command::Pause(vec![WorkerId(0)])]);
    assert_eq!(ui.ch('r'), [Command::Restart(vec![WorkerId(0)])]);
    ui.select(7); // paused
    assert_eq!(ui.ch('p'), [Command::Resume(vec![WorkerId(7)])]);
    ui.select(13); // queued
    assert_eq!(ui.ch('x'), [Command::Cancel(vec![WorkerId(13)])]);
    let join = Command::Join {
        target: JoinTarget::Worker(WorkerId(13)),
        timeout: None,
    };
    assert_eq!(ui.ch('j'), [join]);
    assert_eq!(ui.ch('+'), [Command::SetMaxParallel(9)]);
    assert_eq!(ui.ch('-'), [Command::SetMaxParallel(8)]); // counts from the 9 just asked for
    assert_eq!(ui.ch('P'), [Command::PauseQueue]);
}

#[test]
fn actions_that_do_not_apply_explain_why() {
    let mut ui = Ui::new();
    ui.select(11); // exited
    assert!(ui.ch('K').is_empty());
    let notice = ui.app.notice.clone().expect("a notice");
    assert!(
        notice.text.contains("cannot kill migrate: it is exited"),
        "{}",
        notice.text
    );
    assert!(
        ui.ch('x').is_empty(),
        "only queued workers can be cancelled"
    );
}

#[test]
fn destructive_actions_on_marked_workers_ask_first() {
    let mut ui = Ui::new();
    ui.ch(' ');
    ui.ch(' ');
    assert_eq!(ui.app.workers.marked.len(), 2);
    assert!(ui.ch('t').is_empty());
    assert!(matches!(ui.app.overlay, Some(Overlay::Confirm(_))));
    assert!(ui.ch('n').is_empty(), "n cancels");
    assert_eq!(ui.app.workers.marked.len(), 2, "marks survive a cancel");
    ui.ch('K');
    assert_eq!(ui.ch('y'), [Command::Kill(vec![WorkerId(0), WorkerId(1)])]);
    assert!(ui.app.workers.marked.is_empty(), "done with the marked set");

    ui.key(KeyCode::Home);
    ui.ch(' ');
    ui.ch(' ');
    ui.ch('k');
    ui.ch('9');
    assert!(
        ui.key(KeyCode::Enter).is_empty(),
        "a signal to many asks too"
    );
    let signal = Command::Signal {
        workers: vec![WorkerId(0), WorkerId(1)],
        signal: libc::SIGKILL,
        group: false,
    };
    assert_eq!(ui.key(KeyCode::Enter), [signal]);
}

#[test]
fn launch_dialog_validates_then_launches() {
    let mut ui = Ui::new();
    ui.ch('n');
    assert!(
        ui.key(KeyCode::Enter).is_empty(),
        "an empty command is refused"
    );
    let Some(Overlay::Launch(dialog)) = &ui.app.overlay else {
        panic!("the dialog stays open");
    };
    assert!(
        dialog
            .error
            .as_deref()
            .unwrap_or("")
            .contains("type a command")
    );
    ui.event(Event::Paste("sleep 300".into()));
    ui.key(KeyCode::Tab);
    ui.key(KeyCode::Backspace);
    ui.ch('3');
    ui.key(KeyCode::Tab);
    for c in "A=1".chars() {
        ui.ch(c);
    }
    let sent = ui.key(KeyCode::Enter);
    let [Command::Launch(job)] = &sent[..] else {
        panic!("one launch: {sent:?}");
    };
    assert_eq!(
        job.program,
        Program::Argv(vec!["sleep".into(), "300".into()])
    );
    assert_eq!(job.count, 3);
    assert_eq!(job.env.get("A").map(String::as_str), Some("1"));
    assert!(ui.app.overlay.is_none());
}

#[test]
fn quitting_with_workers_running_asks_then_stops_everything() {
    let mut ui = Ui::new();
    assert!(ui.ch('q').is_empty());
    assert!(matches!(ui.app.overlay, Some(Overlay::Confirm(_))));
    assert!(ui.key(KeyCode::Esc).is_empty());
    assert!(!ui.app.lifecycle.leave);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    ui.event(Event::Key(ctrl_c));
    assert_eq!(ui.key(KeyCode::Enter), [Command::StopAll]);
    assert!(ui.app.lifecycle.leave);
    assert!(ui.app.lifecycle.stopping.is_some());
    // A second quit while stopping kills what is left.
    assert!(matches!(&ui.ch('q')[..], [Command::Kill(ids)] if !ids.is_empty()));
}

#[test]
fn quitting_an_idle_pool_needs_no_question_and_after_the_engine_ended_sends_nothing() {
    let mut ui = Ui::new();
    ui.snapshot.queue.running = 0;
    ui.snapshot.queue.depth = 0;
    assert_eq!(ui.ch('q'), [Command::StopAll]);

    let mut ui = Ui::new();
    ui.app.lifecycle.engine_ended = true;
    assert!(ui.ch('t').is_empty(), "nothing to send to");
    assert!(ui.ch('q').is_empty());
    assert!(ui.app.lifecycle.leave);
}

#[test]
fn filter_and_sort_change_the_rows() {
    let mut ui = Ui::new();
    ui.ch('/');
    for c in "crawl".chars() {
        ui.ch(c);
    }
    ui.key(KeyCode::Enter);
    assert_eq!(ui.app.workers.order, [8, 9]);
    ui.key(KeyCode::Esc);
    assert_eq!(ui.app.workers.order.len(), 19);
    ui.ch('s'); // cpu: the short cycle starts with it
    let first = ui.app.workers.order[0];
    assert_eq!(ui.snapshot.workers[first].name, "encode#3", "busiest first");
    // F6 picks any column: `n` for name, A→Z.
    ui.key(KeyCode::F(6));
    ui.ch('n');
    assert_eq!(
        ui.app.workers.sort,
        proctor::tui::worker_list::SortKey::Name
    );
    let names: Vec<&str> = (ui.app.workers.order.iter().take(3))
        .map(|&i| ui.snapshot.workers[i].name.as_str())
        .collect();
    assert_eq!(names, ["backup", "crawler#1", "crawler#2"]);
}

#[test]
fn log_search_jumps_between_matches_and_n_means_next_there() {
    let mut ui = Ui::new();
    ui.key(KeyCode::Tab);
    assert_eq!(ui.app.focus, Focus::Logs);
    ui.ch('/');
    for c in "retrying".chars() {
        ui.ch(c);
    }
    ui.key(KeyCode::Enter);
    let search = ui.app.logs.search.clone().expect("a search");
    let first = search.current.expect("the newest match");
    assert!(ui.ch('N').is_empty());
    let older = ui.app.logs.search.as_ref().and_then(|s| s.current).unwrap();
    assert!(older < first);
    assert!(
        ui.ch('n').is_empty(),
        "n is next match, not launch, while searching"
    );
    assert!(ui.app.overlay.is_none());
    assert_eq!(
        ui.app.logs.search.as_ref().and_then(|s| s.current),
        Some(first)
    );
    ui.key(KeyCode::Esc);
    assert!(ui.app.logs.search.is_none());
}

#[test]
fn the_mouse_selects_rows_and_scrolls_the_logs() {
    let mut ui = Ui::new();
    let areas = draw::areas(SCREEN);
    let click = |row: u16| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // Row 0 of the table is below its border and header.
    ui.event(Event::Mouse(click(areas.table.y + 2 + 3)));
    assert_eq!(ui.app.workers.selected, Some(WorkerId(3)));
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 10,
        row: areas.logs.y + 2,
        modifiers: KeyModifiers::NONE,
    };
    assert!(ui.app.logs.top.is_none(), "following");
    ui.event(Event::Mouse(wheel));
    assert!(ui.app.logs.top.is_some(), "scrolled up");
    ui.ch('f');
    assert!(ui.app.logs.top.is_none());
}

#[test]
fn engine_events_become_notices_a_summary_and_the_stop_banner() {
    let mut ui = Ui::new();
    events::apply(
        &mut ui.app,
        EngineEvent::now(EventKind::Joined {
            worker: Some("crawler#2".into()),
            code: Some(-9),
            signal: Some("SIGKILL".into()),
            ok: false,
        }),
    );
    let text = ui.app.current_notice().map(|n| n.text.clone()).unwrap();
    assert_eq!(text, "joined crawler#2: exit -9 SIGKILL");
    events::apply(
        &mut ui.app,
        EngineEvent::now(EventKind::Joined {
            worker: None,
            code: None,
            signal: None,
            ok: false,
        }),
    );
    assert!(matches!(ui.app.overlay, Some(Overlay::Summary)));
    events::apply(
        &mut ui.app,
        EngineEvent::now(EventKind::Interrupted {
            signal: "SIGTERM".into(),
        }),
    );
    assert!(ui.app.lifecycle.leave);
    assert_eq!(
        ui.app.lifecycle.stopping.as_deref(),
        Some("SIGTERM received")
    );
}

#[test]
fn map_mode_turns_off_what_would_bypass_the_driver_and_says_why() {
    let mut ui = Ui::map();
    for key in ['n', 'J', 'r', 'x'] {
        assert!(ui.ch(key).is_empty(), "{key} sends nothing in map mode");
        assert!(ui.app.overlay.is_none(), "{key} opens nothing");
        let notice = ui.app.notice.take().expect("a notice");
        assert!(notice.text.contains("map"), "{}", notice.text);
    }
    // Terminating a task (which --retries may run again) still works.
    assert_eq!(ui.ch('t'), [Command::Terminate(vec![WorkerId(7)])]);
}

#[test]
fn quitting_a_map_run_counts_tasks_not_workers() {
    let mut ui = Ui::map();
    assert!(ui.ch('q').is_empty());
    match &ui.app.overlay {
        Some(Overlay::Confirm(c)) => {
            assert!(
                c.message.contains("6 tasks running and 412 pending"),
                "{}",
                c.message
            )
        }
        other => panic!("a confirmation, not {other:?}"),
    }
    assert_eq!(ui.ch('y'), [Command::StopAll]);
    assert!(ui.app.lifecycle.leave);
}

#[test]
fn map_events_update_the_task_counts_and_tell_of_failures_and_halts() {
    let mut ui = Ui::map();
    let stats = QueueStats {
        depth: 3,
        running: 2,
        done: 7,
        failed: 1,
        stopped: 0,
    };
    let queue = EventKind::Queue {
        waiting: 0,
        stats,
        max_parallel: 2,
        paused: false,
        closed: false,
        held_by: None,
        open_file_slots: None,
    };
    events::apply(&mut ui.app, EngineEvent::now(queue));
    assert_eq!(ui.app.queue(&ui.snapshot), stats);
    let record = TaskRecord {
        task: 9,
        input: "photos/IMG_0009.jpg".into(),
        input_hex: None,
        worker: Some("task-9.retry2".into()),
        pid: Some(4242),
        start: Some(1.0),
        runtime_s: 0.5,
        exit_code: Some(1),
        signal: None,
        timed_out: false,
        retries: 2,
        output_bytes: 0,
        error: None,
        host: None,
    };
    events::apply(&mut ui.app, EngineEvent::now(EventKind::Task(record)));
    let text = ui.app.current_notice().map(|n| n.text.clone()).unwrap();
    assert_eq!(
        text,
        "task 9 'photos/IMG_0009.jpg' failed: exit 1 after 2 retries"
    );
    let halted = EventKind::Halted {
        rule: "soon,fail=1".into(),
        failed: 1,
        finished: 8,
    };
    events::apply(&mut ui.app, EngineEvent::now(halted));
    let map = ui.app.map.as_ref().unwrap();
    assert_eq!(map.halted.as_deref(), Some("soon,fail=1"));
    let text = ui.app.current_notice().map(|n| n.text.clone()).unwrap();
    assert!(text.starts_with("--halt soon,fail=1: 1 of 8"), "{text}");
}

#[test]
fn reap_zombies_nudges_then_offers_to_terminate_the_parent() {
    let mut ui = Ui::new();
    assert!(
        ui.ch('z').is_empty(),
        "worker 0 has no zombies: nothing is sent"
    );
    ui.select(6); // indexer: 2 zombies
    assert_eq!(ui.ch('z'), [Command::ReapZombies(WorkerId(6))]);
    assert!(
        ui.app.overlay.is_none(),
        "the parents get time to reap first"
    );
    ui.app.now += std::time::Duration::from_secs(3);
    ui.app.sync(&ui.snapshot, SCREEN);
    assert!(matches!(&ui.app.overlay, Some(Overlay::Confirm(c)) if c.title == "Zombies remain"));
    assert_eq!(ui.ch('y'), [Command::TerminateZombieParents(WorkerId(6))]);
}

#[test]
fn quick_plus_presses_each_count_before_the_engine_answers() {
    let mut ui = Ui::new();
    assert_eq!(ui.snapshot.max_parallel, 8);
    let sent: Vec<Command> = (0..5).flat_map(|_| ui.ch('+')).collect();
    let wanted: Vec<Command> = (9..=13).map(Command::SetMaxParallel).collect();
    assert_eq!(
        sent, wanted,
        "each press counts from the last one asked for"
    );
    assert_eq!(ui.app.max_parallel(&ui.snapshot), 13, "the new value shows");
    let notice = ui.app.current_notice().map(|n| n.text.clone());
    assert_eq!(notice.as_deref(), Some("max parallel → 13"));
    assert_eq!(ui.ch('-'), [Command::SetMaxParallel(12)]);
    // A snapshot from before the presses that happens to agree settles nothing:
    // `+` then `-` must not fall back to a stale value in between.
    ui.snapshot.max_parallel = 12;
    ui.app.sync(&ui.snapshot, SCREEN);
    assert_eq!(ui.app.max_parallel(&ui.snapshot), 12);
    assert!(ui.app.parallel.is_some(), "too soon to trust the snapshot");
    // The engine's answer, a moment later: from then on the snapshot leads again.
    ui.app.now += std::time::Duration::from_millis(500);
    ui.app.sync(&ui.snapshot, SCREEN);
    assert_eq!(ui.app.parallel, None);
    ui.snapshot.max_parallel = 1;
    ui.app.sync(&ui.snapshot, SCREEN);
    assert_eq!(ui.ch('-'), [Command::SetMaxParallel(1)], "never below 1");
}

#[test]
fn map_queue_events_say_whether_the_total_is_known() {
    let mut ui = Ui::map();
    for closed in [false, true] {
        let queue = EventKind::Queue {
            waiting: 0,
            stats: QueueStats::default(),
            max_parallel: 2,
            paused: false,
            closed,
            held_by: None,
            open_file_slots: None,
        };
        events::apply(&mut ui.app, EngineEvent::now(queue));
        assert_eq!(ui.app.map.as_ref().map(|m| m.total_known), Some(closed));
    }
}
