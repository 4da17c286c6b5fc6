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
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::instance::Instance;
use super::protocol::{self, Code, Failure, MAX_LINE};
use crate::engine::outbound::Tap;
use crate::engine::{Command, EventKind, OutputStore, Request, Snapshot, WorkerId};

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

/// Listening while it lives; the socket and the instance files go with it.
pub struct Server {
    _instance: Instance,
}

/// Binds the instance's socket and serves it on a thread of its own.
pub fn start(instance: Instance, link: Link) -> std::io::Result<Server> {
    let listener = std::os::unix::net::UnixListener::bind(&instance.socket)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&instance.socket, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
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
                let ctx = Arc::new(Ctx { link, name });
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, ctx.clone()));
                }
            });
        })?;
    Ok(Server {
        _instance: instance,
    })
}

struct Ctx {
    link: Link,
    name: String,
}

type Out = mpsc::Sender<Value>;

async fn serve(stream: UnixStream, ctx: Arc<Ctx>) {
    let ours = nix::unistd::geteuid().as_raw();
    let peer = stream.peer_cred().map(|c| c.uid()).ok();
    let (rd, mut wr) = stream.into_split();
    if peer != Some(ours) {
        let f = Failure::new(Code::Forbidden, "this proctor belongs to another user");
        let _ = write_line(&mut wr, &protocol::failed(&Value::Null, &f)).await;
        return;
    }
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
    loop {
        let line = match read_line(&mut rd).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
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
                        break;
                    }
                }
            }
            continue;
        }
        tokio::spawn(handle(request, ctx.clone(), out.clone()));
    }
    drop(out);
    let _ = writer.await;
}

/// One line, without its newline; a line over `MAX_LINE` is skipped and reported.
async fn read_line(
    rd: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
) -> Result<Option<String>, Failure> {
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

async fn write_line(
    wr: &mut tokio::net::unix::OwnedWriteHalf,
    value: &Value,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    wr.write_all(&bytes).await
}

/// Serves one request; its replies and stream items carry its id.
async fn handle(request: Value, ctx: Arc<Ctx>, out: Out) {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let cmd = request.get("cmd").and_then(Value::as_str).unwrap_or("");
    let result = match cmd {
        "status" => Ok(Some(protocol::snapshot_json(&ctx.snapshot()))),
        "logs" => logs(&request, &ctx, &id, &out).await,
        "subscribe" => subscribe(&request, &ctx, &id, &out).await,
        "join" => join(&request, &ctx).await,
        "wait" => wait(&request, &ctx).await,
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
    fn snapshot(&self) -> Arc<Snapshot> {
        self.link.snapshot.borrow().clone()
    }

    fn worker(&self, name: &str) -> Result<WorkerId, Failure> {
        self.snapshot()
            .workers
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.id)
            .ok_or_else(|| Failure::new(Code::NotFound, format!("no worker named '{name}'")))
    }

    /// Runs a command in the engine and waits for how it went.
    async fn execute(&self, command: Command) -> Result<(), Failure> {
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

/// The control stream's commands, with the same words and fields.
async fn command(request: &Value, ctx: &Ctx) -> Result<(), Failure> {
    let command = parse_command(request, ctx)?;
    ctx.execute(command).await
}

fn parse_command(request: &Value, ctx: &Ctx) -> Result<Command, Failure> {
    let mut line = request.clone();
    if let Some(map) = line.as_object_mut() {
        map.remove("id");
    }
    let lookup = |name: &str| ctx.worker(name).ok();
    crate::control::parse_line(&line.to_string(), &lookup).map_err(|message| {
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

fn names(request: &Value) -> Option<Vec<String>> {
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

fn one_name(request: &Value, what: &str) -> Result<String, Failure> {
    match names(request).as_deref() {
        Some([one]) => Ok(one.clone()),
        _ => Err(Failure::new(
            Code::BadRequest,
            format!("'{what}' needs \"worker\": one worker's name"),
        )),
    }
}

/// A worker's kept lines (`tail`, default 100), then with `follow` its new ones
/// as `output` events until the connection closes.
async fn logs(request: &Value, ctx: &Ctx, id: &Value, out: &Out) -> Result<Option<Value>, Failure> {
    let name = one_name(request, "logs")?;
    let worker = ctx.worker(&name)?;
    let tail = match request.get("tail") {
        None | Some(Value::Null) => 100,
        Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
            Failure::new(Code::BadRequest, "\"tail\" must be a number of lines >= 0")
        })?,
    };
    let follow = request.get("follow").and_then(Value::as_bool) == Some(true);
    // Subscribed before the tail is read, so no line falls between the two.
    let mut events = follow.then(|| ctx.link.tap.subscribe());
    let lines: Vec<Value> = ctx
        .link
        .store
        .tail(worker, tail)
        .into_iter()
        .map(|l| serde_json::json!({"stream": l.stream, "line": l.text}))
        .collect();
    let dropped = ctx.link.store.dropped(worker);
    let result = serde_json::json!({"worker": name, "lines": lines, "dropped": dropped});
    let Some(events) = events.as_mut() else {
        return Ok(Some(result));
    };
    if out.send(protocol::ok(id, Some(result))).await.is_err() {
        return Ok(Some(Value::Null));
    }
    let filter = Filter {
        workers: Some(vec![name]),
        kinds: Some(vec!["output".into()]),
    };
    stream(events, &filter, ctx, id, out).await;
    Ok(Some(Value::Null))
}

/// Which events a subscriber wants.
struct Filter {
    workers: Option<Vec<String>>,
    kinds: Option<Vec<String>>,
}

impl Filter {
    fn wants(&self, event: &crate::engine::Event) -> bool {
        let value = serde_json::to_value(event).unwrap_or(Value::Null);
        let kind_ok = self.kinds.as_ref().is_none_or(|k| {
            value
                .get("event")
                .and_then(Value::as_str)
                .is_some_and(|e| k.iter().any(|x| x == e))
        });
        let worker_ok = self.workers.as_ref().is_none_or(|w| {
            value
                .get("worker")
                .and_then(Value::as_str)
                .is_some_and(|n| w.iter().any(|x| x == n))
        });
        kind_ok && worker_ok
    }
}

/// A snapshot, then every event (numbered) until the connection closes. A
/// subscriber that falls behind gets `lagged` with a fresh snapshot.
async fn subscribe(
    request: &Value,
    ctx: &Ctx,
    id: &Value,
    out: &Out,
) -> Result<Option<Value>, Failure> {
    let kinds = match request.get("events") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        Some(_) => {
            return Err(Failure::new(
                Code::BadRequest,
                "\"events\" must be a list of event names",
            ));
        }
    };
    let filter = Filter {
        workers: names(request),
        kinds,
    };
    let mut events = ctx.link.tap.subscribe();
    let first = protocol::ok(id, Some(protocol::snapshot_json(&ctx.snapshot())));
    if out.send(first).await.is_err() {
        return Ok(Some(Value::Null));
    }
    stream(&mut events, &filter, ctx, id, out).await;
    Ok(Some(Value::Null))
}

async fn stream(
    events: &mut broadcast::Receiver<(u64, Arc<crate::engine::Event>)>,
    filter: &Filter,
    ctx: &Ctx,
    id: &Value,
    out: &Out,
) {
    loop {
        let item = match events.recv().await {
            Ok((seq, event)) => {
                if !filter.wants(&event) {
                    continue;
                }
                protocol::event(id, seq, &event)
            }
            Err(broadcast::error::RecvError::Lagged(n)) => protocol::lagged(id, n, &ctx.snapshot()),
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if out.send(item).await.is_err() {
            return;
        }
    }
}

/// Joins a worker (or all), answering with how it ended.
async fn join(request: &Value, ctx: &Ctx) -> Result<Option<Value>, Failure> {
    let worker = names(request).and_then(|n| n.first().cloned());
    // Subscribed before the join goes in, so its answer cannot be missed.
    let mut events = ctx.link.tap.subscribe();
    ctx.execute(parse_command(request, ctx)?).await?;
    loop {
        let event = match events.recv().await {
            Ok((_, e)) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => {
                return Err(Failure::new(Code::Failed, "the engine has ended"));
            }
        };
        match &event.kind {
            EventKind::Joined {
                worker: w,
                code,
                signal,
                ok,
            } if *w == worker => {
                return Ok(Some(serde_json::json!({
                    "worker": w, "code": code, "signal": signal, "ok": ok
                })));
            }
            EventKind::JoinTimeout { worker: w } if *w == worker => {
                return Err(Failure::new(Code::Failed, "join timed out"));
            }
            _ => {}
        }
    }
}

/// Waits until a worker is running, or has finished.
async fn wait(request: &Value, ctx: &Ctx) -> Result<Option<Value>, Failure> {
    let name = one_name(request, "wait")?;
    let until = request
        .get("until")
        .and_then(Value::as_str)
        .unwrap_or("exited");
    if !["running", "exited"].contains(&until) {
        return Err(Failure::new(
            Code::BadRequest,
            "\"until\" must be \"running\" or \"exited\"",
        ));
    }
    let mut snapshot = ctx.link.snapshot.clone();
    ctx.worker(&name)?;
    loop {
        let state = snapshot
            .borrow_and_update()
            .workers
            .iter()
            .find(|w| w.name == name)
            .map(|w| (w.state, w.code));
        let Some((state, code)) = state else {
            return Err(Failure::new(
                Code::NotFound,
                format!("no worker named '{name}'"),
            ));
        };
        let reached = match until {
            "running" => state.is_active() || state.is_finished(),
            _ => state.is_finished(),
        };
        if reached {
            return Ok(Some(
                serde_json::json!({"worker": name, "state": state.as_str(), "code": code}),
            ));
        }
        if snapshot.changed().await.is_err() {
            return Err(Failure::new(Code::Failed, "the engine has ended"));
        }
    }
}
