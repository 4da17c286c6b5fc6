//! The agent's lines as local events: the kinds the map driver follows (a
//! worker's spawn, output and end), each carrying its `host`. A refused launch
//! becomes a `failed` event; a lagged subscription is rebuilt from its snapshot
//! (each finished worker's end, at most once more), so no task waits forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::link::SUBSCRIBE_ID;
use crate::engine::{Event, EventKind, Stream};

/// The local events one line of the agent stands for (often none).
pub fn events_of(v: &Value, host: &str, launches: &Mutex<HashMap<u64, String>>) -> Vec<Event> {
    let host: Arc<str> = host.into();
    let tagged = |kind| Event {
        t: crate::engine::event::unix_now(),
        host: Some(host.clone()),
        kind,
    };
    let id = v["id"].as_u64();
    if id != Some(SUBSCRIBE_ID) {
        // A reply: only a refused launch matters (the worker never existed there).
        let launched = id.and_then(|id| launches.lock().ok()?.remove(&id));
        return match (launched, v["ok"].as_bool()) {
            (Some(worker), Some(false)) => {
                let error = v["error"]["message"].as_str().unwrap_or("launch refused");
                vec![tagged(EventKind::Failed {
                    worker,
                    error: format!("host {host}: {error}"),
                })]
            }
            _ => Vec::new(),
        };
    }
    if let Some(event) = v.get("event") {
        return kind_of(event)
            .map(|kind| {
                let mut e = tagged(kind);
                e.t = event["t"].as_f64().unwrap_or(e.t);
                e
            })
            .into_iter()
            .collect();
    }
    if let Some(dropped) = v.get("lagged") {
        let mut events = vec![tagged(EventKind::Error {
            message: format!(
                "host {host}: the link fell behind; {dropped} event(s) (output lines among them) were lost"
            ),
        })];
        let workers = v["snapshot"]["workers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        events.extend(workers.iter().filter_map(ended_in_snapshot).map(tagged));
        return events;
    }
    Vec::new()
}

fn text(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

/// A remote event the driver follows, as the local kind.
fn kind_of(e: &Value) -> Option<EventKind> {
    let worker = text(e, "worker")?;
    Some(match e["event"].as_str()? {
        "spawned" => EventKind::Spawned {
            worker,
            pid: e["pid"].as_u64()? as u32,
            pgid: e["pgid"].as_u64().unwrap_or(0) as u32,
        },
        "output" => EventKind::Output {
            worker: worker.into(),
            stream: if e["stream"] == "stderr" {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            line: text(e, "line")?,
        },
        "exited" => EventKind::Exited {
            worker,
            pid: e["pid"].as_u64().unwrap_or(0) as u32,
            code: e["code"].as_i64()? as i32,
            signal: text(e, "signal"),
            runtime_s: e["runtime_s"].as_f64().unwrap_or(0.0),
            timed_out: e["timed_out"] == true,
            stuck_terminated: e["stuck_terminated"] == true,
            restarts: e["restarts"].as_u64().unwrap_or(0) as u32,
        },
        "failed" => EventKind::Failed {
            worker,
            error: text(e, "error").unwrap_or_default(),
        },
        "cancelled" => EventKind::Cancelled { worker },
        _ => return None,
    })
}

/// How a worker of a snapshot ended, if it has.
fn ended_in_snapshot(w: &Value) -> Option<EventKind> {
    let worker = text(w, "worker")?;
    Some(match w["state"].as_str()? {
        "exited" | "signaled" => EventKind::Exited {
            worker,
            pid: w["pid"].as_u64().unwrap_or(0) as u32,
            code: w["code"].as_i64()? as i32,
            signal: None,
            runtime_s: w["runtime_s"].as_f64().unwrap_or(0.0),
            timed_out: w["timed_out"] == true,
            stuck_terminated: false,
            restarts: w["restarts"].as_u64().unwrap_or(0) as u32,
        },
        "failed" => EventKind::Failed {
            worker,
            error: text(w, "error").unwrap_or_default(),
        },
        "cancelled" => EventKind::Cancelled { worker },
        _ => return None,
    })
}
