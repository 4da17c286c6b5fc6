//! The control stream: JSON Lines requests that become engine `Command`s. Used by
//! `--control FILE` in headless mode; a control socket would parse the same lines.
//!
//! ```text
//! {"cmd":"terminate","worker":"web"}          {"cmd":"signal","worker":["a","b"],"signal":"USR1","group":true}
//! {"cmd":"join"} / {"cmd":"join","worker":"a","timeout_s":5}
//! {"cmd":"launch","job":{"cmd":["sleep","1"],"count":2}}
//! ```

mod encode;

use std::time::Duration;

use serde::Deserialize;

pub use encode::{job_json, to_line};

use crate::engine::{Command, JoinTarget, WorkerId};
use crate::signals::parse_signal;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Names {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    cmd: String,
    #[serde(default)]
    worker: Option<Names>,
    #[serde(default)]
    signal: Option<serde_json::Value>,
    #[serde(default)]
    group: bool,
    #[serde(default)]
    timeout_s: Option<f64>,
    #[serde(default)]
    n: Option<usize>,
    #[serde(default)]
    job: Option<serde_json::Value>,
    #[serde(default)]
    pid: Option<u32>,
    #[serde(default)]
    start: Option<u64>,
    #[serde(default)]
    pool: Option<String>,
    #[serde(default)]
    task: Option<serde_json::Value>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

/// `{"cmd":"submit","pool":…,"input":…,"task":…}`.
fn submit(req: &Request) -> Result<Command, String> {
    let Some(pool) = req.pool.clone() else {
        return Err("'submit' needs \"pool\": the name of a pool job".into());
    };
    let Some(input) = req.input.clone() else {
        return Err("'submit' needs \"input\": the task's input (any JSON value)".into());
    };
    let id = match &req.task {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(format!(
                "'submit' \"task\" (its id) must be a string or a number, not {other}"
            ));
        }
    };
    Ok(Command::Submit { pool, id, input })
}

/// Stands for the workers a `Command::Named` is resolved to.
const PLACEHOLDER: WorkerId = WorkerId(u32::MAX);

/// Parses one control line. Worker names stay names: the engine resolves them in
/// the step that executes the command (so a worker launched by an earlier line is
/// found, and an unknown name is answered at once with an `error` event).
pub fn parse_line(line: &str) -> Result<Command, String> {
    let req: Request = serde_json::from_str(line).map_err(|e| format!("bad control line: {e}"))?;
    let names = || -> Result<Vec<String>, String> {
        let names = match &req.worker {
            Some(Names::One(n)) => vec![n.clone()],
            Some(Names::Many(v)) => v.clone(),
            None => {
                return Err(format!(
                    "'{}' needs a \"worker\" (a name or a list of names)",
                    req.cmd
                ));
            }
        };
        if names.is_empty() {
            return Err(format!("'{}' got an empty list of workers", req.cmd));
        }
        Ok(names)
    };
    // `command` for the named workers.
    let named = |command: Command| -> Result<Command, String> {
        Ok(Command::Named {
            names: names()?,
            command: Box::new(command),
        })
    };
    if (req.pid.is_some() || req.start.is_some()) && req.cmd != "signal_descendant" {
        return Err(format!(
            "'{}' takes no \"pid\": workers are named by \"worker\" (only \
             'signal_descendant' takes a pid, of a process inside a worker's tree)",
            req.cmd
        ));
    }
    let none = Vec::new;
    let signal = || -> Result<i32, String> {
        let text = match &req.signal {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                return Err(format!(
                    "'{}' needs \"signal\": a name such as \"USR1\" or a number",
                    req.cmd
                ));
            }
        };
        parse_signal(&text)
    };
    let cmd = match req.cmd.as_str() {
        "signal" => named(Command::Signal {
            workers: none(),
            signal: signal()?,
            group: req.group,
        })?,
        "signal_descendant" => {
            if names()?.len() != 1 {
                return Err("'signal_descendant' takes one \"worker\", not a list".into());
            }
            let pid = req
                .pid
                .filter(|p| *p > 0)
                .ok_or("'signal_descendant' needs \"pid\": a process id from `status`")?;
            named(Command::SignalDescendant {
                worker: PLACEHOLDER,
                pid,
                start: req.start,
                signal: signal()?,
            })?
        }
        "terminate" => named(Command::Terminate(none()))?,
        "kill" => named(Command::Kill(none()))?,
        "pause" => named(Command::Pause(none()))?,
        "resume" => named(Command::Resume(none()))?,
        "restart" => named(Command::Restart(none()))?,
        "cancel" => named(Command::Cancel(none()))?,
        "reap_zombies" => named(Command::ReapZombies(PLACEHOLDER))?,
        "terminate_zombie_parents" => named(Command::TerminateZombieParents(PLACEHOLDER))?,
        "join" => {
            let timeout = match req.timeout_s {
                Some(t) => Some(Duration::try_from_secs_f64(t).map_err(|_| {
                    format!("timeout_s '{t}' is out of range: use a number of seconds >= 0")
                })?),
                None => None,
            };
            match &req.worker {
                None => Command::Join {
                    target: JoinTarget::All,
                    timeout,
                },
                Some(_) => named(Command::Join {
                    target: JoinTarget::Worker(PLACEHOLDER),
                    timeout,
                })?,
            }
        }
        "pause_queue" => Command::PauseQueue,
        "resume_queue" => Command::ResumeQueue,
        "close" => Command::CloseQueue,
        "submit" => submit(&req)?,
        "stop_all" => Command::StopAll,
        "max_parallel" => match req.n {
            Some(n) if (1..=crate::spec::bounds::MAX_PARALLEL).contains(&n) => {
                Command::SetMaxParallel(n)
            }
            _ => {
                return Err(format!(
                    "'max_parallel' needs \"n\": a number in 1..={}",
                    crate::spec::bounds::MAX_PARALLEL
                ));
            }
        },
        "launch" => {
            let job = req
                .job
                .ok_or("'launch' needs \"job\": a job object as in a workload file")?;
            let text = serde_json::json!({ "jobs": [job] }).to_string();
            let mut workload =
                crate::spec::parse_launch(&text, "launch").map_err(|e| e.to_string())?;
            let job = workload.jobs.pop().ok_or("'launch' got no job")?;
            Command::Launch(Box::new(job))
        }
        other => {
            let words: Vec<&str> = crate::engine::command::WORDS
                .iter()
                .map(|w| w.name)
                .collect();
            return Err(format!(
                "unknown command '{other}': use one of {}",
                words.join(", ")
            ));
        }
    };
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str], command: Command) -> Result<Command, String> {
        Ok(Command::Named {
            names: names.iter().map(|n| n.to_string()).collect(),
            command: Box::new(command),
        })
    }

    #[test]
    fn parses_commands_with_names_for_the_engine_to_resolve() {
        let c = parse_line(r#"{"cmd":"signal","worker":"a","signal":"USR1","group":true}"#);
        let signal = Command::Signal {
            workers: vec![],
            signal: libc::SIGUSR1,
            group: true,
        };
        assert_eq!(c, named(&["a"], signal));
        let c = parse_line(r#"{"cmd":"kill","worker":["a","b#2"]}"#);
        assert_eq!(c, named(&["a", "b#2"], Command::Kill(vec![])));
        let c = parse_line(r#"{"cmd":"join","timeout_s":1.5}"#);
        assert_eq!(
            c,
            Ok(Command::Join {
                target: JoinTarget::All,
                timeout: Some(Duration::from_millis(1500))
            })
        );
    }

    #[test]
    fn absurd_timeouts_are_errors_not_panics() {
        for t in ["1e30", "-1"] {
            let line = format!(r#"{{"cmd":"join","timeout_s":{t}}}"#);
            assert!(parse_line(&line).unwrap_err().contains("timeout_s"));
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            parse_line(r#"{"cmd":"fly"}"#)
                .unwrap_err()
                .contains("unknown command 'fly'")
        );
        assert!(parse_line(r#"{"cmd":"signal","worker":"a","signal":"NOPE"}"#).is_err());
        assert!(
            parse_line(r#"{"cmd":"kill"}"#)
                .unwrap_err()
                .contains("\"worker\"")
        );
        assert!(
            parse_line(r#"{"cmd":"kill","worker":[]}"#)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            parse_line("not json")
                .unwrap_err()
                .contains("bad control line")
        );
    }
}
