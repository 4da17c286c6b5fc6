//! End to end: the real binary in a real terminal (tmux). Launch `sleep 300` from
//! the launch dialog, kill it with the signal menu, join all, quit; then nothing
//! proctor started may be left and the terminal must be back to normal. Map mode
//! shows its tasks in the same UI and quits the same way.
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

/// Every process in /proc: its pid and its /proc directory.
fn processes() -> impl Iterator<Item = (u32, std::path::PathBuf)> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
}

/// Pids of processes whose environment holds `marker`.
fn pids_with_env(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for (pid, dir) in processes() {
        let Ok(env) = std::fs::read(dir.join("environ")) else {
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
    for (pid, dir) in processes() {
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
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

/// Starts a shell in tmux and runs proctor in it with `env` (NAME=VALUE words) and
/// `args`, then prints its exit status; returns the session and proctor's pid once
/// the UI shows `ready`.
fn start_proctor(env: &str, args: &str, ready: &str) -> (Tmux, u32) {
    let bin = env!("CARGO_BIN_EXE_proctor");
    let tmux = Tmux::start("env PS1='e2e$ ' TERM=xterm-256color sh");
    tmux.wait_for("e2e$");
    let shell_pid: u32 = tmux.display("#{pane_pid}").parse().expect("pane pid");
    tmux.type_text(&format!("env {env} {bin} {args}; echo proctor-exit=$?"));
    tmux.keys(&["Enter"]);
    tmux.wait_for(ready);
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the UI uses the alternate screen"
    );
    let pid = proctor_pid(shell_pid, bin).expect("proctor runs in the pane");
    (tmux, pid)
}

/// Waits for proctor's exit status line and returns the status.
fn exit_status(tmux: &Tmux) -> String {
    // Digits only: a long typed command can wrap so a screen line starts with
    // "proctor-exit=$?", which is not the status.
    let status = |l: &str| {
        l.strip_prefix("proctor-exit=")
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
    };
    let screen = tmux.wait_until("proctor's exit status", |s| {
        s.lines().any(|l| status(l).is_some())
    });
    screen.lines().find_map(status).unwrap_or_default()
}

/// Waits until no process holds `marker` in its environment and none is a child
/// of `pid`: nothing proctor started outlives it.
fn assert_all_gone(marker: &str, pid: u32) {
    let start = Instant::now();
    while !pids_with_env(marker).is_empty() || process_parents().iter().any(|&(_, p)| p == pid) {
        assert!(
            start.elapsed() < TIMEOUT,
            "processes proctor started are still alive"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// CPU time (user + system, all threads) of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proctor is alive");
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // After the command name: utime and stime are the 12th and 13th fields, in
    // clock ticks (USER_HZ, 100 on Linux).
    (fields[11] + fields[12]) as f64 / 100.0
}

/// Quits with workers still running (confirming the stop), then checks that
/// nothing proctor started is left.
fn quit_stopping_everything(tmux: &Tmux, marker: &str, pid: u32) {
    tmux.keys(&["q"]);
    tmux.wait_for("Terminate");
    tmux.keys(&["y"]);
    exit_status(tmux);
    assert_all_gone(marker, pid);
}

fn marker(test: &str) -> String {
    format!("PROCTOR_E2E={test}-{}", std::process::id())
}

#[test]
fn launch_kill_join_and_quit_in_a_real_terminal() {
    let (tmux, pid) = start_proctor("", "-j 4", "No workers yet");

    // Launch `sleep 300` from the dialog, marked through its environment.
    let marker = marker("launch");
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
    // "running" shows from the spawn on; the marked environment from the exec.
    let start = Instant::now();
    let mut workers = pids_with_env(&marker);
    while workers.is_empty() && start.elapsed() < TIMEOUT {
        std::thread::sleep(Duration::from_millis(20));
        workers = pids_with_env(&marker);
    }
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

    // Join all: the queue closes and a summary counts it as stopped; then quit.
    tmux.keys(&["J"]);
    let screen = tmux.wait_for("Join all · done");
    assert!(screen.contains("0 failed · 1 stopped"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(
        exit_status(&tmux),
        "0",
        "a worker the user killed is stopped, not failed"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the terminal left the alternate screen"
    );
    assert_all_gone(&marker, pid);
    // The shell is usable again: a typed command runs and prints.
    tmux.type_text("echo back-to-normal");
    tmux.keys(&["Enter"]);
    tmux.wait_until("the shell echoes", |s| {
        s.lines().any(|l| l.trim() == "back-to-normal")
    });
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_nothing_running() {
    let marker = marker("panic");
    let tmux = Tmux::start("env PS1='e2e$ ' TERM=xterm-256color sh");
    tmux.wait_for("e2e$");
    let bin = env!("CARGO_BIN_EXE_proctor");
    tmux.type_text(&format!(
        "env {marker}=1 PROCTOR_TEST_PANIC=1 RUST_BACKTRACE=0 {bin} 'sleep 300' 2>/tmp/{marker}.err; echo proctor-exit=$?; head -c 300 /tmp/{marker}.err"
    ));
    tmux.keys(&["Enter"]);
    assert_eq!(exit_status(&tmux), "101", "a panic exits 101");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "left the alternate screen"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "the cursor is shown");
    let screen = tmux.wait_for("induced by PROCTOR_TEST_PANIC");
    assert!(screen.contains("proctor-exit=101"), "{screen}");
    let _ = std::fs::remove_file(format!("/tmp/{marker}.err"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pids_with_env(&marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        pids_with_env(&marker).is_empty(),
        "a worker outlived the panic"
    );
}

#[test]
fn sigterm_stops_every_worker_and_restores_the_terminal_after_resizes() {
    let marker = marker("sigterm");
    let (tmux, pid) = start_proctor(&marker, "-j 2 'sleep 300' 'sleep 301'", "2/2 running");
    for (w, h, expect) in [
        ("50", "12", "proctor"),
        ("12", "3", "─"),
        ("1", "1", ""),
        ("120", "40", "Workers"),
    ] {
        assert!(
            tmux.run(&["resize-window", "-t", "0", "-x", w, "-y", h])
                .status
                .success()
        );
        tmux.wait_until(&format!("a frame at {w}x{h}"), |s| s.contains(expect));
    }
    tmux.wait_for("2/2 running");
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    assert_eq!(exit_status(&tmux), "143", "128 + SIGTERM");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_all_gone(&marker, pid);
}

#[test]
fn an_idle_ui_with_100_quiet_workers_does_not_spin() {
    let marker = marker("idle");
    let commands = vec!["'sleep 300'"; 100].join(" ");
    let (tmux, pid) = start_proctor(&marker, &format!("-j 100 {commands}"), "100/100 running");
    let before = cpu_seconds(pid);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let share = (cpu_seconds(pid) - before) / start.elapsed().as_secs_f64();
    assert!(
        share < 0.25,
        "idle proctor used {:.0}% of a core",
        share * 100.0
    );
    tmux.keys(&["q"]);
    tmux.wait_for("Terminate them all");
    tmux.keys(&["y"]);
    assert_eq!(
        exit_status(&tmux),
        "0",
        "workers stopped on quitting are stopped, not failed"
    );
    assert_all_gone(&marker, pid);
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let marker = marker("suspend");
    let (tmux, pid) = start_proctor(&marker, "'sleep 300'", "Workers");
    tmux.keys(&["C-z"]);
    tmux.wait_until("the shell's job report", |s| s.contains("Stopped"));
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "suspended: the terminal is the shell's"
    );
    tmux.type_text("fg");
    tmux.keys(&["Enter"]);
    tmux.wait_until("the UI again", |s| {
        s.contains("Workers") && s.contains("sleep")
    });
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.keys(&["q"]);
    tmux.wait_for("Terminate them all");
    tmux.keys(&["y"]);
    tmux.wait_until("proctor gone", |_| {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_all_gone(&marker, pid);
}

#[test]
fn map_mode_runs_every_task_in_the_terminal_ui() {
    let marker = marker("map");
    let (tmux, pid) = start_proctor(
        &marker,
        "map -j 2 -- sh -c 'sleep 0.2; echo $1; test $1 != 4' _ {} ::: 1 2 3 4 5 6",
        // A panel title: unlike "proctor map", the typed command line never shows it.
        "Slowest running",
    );
    let screen = tmux.wait_until("six tasks finished and the run ended", |s| {
        s.contains("done 5  failed 1") && s.contains("run ended")
    });
    assert!(screen.contains("Slowest running"), "{screen}");
    assert!(screen.contains("task-6"), "{screen}");
    tmux.keys(&["q"]);
    assert_eq!(exit_status(&tmux), "1", "task 4 failed");
    // What the run produced outlives the UI: the counts and the failed task.
    let screen = tmux.screen();
    assert!(
        screen.contains("proctor map: 6 task(s): 5 succeeded, 1 failed"),
        "{screen}"
    );
    assert!(screen.contains("task 4 '4' failed: exit 1"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_all_gone(&marker, pid);
}

#[test]
fn quitting_a_map_run_terminates_its_tasks_and_starts_no_more() {
    let marker = marker("map-quit");
    let (tmux, pid) = start_proctor(
        &marker,
        "map -j 2 --retries 2 -- sh -c 'sleep 300' _ {} ::: 1 2 3 4 5",
        "running 2/2  pending 3",
    );
    tmux.wait_until("two sleeps running", |_| pids_with_env(&marker).len() >= 2);
    tmux.keys(&["q"]);
    tmux.wait_for("2 tasks running and 3 pending");
    tmux.keys(&["y"]);
    assert_eq!(
        exit_status(&tmux),
        "1",
        "terminated tasks fail (and are not retried)"
    );
    assert_eq!(tmux.display("#{alternate_on}"), "0");
    assert_all_gone(&marker, pid);
}

/// A script that reports USR1 and TERM and keeps running after USR1 (a wrongly
/// picked HUP, INT or KILL would end it with that signal instead).
fn signal_reporter(test: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("proctor-e2e-{test}-{}.sh", std::process::id()));
    let script = "trap 'echo got-usr1' USR1\n\
                  trap 'echo got-term; exit 3' TERM\n\
                  echo ready-for-signals\n\
                  while :; do sleep 0.1; done\n";
    std::fs::write(&path, script).expect("temp script written");
    path
}

/// Opens the signal menu on the selected worker, types `name` and sends it.
fn send_typed_signal(tmux: &Tmux, name: &str) {
    tmux.keys(&["k"]);
    tmux.wait_for("Send signal");
    tmux.type_text(name);
    tmux.wait_for(&format!("signal: {}▏", name.to_ascii_uppercase()));
    tmux.keys(&["Enter"]);
    tmux.wait_until("the menu closed", |s| !s.contains("Send signal"));
}

/// The screen row of the worker whose name starts with `name`.
fn row_of<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.trim_start_matches('│').trim_start().starts_with(name))
        .unwrap_or("")
}

#[test]
fn typed_signal_names_send_exactly_that_signal() {
    let marker = marker("signal-names");
    let script = signal_reporter("signal-names");
    let (tmux, pid) = start_proctor(
        &marker,
        &format!("-j 2 'sh {}' 'sleep 300'", script.display()),
        "ready-for-signals",
    );

    // USR1 reaches the script, which keeps running: not HUP, not KILL.
    send_typed_signal(&tmux, "usr1");
    let screen = tmux.wait_for("got-usr1");
    assert!(!screen.contains("got-term"), "{screen}");
    assert!(row_of(&screen, "sh").contains("running"), "{screen}");

    // TERM runs the script's TERM trap, which exits 3.
    send_typed_signal(&tmux, "term");
    tmux.wait_until("the TERM trap's exit", |s| {
        s.contains("got-term") && row_of(s, "sh").contains("exited")
    });

    // KILL on the second worker.
    tmux.keys(&["Down"]);
    send_typed_signal(&tmux, "kill");
    let screen = tmux.wait_until("-9 SIGKILL on sleep", |s| {
        row_of(s, "sleep").contains("-9 SIGKILL")
    });
    assert!(row_of(&screen, "sh").contains(" 3 "), "{screen}");

    tmux.keys(&["q"]);
    assert_eq!(exit_status(&tmux), "1", "a worker failed");
    assert_all_gone(&marker, pid);
    let _ = std::fs::remove_file(script);
}

#[test]
fn quick_plus_presses_each_raise_max_parallel() {
    let marker = marker("plus");
    let sleeps = ["'sleep 300'"; 6].join(" ");
    let (tmux, pid) = start_proctor(&marker, &format!("-j 1 {sleeps}"), "1/1 running");
    // One send-keys call: the five presses arrive faster than any snapshot.
    tmux.keys(&["+", "+", "+", "+", "+"]);
    tmux.wait_for("6/6 running");
    tmux.keys(&["-", "-"]);
    tmux.wait_until("max parallel 4", |s| s.contains("/4 running"));
    quit_stopping_everything(&tmux, &marker, pid);
}

#[test]
fn four_floods_at_start_still_show_a_live_table_that_takes_keys() {
    // `yes` never lets its pipe run dry: the engine must still publish what it
    // knows, so the table fills, the queue panel counts, and keys act.
    let marker = marker("flood");
    let (tmux, pid) = start_proctor(&marker, "-j 4 yes yes yes yes", "4/4 running");
    tmux.wait_until("per-core load figures", |s| !s.contains("sampling…"));
    // Kill the selected worker from the signal menu while all four flood.
    tmux.keys(&["k"]);
    tmux.wait_for("Send signal");
    tmux.keys(&["9"]);
    tmux.wait_until("SIGKILL selected", |s| s.contains("SIGKILL"));
    tmux.keys(&["Enter"]);
    tmux.wait_until("a killed worker and three still running", |s| {
        s.contains("-9 SIGKILL") && s.contains("3/4 running")
    });
    quit_stopping_everything(&tmux, &marker, pid);
}

#[test]
fn pids_show_whole_at_40_columns() {
    let marker = marker("narrow");
    let (tmux, pid) = start_proctor(&marker, "-j 2 'sleep 300' 'sleep 301'", "2/2 running");
    // proctor and its keeper carry the marker too: the workers are its children.
    let workers = || -> Vec<u32> {
        let parents = process_parents();
        let mut w = pids_with_env(&marker);
        w.retain(|&p| parents.contains(&(p, pid)));
        w
    };
    tmux.wait_until("two sleeps", |_| workers().len() == 2);
    let workers = workers();
    assert!(
        tmux.run(&["resize-window", "-t", "0", "-x", "40", "-y", "14"])
            .status
            .success()
    );
    let whole = |s: &str, p: u32| {
        s.split(|c: char| !c.is_ascii_digit())
            .any(|field| field == p.to_string())
    };
    tmux.wait_until("every worker's whole PID at 40 columns", |s| {
        s.lines().all(|l| l.chars().count() <= 40) && workers.iter().all(|&p| whole(s, p))
    });
    quit_stopping_everything(&tmux, &marker, pid);
}

#[test]
fn detach_attach_and_join_from_another_terminal() {
    let bin = env!("CARGO_BIN_EXE_proctor");
    let runtime = tempfile::tempdir().expect("tempdir");
    let dir = runtime.path().to_str().expect("utf-8").to_string();
    let ctl = |args: &[&str]| {
        Command::new(bin)
            .arg("ctl")
            .args(args)
            .env("XDG_RUNTIME_DIR", &dir)
            .output()
            .expect("proctor ctl runs")
    };
    // Started in the background: it prints its name and returns at once.
    let detached = Command::new(bin)
        .args([
            "--detach",
            "sh -c 'echo hello-attach; sleep 300'",
            "sleep 300",
        ])
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("proctor --detach runs");
    assert!(detached.status.success(), "{detached:?}");
    assert_eq!(String::from_utf8_lossy(&detached.stdout).trim(), "default");
    let ls = String::from_utf8_lossy(&ctl(&["--json", "ls"]).stdout).into_owned();
    let info: serde_json::Value = serde_json::from_str(ls.trim()).expect("one instance");
    let instance = info["pid"].as_u64().expect("pid") as u32;

    // The full UI on it, from another terminal.
    let tmux = Tmux::start("env PS1='e2e$ ' TERM=xterm-256color sh");
    tmux.wait_for("e2e$");
    tmux.type_text(&format!(
        "env XDG_RUNTIME_DIR={dir} {bin} attach; echo attach-exit=$?"
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_until("the instance's workers and output", |s| {
        s.contains("2/2 running") && s.contains("hello-attach")
    });
    // A command from the attached UI reaches the instance: kill `sleep`.
    tmux.keys(&["Down"]);
    tmux.keys(&["K"]);
    tmux.wait_until("sleep killed", |s| s.contains("-9 SIGKILL"));
    // Quitting detaches; the work goes on.
    tmux.keys(&["q"]);
    tmux.wait_for("Detach from 'default'");
    tmux.keys(&["y"]);
    tmux.wait_until("attach returned", |s| {
        s.lines().any(|l| l.trim() == "attach-exit=0")
    });
    let status: serde_json::Value =
        serde_json::from_slice(&ctl(&["--json", "status"]).stdout).expect("status JSON");
    let sh = status["workers"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["worker"] == "sh").cloned())
        .expect("sh");
    assert_eq!(sh["state"], "running", "detaching left the work running");
    // Joined from a script: the queue closes, the instance ends.
    assert!(ctl(&["kill", "sh"]).status.success());
    let joined = ctl(&["join"]);
    assert_eq!(
        joined.status.code(),
        Some(0),
        "workers killed on request are stopped, not failed: the join succeeds"
    );
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{instance}")).exists() {
        assert!(start.elapsed() < TIMEOUT, "the instance did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(ctl(&["ls"]).stdout.is_empty());
}

/// Pids of processes whose parent is `parent` and whose command name is `comm`.
fn children_named(parent: u32, comm: &str) -> Vec<u32> {
    process_parents()
        .into_iter()
        .filter(|&(_, p)| p == parent)
        .map(|(pid, _)| pid)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

#[test]
fn the_process_tree_signals_one_child_and_spares_the_rest() {
    let marker = marker("tree");
    let (tmux, pid) = start_proctor(
        &marker,
        "-j 1 --shell 'pipe=sleep 300 | cat'",
        "1/1 running",
    );
    // The worker's leader is the shell, proctor's child; sleep and cat are its.
    let leader = || -> Option<u32> {
        let parents = process_parents();
        pids_with_env(&marker)
            .into_iter()
            .find(|&p| parents.contains(&(p, pid)))
    };
    let start = Instant::now();
    let (shell, sleep, cat) = loop {
        if let Some(shell) = leader()
            && let [sleep] = children_named(shell, "sleep")[..]
            && let [cat] = children_named(shell, "cat")[..]
        {
            break (shell, sleep, cat);
        }
        assert!(start.elapsed() < TIMEOUT, "the pipeline did not start");
        std::thread::sleep(Duration::from_millis(100));
    };

    tmux.keys(&["T"]);
    tmux.wait_until("sleep and cat in the tree", |s| {
        s.contains("Process tree") && s.contains("└ sleep 300") && s.contains("└ cat")
    });
    // Choose cat's row (the shell waits for sleep too, so it runs on), then send
    // it SIGTERM by name through the signal menu.
    let screen = tmux.screen();
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains(" └ ")).collect();
    let at = rows
        .iter()
        .position(|l| l.contains("└ cat"))
        .expect("a cat row");
    for _ in 0..at {
        tmux.keys(&["Down"]);
    }
    tmux.keys(&["k"]);
    tmux.wait_for(&format!("pid {cat} cat"));
    tmux.type_text("term");
    tmux.wait_for("signal: TERM▏");
    tmux.keys(&["Enter"]);
    tmux.wait_until("cat gone from the tree, sleep still in it", |s| {
        !s.contains("└ cat") && s.contains("└ sleep 300")
    });
    let alive = |p: u32, comm: &str| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
    };
    let start = Instant::now();
    while alive(cat, "cat") {
        assert!(start.elapsed() < TIMEOUT, "cat {cat} still alive");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Only cat was hit: sleep and the shell leader run on, proctor's child still.
    let screen = tmux.screen();
    assert!(alive(sleep, "sleep"), "sleep {sleep} was spared:\n{screen}");
    assert!(
        process_parents().contains(&(shell, pid)),
        "the leader {shell} runs on:\n{screen}"
    );
    assert!(row_of(&screen, "pipe").contains("running"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_until("the logs are back", |s| !s.contains("Process tree"));

    quit_stopping_everything(&tmux, &marker, pid);
}

#[test]
fn dependency_states_and_the_dependency_view_in_a_real_terminal() {
    let marker = marker("deps");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deps.json");
    std::fs::write(
        &path,
        r#"{"max_parallel": 4, "jobs": [
        {"name": "db", "cmd": ["sleep", "300"], "ready": {"exec": ["true"]}},
        {"name": "app", "cmd": ["sleep", "300"], "depends_on": {"db": "ready"}},
        {"name": "suite", "cmd": ["true"], "depends_on": {"app": "exited"}},
        {"name": "lint", "shell": "exit 1"},
        {"name": "docs", "cmd": ["true"], "depends_on": ["lint"]}
    ]}"#,
    )
    .expect("workload");
    let (tmux, pid) = start_proctor(&marker, &format!("-f {}", path.display()), "Workers");
    let states = [("db", "ready"), ("suite", "waiting"), ("docs", "skipped")];
    tmux.wait_until("ready, waiting and skipped rows", |s| {
        states.iter().all(|(name, state)| {
            s.lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains(state))
        })
    });
    tmux.keys(&["D"]);
    let screen = tmux.wait_for("Dependencies");
    for edge in ["← db (ready)", "← app (exited)", "← lint (succeeded)"] {
        assert!(screen.contains(edge), "{edge}: {screen}");
    }
    let line = |job: &str| {
        screen
            .lines()
            .position(|l| l.contains(&format!("│ {job} ")) && l.contains('←') == (job != "db"))
            .unwrap_or_else(|| panic!("no line for {job}: {screen}"))
    };
    assert!(
        line("db") < line("app") && line("app") < line("suite"),
        "{screen}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_until("the view closed", |s| !s.contains("DEPENDS ON"));
    quit_stopping_everything(&tmux, &marker, pid);
}

/// Real-time signals by the names `proctor ctl` accepts: `RTMAX-1` is listed as an
/// `RTMIN+N`, yet typing it sends exactly that signal.
#[test]
fn typed_rtmax_names_send_exactly_that_signal() {
    let marker = marker("signal-rtmax");
    let path = std::env::temp_dir().join(format!(
        "proctor-e2e-signal-rtmax-{}.sh",
        std::process::id()
    ));
    let script = "trap 'echo got-rtmax-1' RTMAX-1\n\
                  trap 'echo got-rtmax' RTMAX\n\
                  echo ready-for-signals\n\
                  while :; do sleep 0.1; done\n";
    std::fs::write(&path, script).expect("temp script written");
    let (tmux, pid) = start_proctor(
        &marker,
        &format!("'bash {}'", path.display()),
        "ready-for-signals",
    );
    let got_rtmax = |s: &str| {
        s.lines()
            .any(|l| l.trim_end_matches(['│', ' ']).ends_with("got-rtmax"))
    };
    send_typed_signal(&tmux, "rtmax-1");
    let screen = tmux.wait_for("got-rtmax-1");
    assert!(!got_rtmax(&screen), "RTMAX-1 sent RTMAX: {screen}");
    send_typed_signal(&tmux, "sigrtmax");
    let screen = tmux.wait_until("RTMAX trapped", got_rtmax);
    assert!(row_of(&screen, "bash").contains("running"), "{screen}");
    quit_stopping_everything(&tmux, &marker, pid);
    let _ = std::fs::remove_file(path);
}
