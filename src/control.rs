//! The control stream: JSON Lines requests that become engine `Command`s. Used by
//! `--control FILE` in headless mode; a control socket would parse the same lines.
//!
//! ```text
//! {"cmd":"terminate","worker":"web"}          {"cmd":"signal","worker":["a","b"],"signal":"USR1","group":true}
//! {"cmd":"join"} / {"cmd":"join","worker":"a","timeout_s":5}
//! {"cmd":"launch","job":{"cmd":["sleep","1"],"count":2}}
//! ```

use std::time::Duration;

use serde::Deserialize;

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
}

/// Parses one control line; `lookup` turns worker names into ids.
pub fn parse_line(
    line: &str,
    lookup: &dyn Fn(&str) -> Option<WorkerId>,
) -> Result<Command, String> {
    let req: Request = serde_json::from_str(line).map_err(|e| format!("bad control line: {e}"))?;
    let ids = || -> Result<Vec<WorkerId>, String> {
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
        names
            .iter()
            .map(|n| lookup(n).ok_or_else(|| format!("no worker named '{n}'")))
            .collect()
    };
    let cmd = match req.cmd.as_str() {
        "signal" => {
            let text = match &req.signal {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(
                        "'signal' needs \"signal\": a name such as \"USR1\" or a number".into(),
                    );
                }
            };
            Command::Signal {
                workers: ids()?,
                signal: parse_signal(&text)?,
                group: req.group,
            }
        }
        "terminate" => Command::Terminate(ids()?),
        "kill" => Command::Kill(ids()?),
        "pause" => Command::Pause(ids()?),
        "resume" => Command::Resume(ids()?),
        "restart" => Command::Restart(ids()?),
        "cancel" => Command::Cancel(ids()?),
        "reap_zombies" => {
            let id = *ids()?.first().ok_or("'reap_zombies' needs one worker")?;
            Command::ReapZombies(id)
        }
        "terminate_zombie_parents" => {
            let id = *ids()?
                .first()
                .ok_or("'terminate_zombie_parents' needs one worker")?;
            Command::TerminateZombieParents(id)
        }
        "join" => {
            let timeout = match req.timeout_s {
                Some(t) => Some(Duration::try_from_secs_f64(t).map_err(|_| {
                    format!("timeout_s '{t}' is out of range: use a number of seconds >= 0")
                })?),
                None => None,
            };
            let target = match &req.worker {
                None => JoinTarget::All,
                Some(_) => JoinTarget::Worker(*ids()?.first().ok_or("'join' needs a worker")?),
            };
            Command::Join { target, timeout }
        }
        "pause_queue" => Command::PauseQueue,
        "resume_queue" => Command::ResumeQueue,
        "close" => Command::CloseQueue,
        "stop_all" => Command::StopAll,
        "max_parallel" => match req.n {
            Some(n) if n >= 1 => Command::SetMaxParallel(n),
            _ => return Err("'max_parallel' needs \"n\": a number >= 1".into()),
        },
        "launch" => {
            let job = req
                .job
                .ok_or("'launch' needs \"job\": a job object as in a workload file")?;
            let text = serde_json::json!({ "jobs": [job] }).to_string();
            let mut workload =
                crate::spec::parse_workload(&text, "launch").map_err(|e| e.to_string())?;
            let job = workload.jobs.pop().ok_or("'launch' got no job")?;
            Command::Launch(Box::new(job))
        }
        other => {
            return Err(format!(
                "unknown command '{other}': use signal, terminate, kill, pause, resume, restart, \
                 cancel, join, reap_zombies, terminate_zombie_parents, pause_queue, resume_queue, max_parallel, close, stop_all or launch"
            ));
        }
    };
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<WorkerId> {
        (name == "a").then_some(WorkerId(0))
    }

    #[test]
    fn parses_commands_with_names() {
        let c = parse_line(
            r#"{"cmd":"signal","worker":"a","signal":"USR1","group":true}"#,
            &lookup,
        );
        assert_eq!(
            c,
            Ok(Command::Signal {
                workers: vec![WorkerId(0)],
                signal: libc::SIGUSR1,
                group: true
            })
        );
        let c = parse_line(r#"{"cmd":"join","timeout_s":1.5}"#, &lookup);
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
            assert!(
                parse_line(&line, &lookup)
                    .unwrap_err()
                    .contains("timeout_s")
            );
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            parse_line(r#"{"cmd":"kill","worker":"zz"}"#, &lookup)
                .unwrap_err()
                .contains("'zz'")
        );
        assert!(
            parse_line(r#"{"cmd":"fly"}"#, &lookup)
                .unwrap_err()
                .contains("unknown command 'fly'")
        );
        assert!(parse_line(r#"{"cmd":"signal","worker":"a","signal":"NOPE"}"#, &lookup).is_err());
        assert!(
            parse_line("not json", &lookup)
                .unwrap_err()
                .contains("bad control line")
        );
    }
}
