//! Readiness and health probes: tokio tasks that check a worker (run a command,
//! connect, GET a local URL) and send their verdicts back as supervisor inputs.
//! Log probes are checked by the pipe readers, line by line, through a [`LogWatch`].
//!
//! A probe command is a child of proctor like any other, so the engine's one
//! reaper reaps it; its status reaches the probe through `waiters`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::engine::command::WorkerId;
use crate::engine::supervisor::{ExitStatus, Input, ProbePurpose};
use crate::spec::JobSpec;
use crate::spec::deps::{Probe, ProbeCheck};

/// A `log` readiness probe of one run, shared by the run's pipe readers.
pub struct LogWatch {
    pub id: WorkerId,
    pub run: u32,
    regex: regex::Regex,
    fired: AtomicBool,
}

impl LogWatch {
    /// Checks one line; the first match sends the run's `ready` verdict.
    pub fn check(&self, line: &[u8], inputs: &mpsc::UnboundedSender<Input>) {
        if self.fired.load(Ordering::Relaxed) {
            return;
        }
        let text = String::from_utf8_lossy(line);
        if self.regex.is_match(&text) {
            self.fired.store(true, Ordering::Relaxed);
            let _ = inputs.send(Input::Probe {
                id: self.id,
                run: self.run,
                purpose: ProbePurpose::Ready,
                ok: true,
                detail: text.into_owned(),
            });
        }
    }
}

type Waiters = Arc<Mutex<HashMap<u32, oneshot::Sender<ExitStatus>>>>;

#[derive(Default)]
pub struct Probes {
    tasks: HashMap<WorkerId, Vec<AbortHandle>>,
    /// Spawns per worker: the supervisor's run number of the newest run.
    runs: HashMap<WorkerId, u32>,
    waiters: Waiters,
}

impl Probes {
    /// A worker is being spawned: counts its run, and returns the log watch its
    /// readers must feed (set before they start, so no early line is missed).
    pub fn spawned(&mut self, id: WorkerId, job: &JobSpec) -> Option<Arc<LogWatch>> {
        let run = self.runs.entry(id).or_default();
        *run += 1;
        let Some(Probe {
            check: ProbeCheck::Log(pattern),
            ..
        }) = &job.ready
        else {
            return None;
        };
        let regex = regex::Regex::new(pattern).ok()?;
        Some(Arc::new(LogWatch {
            id,
            run: *run,
            regex,
            fired: AtomicBool::new(false),
        }))
    }

    /// Starts checking a run (log probes are already watched by the readers).
    pub fn start(
        &mut self,
        id: WorkerId,
        run: u32,
        purpose: ProbePurpose,
        probe: Probe,
        inputs: &mpsc::UnboundedSender<Input>,
    ) {
        if matches!(probe.check, ProbeCheck::Log(_)) {
            return;
        }
        let inputs = inputs.clone();
        let waiters = self.waiters.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(probe.initial_delay).await;
            loop {
                let verdict = check(&probe.check, probe.timeout, &waiters).await;
                let ok = verdict.is_ok();
                if ok || purpose == ProbePurpose::Health {
                    let detail = verdict.err().unwrap_or_default();
                    let input = Input::Probe {
                        id,
                        run,
                        purpose,
                        ok,
                        detail,
                    };
                    if inputs.send(input).is_err() || purpose == ProbePurpose::Ready {
                        return;
                    }
                }
                tokio::time::sleep(probe.interval).await;
            }
        });
        self.tasks.entry(id).or_default().push(task.abort_handle());
    }

    /// The worker's run ended: its probes stop.
    pub fn stop(&mut self, id: WorkerId) {
        for task in self.tasks.remove(&id).unwrap_or_default() {
            task.abort();
        }
    }

    /// A reaped child that was a probe command: true when it was one.
    pub fn reaped(&mut self, pid: u32, status: ExitStatus) -> bool {
        let Ok(mut waiters) = self.waiters.lock() else {
            return false;
        };
        match waiters.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(status);
                true
            }
            None => false,
        }
    }
}

/// One check; `Err` says why it failed.
async fn check(check: &ProbeCheck, limit: Duration, waiters: &Waiters) -> Result<(), String> {
    let timed_out = || format!("no answer within {}s", limit.as_secs_f64());
    match check {
        ProbeCheck::Exec(argv) => exec(argv, limit, waiters).await,
        ProbeCheck::Tcp(addr) => {
            match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
                Err(_) => Err(timed_out()),
            }
        }
        ProbeCheck::Http(url) => match tokio::time::timeout(limit, http_get(url)).await {
            Ok(result) => result,
            Err(_) => Err(timed_out()),
        },
        ProbeCheck::Log(_) => Err("log probes are checked by the readers".into()),
    }
}

async fn exec(argv: &[String], limit: Duration, waiters: &Waiters) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run '{program}': {e}"))?;
    let pid = child.id();
    let (tx, rx) = oneshot::channel();
    // No await since the spawn: the reaper (same thread) cannot have seen it yet.
    if let Ok(mut w) = waiters.lock() {
        w.insert(pid, tx);
    }
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(ExitStatus::Code(0))) => Ok(()),
        Ok(Ok(ExitStatus::Code(c))) => Err(format!("'{program}' exited {c}")),
        Ok(Ok(ExitStatus::Signal(s))) => Err(format!(
            "'{program}' was killed by {}",
            crate::signals::signal_name(s)
        )),
        Ok(Err(_)) => Err(format!("'{program}' was lost")),
        Err(_) => {
            // Its group, so what it started goes too; the reaper reaps it.
            // SAFETY: killpg with plain integers; the group is the probe's own.
            unsafe { libc::killpg(pid as libc::pid_t, libc::SIGKILL) };
            if let Ok(mut w) = waiters.lock() {
                w.remove(&pid);
            }
            Err(format!(
                "'{program}' gave no verdict within {}s",
                limit.as_secs_f64()
            ))
        }
    }
}

/// A minimal HTTP/1.0 GET: a 2xx status passes.
async fn http_get(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if authority.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty()
    }) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) if (200..300).contains(&s) => Ok(()),
        Some(s) => Err(format!("{url} answered {s}")),
        None => Err(format!("{url} gave no HTTP status line")),
    }
}
