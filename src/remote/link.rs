//! One host's link: `ssh -T -o BatchMode=yes [ssh_args] DEST PROCTOR agent --stdio`,
//! spawned once and kept for the whole run. The user's ssh config, keys and
//! ProxyJump apply, as with any ssh. A reader thread turns the agent's lines into
//! `News` for the map driver; a heartbeat thread keeps the agent's lease; closing
//! the link's input (drop) makes the agent stop everything it started.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::HostSpec;
use crate::engine::Event;
use crate::engine::os::pidfd::PidFd;
use crate::spec::JobSpec;

/// The agent's lease: it stops everything when the link is silent this long.
pub const LEASE: Duration = Duration::from_secs(30);

/// How long a host has to answer the hello after ssh starts. ssh's
/// `ConnectTimeout` bounds only the connection and key exchange; a remote
/// command that never answers (a hung login script, a wrong `proctor` that
/// waits) would otherwise hold back every task of the run.
pub const HELLO_WITHIN: Duration = Duration::from_secs(60);

/// What a link tells the driver.
#[derive(Debug)]
pub enum News {
    /// The hello went through: the host takes work (`cpus` for `"slots": "auto"`).
    Up { host: String, cpus: usize },
    /// An event of one of the host's workers, carrying `host`.
    Event(Event),
    /// The link is gone (ssh failed, or the connection broke), with why.
    Down { host: String, error: String },
}

/// The subscription's request id; launches and other requests count up from here.
pub(super) const SUBSCRIBE_ID: u64 = 1;

pub struct HostLink {
    pub name: String,
    writer: LinkWriter,
    /// Launch requests not yet answered, by id: a refused launch fails its worker.
    launches: Arc<Mutex<HashMap<u64, String>>>,
    /// ssh itself, to end a link whose host never answers (opened at spawn,
    /// so it cannot name a recycled pid).
    ssh: Option<PidFd>,
}

impl HostLink {
    /// Starts ssh and says hello; the answer comes later as `News::Up` or `Down`.
    pub fn start(spec: &HostSpec, news: UnboundedSender<News>) -> std::io::Result<HostLink> {
        let remote = format!(
            "{} agent --stdio --lease {}s",
            spec.proctor,
            LEASE.as_secs()
        );
        // The user's ssh_args first: for ssh the first value of an option wins.
        let mut child = Command::new("ssh")
            .args(&spec.ssh_args)
            .args(["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"])
            .arg("--")
            .arg(&spec.ssh)
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group: a Ctrl-C for proctor is proctor's to handle (it stops
            // the remote work through the link), not ssh's to die of.
            .process_group(0)
            .spawn()?;
        let ssh = PidFd::open(child.id());
        let (Some(mut input), Some(output), Some(errors)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(std::io::Error::other("ssh's pipes are missing"));
        };
        // Pipelined: the subscription waits behind the hello.
        let opening = format!(
            "{}\n{}\n",
            json!({"hello": {"protocols": [crate::ctl::protocol::spoken()]}}),
            json!({"id": SUBSCRIBE_ID, "cmd": "subscribe"})
        );
        input.write_all(opening.as_bytes())?;
        let input = Arc::new(Mutex::new(Some(input)));
        let launches = Arc::new(Mutex::new(HashMap::new()));
        let stderr = collect_stderr(errors);
        let reader = Reader {
            host: spec.name.clone(),
            news,
            launches: launches.clone(),
            stderr,
        };
        std::thread::Builder::new()
            .name(format!("proctor-host-{}", spec.name))
            .spawn(move || reader.run(output))?;
        heartbeat(&input);
        Ok(HostLink {
            name: spec.name.clone(),
            writer: LinkWriter {
                input,
                next_id: Arc::new(AtomicU64::new(SUBSCRIBE_ID + 1)),
            },
            launches,
            ssh,
        })
    }

    /// Gives up on a link whose host never answered: closes its input and
    /// ends ssh (its reader then sees the end; the reaper collects ssh).
    pub fn abandon(mut self) {
        self.close();
        if let Some(ssh) = &self.ssh {
            let _ = ssh.send(libc::SIGTERM);
        }
    }

    /// Starts `job` on the host. An error means the link is gone (its `Down`
    /// news follows).
    pub fn launch(&mut self, job: &JobSpec) -> std::io::Result<()> {
        let id = self.writer.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.launches.lock() {
            l.insert(id, job.name.clone());
        }
        let mut job = job.clone();
        job.explicit_name = true;
        let job = crate::control::job_json(&job);
        self.writer
            .send(json!({"id": id, "cmd": "launch", "job": job}))
    }

    /// Any control request (`stop-all`, `terminate`…).
    pub fn send(&self, request: Value) -> std::io::Result<()> {
        self.writer.send(request)
    }

    /// A handle that writes requests to this link (for `proctor ctl`'s commands).
    pub fn writer(&self) -> LinkWriter {
        self.writer.clone()
    }

    /// Ends the link: the agent reads end of input, stops its workers and exits.
    fn close(&mut self) {
        if let Ok(mut input) = self.writer.input.lock() {
            input.take();
        }
    }
}

/// Writes requests to one host's link; clones share it.
#[derive(Clone)]
pub struct LinkWriter {
    input: Arc<Mutex<Option<ChildStdin>>>,
    next_id: Arc<AtomicU64>,
}

impl LinkWriter {
    /// Sends `request` with the link's next id (unless it has one).
    pub fn send(&self, mut request: Value) -> std::io::Result<()> {
        if request.get("id").is_none() {
            request["id"] = json!(self.next_id.fetch_add(1, Ordering::Relaxed));
        }
        write_line(&self.input, &request.to_string())
    }

    /// Whether both write to the same link.
    pub fn same_link(&self, other: &LinkWriter) -> bool {
        Arc::ptr_eq(&self.input, &other.input)
    }
}

impl Drop for HostLink {
    /// Closes the link and waits for nothing: ssh is a child of proctor like any
    /// worker, so the engine's one reaper collects it (a wait here could race it
    /// for a recycled pid), and the engine's last sweep ends it if it lingers.
    fn drop(&mut self) {
        self.close();
    }
}

fn write_line(input: &Mutex<Option<ChildStdin>>, line: &str) -> std::io::Result<()> {
    let mut guard = input
        .lock()
        .map_err(|_| std::io::Error::other("the link's writer panicked"))?;
    let Some(pipe) = guard.as_mut() else {
        return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
    };
    pipe.write_all(line.as_bytes())?;
    pipe.write_all(b"\n")?;
    pipe.flush()
}

/// A blank line every third of the lease, until the link is closed or broken.
fn heartbeat(input: &Arc<Mutex<Option<ChildStdin>>>) {
    let input = Arc::downgrade(input);
    let _ = std::thread::Builder::new()
        .name("proctor-heartbeat".into())
        .spawn(move || {
            loop {
                std::thread::sleep(LEASE / 3);
                let Some(input) = input.upgrade() else { return };
                if write_line(&input, "").is_err() {
                    return;
                }
            }
        });
}

/// ssh's own messages (a refused connection, a bad key), kept for `Down`.
fn collect_stderr(mut errors: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        // At most 64 KiB: enough for any ssh error, bounded against a chatty shell.
        let _ = (&mut errors).take(64 * 1024).read_to_end(&mut text);
        let _ = std::io::copy(&mut errors, &mut std::io::sink());
        String::from_utf8_lossy(&text).trim().to_string()
    })
}

struct Reader {
    host: String,
    news: UnboundedSender<News>,
    launches: Arc<Mutex<HashMap<u64, String>>>,
    stderr: std::thread::JoinHandle<String>,
}

impl Reader {
    fn run(self, output: std::process::ChildStdout) {
        let mut lines = BufReader::new(output).lines();
        let why = match lines.next() {
            Some(Ok(first)) => match self.hello(&first) {
                Ok(()) => self.events(lines),
                Err(why) => why,
            },
            _ => String::new(),
        };
        let said = self.stderr.join().unwrap_or_default();
        // ssh starts most of its messages with "ssh: " itself.
        let said = match said.strip_prefix("ssh: ") {
            Some(rest) => rest.to_string(),
            None => said,
        };
        let error = match (why.is_empty(), said.is_empty()) {
            (true, true) => "the connection ended".to_string(),
            (true, false) => format!("ssh: {said}"),
            (false, true) => why,
            (false, false) => format!("{why} (ssh: {said})"),
        };
        let _ = self.news.send(News::Down {
            host: self.host,
            error: plain_text(&error),
        });
    }

    fn hello(&self, first: &str) -> Result<(), String> {
        let v: Value = serde_json::from_str(first).map_err(|_| {
            format!(
                "the remote command did not answer as a proctor agent (it said '{}')",
                plain_text(&first.chars().take(200).collect::<String>())
            )
        })?;
        if let Some(hello) = v.get("hello") {
            let cpus = hello["cpus"].as_u64().unwrap_or(1).max(1) as usize;
            let _ = self.news.send(News::Up {
                host: self.host.clone(),
                cpus,
            });
            return Ok(());
        }
        let message = v["error"]["message"].as_str().unwrap_or("no hello");
        Err(format!(
            "protocol mismatch: the host's agent says \"{}\"; this proctor ({}) speaks \
             protocol {}: install the same proctor version on the host",
            plain_text(message),
            env!("CARGO_PKG_VERSION"),
            crate::ctl::protocol::spoken()
        ))
    }

    /// Forwards events until the link ends; returns why it ended ("" for plain EOF).
    fn events(&self, lines: std::io::Lines<BufReader<std::process::ChildStdout>>) -> String {
        for line in lines {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            for event in super::news::events_of(&v, &self.host, &self.launches) {
                if self.news.send(News::Event(event)).is_err() {
                    return String::new();
                }
            }
        }
        String::new()
    }
}

/// Text from the other host, safe to print: control characters become '?',
/// line breaks "; ".
fn plain_text(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.chars()
                .map(|c| {
                    if c.is_control() || crate::json_safe::is_unsafe(c) {
                        '?'
                    } else {
                        c
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("; ")
}
