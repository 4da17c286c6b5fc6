//! A test's end of a `proctor agent --stdio` link: spawned directly or through
//! ssh, driven by JSON lines on its stdin, read line by line from its stdout.
//! Every wait has a deadline (PATIENCE), none is a fixed sleep.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Generous: the suite runs on a busy 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct AgentLink {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    pub seen: Vec<Value>,
    next_id: u64,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl AgentLink {
    /// Starts `cmd` (an agent, or ssh running one) with its stdio piped.
    pub fn spawn(mut cmd: Command) -> AgentLink {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn the agent");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("agent wrote a bad line {line:?}: {e}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    return;
                }
                if let Ok(mut s) = keep.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        AgentLink {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            next_id: 100,
            stderr,
        }
    }

    /// What the agent (or ssh) wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Writes one raw line (a blank one is the heartbeat).
    pub fn send_raw(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().expect("input still open");
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    pub fn send(&mut self, value: &Value) {
        self.send_raw(&value.to_string())
            .expect("write to the agent");
    }

    /// Says hello with these protocol versions; returns the answer line.
    pub fn hello(&mut self, protocols: &[u64]) -> Value {
        self.send(&json!({"hello": {"protocols": protocols}}));
        self.wait_for("the hello answer", |v| {
            v.get("hello").is_some() || v.get("ok") == Some(&Value::Bool(false))
        })
    }

    /// Sends a request with a fresh id and waits for its reply.
    pub fn request(&mut self, mut request: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = json!(id);
        self.send(&request);
        self.wait_for(&format!("the reply to {request}"), |v| {
            v["id"] == json!(id) && v.get("ok").is_some()
        })
    }

    /// Subscribes to every event (numbered lines with the returned id).
    pub fn subscribe(&mut self) -> Value {
        let reply = self.request(json!({"cmd": "subscribe"}));
        assert_eq!(reply["ok"], true, "{reply}");
        reply["id"].clone()
    }

    /// The first line so far (or to come) that `pred` accepts.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
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
                Err(_) => panic!(
                    "no {what} within {PATIENCE:?}; lines: {:#?}\nstderr: {}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// The first event of this kind for this worker.
    pub fn event(&mut self, kind: &str, worker: &str) -> Value {
        self.wait_for(&format!("'{kind}' event of {worker}"), |v| {
            v["event"]["event"] == kind && v["event"]["worker"] == worker
        })["event"]
            .clone()
    }

    /// Closes the agent's input: end of stream.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to end; panics after PATIENCE.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not exit within {PATIENCE:?}; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AgentLink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of live (non-zombie) processes whose environment holds `mark`.
pub fn marked(mark: &(String, String)) -> Vec<u32> {
    let entry = format!("{}={}", mark.0, mark.1);
    let needle = entry.as_bytes();
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && env.split(|b| *b == 0).any(|kv| kv == needle) {
            found.push(pid);
        }
    }
    found
}

/// Waits until no live process holds `mark`; returns those left after PATIENCE.
pub fn wait_unmarked(mark: &(String, String)) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = marked(mark);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A unique `KEY=VALUE` to put in workers' environment.
pub fn fresh_mark(test: &str) -> (String, String) {
    let value = format!(
        "{test}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    ("PROCTOR_TEST_MARK".into(), value)
}

/// A job that starts a grandchild, then says `up`, and waits; both carry the mark.
pub fn marked_job(name: &str, mark: &(String, String)) -> Value {
    json!({
        "name": name,
        "cmd": ["sh", "-c", "sleep 1000 & echo up; wait"],
        "env": {mark.0.clone(): mark.1.clone()},
    })
}
