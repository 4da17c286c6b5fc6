//! `proctor ctl`: one request to a running instance, its answer printed as a
//! table (or JSON with `--json`), and an exit status a script can test.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::args::{CtlArgs, CtlRequest};
use super::instance::{self, Info, PROTOCOL};

/// Exit statuses of `proctor ctl`.
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NO_INSTANCE: u8 = 3;
pub const EXIT_PROTOCOL: u8 = 4;

/// Why `ctl` stopped short, and with which status.
#[derive(Debug)]
pub struct CtlError {
    pub status: u8,
    pub message: String,
}

fn error(status: u8, message: impl Into<String>) -> CtlError {
    CtlError {
        status,
        message: message.into(),
    }
}

/// Runs one `proctor ctl` invocation.
pub fn run(args: &CtlArgs) -> Result<(), CtlError> {
    if let CtlRequest::Ls = args.request {
        let live = instance::list().map_err(|e| error(EXIT_FAILED, e))?;
        print_instances(&live, args.json);
        return Ok(());
    }
    let request = request_of(&args.request)?;
    let (socket, _) = locate(args.name.as_deref())?;
    let mut conn = Connection::open(&socket)?;
    conn.send(&request)?;
    let streams = matches!(
        args.request,
        CtlRequest::Subscribe { .. } | CtlRequest::Logs { follow: true, .. }
    );
    let reply = conn.reply()?;
    let result = answer(reply)?;
    print_result(&args.request, &result, args.json);
    // Like proctor's own exit status: a join is a success only if what it
    // waited for succeeded.
    if matches!(args.request, CtlRequest::Join { .. }) && result["ok"] == false {
        return Err(error(EXIT_FAILED, "not every joined worker exited 0"));
    }
    if streams {
        while let Some(item) = conn.next()? {
            print_item(&args.request, &item, args.json);
        }
    }
    Ok(())
}

/// The socket and name of the named instance, or of the one instance running.
pub(super) fn locate(name: Option<&str>) -> Result<(PathBuf, String), CtlError> {
    if let Some(name) = name {
        instance::check_name(name).map_err(|e| error(EXIT_USAGE, e))?;
        return match instance::find(name).map_err(|e| error(EXIT_FAILED, e))? {
            Some((_, socket)) => Ok((socket, name.to_string())),
            None => Err(error(
                EXIT_NO_INSTANCE,
                format!("no running proctor named '{name}' (`proctor ctl ls` lists them)"),
            )),
        };
    }
    // A worker commands the proctor that started it, not whichever one is the
    // default here (another instance's workers are not its business).
    if let Some(socket) = std::env::var_os("PROCTOR_SOCKET").filter(|s| !s.is_empty()) {
        let socket = PathBuf::from(socket);
        let name = socket
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok((socket, name));
    }
    let live = instance::list().map_err(|e| error(EXIT_FAILED, e))?;
    let pick = match live.as_slice() {
        [] => {
            return Err(error(
                EXIT_NO_INSTANCE,
                "no proctor is running (start one, or `proctor --detach …`)",
            ));
        }
        [one] => one.name.clone(),
        many if many.iter().any(|i| i.name == "default") => "default".to_string(),
        many => {
            let names: Vec<&str> = many.iter().map(|i| i.name.as_str()).collect();
            return Err(error(
                EXIT_USAGE,
                format!(
                    "several proctors are running ({}): choose one with --name",
                    names.join(", ")
                ),
            ));
        }
    };
    locate(Some(&pick))
}

/// A greeted connection.
pub(super) struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Connection {
    /// The stream, for a caller that reads and writes on its own from here on.
    pub(super) fn into_stream(self) -> UnixStream {
        self.reader.into_inner()
    }

    pub(super) fn open(socket: &std::path::Path) -> Result<Connection, CtlError> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            error(
                EXIT_NO_INSTANCE,
                format!(
                    "cannot connect to '{}': {e} (is that proctor still running? \
                     `proctor ctl ls` lists them; PROCTOR_SOCKET, when set, chooses the socket)",
                    socket.display()
                ),
            )
        })?;
        let writer = stream
            .try_clone()
            .map_err(|e| error(EXIT_FAILED, e.to_string()))?;
        let mut conn = Connection {
            reader: BufReader::new(stream),
            writer,
        };
        conn.send(&json!({"hello": {"protocols": [PROTOCOL]}}))?;
        let hello = conn
            .next()?
            .ok_or_else(|| error(EXIT_PROTOCOL, "the instance closed the connection"))?;
        if hello.get("hello").is_none() {
            let code = hello["error"]["code"].as_str().unwrap_or_default();
            let message = hello["error"]["message"].as_str().unwrap_or("no hello");
            let status = if code == "proto_mismatch" {
                EXIT_PROTOCOL
            } else {
                EXIT_FAILED
            };
            return Err(error(status, message));
        }
        Ok(conn)
    }

    fn send(&mut self, value: &Value) -> Result<(), CtlError> {
        let mut line = value.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| error(EXIT_FAILED, format!("cannot send the request: {e}")))
    }

    /// The next line, or `None` when the instance closed the connection.
    fn next(&mut self) -> Result<Option<Value>, CtlError> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => serde_json::from_str(&line)
                .map(Some)
                .map_err(|e| error(EXIT_PROTOCOL, format!("bad line from the instance: {e}"))),
            Err(e) => Err(error(EXIT_FAILED, format!("cannot read the answer: {e}"))),
        }
    }

    /// The reply to request 1.
    fn reply(&mut self) -> Result<Value, CtlError> {
        loop {
            let item = self
                .next()?
                .ok_or_else(|| error(EXIT_FAILED, "the instance ended before answering"))?;
            if item.get("ok").is_some() && item["id"] == 1 {
                return Ok(item);
            }
        }
    }
}

fn answer(reply: Value) -> Result<Value, CtlError> {
    if reply["ok"] == true {
        return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
    }
    let message = reply["error"]["message"]
        .as_str()
        .unwrap_or("the request failed");
    // The instance refusing what was asked (a count out of range, an empty command)
    // is a usage error like one clap finds; 1 stays for requests that ran and failed.
    let status = if reply["error"]["code"] == "bad_request" {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    };
    Err(error(status, message))
}

/// The request line for a subcommand (id 1).
fn request_of(request: &CtlRequest) -> Result<Value, CtlError> {
    let many = |cmd: &str, workers: &[String]| json!({"id": 1, "cmd": cmd, "worker": workers});
    Ok(match request {
        CtlRequest::Ls => json!({"id": 1, "cmd": "ls"}),
        CtlRequest::Status => json!({"id": 1, "cmd": "status"}),
        CtlRequest::Logs {
            follow,
            tail,
            worker,
        } => json!({"id": 1, "cmd": "logs", "worker": worker, "tail": tail, "follow": follow}),
        CtlRequest::Subscribe { workers, events } => {
            let mut r = json!({"id": 1, "cmd": "subscribe"});
            if !workers.is_empty() {
                r["worker"] = json!(workers);
            }
            if !events.is_empty() {
                r["events"] = json!(events);
            }
            r
        }
        CtlRequest::Launch {
            job_name,
            shell,
            count,
            cwd,
            env,
            command,
        } => {
            let mut job = if *shell {
                json!({"shell": command.join(" ")})
            } else {
                json!({"cmd": command})
            };
            if let Some(n) = job_name {
                job["name"] = json!(n);
            }
            if let Some(c) = count {
                job["count"] = json!(c);
            }
            if let Some(d) = cwd {
                job["cwd"] = json!(d);
            }
            if !env.is_empty() {
                let mut map = serde_json::Map::new();
                for kv in env {
                    let (k, v) = kv.split_once('=').ok_or_else(|| {
                        error(EXIT_USAGE, format!("--env '{kv}' needs the form KEY=VALUE"))
                    })?;
                    map.insert(k.to_string(), json!(v));
                }
                job["env"] = Value::Object(map);
            }
            json!({"id": 1, "cmd": "launch", "job": job})
        }
        CtlRequest::Signal {
            signal,
            workers,
            group,
        } => json!({"id": 1, "cmd": "signal", "signal": signal, "worker": workers, "group": group}),
        CtlRequest::SignalDescendant {
            signal,
            worker,
            pid,
            start,
        } => json!({"id": 1, "cmd": "signal_descendant", "signal": signal,
                    "worker": worker, "pid": pid, "start": start}),
        CtlRequest::Terminate { workers } => many("terminate", workers),
        CtlRequest::Kill { workers } => many("kill", workers),
        CtlRequest::Pause { workers } => many("pause", workers),
        CtlRequest::Resume { workers } => many("resume", workers),
        CtlRequest::Restart { workers } => many("restart", workers),
        CtlRequest::Cancel { workers } => many("cancel", workers),
        CtlRequest::Join { timeout, worker } => {
            let mut r = json!({"id": 1, "cmd": "join"});
            if let Some(w) = worker {
                r["worker"] = json!(w);
            }
            if let Some(t) = timeout {
                let d = crate::sample::units::parse_duration(t)
                    .map_err(|e| error(EXIT_USAGE, format!("--timeout: {e}")))?;
                r["timeout_s"] = json!(d.as_secs_f64());
            }
            r
        }
        CtlRequest::MaxParallel { n } => json!({"id": 1, "cmd": "max_parallel", "n": n}),
        CtlRequest::Close => json!({"id": 1, "cmd": "close"}),
        CtlRequest::Submit { pool, input, task } => {
            let input = serde_json::from_str(input).unwrap_or_else(|_| json!(input));
            let mut r = json!({"id": 1, "cmd": "submit", "pool": pool, "input": input});
            if let Some(task) = task {
                r["task"] = json!(task);
            }
            r
        }
        CtlRequest::ReapZombies { worker } => many("reap_zombies", std::slice::from_ref(worker)),
        CtlRequest::TerminateZombieParents { worker } => {
            many("terminate_zombie_parents", std::slice::from_ref(worker))
        }
        CtlRequest::PauseQueue => json!({"id": 1, "cmd": "pause_queue"}),
        CtlRequest::ResumeQueue => json!({"id": 1, "cmd": "resume_queue"}),
        CtlRequest::StopAll => json!({"id": 1, "cmd": "stop_all"}),
        CtlRequest::Wait { worker, until } => {
            json!({"id": 1, "cmd": "wait", "worker": worker, "until": until})
        }
    })
}

fn print_instances(live: &[Info], as_json: bool) {
    if as_json {
        for i in live {
            println!("{}", json!(i));
        }
        return;
    }
    if live.is_empty() {
        eprintln!("no proctor is running");
        return;
    }
    println!("{:<20} {:>8}  {:<8} CWD", "NAME", "PID", "VERSION");
    for i in live {
        println!("{:<20} {:>8}  {:<8} {}", i.name, i.pid, i.version, i.cwd);
    }
}

fn print_result(request: &CtlRequest, result: &Value, as_json: bool) {
    if as_json {
        if !result.is_null() {
            println!("{result}");
        }
        return;
    }
    match request {
        CtlRequest::Status => print_status(result),
        CtlRequest::Logs { .. } => {
            if let Some(dropped) = result["dropped"].as_u64().filter(|&d| d > 0) {
                eprintln!("({dropped} earlier lines were dropped from memory)");
            }
            for l in result["lines"].as_array().into_iter().flatten() {
                println!("{}", l["line"].as_str().unwrap_or_default());
            }
        }
        CtlRequest::Subscribe { .. } => println!("{result}"),
        CtlRequest::Submit { .. } => println!("{}", result["task"].as_str().unwrap_or_default()),
        CtlRequest::Join { .. } | CtlRequest::Wait { .. } => {
            println!("{}", summary_line(result));
        }
        _ => {}
    }
}

fn summary_line(result: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["worker", "state", "code", "signal", "ok"] {
        if let Some(v) = result.get(key).filter(|v| !v.is_null()) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            parts.push(format!("{key}={v}"));
        }
    }
    parts.join(" ")
}

fn print_item(request: &CtlRequest, item: &Value, as_json: bool) {
    if let CtlRequest::Logs { .. } = request
        && !as_json
    {
        if let Some(line) = item["event"]["line"].as_str() {
            println!("{line}");
        } else if let Some(n) = item["lagged"].as_u64() {
            eprintln!("({n} lines were missed: this client fell behind)");
        }
        return;
    }
    println!("{item}");
}

fn print_status(s: &Value) {
    let q = &s["queue"];
    println!(
        "{} running · {} queued · {} done · {} failed · {} stopped · max parallel {}{}",
        q["running"],
        q["depth"],
        q["done"],
        q["failed"],
        q["stopped"],
        q["max_parallel"],
        if q["paused"] == true {
            " · queue paused"
        } else {
            ""
        }
    );
    println!(
        "{:<24} {:<10} {:>8} {:>7} {:>10} {:>6} {:>4}",
        "WORKER", "STATE", "PID", "CPU%", "MEM", "CODE", "RST"
    );
    for w in s["workers"].as_array().into_iter().flatten() {
        let pid = w["pid"].as_u64().map_or("-".into(), |p| p.to_string());
        let code = w["code"].as_i64().map_or("-".into(), |c| c.to_string());
        let mem = crate::tui::format::bytes(w["tree_rss"].as_u64().unwrap_or(0));
        println!(
            "{:<24} {:<10} {:>8} {:>7.1} {:>10} {:>6} {:>4}",
            w["worker"].as_str().unwrap_or_default(),
            w["state"].as_str().unwrap_or_default(),
            pid,
            w["tree_cpu"].as_f64().unwrap_or(0.0),
            mem,
            code,
            w["restarts"]
        );
    }
}
