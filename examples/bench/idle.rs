//! Sampling cost: CPU time proctor itself uses per second with N idle (`sleep`)
//! workers at a 1 s interval, headless and with the terminal UI under tmux.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Row;
use crate::util::{cpu_time, workload};

/// How long the idle cost is measured once every worker runs.
const WINDOW: Duration = Duration::from_secs(10);

fn sleepers(n: usize) -> String {
    format!(r#"{{"max_parallel":{n},"jobs":[{{"name":"s","cmd":["sleep","600"],"count":{n}}}]}}"#)
}

fn target(n: usize) -> f64 {
    if n <= 100 { 0.5 } else { 2.0 }
}

pub fn run(bin: &Path, n: usize) -> Row {
    let (_dir, file) = workload(&sleepers(n));
    let mut child = Command::new(bin)
        .args(["--headless", "--output", "none", "--interval", "1s", "-f"])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run proctor");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    // Wait until the queue reports all N running, then keep draining in the background.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut told = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !told
                && line.contains("\"event\":\"queue\"")
                && line.contains(&format!("\"running\":{n},"))
            {
                let _ = tx.send(());
                told = true;
            }
        }
    });
    let _ = rx.recv_timeout(Duration::from_secs(120));
    let pct = measure(pid);
    // SAFETY: signalling the proctor we started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    row(
        format!("sampling cost: {n} idle workers, headless, 1 s interval"),
        n,
        pct,
    )
}

/// The same under the terminal UI in a 200x60 tmux session.
pub fn run_tui(bin: &Path, n: usize) -> Option<Row> {
    let (_dir, file) = workload(&sleepers(n));
    let socket = format!("proctor-bench-{}", std::process::id());
    let cmd = format!("{} -f {}", bin.display(), file.display());
    let ok = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "60",
            &cmd,
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("bench: tmux is needed for the TUI figures (apt-get install tmux)");
        return None;
    }
    let pane = Command::new("tmux")
        .args(["-L", &socket, "list-panes", "-F", "#{pane_pid}"])
        .output()
        .ok()?;
    let pid: u32 = String::from_utf8_lossy(&pane.stdout).trim().parse().ok()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while proctor::sample::proc::children(pid).len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2)); // let the start-up redraws settle
    let pct = measure(pid);
    // SAFETY: signalling the proctor we started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Usually gone with proctor already; this only makes sure.
    let _ = Command::new("tmux")
        .args(["-L", &socket, "kill-server"])
        .stderr(Stdio::null())
        .status();
    Some(row(
        format!("sampling cost: {n} idle workers, TUI in tmux 200x60"),
        n,
        pct,
    ))
}

/// proctor's CPU use over WINDOW, in % of one core.
fn measure(pid: u32) -> f64 {
    let before = cpu_time(pid).unwrap_or_default();
    let start = Instant::now();
    std::thread::sleep(WINDOW);
    let used = cpu_time(pid).unwrap_or_default().saturating_sub(before);
    used.as_secs_f64() / start.elapsed().as_secs_f64() * 100.0
}

fn row(name: String, n: usize, pct: f64) -> Row {
    let t = target(n);
    Row {
        name,
        target: format!("< {t} % of one core"),
        measured: format!("{pct:.2} %"),
        ratio: format!("{:.2} of target", pct / t),
        met: pct < t,
    }
}
