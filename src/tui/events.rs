//! Engine events as the UI sees them: notices for joins, failures and errors, the
//! `join all` summary, and the stop banner when proctor is interrupted.

use super::app::{App, Level, Overlay};
use crate::engine::{Event, EventKind};

pub fn apply(app: &mut App, event: Event) {
    match event.kind {
        EventKind::Joined {
            worker: Some(name),
            code,
            signal,
            ok,
        } => {
            let code = code.map_or("no exit code".to_string(), |c| format!("exit {c}"));
            let signal = signal.map(|s| format!(" {s}")).unwrap_or_default();
            let level = if ok { Level::Good } else { Level::Error };
            app.notify(level, format!("joined {name}: {code}{signal}"));
        }
        EventKind::Joined {
            worker: None, ok, ..
        } => {
            app.lifecycle.joined_all = Some(ok);
            let level = if ok { Level::Good } else { Level::Error };
            app.notify(level, "join all: every worker has finished");
            if app.overlay.is_none() && app.lifecycle.stopping.is_none() {
                app.overlay = Some(Overlay::Summary);
            }
        }
        EventKind::JoinTimeout { worker } => {
            let who = worker.unwrap_or_else(|| "all".into());
            app.notify(Level::Error, format!("join {who}: timed out"));
        }
        EventKind::Failed { worker, error } => {
            app.notify(Level::Error, format!("{worker} could not start: {error}"));
        }
        EventKind::Error { message } => app.notify(Level::Error, message),
        EventKind::Unkillable { worker, pids } => {
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            let pids = pids.join(", ");
            app.notify(
                Level::Error,
                format!("{worker}: SIGKILL did not end pid {pids} (state D?)"),
            );
        }
        EventKind::Killed { worker } => {
            app.notify(
                Level::Info,
                format!("{worker}: grace period over, SIGKILL sent"),
            );
        }
        EventKind::Signaled {
            worker,
            signal,
            group,
        } => {
            let to = if group { "group of " } else { "" };
            app.notify(Level::Info, format!("{signal} sent to {to}{worker}"));
        }
        EventKind::Interrupted { signal } => {
            app.lifecycle.stopping = Some(format!("{signal} received"));
            app.lifecycle.leave = true;
        }
        _ => {}
    }
}
