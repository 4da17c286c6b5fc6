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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::engine::event::SkipReason;
use crate::engine::snapshot::DepsView;
use crate::engine::{Event, QueueStats, Snapshot, WorkerId, WorkerState, WorkerStats, WorkerView};
use crate::spec::deps::{Condition, Dependency, Instances};

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
            "stopped": s.queue.stopped,
            "max_parallel": s.max_parallel,
            "paused": s.queue_paused,
            "closed": s.queue_closed,
            "held_by": s.held_by.map(|h| h.as_str()),
            "open_file_slots": s.open_file_slots,
        },
        "system": s.system,
        "finished": s.finished,
        "pools": s.pools.iter().map(pool_json).collect::<Vec<_>>(),
    })
}

fn pool_json(p: &crate::engine::snapshot::PoolView) -> Value {
    json!({
        "pool": p.name,
        "state": p.state,
        "queued": p.queued,
        "running": p.running,
        "done": p.done,
        "failed": p.failed,
        "workers": p.workers.iter().map(|w| json!({
            "worker": w.worker,
            "ready": w.ready,
            "served": w.served,
            "task": w.task,
            "task_age_s": w.task_age.map(|d| d.as_secs_f64()),
        })).collect::<Vec<_>>(),
    })
}

fn worker_json(w: &WorkerView) -> Value {
    json!({
        "id": w.id.0,
        "worker": w.name,
        "command": w.command,
        "state": w.state.as_str(),
        "pid": w.pid,
        "code": w.code,
        "error": w.error,
        "restarts": w.restarts,
        "started": w.started.map(unix),
        "runtime_s": (w.runtime.as_secs_f64() * 1000.0).round() / 1000.0,
        "timed_out": w.timed_out,
        "kill_at": w.kill_at.map(unix),
        "stuck": w.stuck,
        "unkillable": w.unkillable,
        "stopped": w.stopped,
        "cpu": w.stats.cpu,
        "rss": w.stats.rss,
        "threads": w.stats.threads,
        "os_state": w.stats.os_state.to_string(),
        "tree_cpu": w.stats.tree_cpu,
        "tree_rss": w.stats.tree_rss,
        "descendants": w.stats.descendants,
        "zombies": w.stats.zombies,
        "last_line": w.last_line,
        "procs": w.stats.procs.iter().map(proc_json).collect::<Vec<_>>(),
        "depends_on": w.deps.depends_on.iter().map(|d| json!({
            "job": d.job, "condition": d.condition.as_str(), "instances": d.instances.as_str(),
        })).collect::<Vec<_>>(),
        "has_ready": w.deps.has_ready,
        "ready": w.deps.ready,
        "unhealthy": w.deps.unhealthy,
        "skipped": w.deps.skipped,
    })
}

/// A worker's dependencies and probe verdicts, back from `worker_json`.
fn deps_from_json(w: &Value) -> DepsView {
    let dependency = |d: &Value| {
        Some(Dependency {
            job: d["job"].as_str()?.to_string(),
            condition: Condition::named(d["condition"].as_str()?)?,
            instances: if d["instances"] == "any" {
                Instances::Any
            } else {
                Instances::All
            },
        })
    };
    let skipped = |r: &Value| {
        Some(SkipReason {
            dep: r["dep"].as_str()?.to_string(),
            cause: r["cause"].as_str()?.to_string(),
        })
    };
    DepsView {
        depends_on: w["depends_on"]
            .as_array()
            .map(|a| a.iter().filter_map(dependency).collect())
            .unwrap_or_default(),
        has_ready: w["has_ready"] == true,
        ready: w["ready"] == true,
        unhealthy: w["unhealthy"] == true,
        skipped: skipped(&w["skipped"]),
    }
}

/// One process of a worker's tree (the UI's process tree view).
fn proc_json(p: &crate::sample::ProcSample) -> Value {
    json!({
        "pid": p.pid, "ppid": p.ppid, "start": p.start, "state": p.state.to_string(),
        "cpu": p.cpu, "rss": p.rss, "command": p.command, "depth": p.depth,
    })
}

fn proc_from_json(v: &Value) -> Option<crate::sample::ProcSample> {
    Some(crate::sample::ProcSample {
        pid: v["pid"].as_u64()? as u32,
        ppid: v["ppid"].as_u64().unwrap_or(0) as u32,
        start: v["start"].as_u64()?,
        state: v["state"]
            .as_str()
            .and_then(|s| s.chars().next())
            .unwrap_or('?'),
        cpu: v["cpu"].as_f64().unwrap_or(0.0) as f32,
        rss: v["rss"].as_u64().unwrap_or(0),
        command: v["command"].as_str().unwrap_or_default().to_string(),
        depth: v["depth"].as_u64().unwrap_or(1) as u16,
    })
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn from_unix(v: &Value) -> Option<SystemTime> {
    let secs = v.as_f64()?;
    UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)
}

/// A snapshot as a client rebuilds it from `snapshot_json` (an attached UI).
pub fn snapshot_from_json(v: &Value) -> Snapshot {
    let q = &v["queue"];
    let count = |v: &Value| v.as_u64().unwrap_or(0) as usize;
    Snapshot {
        workers: v["workers"]
            .as_array()
            .map(|a| a.iter().filter_map(worker_from_json).collect())
            .unwrap_or_default(),
        queue: QueueStats {
            depth: count(&q["depth"]),
            running: count(&q["running"]),
            done: count(&q["done"]),
            failed: count(&q["failed"]),
            stopped: count(&q["stopped"]),
        },
        max_parallel: count(&q["max_parallel"]),
        queue_paused: q["paused"] == true,
        queue_closed: q["closed"] == true,
        held_by: (q["held_by"] == "open_files")
            .then_some(crate::engine::snapshot::HeldBy::OpenFiles),
        open_file_slots: q["open_file_slots"].as_u64().map(|n| n as usize),
        system: serde_json::from_value(v["system"].clone()).ok(),
        finished: v["finished"] == true,
        pools: Vec::new(),
    }
}

fn worker_from_json(w: &Value) -> Option<WorkerView> {
    let text = |k: &str| w[k].as_str().map(str::to_string);
    let float = |k: &str| w[k].as_f64().unwrap_or(0.0);
    let int = |k: &str| w[k].as_u64().unwrap_or(0);
    let state = match w["state"].as_str()? {
        "queued" => WorkerState::Queued,
        "waiting" => WorkerState::Waiting,
        "skipped" => WorkerState::Skipped,
        "starting" => WorkerState::Starting,
        "running" => WorkerState::Running,
        "paused" => WorkerState::Paused,
        "exited" => WorkerState::Exited,
        "signaled" => WorkerState::Signaled,
        "failed" => WorkerState::Failed,
        _ => WorkerState::Cancelled,
    };
    Some(WorkerView {
        id: WorkerId(w["id"].as_u64()? as u32),
        name: text("worker")?,
        command: text("command").unwrap_or_default(),
        pid: w["pid"].as_u64().map(|p| p as u32),
        state,
        code: w["code"].as_i64().map(|c| c as i32),
        error: text("error"),
        started: from_unix(&w["started"]),
        runtime: Duration::try_from_secs_f64(float("runtime_s")).unwrap_or_default(),
        restarts: int("restarts") as u32,
        timed_out: w["timed_out"] == true,
        kill_at: from_unix(&w["kill_at"]),
        stuck: w["stuck"] == true,
        unkillable: w["unkillable"] == true,
        stopped: w["stopped"] == true,
        stats: WorkerStats {
            cpu: float("cpu") as f32,
            rss: int("rss"),
            threads: int("threads") as u32,
            os_state: text("os_state")
                .and_then(|s| s.chars().next())
                .unwrap_or(' '),
            tree_cpu: float("tree_cpu") as f32,
            tree_rss: int("tree_rss"),
            descendants: int("descendants") as u32,
            zombies: int("zombies") as u32,
            procs: w["procs"]
                .as_array()
                .map(|a| a.iter().filter_map(proc_from_json).collect::<Vec<_>>())
                .unwrap_or_default()
                .into(),
        },
        last_line: text("last_line").unwrap_or_default(),
        deps: deps_from_json(w),
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
    let ours = spoken();
    if !versions.iter().any(|v| v.as_u64() == Some(u64::from(ours))) {
        let offered: Vec<String> = versions.iter().map(Value::to_string).collect();
        return Err(Failure::new(
            Code::ProtoMismatch,
            format!(
                "this proctor ({}) speaks protocol {ours}; the client offered {}: \
                 use a proctor ctl of the same version",
                env!("CARGO_PKG_VERSION"),
                offered.join(", ")
            ),
        ));
    }
    Ok(json!({"hello": {
        "protocol": ours,
        "server": format!("proctor {}", env!("CARGO_PKG_VERSION")),
        "name": name,
        "pid": std::process::id(),
        "capabilities": CAPABILITIES,
        // What `"slots": "auto"` gives a remote host.
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
    }}))
}

/// The protocol version this proctor speaks. Test builds can pretend to speak
/// another (`PROCTOR_TEST_PROTOCOL`), so a mismatch can be tested end to end.
pub fn spoken() -> u32 {
    let ours = super::instance::PROTOCOL;
    if !cfg!(feature = "test-hooks") {
        return ours;
    }
    std::env::var("PROCTOR_TEST_PROTOCOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an attached UI rebuilds is what the instance had: every worker with its
    /// figures and process tree, the queue and the machine.
    #[test]
    fn a_snapshot_survives_the_socket() {
        let snapshot = crate::tui::fake::snapshot();
        let text = serde_json::to_string(&snapshot_json(&snapshot)).expect("JSON");
        let back = snapshot_from_json(&serde_json::from_str(&text).expect("parse"));
        assert_eq!(back.workers.len(), snapshot.workers.len());
        for (a, b) in snapshot.workers.iter().zip(&back.workers) {
            assert_eq!(
                (a.id, &a.name, a.state, a.pid, a.code, a.stopped),
                (b.id, &b.name, b.state, b.pid, b.code, b.stopped)
            );
            assert_eq!(a.stats.procs.len(), b.stats.procs.len(), "{}", a.name);
            for (p, q) in a.stats.procs.iter().zip(b.stats.procs.iter()) {
                assert_eq!(
                    (p.pid, p.start, p.state, &p.command),
                    (q.pid, q.start, q.state, &q.command)
                );
            }
        }
        assert_eq!(back.queue, snapshot.queue);
        assert_eq!(back.max_parallel, snapshot.max_parallel);
        assert_eq!(back.system, snapshot.system);
    }

    /// An attached UI shows the same `waiting`/`ready`/`unhealthy`/`skipped`
    /// states, notices and dependency view as the instance's own.
    #[test]
    fn dependencies_and_probe_verdicts_survive_the_socket() {
        let snapshot = crate::tui::fake::deps::snapshot();
        let text = serde_json::to_string(&snapshot_json(&snapshot)).expect("JSON");
        let back = snapshot_from_json(&serde_json::from_str(&text).expect("parse"));
        let deps = |s: &Snapshot| s.workers.iter().map(|w| w.deps.clone()).collect::<Vec<_>>();
        assert_eq!(deps(&back), deps(&snapshot));
        assert!(deps(&back).iter().any(|d| d.skipped.is_some()));
    }
}
