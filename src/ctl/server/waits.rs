//! Requests that wait for the engine: `join` (answered with how the worker
//! ended) and `wait` (until a worker is running, or has exited).

use serde_json::Value;
use tokio::sync::broadcast;

use super::{Ctx, names, one_name, parse_command};
use crate::ctl::protocol::{Code, Failure};
use crate::engine::EventKind;

/// Joins a worker (or all), answering with how it ended.
pub(super) async fn join(request: &Value, ctx: &Ctx) -> Result<Option<Value>, Failure> {
    let worker = names(request).and_then(|n| n.first().cloned());
    // Subscribed before the join goes in, so its answer cannot be missed.
    let mut events = ctx.link.tap.subscribe();
    ctx.execute(parse_command(request)?).await?;
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
pub(super) async fn wait(request: &Value, ctx: &Ctx) -> Result<Option<Value>, Failure> {
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
