//! What each action does: changes to the UI state, and the engine `Command`s or
//! terminal requests it produces. Pure: the event loop carries out the requests.

use super::app::{App, Focus, Level, Overlay};
use super::confirm::{Confirm, Pending};
use super::keymap::Action;
use super::log_view::Search;
use super::signal_menu::SignalMenu;
use crate::engine::output::neutralise;
use crate::engine::{Command, JoinTarget, OutputStore, Snapshot, WorkerId, WorkerState};

/// Something only the event loop can do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Send(Command),
    /// Restore the terminal, stop proctor (SIGTSTP), take the terminal back on resume.
    Suspend,
    /// Mouse capture on or off.
    Mouse(bool),
}

/// Applies one action.
pub fn apply(app: &mut App, action: Action, snap: &Snapshot, store: &OutputStore) -> Vec<Request> {
    use Action as A;
    if app.map.is_some()
        && let Some(why) = action.off_in_map()
    {
        app.notify(Level::Info, why);
        return Vec::new();
    }
    match action {
        A::Up | A::Down | A::PageUp | A::PageDown | A::Home | A::End => {
            navigate(app, action, snap, store)
        }
        A::Mark => {
            app.workers.toggle_mark();
            app.workers.move_by(1, snap);
        }
        A::ClearMarks => {
            app.workers.marked.clear();
            app.workers.filter.clear();
            app.workers.sync(snap);
        }
        A::Filter => {
            app.focus = Focus::Workers;
            app.workers.filtering = true;
        }
        A::SignalMenu => {
            let targets = active(app, snap, "signal");
            if !targets.is_empty() {
                let label = describe(&targets, snap);
                app.overlay = Some(Overlay::Signal(SignalMenu::new(targets, label)));
            }
        }
        A::Terminate => {
            let ids = targets(
                app,
                snap,
                |s| s.is_active() || s == WorkerState::Queued,
                "terminate",
            );
            return confirm_many(app, "Terminate", ids, snap, Command::Terminate);
        }
        A::Kill => {
            let ids = active(app, snap, "kill");
            return confirm_many(app, "Kill", ids, snap, Command::Kill);
        }
        A::PauseResume => return pause_resume(app, snap),
        A::Restart => {
            let ids = targets(app, snap, |s| s != WorkerState::Queued, "restart");
            return confirm_many(app, "Restart", ids, snap, Command::Restart);
        }
        A::Cancel => {
            let ids = targets(
                app,
                snap,
                |s| s == WorkerState::Queued,
                "cancel (not queued)",
            );
            return confirm_many(app, "Cancel", ids, snap, Command::Cancel);
        }
        A::Join => return join(app, snap),
        A::ReapZombies => return reap_zombies(app, snap),
        A::JoinAll => return join_all(app, snap),
        A::Launch => app.overlay = Some(Overlay::Launch(Box::default())),
        A::MoreParallel => {
            let n = app.max_parallel(snap).saturating_add(1);
            return set_parallel(app, n);
        }
        A::FewerParallel => {
            let n = app.max_parallel(snap).saturating_sub(1);
            return set_parallel(app, n);
        }
        A::PauseQueue => {
            let cmd = if snap.queue_paused {
                Command::ResumeQueue
            } else {
                Command::PauseQueue
            };
            return send(app, vec![cmd]);
        }
        A::CycleSort => {
            app.workers.sort = app.workers.sort.next();
            app.workers.sync(snap);
        }
        A::TreeFigures => {
            app.workers.tree = !app.workers.tree;
            app.workers.sync(snap);
            let what = if app.workers.tree {
                "CPU% and MEM: whole process trees (⊕)"
            } else {
                "CPU% and MEM: each worker's own process"
            };
            app.notify(Level::Info, what);
        }
        A::SortMenu => {
            let menu = super::sort_menu::SortMenu::new(app.workers.sort, app.workers.tree);
            app.overlay = Some(Overlay::Sort(menu));
        }
        A::ReverseSort => {
            app.workers.reverse = !app.workers.reverse;
            app.workers.sync(snap);
        }
        A::SwitchFocus => {
            app.focus = match app.focus {
                Focus::Workers => Focus::Logs,
                Focus::Logs => Focus::Workers,
            }
        }
        A::MergedLogs => app.logs.toggle_merged(),
        A::Follow => app.logs.follow(),
        A::WrapLines => {
            app.logs.toggle_wrap();
            let what = if app.logs.nowrap {
                "logs: long lines cut (←→ scroll sideways)"
            } else {
                "logs: long lines wrapped"
            };
            app.notify(Level::Info, what);
        }
        A::ProcessTree => toggle_tree(app, snap),
        A::ProcUp | A::ProcDown => {
            let delta = if action == A::ProcUp { -1 } else { 1 };
            if let Some(tree) = &mut app.tree {
                tree.move_by(delta, snap);
            }
        }
        A::ProcSignal => signal_proc(app, snap),
        A::Timestamps => app.logs.timestamps = !app.logs.timestamps,
        A::ScrollLeft | A::ScrollRight => {
            let step = (app.screen.width / 4).max(8) as isize;
            let delta = if action == A::ScrollLeft { -step } else { step };
            app.logs.scroll_sideways(delta);
        }
        A::Search => {
            app.focus = Focus::Logs;
            app.logs.search = Some(Search::default());
        }
        A::NextMatch | A::PrevMatch => {
            if !app.logs.find(store, action == A::NextMatch) {
                app.notify(Level::Info, "no match");
            }
        }
        A::ClearSearch => app.logs.search = None,
        A::Mouse => {
            app.mouse = !app.mouse;
            return vec![Request::Mouse(app.mouse)];
        }
        A::Help => app.overlay = Some(Overlay::Help { scroll: 0 }),
        A::Dependencies => app.overlay = Some(Overlay::Deps { scroll: 0 }),
        A::Suspend => return vec![Request::Suspend],
        A::Quit => return quit(app, snap),
    }
    Vec::new()
}

/// Opens the selected worker's process tree, or closes the open one.
fn toggle_tree(app: &mut App, snap: &Snapshot) {
    if app.tree.take().is_some() {
        return;
    }
    match app.workers.selected_view(snap) {
        Some(w) => app.tree = Some(super::proc_tree::ProcTree::new(w.id)),
        None => app.notify(Level::Info, "no worker selected"),
    }
}

/// The signal menu for the process chosen in the tree.
fn signal_proc(app: &mut App, snap: &Snapshot) {
    let Some(tree) = &app.tree else { return };
    let Some(p) = tree.current(snap) else {
        app.notify(Level::Info, "no process to signal");
        return;
    };
    let label = format!("pid {} {}", p.pid, neutralise(&p.command));
    let mut menu = SignalMenu::new(vec![tree.worker], label);
    menu.descendant = Some((p.pid, p.start));
    app.overlay = Some(Overlay::Signal(menu));
}

/// How long the zombies' parents get to wait for them before proctor offers more.
const REAP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Nudges the parents of the selected worker's zombies; `App::sync` checks back
/// after `REAP_WAIT` and asks before terminating parents that did not reap.
fn reap_zombies(app: &mut App, snap: &Snapshot) -> Vec<Request> {
    let Some(w) = app.workers.selected_view(snap) else {
        return Vec::new();
    };
    if w.stats.zombies == 0 {
        app.notify(Level::Info, format!("{} has no zombies", w.name));
        return Vec::new();
    }
    let (id, name, n) = (w.id, w.name.clone(), w.stats.zombies);
    app.reap = Some(super::app::ReapCheck {
        id,
        at: app.now + REAP_WAIT,
    });
    app.notify(
        Level::Info,
        format!(
            "asked the parents of {} under {name} to reap them…",
            super::format::count(n as usize, "zombie")
        ),
    );
    send(app, vec![Command::ReapZombies(id)])
}

/// Called when the reap wait is over: zombies that remain mean their parent does
/// not wait for children; terminating it hands them to proctor, which reaps them.
pub fn reap_check(app: &mut App, id: WorkerId, snap: &Snapshot) {
    let Some(w) = snap.workers.iter().find(|w| w.id == id) else {
        return;
    };
    if w.stats.zombies == 0 || !w.state.is_active() {
        app.notify(Level::Info, format!("zombies under {} reaped", w.name));
        return;
    }
    let name = neutralise(&w.name);
    app.overlay = Some(Overlay::Confirm(Confirm {
        title: "Zombies remain".into(),
        message: format!(
            "{} under {name} not reaped: their parent does not wait for its children. \
             Terminate the parent, so proctor adopts and reaps them?",
            super::format::count(w.stats.zombies as usize, "zombie")
        ),
        on_yes: Pending::Send(vec![Command::TerminateZombieParents(id)]),
    }));
}

fn join(app: &mut App, snap: &Snapshot) -> Vec<Request> {
    let Some(w) = app.workers.selected_view(snap) else {
        return Vec::new();
    };
    let target = JoinTarget::Worker(w.id);
    app.notify(Level::Info, format!("joining {}…", w.name));
    send(
        app,
        vec![Command::Join {
            target,
            timeout: None,
        }],
    )
}

fn join_all(app: &mut App, snap: &Snapshot) -> Vec<Request> {
    let left = snap.queue.running + snap.queue.depth;
    let text = format!("join all: queue closed, waiting for {left} workers…");
    app.notify(Level::Info, text);
    let target = JoinTarget::All;
    send(
        app,
        vec![Command::Join {
            target,
            timeout: None,
        }],
    )
}

/// Asks for `n` (at least 1) workers at once and shows the new value; it leads
/// until a snapshot reports it.
fn set_parallel(app: &mut App, n: usize) -> Vec<Request> {
    let n = n.max(1);
    app.parallel = Some(super::app::PendingParallel {
        value: n,
        at: app.now,
    });
    app.notify(Level::Info, format!("max parallel → {n}"));
    send(app, vec![Command::SetMaxParallel(n)])
}

fn navigate(app: &mut App, action: Action, snap: &Snapshot, store: &OutputStore) {
    use Action as A;
    if app.focus == Focus::Logs {
        let page = app.logs.viewport.max(1) as i64;
        match action {
            A::Up => app.logs.scroll(store, -1),
            A::Down => app.logs.scroll(store, 1),
            A::PageUp => app.logs.scroll(store, -page),
            A::PageDown => app.logs.scroll(store, page),
            A::Home => app.logs.home(store),
            _ => app.logs.follow(),
        }
        return;
    }
    let list = &mut app.workers;
    match action {
        A::Up => list.move_by(-1, snap),
        A::Down => list.move_by(1, snap),
        A::PageUp => list.move_by(-list.page(), snap),
        A::PageDown => list.move_by(list.page(), snap),
        A::Home => list.select_row(0, snap),
        _ => list.select_row(usize::MAX, snap),
    }
}

/// Commands for the engine; refused with a notice once the engine has ended.
pub fn send(app: &mut App, commands: Vec<Command>) -> Vec<Request> {
    if app.lifecycle.engine_ended {
        app.notify(
            Level::Error,
            "the engine has ended: nothing more can run (q quits)",
        );
        return Vec::new();
    }
    commands.into_iter().map(Request::Send).collect()
}

/// The action's targets whose state passes `keep`; a notice when none does.
fn targets(
    app: &mut App,
    snap: &Snapshot,
    keep: impl Fn(WorkerState) -> bool,
    what: &str,
) -> Vec<WorkerId> {
    let all = app.workers.targets();
    let ids: Vec<WorkerId> = all
        .iter()
        .copied()
        .filter(|id| {
            snap.workers
                .get(id.0 as usize)
                .is_some_and(|w| keep(w.state))
        })
        .collect();
    if ids.is_empty() {
        let msg = match all.as_slice() {
            [] => "no worker selected".to_string(),
            [one] => {
                let w = snap.workers.get(one.0 as usize);
                let (name, state) =
                    w.map_or(("?", "gone"), |w| (w.name.as_str(), w.state.as_str()));
                format!("cannot {what} {name}: it is {state}")
            }
            many => format!(
                "cannot {what}: none of the {} marked workers qualifies",
                many.len()
            ),
        };
        app.notify(Level::Error, msg);
    }
    ids
}

fn active(app: &mut App, snap: &Snapshot, what: &str) -> Vec<WorkerId> {
    targets(app, snap, WorkerState::is_active, what)
}

/// `web#1 (pid 4242)` for one worker, `3 workers` for several.
fn describe(ids: &[WorkerId], snap: &Snapshot) -> String {
    match ids {
        [one] => match snap.workers.get(one.0 as usize) {
            Some(w) => match w.pid {
                Some(pid) => format!("{} (pid {pid})", neutralise(&w.name)),
                None => neutralise(&w.name),
            },
            None => "1 worker".into(),
        },
        many => format!("{} marked workers", many.len()),
    }
}

/// Sends at once for one worker; asks first for several.
fn confirm_many(
    app: &mut App,
    verb: &str,
    ids: Vec<WorkerId>,
    snap: &Snapshot,
    make: fn(Vec<WorkerId>) -> Command,
) -> Vec<Request> {
    match ids.len() {
        0 => Vec::new(),
        1 => send(app, vec![make(ids)]),
        n => {
            let names: Vec<String> = ids
                .iter()
                .take(3)
                .filter_map(|id| snap.workers.get(id.0 as usize))
                .map(|w| neutralise(&w.name))
                .collect();
            let more = if n > 3 { ", …" } else { "" };
            let what = make(Vec::new()).desc();
            let message = format!(
                "{verb} {n} workers ({}{more})? That is: {what}.",
                names.join(", ")
            );
            app.overlay = Some(Overlay::Confirm(Confirm {
                title: format!("{verb} {n} workers"),
                message,
                on_yes: Pending::Send(vec![make(ids)]),
            }));
            Vec::new()
        }
    }
}

fn pause_resume(app: &mut App, snap: &Snapshot) -> Vec<Request> {
    let ids = targets(
        app,
        snap,
        |s| matches!(s, WorkerState::Running | WorkerState::Paused),
        "pause",
    );
    let state = |id: &WorkerId| snap.workers.get(id.0 as usize).map(|w| w.state);
    let (paused, running): (Vec<WorkerId>, Vec<WorkerId>) = ids
        .into_iter()
        .partition(|id| state(id) == Some(WorkerState::Paused));
    let mut commands = Vec::new();
    if !running.is_empty() {
        commands.push(Command::Pause(running));
    }
    if !paused.is_empty() {
        commands.push(Command::Resume(paused));
    }
    send(app, commands)
}

/// Quit: leave at once when the engine is gone; ask when workers run or wait; a
/// second quit while stopping kills what is left.
pub fn quit(app: &mut App, snap: &Snapshot) -> Vec<Request> {
    if app.lifecycle.engine_ended {
        app.lifecycle.leave = true;
        return Vec::new();
    }
    if app.lifecycle.stopping.is_some() {
        let alive: Vec<WorkerId> = snap
            .workers
            .iter()
            .filter(|w| w.state.is_active())
            .map(|w| w.id)
            .collect();
        app.notify(Level::Error, "killing every worker now");
        return send(app, vec![Command::Kill(alive)]);
    }
    if let Some(name) = &app.lifecycle.attached_to {
        app.overlay = Some(Overlay::Confirm(Confirm {
            title: "Detach".into(),
            message: format!(
                "Detach from '{name}'? Its work keeps running; `proctor attach {name}` comes \
                 back. (To stop the work instead: n, then J to join all or k to signal.)"
            ),
            on_yes: Pending::Detach,
        }));
        return Vec::new();
    }
    let q = app.queue(snap);
    let (running, queued) = (q.running, q.depth);
    if running + queued == 0 {
        return confirmed_quit(app);
    }
    let message = if app.map.is_some() {
        format!(
            "{running} tasks running and {queued} pending. Terminate them all, start no \
             more and quit?"
        )
    } else {
        format!("{running} running and {queued} queued workers. Terminate them all and quit?")
    };
    app.overlay = Some(Overlay::Confirm(Confirm {
        title: "Quit".into(),
        message,
        on_yes: Pending::Quit,
    }));
    Vec::new()
}

/// Stops everything and leaves once the engine has ended.
pub fn confirmed_quit(app: &mut App) -> Vec<Request> {
    if app.lifecycle.attached_to.is_some() {
        // An attached UI never stops the instance on its way out.
        app.lifecycle.leave = true;
        app.lifecycle.detached = true;
        return Vec::new();
    }
    app.lifecycle.stopping = Some("quitting".into());
    app.lifecycle.leave = true;
    send(app, vec![Command::StopAll])
}

/// A launched job: its workers join the queue.
pub fn launch(app: &mut App, job: crate::spec::JobSpec) -> Vec<Request> {
    let what = match job.count {
        1 => format!("launched {}", job.name),
        n => format!("launched {n} × {}", job.name),
    };
    app.notify(Level::Good, what);
    send(app, vec![Command::Launch(Box::new(job))])
}
