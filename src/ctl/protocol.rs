//! The control protocol's words: JSON Lines, one request or reply per line.
//!
//! ```text
//! → {"hello":{"protocols":[1]}}
//! ← {"hello":{"protocol":1,"server":"proctor 0.1.0","name":"default","pid":42,"capabilities":[…]}}
//! → {"id":1,"cmd":"terminate","worker":"web"}
//! ← {"id":1,"ok":true}
//! → {"id":2,"cmd":"status"}
//! ← {"id":2,"ok":true,"result":{"workers":[…],"queue":{…},"system":{…}}}
//! → {"id":3,"cmd":"subscribe","worker":["web"],"events":["exited"]}
//! ← {"id":3,"ok":true,"result":{…snapshot…}}
//! ← {"id":3,"seq":17,"event":{"t":…,"event":"exited",…}}
//! ← {"id":3,"lagged":120,"snapshot":{…}}
//! ← {"id":9,"ok":false,"error":{"code":"not_found","message":"no worker named 'x'"}}
//! ```

use serde_json::{Value, json};

use crate::engine::{Event, Snapshot, WorkerView};

/// Longest request line accepted; a longer one is an error reply, not a disconnect.
pub const MAX_LINE: usize = 1 << 20;

/// What a client can ask besides the engine commands.
pub const CAPABILITIES: [&str; 6] = ["commands", "status", "logs", "subscribe", "join", "wait"];

/// Why a request failed; the code is for programs, the message for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    NotFound,
    BadRequest,
    UnknownCmd,
    Forbidden,
    ProtoMismatch,
    Failed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "not_found",
            Code::BadRequest => "bad_request",
            Code::UnknownCmd => "unknown_cmd",
            Code::Forbidden => "forbidden",
            Code::ProtoMismatch => "proto_mismatch",
            Code::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

pub fn ok(id: &Value, result: Option<Value>) -> Value {
    match result {
        Some(r) => json!({"id": id, "ok": true, "result": r}),
        None => json!({"id": id, "ok": true}),
    }
}

pub fn failed(id: &Value, f: &Failure) -> Value {
    json!({"id": id, "ok": false, "error": {"code": f.code.as_str(), "message": f.message}})
}

pub fn event(id: &Value, seq: u64, event: &Event) -> Value {
    json!({"id": id, "seq": seq, "event": event})
}

pub fn lagged(id: &Value, dropped: u64, snapshot: &Snapshot) -> Value {
    json!({"id": id, "lagged": dropped, "snapshot": snapshot_json(snapshot)})
}

/// The state a client sees: every worker, the queue and the machine.
pub fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "workers": s.workers.iter().map(worker_json).collect::<Vec<_>>(),
        "queue": {
            "depth": s.queue.depth,
            "running": s.queue.running,
            "done": s.queue.done,
            "failed": s.queue.failed,
            "max_parallel": s.max_parallel,
            "paused": s.queue_paused,
            "closed": s.queue_closed,
            "held_by": s.held_by.map(|h| h.as_str()),
            "open_file_slots": s.open_file_slots,
        },
        "system": s.system,
        "finished": s.finished,
    })
}

fn worker_json(w: &WorkerView) -> Value {
    json!({
        "worker": w.name,
        "command": w.command,
        "state": w.state.as_str(),
        "pid": w.pid,
        "code": w.code,
        "error": w.error,
        "restarts": w.restarts,
        "runtime_s": (w.runtime.as_secs_f64() * 1000.0).round() / 1000.0,
        "timed_out": w.timed_out,
        "stuck": w.stuck,
        "cpu": w.stats.cpu,
        "rss": w.stats.rss,
        "tree_cpu": w.stats.tree_cpu,
        "tree_rss": w.stats.tree_rss,
        "descendants": w.stats.descendants,
        "zombies": w.stats.zombies,
    })
}

/// The hello answer, or why the client's versions cannot be served.
pub fn hello(request: &Value, name: &str) -> Result<Value, Failure> {
    let versions = request
        .get("hello")
        .and_then(|h| h.get("protocols"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Failure::new(
                Code::BadRequest,
                r#"the first line must be a hello: {"hello":{"protocols":[1]}}"#,
            )
        })?;
    let ours = super::instance::PROTOCOL;
    if !versions.iter().any(|v| v.as_u64() == Some(u64::from(ours))) {
        return Err(Failure::new(
            Code::ProtoMismatch,
            format!("this proctor speaks protocol {ours}; the client offered {versions:?}"),
        ));
    }
    Ok(json!({"hello": {
        "protocol": ours,
        "server": format!("proctor {}", env!("CARGO_PKG_VERSION")),
        "name": name,
        "pid": std::process::id(),
        "capabilities": CAPABILITIES,
    }}))
}
