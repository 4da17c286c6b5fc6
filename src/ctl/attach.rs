//! `proctor attach [NAME]`: the full terminal UI on a running instance, through
//! its socket. A bridge turns the socket into what the UI reads from a local
//! engine: snapshots (polled `status`), events (a `subscribe` stream), output
//! (the instance's kept lines, then its `output` events, mirrored into a local
//! store) and commands (sent as control lines). Quitting detaches.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::client::{self, CtlError, EXIT_FAILED};
use super::protocol;
use crate::engine::outbound::{self, EventSender};
use crate::engine::{
    Command, EngineHandle, Event, EventKind, OutputStore, Snapshot, Stream, WorkerId,
};

/// The subscription's request id; status polls and commands count up from 10.
const SUBSCRIBE: u64 = 1;
const FIRST_ID: u64 = 10;
/// How often the bridge asks for a fresh snapshot.
const POLL: Duration = Duration::from_millis(200);
/// Kept lines fetched per worker on attach.
const TAIL: u64 = 2000;

/// Runs the UI attached to `name` (or the one instance running) until the user
/// detaches or the instance ends.
pub fn attach(name: Option<&str>) -> Result<(), CtlError> {
    let (socket, name) = client::locate(name)?;
    let stream = client::Connection::open(&socket)?.into_stream();
    let writer = stream
        .try_clone()
        .map_err(|e| client_error(e.to_string()))?;
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (event_tx, events) = outbound::channel();
    let (snap_tx, snapshot) = watch::channel(Arc::new(Snapshot::default()));
    let store = Arc::new(OutputStore::with_budget(
        10_000,
        crate::engine::output::DEFAULT_BUDGET,
    ));
    let writer = Arc::new(Mutex::new(writer));
    let ids = Arc::new(std::sync::atomic::AtomicU64::new(FIRST_ID));
    send(&writer, &json!({"id": SUBSCRIBE, "cmd": "subscribe"}))?;
    let reader = Reader {
        lines: BufReader::new(stream),
        events: event_tx,
        snapshot: snap_tx,
        store: store.clone(),
        writer: writer.clone(),
        ids: ids.clone(),
        waiting: HashMap::new(),
        tails_asked: false,
    };
    std::thread::Builder::new()
        .name("proctor-attach-read".into())
        .spawn(move || reader.run())
        .map_err(|e| client_error(e.to_string()))?;
    let sender = Sender {
        writer,
        ids,
        snapshot: snapshot.clone(),
    };
    std::thread::Builder::new()
        .name("proctor-attach-write".into())
        .spawn(move || sender.run(command_rx))
        .map_err(|e| client_error(e.to_string()))?;
    let engine = EngineHandle::bridged(commands, events, snapshot, store);
    crate::tui::run_attached(engine, &name).map_err(|e| client_error(e.to_string()))
}

fn client_error(message: String) -> CtlError {
    CtlError {
        status: EXIT_FAILED,
        message,
    }
}

fn send(writer: &Mutex<UnixStream>, value: &Value) -> Result<(), CtlError> {
    let mut line = crate::json_safe::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    let mut w = writer
        .lock()
        .map_err(|_| client_error("the connection is broken".into()))?;
    w.write_all(&line)
        .map_err(|e| client_error(format!("the instance went away: {e}")))
}

/// Carries the UI's commands to the instance and polls its state.
struct Sender {
    writer: Arc<Mutex<UnixStream>>,
    ids: Arc<std::sync::atomic::AtomicU64>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
}

impl Sender {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let mut poll = tokio::time::interval(POLL);
            loop {
                let line = tokio::select! {
                    command = commands.recv() => match command {
                        Some(command) => self.encode(&command),
                        None => return, // the UI detached
                    },
                    _ = poll.tick() => Some(json!({"cmd": "status"})),
                };
                let Some(mut line) = line else { continue };
                line["id"] = json!(self.next_id());
                if send(&self.writer, &line).is_err() {
                    return;
                }
            }
        });
    }

    fn encode(&self, command: &Command) -> Option<Value> {
        let snapshot = self.snapshot.borrow().clone();
        let name_of = |id: WorkerId| {
            snapshot
                .workers
                .iter()
                .find(|w| w.id == id)
                .map(|w| w.name.clone())
        };
        crate::control::to_line(command, &name_of).ok()
    }
}

/// Reads everything the instance sends and routes it to the UI's channels.
struct Reader {
    lines: BufReader<UnixStream>,
    events: EventSender,
    snapshot: watch::Sender<Arc<Snapshot>>,
    store: Arc<OutputStore>,
    writer: Arc<Mutex<UnixStream>>,
    ids: Arc<std::sync::atomic::AtomicU64>,
    /// Output of workers not in a snapshot yet, by name.
    waiting: HashMap<String, Vec<(Stream, String)>>,
    tails_asked: bool,
}

impl Reader {
    fn run(mut self) {
        let mut line = String::new();
        loop {
            line.clear();
            match self.lines.read_line(&mut line) {
                Ok(0) | Err(_) => return, // the instance ended: the UI sees the stream close
                Ok(_) => {}
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            self.route(&v);
        }
    }

    fn route(&mut self, v: &Value) {
        if v["id"] == SUBSCRIBE {
            if let Some(event) = v.get("event") {
                self.event(event);
            } else if let Some(n) = v.get("lagged") {
                self.set_snapshot(&v["snapshot"]);
                self.notice(format!("this UI fell behind: {n} events were missed"));
            } else if let Some(result) = v.get("result") {
                self.set_snapshot(result);
            }
            return;
        }
        if v["ok"] == false {
            let message = v["error"]["message"].as_str().unwrap_or("request failed");
            self.notice(message.to_string());
            return;
        }
        let result = &v["result"];
        if result.get("workers").is_some() {
            self.set_snapshot(result);
        } else if let (Some(worker), Some(lines)) =
            (result["worker"].as_str(), result["lines"].as_array())
        {
            for l in lines {
                let stream = stream_of(&l["stream"]);
                self.output(worker, stream, l["line"].as_str().unwrap_or_default());
            }
        }
    }

    fn set_snapshot(&mut self, json: &Value) {
        let snapshot = protocol::snapshot_from_json(json);
        // Lines that came before their worker did.
        for w in &snapshot.workers {
            if let Some(lines) = self.waiting.remove(&w.name) {
                for (stream, text) in lines {
                    self.store.push_line(w.id, stream, text.as_bytes());
                }
            }
        }
        if !self.tails_asked && !snapshot.workers.is_empty() {
            self.tails_asked = true;
            for w in &snapshot.workers {
                let id = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = send(
                    &self.writer,
                    &json!({"id": id, "cmd": "logs", "worker": w.name, "tail": TAIL}),
                );
            }
        }
        self.snapshot.send_replace(Arc::new(snapshot));
    }

    fn output(&mut self, worker: &str, stream: Stream, text: &str) {
        let id = self
            .snapshot
            .borrow()
            .workers
            .iter()
            .find(|w| w.name == worker)
            .map(|w| w.id);
        match id {
            Some(id) => self.store.push_line(id, stream, text.as_bytes()),
            None => self
                .waiting
                .entry(worker.to_string())
                .or_default()
                .push((stream, text.to_string())),
        }
    }

    fn notice(&self, message: String) {
        self.events
            .send_batch(vec![Event::now(EventKind::Error { message })]);
    }

    /// The events the UI shows as notices; output goes to the local store.
    fn event(&mut self, e: &Value) {
        let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        let kind = match e["event"].as_str().unwrap_or_default() {
            "output" => {
                let line = text("line");
                self.output(&text("worker"), stream_of(&e["stream"]), &line);
                return;
            }
            "error" => EventKind::Error {
                message: text("message"),
            },
            "failed" => EventKind::Failed {
                worker: text("worker"),
                error: text("error"),
            },
            "killed" => EventKind::Killed {
                worker: text("worker"),
            },
            "join_timeout" => EventKind::JoinTimeout {
                worker: e["worker"].as_str().map(str::to_string),
            },
            "joined" => EventKind::Joined {
                worker: e["worker"].as_str().map(str::to_string),
                code: e["code"].as_i64().map(|c| c as i32),
                signal: e["signal"].as_str().map(str::to_string),
                ok: e["ok"] == true,
            },
            "restarting" => EventKind::Restarting {
                worker: text("worker"),
                restarts: e["restarts"].as_u64().unwrap_or(0) as u32,
                delay_s: e["delay_s"].as_f64().unwrap_or(0.0),
            },
            "signaled" => EventKind::Signaled {
                worker: text("worker"),
                signal: text("signal"),
                group: e["group"] == true,
            },
            "unkillable" => EventKind::Unkillable {
                worker: text("worker"),
                pids: serde_json::from_value(e["pids"].clone()).unwrap_or_default(),
            },
            _ => return,
        };
        self.events.send_batch(vec![Event::now(kind)]);
    }
}

fn stream_of(v: &Value) -> Stream {
    if v == "stderr" {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}
