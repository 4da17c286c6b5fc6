//! The terminal UI: a front end over the engine that sends `Command`s and renders
//! `Event`s, `Snapshot`s and the output store (ratatui + crossterm).
//!
//! State lives in `app` (no drawing), keys in `keymap`, each panel and dialog in a
//! file of its own, and `draw::render` draws one frame from plain inputs, so tests
//! and the screenshot tool render fabricated snapshots without an engine.

pub mod actions;
pub mod app;
pub mod confirm;
pub mod cores;
pub mod deps_view;
pub mod draw;
mod event_loop;
pub mod events;
// Fixtures for tests, render snapshots and the screenshot tool; not in the product.
#[cfg(any(test, feature = "test-hooks"))]
pub mod fake;
pub mod footer;
pub mod format;
pub mod header;
pub mod help;
pub mod history;
pub mod input;
pub mod keymap;
pub mod launch_dialog;
pub mod log_rows;
pub mod log_view;
pub mod logs;
pub mod map_run;
pub mod pool_rate;
pub mod proc_tree;
pub mod queue_panel;
pub mod signal_menu;
pub mod slowest;
pub mod sort_menu;
pub mod summary;
pub mod tasks_panel;
pub mod terminal;
pub mod text_input;
pub mod theme;
pub mod worker_list;
pub mod workers_table;

use std::io;
use std::time::SystemTime;

pub use app::App;
pub use draw::render;
pub use theme::Theme;

use crate::engine::{Command, EngineHandle, Outcome};

/// Runs the full-screen UI until the user quits (or proctor is interrupted) and
/// the engine has stopped every worker. The terminal is restored on every path.
pub fn run(engine: EngineHandle) -> io::Result<Outcome> {
    run_app(engine, &mut App::new(Theme::from_env(), SystemTime::now()))
}

/// `run` for map mode. The handle's commands and events must go through the map
/// driver: its `queue` events count tasks, which lead the screen.
/// Once the screen is the shell's again, prints the run's report on stderr (as
/// the plain front end prints its count), so it is not lost with the UI.
pub fn run_map(engine: EngineHandle) -> io::Result<Outcome> {
    let mut app = App::new(Theme::from_env(), SystemTime::now());
    app.map = Some(map_run::MapRun::default());
    let outcome = run_app(engine, &mut app)?;
    if let Some(map) = &app.map {
        for line in map.report() {
            eprintln!("{}", format::safe(&line));
        }
    }
    Ok(outcome)
}

/// `run` on another instance's engine, reached through its socket (`proctor
/// attach`): quitting detaches and leaves the work running.
pub fn run_attached(mut engine: EngineHandle, name: &str) -> io::Result<()> {
    let mut app = App::new(Theme::from_env(), SystemTime::now());
    app.lifecycle.attached_to = Some(name.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    terminal::Session::start(app.mouse).and_then(|mut session| {
        runtime.block_on(event_loop::run(&mut session, &mut engine, &mut app))
    })
}

fn run_app(mut engine: EngineHandle, app: &mut App) -> io::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let result = terminal::Session::start(app.mouse)
        .and_then(|mut session| runtime.block_on(event_loop::run(&mut session, &mut engine, app)));
    // The session is dropped here: the terminal is back to normal.
    if result.is_err() {
        eprintln!("proctor: the terminal UI failed; stopping every worker");
        let _ = engine.commands.send(Command::StopAll);
    }
    while engine.events.blocking_recv().is_some() {}
    let outcome = engine.wait();
    result.map(|()| outcome)
}
