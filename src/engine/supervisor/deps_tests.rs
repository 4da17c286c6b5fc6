//! Dependencies, readiness and stop order with plain inputs.

use std::time::Instant;

use super::*;
use crate::spec::Program;
use crate::spec::deps::{Condition, Dependency, Instances, Probe, ProbeCheck};

fn job(name: &str, deps: &[(&str, Condition)]) -> JobSpec {
    let mut j = JobSpec::new(name, Program::Argv(vec!["true".into()]));
    j.explicit_name = true;
    j.depends_on = deps
        .iter()
        .map(|(d, c)| Dependency {
            job: d.to_string(),
            condition: *c,
            instances: Instances::All,
        })
        .collect();
    j
}

fn sup(jobs: &[&str]) -> Supervisor {
    let mut s = Supervisor::new(Policy {
        max_parallel: 8,
        ..Policy::default()
    });
    s.expect_jobs(jobs.iter().map(|j| j.to_string()));
    s
}

/// Feeds an input, confirming every spawn it causes; returns every effect.
fn feed(s: &mut Supervisor, input: Input, now: Instant) -> Vec<Effect> {
    let mut all = s.handle(input, now);
    let mut i = 0;
    while i < all.len() {
        if let Effect::Spawn { id, .. } = all[i] {
            let more = s.handle(
                Input::Spawned {
                    id,
                    pid: 100 + id.0,
                },
                now,
            );
            all.extend(more);
        }
        i += 1;
    }
    all
}

fn launch(s: &mut Supervisor, j: JobSpec, now: Instant) -> Vec<Effect> {
    feed(s, Input::Command(Command::Launch(Box::new(j))), now)
}

fn exit(s: &mut Supervisor, name: &str, code: i32, now: Instant) -> Vec<Effect> {
    let id = s.find(name).unwrap();
    let status = ExitStatus::Code(code);
    feed(
        s,
        Input::Exited {
            id,
            status,
            at: now,
        },
        now,
    )
}

fn state(s: &Supervisor, name: &str) -> WorkerState {
    s.worker(s.find(name).unwrap()).unwrap().state
}

fn spawned(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(EventKind::Spawned { worker, .. }) => Some(worker.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dependent_waits_outside_the_queue_until_its_dependency_succeeds() {
    let now = Instant::now();
    let mut s = sup(&["app", "build"]);
    launch(&mut s, job("app", &[("build", Condition::Succeeded)]), now);
    assert_eq!(state(&s, "app"), WorkerState::Waiting);
    assert_eq!(s.queue_stats().depth, 0, "waiting is not queued");
    let fx = launch(&mut s, job("build", &[]), now);
    assert_eq!(spawned(&fx), ["build"]);
    let fx = exit(&mut s, "build", 0, now);
    assert_eq!(spawned(&fx), ["app"]);
    assert!(!s.is_done());
}

#[test]
fn started_is_met_at_the_spawn_and_ready_at_the_probe() {
    let now = Instant::now();
    let mut s = sup(&["db", "mig", "app"]);
    let mut db = job("db", &[]);
    db.ready = Some(Probe::ready(ProbeCheck::Tcp("127.0.0.1:1".into())));
    let fx = launch(&mut s, db, now);
    assert!(fx.iter().any(|e| matches!(e, Effect::Probe { .. })));
    let fx = launch(&mut s, job("mig", &[("db", Condition::Started)]), now);
    assert_eq!(spawned(&fx), ["mig"]);
    launch(&mut s, job("app", &[("db", Condition::Ready)]), now);
    assert_eq!(state(&s, "app"), WorkerState::Waiting);
    let id = s.find("db").unwrap();
    let probe = Input::Probe {
        id,
        run: 1,
        purpose: ProbePurpose::Ready,
        ok: true,
        detail: String::new(),
    };
    let fx = feed(&mut s, probe, now);
    assert_eq!(spawned(&fx), ["app"]);
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Ready { worker, .. } if worker == "db"))
    );
}

fn events(fx: &[Effect]) -> Vec<&EventKind> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(k) => Some(k),
            _ => None,
        })
        .collect()
}

#[test]
fn a_failed_dependency_skips_its_dependents_transitively_and_the_run_ends() {
    let now = Instant::now();
    let mut s = sup(&["build", "test", "report"]);
    launch(&mut s, job("build", &[]), now);
    launch(&mut s, job("test", &[("build", Condition::Succeeded)]), now);
    launch(&mut s, job("report", &[("test", Condition::Exited)]), now);
    feed(&mut s, Input::Command(Command::CloseQueue), now);
    let fx = exit(&mut s, "build", 1, now);
    let skipped: Vec<_> = events(&fx)
        .into_iter()
        .filter_map(|e| match e {
            EventKind::Skipped { worker, reason } => Some((worker.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0].0, "test");
    assert_eq!(skipped[0].1.dep, "build");
    assert_eq!(skipped[0].1.cause, "exited 1");
    assert_eq!(skipped[1].0, "report");
    assert_eq!(skipped[1].1.cause, "skipped");
    assert!(s.is_done());
    assert!(!s.all_ok());
}

#[test]
fn a_missed_readiness_deadline_terminates_the_worker_and_skips_dependents() {
    let now = Instant::now();
    let mut s = sup(&["db", "app"]);
    let mut db = job("db", &[]);
    db.ready = Some(Probe::ready(ProbeCheck::Tcp("127.0.0.1:1".into())));
    launch(&mut s, db, now);
    launch(&mut s, job("app", &[("db", Condition::Ready)]), now);
    let id = s.find("db").unwrap();
    let timer = Timer {
        id,
        run: 1,
        kind: TimerKind::ReadyDeadline,
    };
    let fx = feed(&mut s, Input::Timer(timer), now);
    let kinds = events(&fx);
    assert!(
        kinds
            .iter()
            .any(|e| matches!(e, EventKind::ReadyTimeout { .. }))
    );
    assert!(
        kinds
            .iter()
            .any(|e| matches!(e, EventKind::Stopping { .. }))
    );
    assert!(kinds.iter().any(
        |e| matches!(e, EventKind::Skipped { reason, .. } if reason.cause == "missed its readiness deadline")
    ));
}

#[test]
fn a_manual_restart_of_a_failed_dependency_releases_what_it_skipped() {
    let now = Instant::now();
    let mut s = sup(&["build", "test"]);
    launch(&mut s, job("build", &[]), now);
    launch(&mut s, job("test", &[("build", Condition::Succeeded)]), now);
    exit(&mut s, "build", 1, now);
    assert_eq!(state(&s, "test"), WorkerState::Skipped);
    let id = s.find("build").unwrap();
    feed(&mut s, Input::Command(Command::Restart(vec![id])), now);
    assert_eq!(state(&s, "test"), WorkerState::Waiting);
    let fx = exit(&mut s, "build", 0, now);
    assert_eq!(spawned(&fx), ["test"]);
}

#[test]
fn stop_all_stops_dependents_first() {
    let now = Instant::now();
    let mut s = sup(&["db", "app"]);
    launch(&mut s, job("db", &[]), now);
    launch(&mut s, job("app", &[("db", Condition::Started)]), now);
    let stopping = |fx: &[Effect]| -> Vec<String> {
        events(fx)
            .into_iter()
            .filter_map(|e| match e {
                EventKind::Stopping { worker, .. } => Some(worker.clone()),
                _ => None,
            })
            .collect()
    };
    let fx = feed(&mut s, Input::Command(Command::StopAll), now);
    assert_eq!(stopping(&fx), ["app"], "db waits for app");
    let fx = exit(&mut s, "app", -15, now);
    assert_eq!(stopping(&fx), ["db"]);

    let mut s = Supervisor::new(Policy {
        max_parallel: 8,
        stop_order: crate::spec::deps::StopOrder::Parallel,
        ..Policy::default()
    });
    s.expect_jobs(["db".to_string(), "app".to_string()]);
    launch(&mut s, job("db", &[]), now);
    launch(&mut s, job("app", &[("db", Condition::Started)]), now);
    let fx = feed(&mut s, Input::Command(Command::StopAll), now);
    assert_eq!(stopping(&fx), ["db", "app"]);
}

#[test]
fn a_launch_naming_an_unknown_job_is_refused() {
    let now = Instant::now();
    let mut s = sup(&[]);
    let fx = launch(&mut s, job("app", &[("nope", Condition::Started)]), now);
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Error { message } if message.contains("'nope'")))
    );
    assert!(s.find("app").is_none());
}

#[test]
fn health_failures_past_the_threshold_restart_the_worker() {
    use crate::spec::deps::{Health, OnUnhealthy};
    let now = Instant::now();
    let mut s = sup(&["web"]);
    let mut web = job("web", &[]);
    web.health = Some(Health {
        probe: Probe::health(ProbeCheck::Tcp("127.0.0.1:1".into())),
        failure_threshold: 2,
        on_unhealthy: OnUnhealthy::Restart,
    });
    let fx = launch(&mut s, web, now);
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Probe {
            purpose: ProbePurpose::Health,
            ..
        }
    )));
    let id = s.find("web").unwrap();
    let check = |ok| Input::Probe {
        id,
        run: 1,
        purpose: ProbePurpose::Health,
        ok,
        detail: "refused".into(),
    };
    assert!(events(&feed(&mut s, check(false), now)).is_empty());
    let fx = feed(&mut s, check(false), now);
    let kinds = events(&fx);
    assert!(kinds.iter().any(|e| matches!(
        e,
        EventKind::Unhealthy {
            action: "restart",
            ..
        }
    )));
    assert!(
        kinds
            .iter()
            .any(|e| matches!(e, EventKind::Stopping { .. }))
    );
    let fx = exit(&mut s, "web", -15, now);
    assert_eq!(spawned(&fx), ["web"]);
}

#[test]
fn the_readiness_deadline_counts_from_the_initial_delay() {
    use std::time::Duration;
    let now = Instant::now();
    let mut s = sup(&["db"]);
    let mut db = job("db", &[]);
    let mut probe = Probe::ready(ProbeCheck::Tcp("127.0.0.1:1".into()));
    probe.initial_delay = Duration::from_secs(3);
    probe.deadline = Duration::from_secs(2);
    db.ready = Some(probe);
    let fx = launch(&mut s, db, now);
    let after = fx.iter().find_map(|e| match e {
        Effect::Arm { after, timer } if timer.kind == TimerKind::ReadyDeadline => Some(*after),
        _ => None,
    });
    assert_eq!(after, Some(Duration::from_secs(5)));
}
