//! Policy tests with plain inputs: no processes, no sleeping.

use std::time::{Duration, Instant};

use super::*;
use crate::engine::command::JoinTarget;
use crate::spec::{Program, RestartPolicy};

fn job(name: &str, count: u32) -> JobSpec {
    let mut j = JobSpec::new(name, Program::Argv(vec!["true".into()]));
    j.count = count;
    j
}

fn sup(max_parallel: usize) -> Supervisor {
    Supervisor::new(Policy {
        max_parallel,
        ..Policy::default()
    })
}

fn spawns(effects: &[Effect]) -> Vec<WorkerId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Spawn { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

fn events(effects: &[Effect]) -> Vec<&EventKind> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(k) => Some(k),
            _ => None,
        })
        .collect()
}

/// Launches a job and confirms every spawn the supervisor asks for.
fn launch(s: &mut Supervisor, j: JobSpec, now: Instant) -> Vec<WorkerId> {
    let fx = s.handle(Input::Command(Command::Launch(Box::new(j))), now);
    let ids = spawns(&fx);
    for id in &ids {
        s.handle(
            Input::Spawned {
                id: *id,
                pid: 1000 + id.0,
            },
            now,
        );
    }
    ids
}

#[test]
fn pool_never_runs_more_than_max_parallel_and_fills_in_fifo_order() {
    let now = Instant::now();
    let mut s = sup(2);
    let started = launch(&mut s, job("w", 6), now);
    assert_eq!(started, [WorkerId(0), WorkerId(1)]);
    assert_eq!(s.queue_stats().depth, 4);
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Code(0),
            at: now,
        },
        now,
    );
    assert_eq!(spawns(&fx), [WorkerId(2)]);
    assert_eq!(s.queue_stats().running, 2);
}

#[test]
fn exit_codes_and_signals_are_reported_python_style() {
    let now = Instant::now();
    let mut s = sup(2);
    launch(&mut s, job("w", 2), now);
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Signal(9),
            at: now,
        },
        now,
    );
    let ev = events(&fx);
    assert!(ev.iter().any(
        |e| matches!(e, EventKind::Exited { code: -9, signal: Some(s), .. } if s == "SIGKILL")
    ));
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(1),
            status: ExitStatus::Code(137),
            at: now,
        },
        now,
    );
    assert!(events(&fx).iter().any(|e| matches!(
        e,
        EventKind::Exited {
            code: 137,
            signal: None,
            ..
        }
    )));
}

#[test]
fn terminate_sends_stop_signal_and_cont_then_kills_after_grace() {
    let now = Instant::now();
    let mut s = sup(1);
    launch(&mut s, job("w", 1), now);
    let fx = s.handle(Input::Command(Command::Terminate(vec![WorkerId(0)])), now);
    let signals: Vec<i32> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Signal {
                signal,
                scope: Scope::Tree,
                ..
            } => Some(*signal),
            _ => None,
        })
        .collect();
    assert_eq!(signals, [libc::SIGTERM, libc::SIGCONT]);
    let timer = fx
        .iter()
        .find_map(|e| match e {
            Effect::Arm { timer, after } if timer.kind == TimerKind::Kill => Some((*timer, *after)),
            _ => None,
        })
        .expect("a kill timer");
    assert_eq!(timer.1, Duration::from_millis(3000));
    let fx = s.handle(Input::Timer(timer.0), now + timer.1);
    assert!(fx.contains(&Effect::Signal {
        id: WorkerId(0),
        signal: libc::SIGKILL,
        scope: Scope::Tree
    }));
    // Still alive after the kill check: reported once as unkillable.
    let check = fx
        .iter()
        .find_map(|e| match e {
            Effect::Arm { timer, .. } if timer.kind == TimerKind::KillCheck => Some(*timer),
            _ => None,
        })
        .expect("a kill check");
    let fx = s.handle(Input::Timer(check), now + Duration::from_secs(10));
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Unkillable { .. }))
    );
    let fx = s.handle(Input::Timer(check), now + Duration::from_secs(20));
    assert!(events(&fx).is_empty());
}

#[test]
fn stale_timers_from_an_earlier_run_are_ignored() {
    let now = Instant::now();
    let mut s = sup(1);
    launch(&mut s, job("w", 1), now);
    let old = Timer {
        id: WorkerId(0),
        run: 0,
        kind: TimerKind::Timeout,
    };
    assert!(s.handle(Input::Timer(old), now).is_empty());
}

#[test]
fn on_failure_restarts_with_growing_backoff_up_to_max_restarts() {
    let now = Instant::now();
    let mut s = sup(1);
    let mut j = job("w", 1);
    j.restart = RestartPolicy::OnFailure;
    j.max_restarts = Some(2);
    launch(&mut s, j, now);
    let mut delays = Vec::new();
    for round in 0..3 {
        let fx = s.handle(
            Input::Exited {
                id: WorkerId(0),
                status: ExitStatus::Code(1),
                at: now,
            },
            now,
        );
        let Some(timer) = fx.iter().find_map(|e| match e {
            Effect::Arm { timer, after } if timer.kind == TimerKind::Restart => {
                Some((*timer, *after))
            }
            _ => None,
        }) else {
            assert_eq!(round, 2, "restarts stop after max_restarts");
            break;
        };
        delays.push(timer.1);
        let fx = s.handle(Input::Timer(timer.0), now);
        assert_eq!(spawns(&fx), [WorkerId(0)]);
        s.handle(
            Input::Spawned {
                id: WorkerId(0),
                pid: 2000 + round,
            },
            now,
        );
    }
    assert_eq!(delays.len(), 2);
    assert!(delays[1] > delays[0]);
    s.handle(Input::Command(Command::CloseQueue), now);
    assert!(s.is_done());
}

#[test]
fn a_terminated_worker_is_not_restarted_even_with_restart_always() {
    let now = Instant::now();
    let mut s = sup(1);
    let mut j = job("w", 1);
    j.restart = RestartPolicy::Always;
    launch(&mut s, j, now);
    s.handle(Input::Command(Command::Terminate(vec![WorkerId(0)])), now);
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Signal(15),
            at: now,
        },
        now,
    );
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Arm { timer, .. } if timer.kind == TimerKind::Restart))
    );
}

#[test]
fn join_all_closes_the_queue_and_answers_when_everything_finished() {
    let now = Instant::now();
    let mut s = sup(2);
    launch(&mut s, job("w", 2), now);
    let fx = s.handle(
        Input::Command(Command::Join {
            target: JoinTarget::All,
            timeout: None,
        }),
        now,
    );
    assert!(
        !events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Joined { .. }))
    );
    s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Code(0),
            at: now,
        },
        now,
    );
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(1),
            status: ExitStatus::Code(0),
            at: now,
        },
        now,
    );
    assert!(events(&fx).iter().any(|e| matches!(
        e,
        EventKind::Joined {
            worker: None,
            ok: true,
            ..
        }
    )));
    assert!(s.is_done());
}

#[test]
fn join_timeout_fires_only_while_still_waiting() {
    let now = Instant::now();
    let mut s = sup(1);
    launch(&mut s, job("w", 1), now);
    let target = JoinTarget::Worker(WorkerId(0));
    let fx = s.handle(
        Input::Command(Command::Join {
            target,
            timeout: Some(Duration::from_secs(1)),
        }),
        now,
    );
    let timer = fx
        .iter()
        .find_map(|e| match e {
            Effect::Arm { timer, .. } => Some(*timer),
            _ => None,
        })
        .expect("join timer");
    let fx = s.handle(Input::Timer(timer), now);
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::JoinTimeout { .. }))
    );
}

#[test]
fn pause_queue_holds_workers_and_max_parallel_can_grow() {
    let now = Instant::now();
    let mut s = sup(1);
    s.handle(Input::Command(Command::PauseQueue), now);
    assert!(launch(&mut s, job("w", 3), now).is_empty());
    let fx = s.handle(Input::Command(Command::SetMaxParallel(2)), now);
    assert!(spawns(&fx).is_empty());
    let fx = s.handle(Input::Command(Command::ResumeQueue), now);
    assert_eq!(spawns(&fx).len(), 2);
}

#[test]
fn cancel_removes_a_queued_worker_and_stop_all_cancels_the_rest() {
    let now = Instant::now();
    let mut s = sup(1);
    launch(&mut s, job("w", 3), now);
    s.handle(Input::Command(Command::Cancel(vec![WorkerId(2)])), now);
    assert_eq!(s.queue_stats().depth, 1);
    let fx = s.handle(Input::Command(Command::StopAll), now);
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Cancelled { worker } if worker == "w#2"))
    );
    assert_eq!(s.queue_stats().depth, 0);
}

#[test]
fn a_spawn_failure_fails_only_that_worker() {
    let now = Instant::now();
    let mut s = sup(2);
    let fx = s.handle(Input::Command(Command::Launch(Box::new(job("w", 2)))), now);
    assert_eq!(spawns(&fx).len(), 2);
    let fx = s.handle(
        Input::SpawnFailed {
            id: WorkerId(0),
            error: "nope".into(),
        },
        now,
    );
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Failed { .. }))
    );
    s.handle(
        Input::Spawned {
            id: WorkerId(1),
            pid: 5,
        },
        now,
    );
    assert_eq!(s.queue_stats().running, 1);
    assert_eq!(s.queue_stats().failed, 1);
}

#[test]
fn duplicate_launch_names_get_suffixes() {
    let now = Instant::now();
    let mut s = sup(4);
    launch(&mut s, job("w", 1), now);
    launch(&mut s, job("w", 1), now);
    assert_eq!(s.worker_name(WorkerId(1)), Some("w-2"));
}

fn retires(effects: &[Effect]) -> Vec<WorkerId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Retire(id) => Some(*id),
            _ => None,
        })
        .collect()
}

fn exit(s: &mut Supervisor, id: u32, code: i32, now: Instant) -> Vec<Effect> {
    s.handle(
        Input::Exited {
            id: WorkerId(id),
            status: ExitStatus::Code(code),
            at: now,
        },
        now,
    )
}

#[test]
fn finished_workers_beyond_keep_finished_are_retired_but_still_counted() {
    let now = Instant::now();
    let mut s = Supervisor::new(Policy {
        max_parallel: 1,
        keep_finished: Some(2),
        ..Policy::default()
    });
    let mut retired = Vec::new();
    for (i, code) in [0, 1, 0, 0, 0].into_iter().enumerate() {
        launch(&mut s, job(&format!("w{i}"), 1), now);
        retired.extend(retires(&exit(&mut s, i as u32, code, now)));
    }
    assert_eq!(retired, [WorkerId(0), WorkerId(1), WorkerId(2)]);
    let names: Vec<String> = s
        .snapshot(now)
        .workers
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["w3", "w4"]);
    let stats = s.queue_stats();
    assert_eq!((stats.done, stats.failed), (4, 1));
    assert!(!s.all_ok(), "a retired failure still spoils ok");
    assert_eq!(s.find("w1"), None);
    // Ids are never reused after retirement.
    assert_eq!(launch(&mut s, job("w5", 1), now), [WorkerId(5)]);
}

#[test]
fn a_worker_is_retired_only_after_its_stop_ladder_ends() {
    let now = Instant::now();
    let mut s = Supervisor::new(Policy {
        max_parallel: 1,
        keep_finished: Some(0),
        ..Policy::default()
    });
    launch(&mut s, job("w", 1), now);
    s.handle(Input::Command(Command::Terminate(vec![WorkerId(0)])), now);
    let fx = s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Signal(libc::SIGTERM),
            at: now,
        },
        now,
    );
    assert!(
        retires(&fx).is_empty(),
        "descendants may still need SIGKILL"
    );
    let kill = Timer {
        id: WorkerId(0),
        run: 1,
        kind: TimerKind::Kill,
    };
    let fx = s.handle(Input::Timer(kill), now + Duration::from_secs(5));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Signal {
            signal: libc::SIGKILL,
            ..
        }
    )));
    assert_eq!(retires(&fx), [WorkerId(0)]);
}

#[test]
fn nothing_restarts_once_proctor_is_stopping_everything() {
    let now = Instant::now();
    let mut s = sup(2);
    let mut j = job("w", 2);
    j.restart = RestartPolicy::Always;
    launch(&mut s, j, now);
    s.handle(Input::Command(Command::StopAll), now);
    // A restart request during the stop neither replaces the shutdown nor queues anything.
    let fx = s.handle(Input::Command(Command::Restart(vec![WorkerId(0)])), now);
    assert!(
        events(&fx)
            .iter()
            .any(|e| matches!(e, EventKind::Error { .. }))
    );
    for id in [WorkerId(0), WorkerId(1)] {
        let fx = s.handle(
            Input::Exited {
                id,
                status: ExitStatus::Signal(15),
                at: now,
            },
            now,
        );
        assert!(spawns(&fx).is_empty());
        assert!(
            !fx.iter().any(
                |e| matches!(e, Effect::Arm { timer, .. } if timer.kind == TimerKind::Restart)
            )
        );
    }
    assert!(s.is_done());
}

/// The incremental counts always equal a fresh count, whatever the inputs.
#[test]
fn counts_stay_exact_through_every_kind_of_input() {
    let now = Instant::now();
    let mut s = sup(3);
    let mut j = job("w", 8);
    j.restart = RestartPolicy::OnFailure;
    j.max_restarts = Some(1);
    let check = |s: &mut Supervisor, step: &str| {
        let kept = s.counts;
        s.recount();
        assert_eq!(kept, s.counts, "after {step}");
    };
    launch(&mut s, j, now);
    check(&mut s, "launch");
    s.handle(
        Input::Exited {
            id: WorkerId(0),
            status: ExitStatus::Code(0),
            at: now,
        },
        now,
    );
    check(&mut s, "exit 0");
    s.handle(
        Input::Exited {
            id: WorkerId(1),
            status: ExitStatus::Code(3),
            at: now,
        },
        now,
    );
    check(&mut s, "exit 3 with a restart pending");
    s.handle(
        Input::SpawnFailed {
            id: WorkerId(3),
            error: "x".into(),
        },
        now,
    );
    check(&mut s, "spawn failure");
    s.handle(Input::Command(Command::Cancel(vec![WorkerId(7)])), now);
    check(&mut s, "cancel");
    s.handle(Input::Command(Command::Pause(vec![WorkerId(2)])), now);
    check(&mut s, "pause");
    s.handle(Input::Command(Command::Restart(vec![WorkerId(0)])), now);
    check(&mut s, "restart of a finished worker");
    s.handle(Input::Command(Command::StopAll), now);
    check(&mut s, "stop all");
    let ids: Vec<WorkerId> = s.workers.keys().copied().collect();
    for id in ids {
        s.handle(
            Input::Exited {
                id,
                status: ExitStatus::Signal(15),
                at: now,
            },
            now,
        );
        check(&mut s, "exits during stop");
    }
    assert!(s.is_done());
}

fn queue_events(effects: &[Effect]) -> Vec<(usize, Option<HeldBy>)> {
    events(effects)
        .into_iter()
        .filter_map(|k| match k {
            EventKind::Queue { stats, held_by, .. } => Some((stats.depth, *held_by)),
            _ => None,
        })
        .collect()
}

#[test]
fn open_file_slots_hold_the_queue_and_say_so() {
    let now = Instant::now();
    let mut s = Supervisor::new(Policy {
        max_parallel: 5,
        open_file_slots: Some(2),
        ..Policy::default()
    });
    let fx = s.handle(Input::Command(Command::Launch(Box::new(job("w", 4)))), now);
    assert_eq!(spawns(&fx), [WorkerId(0), WorkerId(1)]);
    assert_eq!(queue_events(&fx), [(2, Some(HeldBy::OpenFiles))]);
    assert_eq!(s.snapshot(now).held_by, Some(HeldBy::OpenFiles));
    for id in [0, 1] {
        s.handle(
            Input::Spawned {
                id: WorkerId(id),
                pid: 1000 + id,
            },
            now,
        );
    }
    let exit = |id| Input::Exited {
        id: WorkerId(id),
        status: ExitStatus::Code(0),
        at: now,
    };
    let fx = s.handle(exit(0), now);
    assert_eq!(spawns(&fx), [WorkerId(2)]);
    let fx = s.handle(exit(1), now);
    assert_eq!(spawns(&fx), [WorkerId(3)]);
    // Nothing waits any more: nothing is held.
    assert_eq!(queue_events(&fx).last(), Some(&(0, None)));
    assert_eq!(s.snapshot(now).held_by, None);
}

#[test]
fn open_file_slots_above_max_parallel_hold_nothing() {
    let now = Instant::now();
    let mut s = Supervisor::new(Policy {
        max_parallel: 2,
        open_file_slots: Some(10),
        ..Policy::default()
    });
    let fx = s.handle(Input::Command(Command::Launch(Box::new(job("w", 4)))), now);
    assert_eq!(spawns(&fx).len(), 2);
    assert!(queue_events(&fx).iter().all(|(_, held)| held.is_none()));
}
