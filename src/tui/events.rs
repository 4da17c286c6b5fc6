//! Engine events as the UI sees them: notices for joins, failures and errors, the
//! `join all` summary, and the stop banner when proctor is interrupted. In map
//! mode also the driver's task counts, failed tasks and the halt.

use super::app::{App, Level, Overlay};
use crate::engine::event::TaskRecord;
use crate::engine::{Event, EventKind};

/// Characters of a task's input quoted in a notice.
const INPUT_CHARS: usize = 40;

pub fn apply(app: &mut App, event: Event) {
    if let Some(map) = &mut app.map {
        map.apply(&event.kind);
    }
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
        EventKind::Restarting {
            worker, delay_s, ..
        } => {
            let delay = std::time::Duration::try_from_secs_f64(delay_s).unwrap_or_default();
            app.restarts.insert(worker, app.now + delay);
        }
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
        EventKind::Task(record) if record.exit_code != Some(0) => {
            let text = task_failed(&record);
            if let Some(map) = &mut app.map {
                map.failed(text.clone());
            }
            app.notify(Level::Error, text);
        }
        EventKind::Halted {
            rule,
            failed,
            finished,
        } => {
            let text =
                format!("--halt {rule}: {failed} of {finished} tasks failed; starting no more");
            app.notify(Level::Error, text);
        }
        EventKind::Interrupted { signal } => {
            app.lifecycle.stopping = Some(format!("{signal} received"));
            app.lifecycle.leave = true;
        }
        _ => {}
    }
}

/// `task 7 'photo.jpg' failed: exit 1 after 2 retries`.
fn task_failed(r: &TaskRecord) -> String {
    let mut input: String = r.input.chars().take(INPUT_CHARS).collect();
    if r.input.chars().count() > INPUT_CHARS {
        input.push('…');
    }
    let how = match (&r.error, r.exit_code, &r.signal) {
        (Some(error), _, _) => error.clone(),
        (None, _, _) if r.timed_out => "timed out".into(),
        (None, Some(code), Some(signal)) => format!("{code} {signal}"),
        (None, Some(code), None) => format!("exit {code}"),
        (None, None, _) => "no exit code".into(),
    };
    let retries = match r.retries {
        0 => String::new(),
        1 => " after 1 retry".into(),
        n => format!(" after {n} retries"),
    };
    format!("task {} '{input}' failed: {how}{retries}", r.task)
}
