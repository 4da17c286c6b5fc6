//! End to end: the real binary in a real terminal (tmux). Launch `sleep 300` from
//! the launch dialog, kill it with the signal menu, join all, quit; then nothing
//! proctor started may be left and the terminal must be back to normal.
//!
//! Needs tmux (CI installs it). Every step waits for text on screen with a
//! generous timeout; there are no fixed sleeps.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(shell_command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux: install it (e.g. `apt-get install -y tmux`)"
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmux = Tmux {
            socket: format!("proctor-e2e-{}-{nanos}", std::process::id()),
        };
        let out = tmux.run(&["new-session", "-d", "-x", "120", "-y", "40", shell_command]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    fn type_text(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "0", "-l", text])
                .status
                .success()
        );
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "0", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `check` accepts it.
    fn wait_until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if start.elapsed() > TIMEOUT {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("'{text}'"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Pids of processes whose environment holds `marker`.
fn pids_with_env(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// (pid, ppid) of every process.
fn process_parents() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses: fields follow the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            out.push((pid, ppid));
        }
    }
    out
}

fn proctor_pid(shell_pid: u32, bin: &str) -> Option<u32> {
    process_parents()
        .into_iter()
        .filter(|&(_, ppid)| ppid == shell_pid)
        .map(|(pid, _)| pid)
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == Path::new(bin))
        })
}

#[test]
fn launch_kill_join_and_quit_in_a_real_terminal() {
    let bin = env!("CARGO_BIN_EXE_proctor");
    let tmux = Tmux::start("env PS1='e2e$ ' TERM=xterm-256color sh");
    tmux.wait_for("e2e$");
    let shell_pid: u32 = tmux.display("#{pane_pid}").parse().expect("pane pid");
    tmux.type_text(&format!("{bin} -j 4; echo proctor-exit=$?"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("No workers yet");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the UI uses the alternate screen"
    );
    let pid = proctor_pid(shell_pid, bin).expect("proctor runs in the pane");

    // Launch `sleep 300` from the dialog, marked through its environment.
    let marker = format!("PROCTOR_E2E={}", tmux.socket);
    tmux.keys(&["n"]);
    tmux.wait_for("Launch a job");
    tmux.type_text("sleep 300");
    tmux.keys(&["Tab", "Tab"]);
    tmux.type_text(&marker);
    tmux.keys(&["Enter"]);
    tmux.wait_until("sleep running", |s| {
        s.lines()
            .any(|l| l.contains("sleep") && l.contains("running"))
    });
    let workers = pids_with_env(&marker);
    assert_eq!(workers.len(), 1, "one worker process: {workers:?}");
    assert!(
        process_parents().contains(&(workers[0], pid)),
        "the worker is proctor's child"
    );

    // The signal menu: pick KILL by number.
    tmux.keys(&["k"]);
    tmux.wait_for("Send signal");
    tmux.keys(&["9"]);
    tmux.wait_until("SIGKILL selected", |s| s.contains("SIGKILL"));
    tmux.keys(&["Enter"]);
    tmux.wait_until("-9 SIGKILL in the row", |s| {
        s.lines()
            .any(|l| l.contains("sleep") && l.contains("-9 SIGKILL"))
    });

    // Join all: the queue closes and a summary shows.
    tmux.keys(&["J"]);
    tmux.wait_for("Join all · done");
    tmux.keys(&["q"]);
    let screen = tmux.wait_until("proctor's exit status", |s| {
        s.lines().any(|l| l.starts_with("proctor-exit="))
    });
    assert!(
        screen.lines().any(|l| l == "proctor-exit=1"),
        "a killed worker makes exit status 1:\n{screen}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the terminal left the alternate screen"
    );
    let start = Instant::now();
    while !pids_with_env(&marker).is_empty() || process_parents().iter().any(|&(_, p)| p == pid) {
        assert!(
            start.elapsed() < TIMEOUT,
            "processes proctor started are still alive"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shell is usable: raw mode is off, so a typed command runs.
    tmux.type_text("echo back-to-normal");
    tmux.keys(&["Enter"]);
    tmux.wait_until("the shell echoes", |s| {
        s.lines().any(|l| l.trim() == "back-to-normal")
    });
}
