//! Numbers and states as table text: durations, byte sizes, exit codes.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::engine::output::neutral;
use crate::engine::{WorkerState, WorkerView};
use crate::signals::signal_name;

/// Worker-derived text made safe to draw (control characters in caret notation,
/// bidi overrides spelled out); borrowed when it already is. The engine neutralises
/// output lines too: this is the second fence.
pub fn safe(text: &str) -> Cow<'_, str> {
    neutral(text)
}

/// Splits `text` at spaces into lines of at most `width` characters (a longer
/// word gets a line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if len > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// `1 zombie`, `2 zombies`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `0:05`, `12:34`, `1:02:03`, `3d04h`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if h >= 100 {
        format!("{}d{:02}h", h / 24, h % 24)
    } else if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

/// A time of day, `14:05:09`, in the local time zone, for `at` seconds since the
/// Unix epoch.
pub fn clock(at: u32) -> String {
    let secs = libc::time_t::from(at);
    // SAFETY: an all-zero tm is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads one time_t and fills the tm we own.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    let (h, m, s) = if ok {
        (tm.tm_hour, tm.tm_min, tm.tm_sec)
    } else {
        let day = at % 86_400;
        (
            (day / 3600) as i32,
            (day / 60 % 60) as i32,
            (day % 60) as i32,
        )
    };
    format!("{h:02}:{m:02}:{s:02}")
}

/// Binary units with one decimal: `512K`, `12.3M`, `1.5G`; `-` for zero.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n == 0 {
        return "-".into();
    }
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// `0`, `1`, `-9 SIGKILL`; empty while the worker has not ended.
pub fn exit_code(w: &WorkerView) -> String {
    match (w.state, w.code) {
        (_, Some(c)) if c < 0 => format!("{c} {}", signal_name(-c)),
        (_, Some(c)) => c.to_string(),
        (WorkerState::Failed, None) => "spawn error".into(),
        _ => String::new(),
    }
}

/// The state word: a stop countdown, a restart back-off, `timed out`, `stopped`.
/// Markers about the processes (stuck, zombie children, unkillable) are not
/// states: they go in their own column ([`flags`]), so a `Z` never reads as
/// "this worker is a zombie".
pub fn state(w: &WorkerView, now: SystemTime, restart_at: Option<SystemTime>) -> String {
    if !w.state.is_active() {
        if let Some(at) = restart_at.filter(|&at| at > now) {
            let left = at.duration_since(now).unwrap_or_default();
            return format!("restarting in {}", countdown(left));
        }
        if w.timed_out && w.state != WorkerState::Cancelled {
            return "timed out".into();
        }
        if w.stopped {
            return "stopped".into();
        }
        return w.state.as_str().to_string();
    }
    let word = match w.kill_at {
        Some(at) => {
            let left = at.duration_since(now).unwrap_or_default();
            format!("stopping {}", countdown(left))
        }
        // What its probes say matters more than "running": an unhealthy worker
        // still runs, and a ready one is what dependents wait for.
        None if w.deps.unhealthy => "unhealthy".into(),
        None if w.deps.ready && w.state == WorkerState::Running => "ready".into(),
        None => w.state.as_str().to_string(),
    };
    if w.timed_out {
        format!("{word} timed out")
    } else {
        word
    }
}

/// Markers a person should notice on a live worker, for the FLAGS column:
/// `unkillable`, `stuck`, `2 zombies`. A worker that has ended carries none
/// (its processes are gone).
pub fn flags(w: &WorkerView) -> String {
    if !w.state.is_active() {
        return String::new();
    }
    let mut flags = Vec::new();
    if w.unkillable {
        flags.push("unkillable".to_string());
    }
    if w.stuck {
        flags.push("stuck".into());
    }
    match w.stats.zombies {
        0 => {}
        1 => flags.push("1 zombie".into()),
        n => flags.push(format!("{n} zombies")),
    }
    flags.join(" ")
}

/// Whole seconds left, rounded up: `2s`.
fn countdown(left: Duration) -> String {
    format!("{}s", left.as_secs_f64().ceil() as u64)
}

/// How long a worker has run: live for an active one, frozen once it ended.
pub fn runtime(w: &WorkerView, now: SystemTime) -> Duration {
    match w.started {
        Some(started) if w.state.is_active() => now.duration_since(started).unwrap_or(w.runtime),
        _ => w.runtime,
    }
}

/// The CPU % to show and sort by: of the whole process tree, or of the worker's
/// own process; `None` when there is no live process.
pub fn cpu_value(w: &WorkerView, tree: bool) -> Option<f32> {
    (w.state.is_active() && w.pid.is_some()).then_some(if tree {
        w.stats.tree_cpu
    } else {
        w.stats.cpu
    })
}

/// Resident memory to show and sort by, like `cpu_value`.
pub fn mem_value(w: &WorkerView, tree: bool) -> Option<u64> {
    (w.state.is_active() && w.pid.is_some()).then_some(if tree {
        w.stats.tree_rss
    } else {
        w.stats.rss
    })
}

/// CPU % with one decimal, `-` when there is no live process.
pub fn cpu(w: &WorkerView, tree: bool) -> String {
    cpu_value(w, tree).map_or_else(|| "-".into(), |c| format!("{c:.1}"))
}

/// Resident memory in binary units, `-` when there is no live process.
pub fn mem(w: &WorkerView, tree: bool) -> String {
    mem_value(w, tree).map_or_else(|| "-".into(), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_width() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("short", 40), ["short"]);
    }

    #[test]
    fn durations_read_like_clocks() {
        assert_eq!(duration(Duration::from_secs(5)), "0:05");
        assert_eq!(duration(Duration::from_secs(754)), "12:34");
        assert_eq!(duration(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(duration(Duration::from_secs(100 * 3600)), "4d04h");
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(0), "-");
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(300 * 1024 * 1024), "300M");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.5G");
    }

    fn ended(state: WorkerState) -> WorkerView {
        let mut w = crate::tui::fake::worker(0, "w", state);
        w.stuck = true;
        w.stats.zombies = 1;
        w
    }

    #[test]
    fn ended_workers_carry_no_flags_and_say_timed_out_or_restarting() {
        let now = crate::tui::fake::now();
        assert_eq!(state(&ended(WorkerState::Signaled), now, None), "signaled");
        let mut timed_out = ended(WorkerState::Signaled);
        timed_out.timed_out = true;
        assert_eq!(state(&timed_out, now, None), "timed out");
        let at = now + Duration::from_millis(1500);
        let exited = ended(WorkerState::Exited);
        assert_eq!(state(&exited, now, Some(at)), "restarting in 2s");
        assert_eq!(state(&exited, at, Some(at)), "exited", "back-off over");
        assert_eq!(flags(&ended(WorkerState::Exited)), "");
        let mut stopped = ended(WorkerState::Signaled);
        stopped.stopped = true;
        assert_eq!(state(&stopped, now, None), "stopped");
    }

    #[test]
    fn stuck_and_zombies_are_flags_beside_the_state() {
        let now = crate::tui::fake::now();
        let mut live = ended(WorkerState::Running);
        assert_eq!(state(&live, now, None), "running");
        assert_eq!(flags(&live), "stuck 1 zombie");
        live.stuck = false;
        live.stats.zombies = 3;
        assert_eq!(flags(&live), "3 zombies");
    }

    #[test]
    fn cpu_and_memory_of_the_tree_or_the_process() {
        let mut w = crate::tui::fake::worker(0, "w", WorkerState::Running);
        w.pid = Some(42);
        w.stats.cpu = 0.0;
        w.stats.tree_cpu = 61.5;
        w.stats.rss = 1024;
        w.stats.tree_rss = 3 * 1024 * 1024;
        assert_eq!(
            (cpu(&w, true), cpu(&w, false)),
            ("61.5".into(), "0.0".into())
        );
        assert_eq!(
            (mem(&w, true), mem(&w, false)),
            ("3.0M".into(), "1.0K".into())
        );
        w.state = WorkerState::Exited;
        assert_eq!((cpu(&w, true), mem(&w, true)), ("-".into(), "-".into()));
        assert_eq!(cpu_value(&w, true), None);
    }
}
