//! Requests that answer with a stream: a worker's logs (`follow`) and every
//! event (`subscribe`). Both read the engine's tap, so they never slow it: a
//! subscriber that falls behind gets `lagged` with a fresh snapshot.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::{Ctx, Out, names, one_name};
use crate::ctl::protocol::{self, Code, Failure};

/// A worker's kept lines (`tail`, default 100), then with `follow` its new ones
/// as `output` events until the connection closes.
pub(super) async fn logs(
    request: &Value,
    ctx: &Ctx,
    id: &Value,
    out: &Out,
) -> Result<Option<Value>, Failure> {
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
pub(super) async fn subscribe(
    request: &Value,
    ctx: &Ctx,
    id: &Value,
    out: &Out,
) -> Result<Option<Value>, Failure> {
    let kinds: Option<Vec<String>> = match request.get("events") {
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
    if let Some(unknown) = kinds
        .iter()
        .flatten()
        .find(|k| !crate::engine::event::EVENT_NAMES.contains(&k.as_str()))
    {
        return Err(Failure::new(
            Code::BadRequest,
            format!(
                "unknown event '{unknown}': use one of {}",
                crate::engine::event::EVENT_NAMES.join(", ")
            ),
        ));
    }
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
