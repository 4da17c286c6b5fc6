//! The dispatcher with plain inputs: no processes, no clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Pool;
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;
use crate::engine::pool::{Effect, TimerKind};
use crate::spec::pool::{PoolSpec, Protocol};
use crate::spec::{JobSpec, Program};

fn pool(workers: u32, tune: impl FnOnce(&mut PoolSpec)) -> Pool {
    let mut spec = PoolSpec::new(workers, Protocol::Jsonl);
    tune(&mut spec);
    let job = JobSpec::new("p", Program::Argv(vec!["w".into()]));
    Pool::new(&job, Arc::new(spec))
}

fn launches(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Launch(job) => Some(job.name.clone()),
            _ => None,
        })
        .collect()
}

/// Task ids sent to `worker`.
fn sent(fx: &[Effect], worker: WorkerId) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { worker: w, line } if *w == worker => {
                let v: serde_json::Value = serde_json::from_slice(line).ok()?;
                Some(v["id"].as_str()?.to_string())
            }
            _ => None,
        })
        .collect()
}

fn events(fx: &[Effect]) -> Vec<&EventKind> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(k) => Some(k),
            _ => None,
        })
        .collect()
}

/// Starts the pool and makes its launched workers spawned and ready.
fn ready(p: &mut Pool, now: Instant) -> (Vec<WorkerId>, Vec<Effect>) {
    let mut all = Vec::new();
    let names = launches(&p.start(now));
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = WorkerId(i as u32 + 1);
        all.extend(p.spawned(id, name, now));
        all.extend(p.line(id, r#"{"ready": true}"#, now));
        ids.push(id);
    }
    (ids, all)
}

#[test]
fn a_worker_holds_two_tasks_and_a_death_blames_only_the_first() {
    let now = Instant::now();
    let mut p = pool(1, |_| {});
    let (ids, _) = ready(&mut p, now);
    let w = ids[0];
    let mut fx = Vec::new();
    for t in ["a", "b", "c"] {
        fx.extend(p.submit(Some(t.into()), json!(t), now).expect("taken").1);
    }
    assert_eq!(sent(&fx, w), ["a", "b"], "two at once, in order");
    let fx = p.exited(w, "killed by SIGKILL", now);
    assert_eq!(launches(&fx), ["p#2"]);
    let fx = p.spawned(WorkerId(9), "p#2", now);
    assert!(sent(&fx, WorkerId(9)).is_empty(), "not ready yet");
    let fx = p.line(WorkerId(9), r#"{"ready": true}"#, now);
    assert_eq!(
        sent(&fx, WorkerId(9)),
        ["a", "b"],
        "back at the head, in order"
    );
    let fx = p.line(WorkerId(9), r#"{"id": "a", "ok": true, "output": 1}"#, now);
    let done = events(&fx);
    assert!(
        matches!(done[0], EventKind::Result(r) if r.task == "a" && r.attempts == 2),
        "{done:?}"
    );
    let fx = p.line(WorkerId(9), r#"{"id": "b", "ok": true, "output": 1}"#, now);
    assert!(matches!(events(&fx)[0], EventKind::Result(r) if r.attempts == 1));
}

#[test]
fn three_deaths_before_ready_make_the_pool_failing_until_one_is_ready() {
    let now = Instant::now();
    let mut p = pool(1, |_| {});
    let mut name = launches(&p.start(now)).remove(0);
    let mut fx = Vec::new();
    for i in 1..=3 {
        fx = p.spawned(WorkerId(i), &name, now);
        fx.extend(p.exited(WorkerId(i), "exit code 1", now));
        if i < 3 {
            name = launches(&fx).remove(0);
        }
    }
    assert!(launches(&fx).is_empty(), "backing off");
    assert!(events(&fx).iter().any(|e| matches!(
        e,
        EventKind::PoolState {
            state: "failing",
            ..
        }
    )));
    let backoff = fx.iter().find_map(|e| match e {
        Effect::Arm { after, timer } if timer.kind == TimerKind::Backoff => {
            Some((*after, timer.clone()))
        }
        _ => None,
    });
    let (after, timer) = backoff.expect("a back-off timer");
    assert_eq!(after, Duration::from_secs(1));
    let (_, fx) = p.submit(None, json!(1), now).expect("tasks stay queued");
    assert!(launches(&fx).is_empty());
    let fx = p.timer(&timer, now);
    let name = launches(&fx).remove(0);
    p.spawned(WorkerId(4), &name, now);
    let fx = p.line(WorkerId(4), r#"{"ready": true}"#, now);
    assert!(events(&fx).iter().any(|e| matches!(
        e,
        EventKind::PoolState {
            state: "running",
            ..
        }
    )));
    assert_eq!(sent(&fx, WorkerId(4)), ["1"]);
}

#[test]
fn max_tasks_with_jitter_caps_what_a_worker_is_given() {
    let now = Instant::now();
    let mut p = pool(1, |s| {
        s.max_tasks = Some(3);
        s.max_tasks_jitter = 2;
    });
    let (ids, _) = ready(&mut p, now);
    let w = ids[0];
    for i in 0..10 {
        p.submit(None, json!(i), now).expect("taken");
    }
    let mut served = 0;
    while let Some(seq) = p.members.get(&w).and_then(|m| m.tasks.front().copied()) {
        let id = p.tasks[&seq].id.clone();
        let fx = p.line(w, &format!(r#"{{"id": "{id}", "ok": true}}"#), now);
        served += 1;
        if let Some(EventKind::Recycled {
            reason, served: n, ..
        }) = events(&fx)
            .into_iter()
            .find(|e| matches!(e, EventKind::Recycled { .. }))
        {
            assert_eq!(*reason, "max_tasks");
            assert_eq!(*n, served);
            break;
        }
    }
    assert!((3..=5).contains(&served), "{served}");
}

#[test]
fn a_worker_that_asks_is_replaced_once_its_tasks_are_done() {
    let now = Instant::now();
    let mut p = pool(1, |_| {});
    let (ids, _) = ready(&mut p, now);
    let w = ids[0];
    p.submit(Some("a".into()), json!(1), now).expect("taken");
    let fx = p.line(w, r#"{"recycle": true}"#, now);
    assert!(fx.is_empty(), "it still works on 'a'");
    p.submit(Some("b".into()), json!(2), now).expect("taken");
    let fx = p.line(w, r#"{"id": "a", "ok": true}"#, now);
    assert!(sent(&fx, w).is_empty(), "no new task for a leaving worker");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::CloseInput(id) if *id == w))
    );
    assert!(events(&fx).iter().any(|e| matches!(
        e,
        EventKind::Recycled {
            reason: "request",
            ..
        }
    )));
    assert_eq!(launches(&fx), ["p#2"]);
}

#[test]
fn stop_all_cancels_queued_tasks_and_running_ones_end_cancelled() {
    let now = Instant::now();
    let mut p = pool(1, |_| {});
    let (ids, _) = ready(&mut p, now);
    for i in 0..4 {
        p.submit(None, json!(i), now).expect("taken");
    }
    let fx = p.stop_all(now);
    assert_eq!(events(&fx).len(), 2, "the two queued");
    let fx = p.exited(ids[0], "killed by SIGTERM", now);
    let ended = events(&fx);
    assert_eq!(ended.len(), 2);
    assert!(
        ended
            .iter()
            .all(|e| matches!(e, EventKind::Result(r) if r.status == "cancelled"))
    );
    assert!(launches(&fx).is_empty());
    assert_eq!(p.counts(), (0, 0, 0));
}

#[test]
fn max_age_and_max_rss_replace_a_worker_between_tasks() {
    let start = Instant::now();
    let mut p = pool(2, |s| {
        s.max_age = Some(Duration::from_secs(60));
        s.max_rss = Some(1000);
    });
    let (ids, _) = ready(&mut p, start);
    let fx = p.rss(ids[0], 5000, start);
    assert!(events(&fx).iter().any(
        |e| matches!(e, EventKind::Recycled { reason: "max_rss", worker, .. } if worker == "p#1")
    ));
    assert_eq!(launches(&fx), ["p#3"]);
    let later = start + Duration::from_secs(61);
    let fx = p.rss(ids[1], 10, later);
    assert!(events(&fx).iter().any(
        |e| matches!(e, EventKind::Recycled { reason: "max_age", worker, .. } if worker == "p#2")
    ));
}
