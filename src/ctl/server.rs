//! The control socket: other programs (`proctor ctl`, scripts) command and watch
//! a running proctor. Every connection's peer must be our own user (SO_PEERCRED);
//! the socket is 0600 in a 0700 directory; there is no TCP listener.
//!
//! A connection starts with a hello, then carries requests with client-chosen ids,
//! each served on its own task so several can be in flight (a `join` waiting does
//! not hold up a `status`). Commands go to the engine as `Request`s, so an
//! unknown worker is an immediate `not_found` reply.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

mod streams;
mod waits;

use streams::{logs, subscribe};
use waits::{join, wait};

use super::instance::Instance;
use super::protocol::{self, Code, Failure, MAX_LINE};
use crate::engine::outbound::Tap;
use crate::engine::{Command, OutputStore, Request, Snapshot, WorkerId};

/// What the server needs of the engine: the same things any front end gets.
#[derive(Clone)]
pub struct Link {
    pub requests: mpsc::UnboundedSender<Request>,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    pub store: Arc<OutputStore>,
    pub tap: Arc<Tap>,
}

/// Replies and stream items waiting for a slow client, at most; past that the
/// subscriptions lag (and say so) instead of growing memory.
const OUTGOING: usize = 256;

/// How long the listener rests after a failed accept (e.g. EMFILE) before trying again.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Listening while it lives; the socket and the instance files go with it.
pub struct Server {
    _instance: Instance,
}

/// Binds the instance's socket and serves it on a thread of its own.
pub fn start(mut instance: Instance, link: Link) -> std::io::Result<Server> {
    let listener = std::os::unix::net::UnixListener::bind(&instance.socket)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&instance.socket, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    instance.announce()?;
    let name = instance.info.name.clone();
    std::thread::Builder::new()
        .name("proctor-ctl".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = UnixListener::from_std(listener) else {
                    return;
                };
                let ctx = Ctx::new(link, name);
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            tokio::spawn(serve(stream, ctx.clone()));
                        }
                        // Out of descriptors (many clients at once) or a client that
                        // left before it was accepted: never a reason to stop
                        // listening. Wait a little so a full table can drain
                        // instead of spinning on the same error.
                        Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
                    }
                }
            });
        })?;
    Ok(Server {
        _instance: instance,
    })
}

pub struct Ctx {
    pub(super) link: Link,
    name: String,
}

impl Ctx {
    pub fn new(link: Link, name: String) -> Arc<Ctx> {
        Arc::new(Ctx { link, name })
    }
}

/// Why a connection's serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client closed its side (or the link broke).
    Closed,
    /// No line, not even a blank heartbeat, came within the lease.
    LeaseExpired,
    /// The client offered only protocol versions this proctor does not speak.
    Mismatch,
    /// The client closed its side without ever saying a valid hello (garbage,
    /// or something that is not a proctor client).
    NoHello,
}

pub(super) type Out = mpsc::Sender<Value>;

async fn serve(stream: UnixStream, ctx: Arc<Ctx>) {
    let ours = nix::unistd::geteuid().as_raw();
    let peer = stream.peer_cred().map(|c| c.uid()).ok();
    let (rd, mut wr) = stream.into_split();
    if peer != Some(ours) {
        let f = Failure::new(Code::Forbidden, "this proctor belongs to another user");
        let _ = write_line(&mut wr, &protocol::failed(&Value::Null, &f)).await;
        return;
    }
    serve_io(rd, wr, ctx, None).await;
}

/// Serves one connection over any byte streams (a socket, or an agent's
/// stdin/stdout). With a `lease`, a silence that long ends it: a client keeps it
/// by sending any line, a blank one being the heartbeat.
pub async fn serve_io<R, W>(
    rd: R,
    mut wr: W,
    ctx: Arc<Ctx>,
    lease: Option<std::time::Duration>,
) -> Ended
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, mut outgoing) = mpsc::channel::<Value>(OUTGOING);
    let writer = tokio::spawn(async move {
        while let Some(v) = outgoing.recv().await {
            if write_line(&mut wr, &v).await.is_err() {
                break;
            }
        }
    });
    let mut rd = BufReader::new(rd);
    let mut greeted = false;
    let ended = loop {
        let next = read_line(&mut rd);
        let read = match lease {
            // A line cut by the timeout is lost, but the connection ends anyway.
            Some(lease) => match tokio::time::timeout(lease, next).await {
                Ok(read) => read,
                Err(_) => break Ended::LeaseExpired,
            },
            None => next.await,
        };
        let line = match read {
            Ok(Some(line)) => line,
            Ok(None) if greeted => break Ended::Closed,
            Ok(None) => break Ended::NoHello,
            Err(f) => {
                let _ = out.send(protocol::failed(&Value::Null, &f)).await;
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request: Value = match serde_json::from_str(&line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) | Err(_) => {
                let f = Failure::new(Code::BadRequest, "not a JSON object");
                let _ = out.send(protocol::failed(&Value::Null, &f)).await;
                continue;
            }
        };
        if !greeted {
            match protocol::hello(&request, &ctx.name) {
                Ok(answer) => {
                    greeted = true;
                    let _ = out.send(answer).await;
                }
                Err(f) => {
                    let _ = out.send(protocol::failed(&Value::Null, &f)).await;
                    if f.code == Code::ProtoMismatch {
                        break Ended::Mismatch;
                    }
                }
            }
            continue;
        }
        // Commands run in the order they came, each answered before the next is
        // read (a launch, then a command for the new worker, just works);
        // requests that stream or wait run beside them.
        if waits_or_streams(&request) {
            tokio::spawn(handle(request, ctx.clone(), out.clone()));
        } else {
            handle(request, ctx.clone(), out.clone()).await;
        }
    };
    drop(out);
    // Streams still running hold senders; the writer ends when they do, or at
    // once when the peer is gone. An agent (with a lease) stops its work as soon
    // as its link ends, without waiting for the streams (a failed hello has
    // none, and its error must reach the client).
    if lease.is_none() || matches!(ended, Ended::Mismatch | Ended::NoHello) {
        let _ = writer.await;
    }
    ended
}

/// One line, without its newline; a line over `MAX_LINE` is skipped and reported.
async fn read_line(rd: &mut (impl AsyncBufRead + Unpin)) -> Result<Option<String>, Failure> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match rd.fill_buf().await {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else if too_long {
                return Err(too_long_line());
            } else {
                Some(String::from_utf8_lossy(&line).into_owned())
            });
        }
        let (part, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if line.len() + part.len() > MAX_LINE {
            too_long = true;
            line.clear();
        } else if !too_long {
            line.extend_from_slice(part);
        }
        let used = done.unwrap_or(buf.len());
        rd.consume(used);
        if done.is_some() {
            if too_long {
                return Err(too_long_line());
            }
            return match String::from_utf8(line) {
                Ok(s) => Ok(Some(s)),
                Err(_) => Err(Failure::new(Code::BadRequest, "the line is not UTF-8")),
            };
        }
    }
}

fn too_long_line() -> Failure {
    Failure::new(
        Code::BadRequest,
        format!("line longer than {MAX_LINE} bytes skipped"),
    )
}

async fn write_line(wr: &mut (impl AsyncWrite + Unpin), value: &Value) -> std::io::Result<()> {
    // Escaped so a client that prints lines in a terminal is safe too.
    let mut bytes = crate::json_safe::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    wr.write_all(&bytes).await?;
    // A pipe (an agent's stdout) holds what is not flushed; a socket has nothing to flush.
    wr.flush().await
}

fn waits_or_streams(request: &Value) -> bool {
    let cmd = request.get("cmd").and_then(Value::as_str).unwrap_or("");
    matches!(cmd, "subscribe" | "join" | "wait")
        || (cmd == "logs" && request.get("follow").and_then(Value::as_bool) == Some(true))
}

/// Serves one request; its replies and stream items carry its id.
async fn handle(request: Value, ctx: Arc<Ctx>, out: Out) {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let cmd = request.get("cmd").and_then(Value::as_str).unwrap_or("");
    let result = match cmd {
        "status" => Ok(Some(protocol::snapshot_json(&*ctx.fresh_snapshot().await))),
        "logs" => logs(&request, &ctx, &id, &out).await,
        "subscribe" => subscribe(&request, &ctx, &id, &out).await,
        "join" => join(&request, &ctx).await,
        "wait" => wait(&request, &ctx).await,
        "submit" => submit(&request, &ctx).await,
        "" => Err(Failure::new(
            Code::BadRequest,
            r#"a request needs "cmd", e.g. {"id":1,"cmd":"status"}"#,
        )),
        _ => command(&request, &ctx).await.map(|()| None),
    };
    let reply = match result {
        Ok(done) => match done {
            Some(Value::Null) => return, // a stream that ended with the connection
            other => protocol::ok(&id, other),
        },
        Err(f) => protocol::failed(&id, &f),
    };
    let _ = out.send(reply).await;
}

impl Ctx {
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.link.snapshot.borrow().clone()
    }

    pub(super) fn worker(&self, name: &str) -> Result<WorkerId, Failure> {
        self.snapshot()
            .workers
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.id)
            .ok_or_else(|| Failure::new(Code::NotFound, format!("no worker named '{name}'")))
    }

    /// The engine's state now, including every command answered so far.
    pub(super) async fn fresh_snapshot(&self) -> Arc<Snapshot> {
        let _ = self.request(None).await;
        self.snapshot()
    }

    /// Runs a command in the engine and waits for how it went.
    pub(super) async fn execute(&self, command: Command) -> Result<(), Failure> {
        self.request(Some(command)).await
    }

    async fn request(&self, command: Option<Command>) -> Result<(), Failure> {
        let (reply, answer) = oneshot::channel();
        let gone = || Failure::new(Code::Failed, "the engine has ended");
        self.link
            .requests
            .send(Request { command, reply })
            .map_err(|_| gone())?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(errors)) => {
                let message = errors.join("; ");
                let code = if message.contains("no worker named") {
                    Code::NotFound
                } else {
                    Code::Failed
                };
                Err(Failure::new(code, message))
            }
            Err(_) => Err(gone()),
        }
    }
}

/// `submit`: answered with the task's id (made up here when not given, unique
/// for the life of the instance), once the pool has taken the task.
async fn submit(request: &Value, ctx: &Ctx) -> Result<Option<Value>, Failure> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let mut command = parse_command(request)?;
    let task = match &mut command {
        Command::Submit { id, .. } => id
            .get_or_insert_with(|| {
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("ctl-{n}")
            })
            .clone(),
        _ => String::new(),
    };
    ctx.execute(command).await?;
    Ok(Some(serde_json::json!({ "task": task })))
}

/// The control stream's commands, with the same words and fields.
async fn command(request: &Value, ctx: &Ctx) -> Result<(), Failure> {
    let command = parse_command(request)?;
    ctx.execute(command).await
}

pub(super) fn parse_command(request: &Value) -> Result<Command, Failure> {
    let mut line = request.clone();
    if let Some(map) = line.as_object_mut() {
        map.remove("id");
    }
    crate::control::parse_line(&line.to_string()).map_err(|message| {
        let code = if message.starts_with("unknown command") {
            Code::UnknownCmd
        } else if message.contains("no worker named") {
            Code::NotFound
        } else {
            Code::BadRequest
        };
        Failure::new(code, message)
    })
}

pub(super) fn names(request: &Value) -> Option<Vec<String>> {
    match request.get("worker")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

pub(super) fn one_name(request: &Value, what: &str) -> Result<String, Failure> {
    match names(request).as_deref() {
        Some([one]) => Ok(one.clone()),
        _ => Err(Failure::new(
            Code::BadRequest,
            format!("'{what}' needs \"worker\": one worker's name"),
        )),
    }
}
