//! Key-to-screen under floods: the terminal UI in a 200x50 tmux session with four
//! `yes` workers flooding their pipes; `?` opens the help and Esc closes it, and the
//! time from the key to the screen showing it is measured (tmux's capture-pane
//! polled back to back, so the figures include its cost).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Row;

const PRESSES: usize = 30;
/// The help overlay's title.
const HELP: &str = "Help · proctor keys";

pub fn run(bin: &Path) -> Option<Row> {
    let socket = format!("proctor-bench-keys-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
    };
    let cmd = format!("{} -j 4 yes yes yes yes", bin.display());
    let started = tmux(&["new-session", "-d", "-x", "200", "-y", "50", &cmd]);
    if !started.is_some_and(|o| o.status.success()) {
        eprintln!("bench: tmux is needed for the key-to-screen figure");
        return None;
    }
    let screen = || {
        tmux(&["capture-pane", "-p", "-t", "0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let wait_for = |text: &str, limit: Duration| -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if screen().contains(text) {
                return Some(start.elapsed());
            }
        }
        None
    };
    let mut times = Vec::new();
    if wait_for("4/4 running", Duration::from_secs(30)).is_some() {
        std::thread::sleep(Duration::from_secs(2)); // the floods are on
        for i in 0..PRESSES {
            let opening = i % 2 == 0;
            let key = if opening { "?" } else { "Escape" };
            let sent = Instant::now();
            tmux(&["send-keys", "-t", "0", key]);
            let shown = loop {
                if screen().contains(HELP) == opening {
                    break true;
                }
                if sent.elapsed() > Duration::from_secs(5) {
                    break false;
                }
            };
            if !shown {
                eprintln!("bench: press {i} ({key}) never showed on screen");
                break;
            }
            times.push(sent.elapsed());
        }
    }
    tmux(&["send-keys", "-t", "0", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", "0", "y"]);
    std::thread::sleep(Duration::from_secs(1));
    tmux(&["kill-server"]);
    times.sort();
    let median = times.get(times.len() / 2).copied()?;
    let ms = median.as_secs_f64() * 1000.0;
    Some(Row {
        name: format!(
            "key to screen under 4 `yes` floods, TUI in tmux 200x50 (`?`/Esc, median of {})",
            times.len()
        ),
        target: "median < 30 ms".into(),
        measured: format!("{ms:.1} ms"),
        ratio: format!("{:.2} of target", ms / 30.0),
        met: ms < 30.0 && times.len() == PRESSES,
    })
}
