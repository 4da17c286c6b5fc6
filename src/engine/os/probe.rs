//! Readiness and health probes: tokio tasks that check a worker (run a command,
//! connect, GET a local URL) and send their verdicts back as supervisor inputs.
//! Log probes are checked by the pipe readers, line by line, through a [`LogWatch`];
//! a `log` health probe is a heartbeat: a matching line must come every interval.
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

/// The `log` probes of one run, shared by the run's pipe readers: a readiness
/// regex (its first match makes the run ready) and a health regex (a heartbeat:
/// each match counts for the health check of the interval it falls in).
pub struct LogWatch {
    pub id: WorkerId,
    pub run: u32,
    ready: Option<regex::Regex>,
    fired: AtomicBool,
    health: Option<regex::Regex>,
    /// A line matched `health` since the last health check.
    beat: AtomicBool,
}

impl LogWatch {
    /// Checks one line; the first `ready` match sends the run's `ready` verdict.
    pub fn check(&self, line: &[u8], inputs: &mpsc::UnboundedSender<Input>) {
        let ready = self
            .ready
            .as_ref()
            .filter(|_| !self.fired.load(Ordering::Relaxed));
        if ready.is_none() && self.health.is_none() {
            return;
        }
        let text = String::from_utf8_lossy(line);
        if let Some(health) = &self.health
            && health.is_match(&text)
        {
            self.beat.store(true, Ordering::Relaxed);
        }
        if let Some(ready) = ready
            && ready.is_match(&text)
        {
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

    /// The health verdict of the interval that just ended: a matching line came.
    fn beat_since_last_check(&self) -> bool {
        self.beat.swap(false, Ordering::Relaxed)
    }
}

/// The regex of a `log` probe, if the probe is one.
fn log_regex(probe: Option<&Probe>) -> Option<regex::Regex> {
    match probe {
        Some(Probe {
            check: ProbeCheck::Log(pattern),
            ..
        }) => regex::Regex::new(pattern).ok(),
        _ => None,
    }
}

type Waiters = Arc<Mutex<HashMap<u32, oneshot::Sender<ExitStatus>>>>;

#[derive(Default)]
pub struct Probes {
    tasks: HashMap<WorkerId, Vec<AbortHandle>>,
    /// Spawns per worker: the supervisor's run number of the newest run.
    runs: HashMap<WorkerId, u32>,
    /// The current run's log watch, for a `log` health probe.
    watches: HashMap<WorkerId, Arc<LogWatch>>,
    waiters: Waiters,
}

impl Probes {
    /// A worker is being spawned: counts its run, and returns the log watch its
    /// readers must feed (set before they start, so no early line is missed).
    pub fn spawned(&mut self, id: WorkerId, job: &JobSpec) -> Option<Arc<LogWatch>> {
        let run = self.runs.entry(id).or_default();
        *run += 1;
        let ready = log_regex(job.ready.as_ref());
        let health = log_regex(job.health.as_ref().map(|h| &h.probe));
        if ready.is_none() && health.is_none() {
            self.watches.remove(&id);
            return None;
        }
        let watch = Arc::new(LogWatch {
            id,
            run: *run,
            ready,
            fired: AtomicBool::new(false),
            health,
            beat: AtomicBool::new(false),
        });
        self.watches.insert(id, watch.clone());
        Some(watch)
    }

    /// Starts checking a run. A `log` readiness probe is already watched by the
    /// readers; a `log` health probe reads their heartbeat once per interval.
    pub fn start(
        &mut self,
        id: WorkerId,
        run: u32,
        purpose: ProbePurpose,
        probe: Probe,
        inputs: &mpsc::UnboundedSender<Input>,
    ) {
        let inputs = inputs.clone();
        let task = match &probe.check {
            ProbeCheck::Log(_) if purpose == ProbePurpose::Ready => return,
            ProbeCheck::Log(pattern) => {
                let Some(watch) = self.watches.get(&id).filter(|w| w.run == run).cloned() else {
                    return;
                };
                let detail = format!(
                    "no line matched '{pattern}' within {}s",
                    probe.interval.as_secs_f64()
                );
                tokio::spawn(heartbeat(watch, probe, detail, inputs))
            }
            _ => {
                let waiters = self.waiters.clone();
                tokio::spawn(poll(id, run, purpose, probe, waiters, inputs))
            }
        };
        self.tasks.entry(id).or_default().push(task.abort_handle());
    }

    /// The worker's run ended: its probes stop.
    pub fn stop(&mut self, id: WorkerId) {
        self.watches.remove(&id);
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

/// Checks a run every interval: readiness until it passes, health for as long
/// as the run lasts (the task is aborted when it ends).
async fn poll(
    id: WorkerId,
    run: u32,
    purpose: ProbePurpose,
    probe: Probe,
    waiters: Waiters,
    inputs: mpsc::UnboundedSender<Input>,
) {
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
}

/// A `log` health probe: at the end of each interval, a matching line within it
/// passes and none fails, so a worker that stops printing its heartbeat becomes
/// unhealthy after `failure_threshold` silent intervals.
async fn heartbeat(
    watch: Arc<LogWatch>,
    probe: Probe,
    detail: String,
    inputs: mpsc::UnboundedSender<Input>,
) {
    tokio::time::sleep(probe.initial_delay).await;
    loop {
        tokio::time::sleep(probe.interval).await;
        let ok = watch.beat_since_last_check();
        let input = Input::Probe {
            id: watch.id,
            run: watch.run,
            purpose: ProbePurpose::Health,
            ok,
            detail: if ok { String::new() } else { detail.clone() },
        };
        if inputs.send(input).is_err() {
            return;
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
        ProbeCheck::Log(_) => Err("log probes are checked by the pipe readers".into()),
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
