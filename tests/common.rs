//! Helpers for integration tests: run the real proctor binary headless and read its
//! JSON Lines events. Everything waits on events or process exit, never on sleeps.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_proctor");

/// Generous: the suite runs on a busy 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Run {
    pub events: Vec<Value>,
    pub status: ExitStatus,
    pub stderr: String,
}

impl Run {
    /// Events of one kind.
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// The one `exited` event of `worker`.
    pub fn exit_of(&self, worker: &str) -> &Value {
        self.of("exited")
            .into_iter()
            .find(|e| e["worker"] == worker)
            .unwrap_or_else(|| panic!("no exited event for {worker}: {:#?}", self.events))
    }

    /// stdout `output` lines of `worker`, in order.
    pub fn output_of(&self, worker: &str) -> Vec<String> {
        self.of("output")
            .into_iter()
            .filter(|e| e["worker"] == worker)
            .map(|e| e["line"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `proctor --headless ARGS` to completion.
pub fn run(args: &[&str]) -> Run {
    Live::start(args, false).finish()
}

/// A running proctor whose events are read as they come.
pub struct Live {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    pub seen: Vec<Value>,
    stderr: std::thread::JoinHandle<String>,
}

impl Live {
    /// Starts proctor; with `control`, commands are written to its stdin (`--control -`).
    pub fn start(args: &[&str], control: bool) -> Live {
        Live::start_with_env(args, control, &[])
    }

    /// `start` with extra environment variables for proctor.
    pub fn start_with_env(args: &[&str], control: bool, env: &[(&str, &str)]) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.envs(env.iter().copied());
        cmd.arg("--headless");
        if control {
            cmd.args(["--control", "-"]);
        }
        cmd.args(args);
        Live::start_command(cmd, control)
    }

    /// Starts a command that runs proctor headless (under strace, say); with
    /// `control`, its stdin is a pipe for `send`.
    pub fn start_command(mut cmd: Command, control: bool) -> Live {
        cmd.stdin(if control {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start proctor");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
            text
        });
        let stdin = child.stdin.take();
        Live {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one control line.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("started with control");
        writeln!(stdin, "{line}").expect("write control line");
        stdin.flush().expect("flush control");
    }

    /// Ends the control stream (the queue closes).
    pub fn close(&mut self) {
        self.stdin = None;
    }

    /// Waits for the first event (from now on, or already seen) matching `pred`.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        self.next(what, pred)
    }

    /// Waits for the next event not seen before that matches `pred`.
    pub fn next(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("proctor ended before {what}: {:#?}", self.seen)
                }
            }
        }
    }

    /// Waits for an event of `kind` about `worker`.
    pub fn wait_event(&mut self, kind: &str, worker: &str) -> Value {
        self.wait_for(&format!("{kind} of {worker}"), |v| {
            v["event"] == kind && v["worker"] == worker
        })
    }

    /// Waits for proctor to exit (killing it after PATIENCE) and collects everything.
    pub fn finish(mut self) -> Run {
        self.stdin = None;
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("proctor did not finish: {:#?}", self.seen);
            }
            if let Ok(v) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(v);
            }
        };
        while let Ok(v) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(v);
        }
        let stderr = self.stderr.join().unwrap_or_default();
        Run {
            events: self.seen,
            status,
            stderr,
        }
    }
}

/// True while a process with this pid exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

/// Waits until `pid` is gone (or a zombie awaiting its parent); false after PATIENCE.
pub fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The OS state letter of a process, if it exists.
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Writes a file into a fresh temp dir and returns (dir, path).
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write temp file");
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// Children of `pid` (every thread's), from /proc.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// True when the tree under `root` is paused: every live member is stopped (T/t),
/// or is blocked only because a member is stopped: a vfork parent (state D,
/// sleeping in `kernel_clone`, the kernel's wait for the vfork child) whose child
/// is stopped before it could exec. Such a parent cannot run until its child
/// does, so it is paused too, though it never shows T.
pub fn tree_paused(root: u32) -> bool {
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        let kids = children_of(pid);
        let paused = match state(pid) {
            None | Some('Z' | 'X' | 'T' | 't') => true,
            Some('D') => {
                let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan"));
                let in_vfork =
                    wchan.is_ok_and(|w| w == "kernel_clone" || w == "wait_for_vfork_done");
                in_vfork && kids.iter().any(|&k| matches!(state(k), Some('T' | 't')))
            }
            Some(_) => false,
        };
        if !paused {
            return false;
        }
        stack.extend(kids);
    }
    true
}
