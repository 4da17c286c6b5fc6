//! The other direction: an engine `Command` as a control line, for clients that
//! hold commands and must send them over the socket (an attached UI). A test
//! round-trips every command through `parse_line`, so the two cannot drift.

use serde_json::{Map, Value, json};

use crate::engine::{Command, JoinTarget, WorkerId};
use crate::signals::signal_name;
use crate::spec::deps::{OnUnhealthy, Probe, ProbeCheck};
use crate::spec::{JobSpec, OnStuck, Program, RestartPolicy, StdinSpec};

/// The control line for `command`; `name_of` gives worker names for ids.
pub fn to_line(
    command: &Command,
    name_of: &dyn Fn(WorkerId) -> Option<String>,
) -> Result<Value, String> {
    let names = |ids: &[WorkerId]| -> Result<Value, String> {
        let names: Result<Vec<String>, String> = ids
            .iter()
            .map(|&id| name_of(id).ok_or_else(|| format!("no worker with id {}", id.0)))
            .collect();
        Ok(json!(names?))
    };
    let many = |cmd: &str, ids: &[WorkerId]| -> Result<Value, String> {
        Ok(json!({"cmd": cmd, "worker": names(ids)?}))
    };
    Ok(match command {
        Command::Launch(job) => json!({"cmd": "launch", "job": job_json(job)}),
        Command::Signal {
            workers,
            signal,
            group,
        } => json!({"cmd": "signal", "worker": names(workers)?, "signal": signal, "group": group}),
        Command::Terminate(ids) => many("terminate", ids)?,
        Command::Kill(ids) => many("kill", ids)?,
        Command::Pause(ids) => many("pause", ids)?,
        Command::Resume(ids) => many("resume", ids)?,
        Command::Restart(ids) => many("restart", ids)?,
        Command::Cancel(ids) => many("cancel", ids)?,
        Command::Join { target, timeout } => {
            let mut line = json!({"cmd": "join"});
            if let JoinTarget::Worker(id) = target {
                line["worker"] = names(&[*id])?;
            }
            if let Some(t) = timeout {
                line["timeout_s"] = json!(t.as_secs_f64());
            }
            line
        }
        Command::PauseQueue => json!({"cmd": "pause_queue"}),
        Command::ResumeQueue => json!({"cmd": "resume_queue"}),
        Command::SetMaxParallel(n) => json!({"cmd": "max_parallel", "n": n}),
        Command::CloseQueue => json!({"cmd": "close"}),
        Command::StopAll => json!({"cmd": "stop_all"}),
        Command::Submit { pool, id, input } => match id {
            Some(id) => json!({"cmd": "submit", "pool": pool, "task": id, "input": input}),
            None => json!({"cmd": "submit", "pool": pool, "input": input}),
        },
        Command::ReapZombies(id) => many("reap_zombies", &[*id])?,
        Command::TerminateZombieParents(id) => many("terminate_zombie_parents", &[*id])?,
        Command::SignalDescendant {
            worker,
            pid,
            start,
            signal,
        } => {
            let mut line = many("signal_descendant", &[*worker])?;
            line["pid"] = json!(pid);
            line["signal"] = json!(signal);
            if let Some(start) = start {
                line["start"] = json!(start);
            }
            line
        }
        Command::Named { names, command } => {
            let mut line = to_line(command, &|_| Some(String::new()))?;
            line["worker"] = json!(names);
            line
        }
    })
}

/// A job as a workload file would write it.
pub fn job_json(job: &JobSpec) -> Value {
    let mut j = Map::new();
    if job.explicit_name {
        j.insert("name".into(), json!(job.name));
    }
    match &job.program {
        Program::Argv(argv) => j.insert("cmd".into(), json!(argv)),
        Program::Shell(script) => j.insert("shell".into(), json!(script)),
        Program::ArgvOs(argv) => j.insert(
            "cmd".into(),
            json!(
                argv.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            ),
        ),
    };
    if !job.explicit_name && !matches!(job.program, Program::Shell(_)) {
        j.insert("name".into(), json!(job.name));
    }
    if !job.env.is_empty() {
        j.insert("env".into(), json!(job.env));
    }
    if job.env_clear {
        j.insert("env_clear".into(), json!(true));
    }
    if let Some(cwd) = &job.cwd {
        j.insert("cwd".into(), json!(cwd.to_string_lossy()));
    }
    j.insert("count".into(), json!(job.count));
    let restart = match job.restart {
        RestartPolicy::Never => "never",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    };
    j.insert("restart".into(), json!(restart));
    if let Some(n) = job.max_restarts {
        j.insert("max_restarts".into(), json!(n));
    }
    if let Some(t) = job.timeout {
        j.insert("timeout_s".into(), json!(t.as_secs_f64()));
    }
    match &job.stdin {
        StdinSpec::Null => {}
        StdinSpec::Inherit => {
            j.insert("stdin".into(), json!("inherit"));
        }
        StdinSpec::File(p) => {
            j.insert("stdin".into(), json!(p.to_string_lossy()));
        }
    }
    j.insert("stop_signal".into(), json!(signal_name(job.stop_signal)));
    if let Some(g) = job.stop_grace {
        j.insert("stop_grace_ms".into(), json!(g.as_millis() as u64));
    }
    if let Some(s) = job.stuck_after {
        j.insert("stuck_after_s".into(), json!(s.as_secs_f64()));
    }
    if let Some(p) = job.stuck_cpu_pct {
        j.insert("stuck_cpu_pct".into(), json!(p));
    }
    if job.on_stuck == OnStuck::Terminate {
        j.insert("on_stuck".into(), json!("terminate"));
    }
    if !job.depends_on.is_empty() {
        let deps: Map<String, Value> = job
            .depends_on
            .iter()
            .map(|d| {
                let spec =
                    json!({"condition": d.condition.as_str(), "instances": d.instances.as_str()});
                (d.job.clone(), spec)
            })
            .collect();
        j.insert("depends_on".into(), Value::Object(deps));
    }
    if let Some(ready) = &job.ready {
        let mut probe = probe_json(ready);
        probe.insert("deadline".into(), json!(ready.deadline.as_secs_f64()));
        j.insert("ready".into(), Value::Object(probe));
    }
    if let Some(health) = &job.health {
        let mut probe = probe_json(&health.probe);
        probe.insert("failure_threshold".into(), json!(health.failure_threshold));
        let action = match health.on_unhealthy {
            OnUnhealthy::None => "none",
            OnUnhealthy::Restart => "restart",
            OnUnhealthy::Terminate => "terminate",
        };
        probe.insert("on_unhealthy".into(), json!(action));
        j.insert("health".into(), Value::Object(probe));
    }
    if let Some(pool) = &job.pool {
        j.insert("pool".into(), pool_json(pool));
    }
    Value::Object(j)
}

/// A pool's settings as the workload file writes them (durations in seconds).
fn pool_json(p: &crate::spec::pool::PoolSpec) -> Value {
    let mut m = Map::new();
    m.insert("workers".into(), json!(p.workers));
    m.insert("protocol".into(), json!(p.protocol.name()));
    if let Some(n) = p.max_tasks {
        m.insert("max_tasks".into(), json!(n));
    }
    m.insert("max_tasks_jitter".into(), json!(p.max_tasks_jitter));
    if let Some(bytes) = p.max_rss {
        m.insert("max_rss".into(), json!(bytes));
    }
    if let Some(age) = p.max_age {
        m.insert("max_age".into(), json!(age.as_secs_f64()));
    }
    m.insert("init_timeout".into(), json!(p.init_timeout.as_secs_f64()));
    if let Some(t) = p.task_timeout {
        m.insert("task_timeout".into(), json!(t.as_secs_f64()));
    }
    m.insert("retries".into(), json!(p.retries));
    Value::Object(m)
}

/// A probe's check and timing (seconds), as the workload file writes them.
fn probe_json(p: &Probe) -> Map<String, Value> {
    let mut m = Map::new();
    let check = match &p.check {
        ProbeCheck::Exec(argv) => json!(argv),
        ProbeCheck::Tcp(addr) => json!(addr),
        ProbeCheck::Http(url) => json!(url),
        ProbeCheck::Log(regex) => json!(regex),
    };
    m.insert(p.check.kind().into(), check);
    m.insert("initial_delay".into(), json!(p.initial_delay.as_secs_f64()));
    m.insert("interval".into(), json!(p.interval.as_secs_f64()));
    m.insert("timeout".into(), json!(p.timeout.as_secs_f64()));
    m
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::control::parse_line;
    use crate::spec::deps::Instances;

    /// Every command survives the trip to a control line and back (worker ids
    /// become the names the engine resolves).
    #[test]
    fn every_command_round_trips_through_a_control_line() {
        let name_of = |id: WorkerId| Some(format!("w{}", id.0));
        let ids = vec![WorkerId(1), WorkerId(2)];
        let mut job = JobSpec::new("web", Program::Argv(vec!["sleep".into(), "5".into()]));
        job.explicit_name = true;
        job.count = 2;
        job.env.insert("A".into(), "b c".into());
        job.timeout = Some(Duration::from_millis(1500));
        job.restart = RestartPolicy::OnFailure;
        job.depends_on = vec![crate::spec::deps::Dependency {
            job: "db".into(),
            condition: crate::spec::deps::Condition::Ready,
            instances: Instances::Any,
        }];
        job.ready = Some(Probe::ready(ProbeCheck::Tcp("127.0.0.1:5432".into())));
        job.health = Some(crate::spec::deps::Health {
            probe: Probe::health(ProbeCheck::Exec(vec!["true".into()])),
            failure_threshold: 4,
            on_unhealthy: OnUnhealthy::Restart,
        });
        let mut pool = crate::spec::pool::PoolSpec::new(3, crate::spec::pool::Protocol::Lines);
        pool.max_tasks = Some(50);
        pool.max_tasks_jitter = 5;
        pool.max_rss = Some(1 << 30);
        pool.max_age = Some(Duration::from_secs(3600));
        pool.task_timeout = Some(Duration::from_millis(2500));
        pool.retries = 4;
        job.pool = Some(std::sync::Arc::new(pool));
        let commands = [
            Command::Launch(Box::new(job)),
            Command::Signal {
                workers: ids.clone(),
                signal: libc::SIGUSR1,
                group: true,
            },
            Command::Terminate(ids.clone()),
            Command::Kill(ids.clone()),
            Command::Pause(ids.clone()),
            Command::Resume(ids.clone()),
            Command::Restart(ids.clone()),
            Command::Cancel(ids.clone()),
            Command::Join {
                target: JoinTarget::Worker(WorkerId(1)),
                timeout: Some(Duration::from_secs(2)),
            },
            Command::Join {
                target: JoinTarget::All,
                timeout: None,
            },
            Command::PauseQueue,
            Command::ResumeQueue,
            Command::SetMaxParallel(7),
            Command::CloseQueue,
            Command::StopAll,
            Command::ReapZombies(WorkerId(2)),
            Command::TerminateZombieParents(WorkerId(2)),
            Command::SignalDescendant {
                worker: WorkerId(3),
                pid: 4321,
                start: Some(99),
                signal: libc::SIGHUP,
            },
            Command::SignalDescendant {
                worker: WorkerId(3),
                pid: 4321,
                start: None,
                signal: libc::SIGTERM,
            },
        ];
        for command in commands {
            let line = to_line(&command, &name_of).expect("encodes");
            let back = parse_line(&line.to_string()).expect("parses");
            let back = match back {
                Command::Named { names, command } => {
                    let ids = names
                        .iter()
                        .map(|n| WorkerId(n[1..].parse().unwrap_or(0)))
                        .collect();
                    command.for_workers(ids)
                }
                other => other,
            };
            assert_eq!(back, command, "{line}");
        }
    }
}
