//! The UI loop: waits for terminal input, engine events, new snapshots or the clock,
//! and draws only when something changed, at most ~30 frames a second. Terminal
//! input is read on its own thread (crossterm's blocking `read`).

use std::io;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::actions::{self, Request};
use super::app::App;
use super::terminal::Session;
use super::{draw, events, input};
use crate::engine::{EngineHandle, Snapshot};

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(33);
/// The shortest time between two frames when a person just pressed a key: what
/// they typed shows at once, even while floods keep the screen busy.
const INPUT_FRAME: Duration = Duration::from_millis(4);

/// Runs until the user has quit (or proctor was interrupted) and the engine ended.
pub async fn run(
    session: &mut Session,
    engine: &mut EngineHandle,
    app: &mut App,
) -> io::Result<()> {
    let (input_tx, mut input_rx) = mpsc::unbounded_channel();
    spawn_reader(input_tx)?;
    let mut snapshot = engine.snapshot.borrow_and_update().clone();
    let (mut input_open, mut events_open, mut snapshot_open) = (true, true, true);
    let mut dirty = true;
    // Set by input: the next frame may come sooner than `FRAME`.
    let mut urgent = false;
    let mut last_draw: Option<Instant> = None;
    let mut next_tick = Instant::now();
    // For the reliability suite: a panic in the UI must restore the terminal and
    // still stop every worker (the engine handle's drop does that while unwinding).
    let induce_panic = std::env::var_os("PROCTOR_TEST_PANIC").is_some();
    loop {
        if app.lifecycle.leave && (!events_open || app.lifecycle.detached) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_tick {
            app.now = SystemTime::now();
            app.history
                .record(&snapshot, &app.queue(&snapshot), app.now);
            next_tick = now + tick_every(&snapshot);
            dirty = true;
        }
        let gap = if urgent { INPUT_FRAME } else { FRAME };
        if dirty && last_draw.is_none_or(|t| now >= t + gap) {
            app.now = SystemTime::now();
            app.sync(&snapshot, session.size()?);
            session.draw(|frame| draw::render(frame, app, &snapshot, &engine.store))?;
            last_draw = Some(now);
            dirty = false;
            urgent = false;
        }
        let wake = match (dirty, last_draw) {
            (true, Some(t)) => (t + gap).min(next_tick),
            _ => next_tick,
        };
        tokio::select! {
            event = input_rx.recv(), if input_open => {
                app.now = SystemTime::now();
                app.sync(&snapshot, app.screen);
                let requests = match event {
                    Some(event) => input::handle(app, event, &snapshot, &engine.store),
                    // The terminal is gone: stop everything and leave.
                    None => {
                        input_open = false;
                        actions::confirmed_quit(app)
                    }
                };
                carry_out(requests, session, engine)?;
                dirty = true;
                urgent = true;
            }
            event = engine.events.recv(), if events_open => {
                app.now = SystemTime::now();
                match event {
                    Some(event) => {
                        if induce_panic && matches!(event.kind, crate::engine::EventKind::Spawned { .. }) {
                            panic!("induced by PROCTOR_TEST_PANIC");
                        }
                        events::apply(app, event)
                    }
                    None => {
                        events_open = false;
                        app.lifecycle.engine_ended = true;
                    }
                }
                dirty = true;
            }
            changed = engine.snapshot.changed(), if snapshot_open => match changed {
                Ok(()) => {
                    snapshot = engine.snapshot.borrow_and_update().clone();
                    dirty = true;
                }
                Err(_) => snapshot_open = false,
            },
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}

/// Once a second for runtimes and charts; four times a second while a stop
/// countdown is on screen.
fn tick_every(snapshot: &Snapshot) -> Duration {
    if snapshot.workers.iter().any(|w| w.kill_at.is_some()) {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(1)
    }
}

fn carry_out(
    requests: Vec<Request>,
    session: &mut Session,
    engine: &EngineHandle,
) -> io::Result<()> {
    for request in requests {
        match request {
            // A send fails only once the engine has ended, which the event stream reports.
            Request::Send(command) => {
                let _ = engine.commands.send(command);
            }
            Request::Suspend => session.suspend()?,
            Request::Mouse(on) => session.set_mouse(on)?,
        }
    }
    Ok(())
}

/// Reads terminal events on a thread of its own; it ends when the UI is gone.
fn spawn_reader(events: mpsc::UnboundedSender<crossterm::event::Event>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("proctor-input".into())
        .spawn(move || {
            while let Ok(event) = crossterm::event::read() {
                if events.send(event).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
