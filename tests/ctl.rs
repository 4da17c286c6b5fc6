//! The control socket with real instances: `proctor ctl` and raw protocol
//! clients command and watch a running proctor. Each test has its own runtime
//! directory (XDG_RUNTIME_DIR), so instances never meet across tests.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, PATIENCE};
use serde_json::{Value, json};

/// A private runtime directory and a headless proctor living in it.
struct Instance {
    runtime: tempfile::TempDir,
    child: Child,
    events: std::sync::mpsc::Receiver<Value>,
}

impl Instance {
    /// Starts `proctor --headless --control - ARGS` and waits for its socket.
    fn start(args: &[&str]) -> Instance {
        let runtime = tempfile::tempdir().expect("tempdir");
        Instance::start_in(runtime, args)
    }

    fn start_in(runtime: tempfile::TempDir, args: &[&str]) -> Instance {
        let mut child = Command::new(BIN)
            .args(["--headless", "--control", "-"])
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start proctor");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        let instance = Instance {
            runtime,
            child,
            events,
        };
        let deadline = Instant::now() + PATIENCE;
        while instance.ctl(&["ls"]).stdout.is_empty() {
            assert!(Instant::now() < deadline, "the instance never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        instance
    }

    fn dir(&self) -> PathBuf {
        self.runtime.path().join("proctor")
    }

    /// Runs `proctor ctl ARGS` against this instance's runtime directory.
    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("ctl")
            .args(args)
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env_remove("PROCTOR_SOCKET")
            .stdin(Stdio::null())
            .output()
            .expect("run proctor ctl")
    }

    fn ctl_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend(args);
        let out = self.ctl(&all);
        assert!(out.status.success(), "ctl {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("ctl prints JSON")
    }

    /// Waits for an event on the instance's own stdout.
    fn event(&self, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no such event on the instance's stdout"),
            }
        }
    }

    /// A raw protocol connection, greeted.
    fn connect(&self, name: &str) -> Client {
        let stream = UnixStream::connect(self.dir().join(format!("{name}.sock")))
            .expect("connect to the socket");
        let mut client = Client::new(stream);
        client.send(&json!({"hello": {"protocols": [1]}}));
        assert!(client.line().get("hello").is_some());
        client
    }

    /// Stops the instance and waits for it.
    fn stop(mut self) -> std::process::ExitStatus {
        let _ = self.ctl(&["stop-all"]);
        drop(self.child.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the instance did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    fn new(stream: UnixStream) -> Client {
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        Client {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, v: &Value) {
        self.send_raw(format!("{v}\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }

    /// The reply to request `id` (stream items of other requests are skipped).
    fn reply(&mut self, id: i64) -> Value {
        loop {
            let v = self.line();
            if v["id"] == id && v.get("ok").is_some() {
                return v;
            }
        }
    }
}

/// Runs `ctl launch …` and checks it was accepted.
fn launched(p: &Instance, args: &[&str]) {
    let out = p.ctl(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_matches_the_instance_and_ls_lists_it() {
    let p = Instance::start(&["sleep 300", "sh -c 'exit 3'"]);
    let spawned = p.event(|e| e["event"] == "spawned" && e["worker"] == "sleep");
    p.event(|e| e["event"] == "exited" && e["worker"] == "sh");
    let status = p.ctl_json(&["status"]);
    let workers = status["workers"].as_array().expect("workers");
    let sleep = workers
        .iter()
        .find(|w| w["worker"] == "sleep")
        .expect("sleep");
    assert_eq!(sleep["state"], "running");
    assert_eq!(sleep["pid"], spawned["pid"]);
    let sh = workers.iter().find(|w| w["worker"] == "sh").expect("sh");
    assert_eq!(sh["state"], "exited");
    assert_eq!(sh["code"], 3);
    assert_eq!(status["queue"]["running"], 1);
    // The human table names the same.
    let table = stdout(&p.ctl(&["status"]));
    assert!(
        table.contains("sleep") && table.contains("running"),
        "{table}"
    );
    let ls = stdout(&p.ctl(&["ls"]));
    assert!(ls.contains("default"), "{ls}");
    assert!(ls.contains(&p.child.id().to_string()), "{ls}");
    p.stop();
}

#[test]
fn two_clients_command_one_instance_at_once() {
    let p = Instance::start(&["-j", "4", "sleep 300", "sleep 301", "sleep 302"]);
    p.event(|e| e["event"] == "spawned" && e["worker"] == "sleep-3");
    let runtime = p.runtime.path().to_path_buf();
    let ctl = |args: &'static [&'static str]| {
        let runtime = runtime.clone();
        move || {
            Command::new(BIN)
                .arg("ctl")
                .args(args)
                .env("XDG_RUNTIME_DIR", runtime)
                .output()
                .expect("run proctor ctl")
        }
    };
    std::thread::scope(|s| {
        let a = s.spawn(ctl(&["kill", "sleep"]));
        let b = s.spawn(ctl(&["terminate", "sleep-2"]));
        let c = s.spawn(ctl(&["--json", "status"]));
        for out in [a.join(), b.join(), c.join()] {
            let out = out.expect("client thread");
            assert!(out.status.success(), "{out:?}");
        }
    });
    // Both exits, in whichever order they come.
    let mut codes = std::collections::HashMap::new();
    p.event(|e| {
        if e["event"] == "exited" {
            codes.insert(e["worker"].to_string(), e["code"].clone());
        }
        codes.len() == 2
    });
    assert_eq!(codes.get("\"sleep\""), Some(&json!(-9)), "{codes:?}");
    assert_eq!(codes.get("\"sleep-2\""), Some(&json!(-15)), "{codes:?}");
    let status = p.ctl_json(&["status"]);
    let third = status["workers"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["worker"] == "sleep-3").cloned())
        .expect("sleep-3");
    assert_eq!(third["state"], "running", "only the named workers stopped");
    p.stop();
}

#[test]
fn an_unknown_worker_is_not_found_at_once_and_the_stream_goes_on() {
    let p = Instance::start(&["sleep 300"]);
    let mut c = p.connect("default");
    let start = Instant::now();
    for id in 1..=20 {
        c.send(&json!({"id": id, "cmd": "kill", "worker": "nobody"}));
    }
    for id in 1..=20 {
        // Commands on one connection are answered in order.
        let reply = c.line();
        assert_eq!(reply["id"], id);
        assert_eq!(reply["ok"], false);
        assert_eq!(reply["error"]["code"], "not_found", "{reply}");
    }
    // 20 lookups that each waited a second would take 20 s.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    // Bad lines are answered, never a disconnect.
    c.send_raw(b"not json\n");
    assert_eq!(c.line()["error"]["code"], "bad_request");
    c.send_raw(b"{\"id\":7,\"cmd\":\"fly\"}\n");
    assert_eq!(c.reply(7)["error"]["code"], "unknown_cmd");
    c.send_raw(&[b'{', 0xff, 0xfe, b'}', b'\n']);
    assert_eq!(c.line()["error"]["code"], "bad_request");
    let long = format!("{{\"id\":8,\"pad\":\"{}\"}}\n", "x".repeat(2 << 20));
    c.send_raw(long.as_bytes());
    assert_eq!(c.line()["error"]["code"], "bad_request");
    // A launch, then a command for the new worker on the very next line.
    c.send(&json!({"id": 9, "cmd": "launch", "job": {"name": "late", "cmd": ["sleep", "300"]}}));
    c.send(&json!({"id": 10, "cmd": "kill", "worker": "late"}));
    assert_eq!(c.reply(9)["ok"], true);
    assert_eq!(c.reply(10)["ok"], true, "the launched worker was found");
    assert_eq!(
        p.event(|e| e["event"] == "exited" && e["worker"] == "late")["code"],
        -9
    );
    let out = p.ctl(&["kill", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no worker named 'nobody'"));
    p.stop();
}

#[test]
fn logs_follow_a_worker() {
    let p = Instance::start(&["sh -c 'echo one; echo two; sleep 300'"]);
    p.event(|e| e["event"] == "output" && e["line"] == "two");
    let out = p.ctl(&["logs", "sh"]);
    assert_eq!(stdout(&out), "one\ntwo\n");
    let mut follow = Command::new(BIN)
        .args(["ctl", "logs", "-f", "--tail", "1", "sh"])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ctl logs -f");
    let mut lines = BufReader::new(follow.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("two"));
    // A worker that writes later, followed from before it writes.
    launched(
        &p,
        &[
            "launch",
            "--job-name",
            "w",
            "--",
            "sh",
            "-c",
            "sleep 0.5; echo later; sleep 300",
        ],
    );
    let mut follow_w = Command::new(BIN)
        .args(["ctl", "logs", "-f", "w"])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ctl logs -f");
    let mut w_lines = BufReader::new(follow_w.stdout.take().expect("stdout")).lines();
    assert_eq!(
        w_lines.next().and_then(Result::ok).as_deref(),
        Some("later")
    );
    let _ = follow.kill();
    let _ = follow_w.kill();
    let _ = follow.wait();
    let _ = follow_w.wait();
    p.stop();
}

#[test]
fn a_slow_subscriber_gets_lagged_and_stdout_misses_nothing() {
    let p = Instance::start(&["sleep 300"]);
    let mut c = p.connect("default");
    c.send(&json!({"id": 1, "cmd": "subscribe"}));
    assert_eq!(c.reply(1)["ok"], true);
    // The subscriber reads nothing while 200,000 lines flood.
    launched(
        &p,
        &["launch", "--job-name", "flood", "--", "seq", "1", "200000"],
    );
    let mut last = 0u64;
    let exited = p.event(|e| {
        if e["event"] == "output" && e["worker"] == "flood" {
            last += 1;
        }
        e["event"] == "exited" && e["worker"] == "flood"
    });
    assert_eq!(exited["code"], 0);
    assert_eq!(last, 200_000, "the instance's own stdout got every line");
    let mut lagged = None;
    let deadline = Instant::now() + PATIENCE;
    while lagged.is_none() && Instant::now() < deadline {
        let v = c.line();
        if let Some(n) = v.get("lagged") {
            assert!(v["snapshot"]["workers"].is_array(), "{v}");
            lagged = n.as_u64();
        }
    }
    assert!(lagged.is_some_and(|n| n > 0), "no lagged item");
    p.stop();
}

#[test]
fn stdout_of_an_instance_with_a_stalled_subscriber_has_every_line() {
    let p = Instance::start(&["seq 1 100000"]);
    let _c = p.connect("default"); // connected, never reads
    let mut n = 0u64;
    p.event(|e| {
        if e["event"] == "output" {
            n += 1;
            assert_eq!(e["line"], n.to_string());
        }
        e["event"] == "exited"
    });
    assert_eq!(n, 100_000);
    p.stop();
}

#[test]
fn a_stale_socket_is_replaced_and_names_are_taken_once() {
    let runtime = tempfile::tempdir().expect("tempdir");
    let dir = runtime.path().join("proctor");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // Left by a dead instance: nobody holds the lock.
    std::fs::write(dir.join("web.json"), r#"{"name":"web","pid":1}"#).expect("json");
    let stale = std::os::unix::net::UnixListener::bind(dir.join("web.sock")).expect("bind");
    drop(stale);
    let p = Instance::start_in(runtime, &["--name", "web", "sleep 300"]);
    assert!(stdout(&p.ctl(&["--name", "web", "status"])).contains("sleep"));
    // A second instance cannot take the same name.
    let second = Command::new(BIN)
        .args(["--headless", "--name", "web", "true"])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .output()
        .expect("run");
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));
    p.stop();
}

#[test]
fn the_socket_directory_is_private_and_other_users_are_refused() {
    let p = Instance::start(&["sleep 300"]);
    let dir_mode = std::fs::metadata(p.dir())
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let sock_mode = std::fs::metadata(p.dir().join("default.sock"))
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(sock_mode & 0o777, 0o600);
    // Another user (nobody) cannot command it.
    let other = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "ctl",
            "status",
        ])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .output()
        .expect("setpriv (util-linux) runs");
    assert!(!other.status.success(), "{other:?}");
    assert!(stdout(&other).is_empty());
    // A runtime directory open to others is refused, with the fix named.
    let open = tempfile::tempdir().expect("tempdir");
    let shared = open.path().join("proctor");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let refused = Command::new(BIN)
        .args(["--headless", "--name", "x", "true"])
        .env("XDG_RUNTIME_DIR", open.path())
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("open to other users"));
    p.stop();
}

/// A fake instance speaking protocol 2 only: `ctl` must say so with exit 4.
#[test]
fn a_protocol_mismatch_exits_4() {
    use nix::fcntl::{Flock, FlockArg};
    let runtime = tempfile::tempdir().expect("tempdir");
    let dir = runtime.path().join("proctor");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let json = std::fs::File::create(dir.join("future.json")).expect("json");
    let mut lock = Flock::lock(json, FlockArg::LockExclusiveNonblock).expect("lock");
    let info = json!({"name":"future","pid":std::process::id(),"start":0,"version":"9","protocol":2,"cwd":"/"});
    lock.write_all(info.to_string().as_bytes()).expect("write");
    let listener = std::os::unix::net::UnixListener::bind(dir.join("future.sock")).expect("bind");
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut c = Client::new(stream);
        let hello = c.line();
        assert!(hello["hello"]["protocols"].is_array());
        c.send(&json!({"id": null, "ok": false, "error": {"code": "proto_mismatch", "message": "this server speaks protocol 2"}}));
    });
    let out = Command::new(BIN)
        .args(["ctl", "--name", "future", "status"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("run");
    server.join().expect("fake server");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocol 2"));
    // And the real server refuses a client that offers only protocol 99.
    let p = Instance::start(&["sleep 300"]);
    let stream = UnixStream::connect(p.dir().join("default.sock")).expect("connect");
    let mut c = Client::new(stream);
    c.send(&json!({"hello": {"protocols": [99]}}));
    assert_eq!(c.line()["error"]["code"], "proto_mismatch");
    drop(lock);
    p.stop();
}

#[test]
fn no_instance_exits_3_and_join_waits_for_the_worker() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["ctl", "status"])
        .env("XDG_RUNTIME_DIR", empty.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let p = Instance::start(&["sleep 300"]);
    launched(
        &p,
        &[
            "launch",
            "--job-name",
            "short",
            "--",
            "sh",
            "-c",
            "sleep 1; exit 4",
        ],
    );
    // A join is a success only if the worker succeeded; the answer says how it ended.
    let out = p.ctl(&["--json", "join", "short"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let joined: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(joined["code"], 4);
    assert_eq!(joined["ok"], false);
    let timed_out = p.ctl(&["join", "--timeout", "200ms", "sleep"]);
    assert_eq!(timed_out.status.code(), Some(1));
    let waited = p.ctl_json(&["wait", "short", "--until", "exited"]);
    assert_eq!(waited["state"], "exited");
    let workers_env = Command::new(BIN)
        .args([
            "ctl",
            "launch",
            "--job-name",
            "env",
            "--",
            "sh",
            "-c",
            "echo $PROCTOR_SOCKET",
        ])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .output()
        .expect("run");
    assert!(workers_env.status.success());
    let line = p.event(|e| e["event"] == "output" && e["worker"] == "env");
    let socket = line["line"].as_str().unwrap_or_default();
    assert!(Path::new(socket).ends_with("default.sock"), "{socket}");
    p.stop();
}

#[test]
fn one_process_of_a_tree_is_signalled_and_strangers_never_are() {
    let p = Instance::start(&[
        "--interval",
        "200ms",
        "--shell",
        "tree=sleep 300 & wait $!; echo \"child ended $?\"",
    ]);
    let spawned = p.event(|e| e["event"] == "spawned" && e["worker"] == "tree");
    // The sampler lists the worker's processes in `status`; wait for the child.
    let deadline = Instant::now() + PATIENCE;
    let child = loop {
        let status = p.ctl_json(&["status"]);
        let procs = status["workers"][0]["procs"].clone();
        let found = procs.as_array().and_then(|procs| {
            procs
                .iter()
                .find(|q| q["pid"] != spawned["pid"] && q["command"].to_string().contains("sleep"))
                .cloned()
        });
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no sleep in the tree: {status}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid = child["pid"].to_string();
    let start = child["start"].to_string();
    // A stale start time (another process that once had this pid) is refused.
    let stale = (child["start"].as_u64().expect("start") + 1).to_string();
    let out = p.ctl(&["signal-descendant", "KILL", "tree", &pid, "--start", &stale]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // So is a process outside the tree: the instance itself.
    let own = p.child.id().to_string();
    let out = p.ctl(&["signal-descendant", "KILL", "tree", &own]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not (any more) a process"),
        "{out:?}"
    );
    // The right pid and start time: only that process gets the signal.
    let out = p.ctl(&["signal-descendant", "TERM", "tree", &pid, "--start", &start]);
    assert!(out.status.success(), "{out:?}");
    let line =
        p.event(|e| e["event"] == "output" && e["worker"] == "tree" && e["stream"] == "stdout");
    assert_eq!(line["line"], "child ended 143", "the sleep died of SIGTERM");
    let exited = p.event(|e| e["event"] == "exited" && e["worker"] == "tree");
    assert_eq!(exited["code"], 0, "the worker itself was not signalled");
    p.stop();
}

#[test]
fn max_parallel_out_of_range_is_refused_everywhere() {
    let p = Instance::start(&["-j", "2", "sleep 300"]);
    for n in ["0", "10001", "99999999999"] {
        let out = p.ctl(&["max-parallel", n]);
        assert_eq!(out.status.code(), Some(2), "max-parallel {n}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("1..=10000"));
    }
    // A raw client that skips proctor ctl's check is refused by the instance.
    let mut c = p.connect("default");
    c.send(&json!({"id": 1, "cmd": "max_parallel", "n": 99_999_999_999u64}));
    let reply = c.reply(1);
    assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
    assert_eq!(p.ctl_json(&["status"])["queue"]["max_parallel"], 2);
    // A launch the instance refuses as malformed is a usage error, and starts nothing.
    for args in [
        &["launch", "--count", "0", "--", "true"][..],
        &["launch", "--", ""][..],
        &["launch", "--job-name", "a b", "--", "true"][..],
    ] {
        let out = p.ctl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
    assert_eq!(
        p.ctl_json(&["status"])["workers"].as_array().map(Vec::len),
        Some(1)
    );
    // An unknown signal is a usage error too, found before anything is sent.
    let out = p.ctl(&["signal", "NOPE", "sleep"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    p.stop();
}

/// A flood of connections that runs proctor out of descriptors must not end the
/// control socket: once they close, `proctor ctl` works again.
#[test]
fn the_socket_survives_running_out_of_descriptors() {
    let p = Instance::start(&["sleep 300"]);
    let pid = p.child.id() as libc::pid_t;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit reads and writes the two plain structs given.
    let got = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(got, 0, "prlimit get");
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .count() as u64;
    let low = libc::rlimit {
        rlim_cur: open + 8,
        rlim_max: old.rlim_max,
    };
    // SAFETY: as above.
    let set = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &low, std::ptr::null_mut()) };
    assert_eq!(set, 0, "prlimit set");
    let flood: Vec<UnixStream> = (0..64)
        .filter_map(|_| UnixStream::connect(p.dir().join("default.sock")).ok())
        .collect();
    // Give the listener time to meet EMFILE: wait until its table is full.
    let deadline = Instant::now() + PATIENCE;
    while (std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .count() as u64)
        < open + 8
    {
        assert!(
            Instant::now() < deadline,
            "the listener never filled its table"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(flood);
    // SAFETY: as above.
    let back = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &old, std::ptr::null_mut()) };
    assert_eq!(back, 0, "prlimit restore");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out = p.ctl(&["status"]);
        if out.status.success() {
            assert!(stdout(&out).contains("sleep"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the socket stopped listening: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    p.stop();
}

/// A worker's `proctor ctl` talks to the proctor that started it (PROCTOR_SOCKET),
/// not to the `default` instance another user of the machine started.
#[test]
fn a_workers_ctl_commands_its_own_instance() {
    let p = Instance::start(&["other=sleep 300"]);
    let script = format!("{BIN} ctl --json status");
    let mine = Command::new(BIN)
        .args(["--json", "--name", "mine", "--shell", &script])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .env_remove("PROCTOR_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run the second instance");
    assert!(mine.status.success(), "{mine:?}");
    let text = String::from_utf8_lossy(&mine.stdout);
    let status: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "output")
        .filter_map(|e| e["line"].as_str().map(str::to_string))
        .collect();
    let status: Value = serde_json::from_str(&status.join("\n")).expect("status JSON");
    let names: Vec<&str> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter_map(|w| w["worker"].as_str())
        .collect();
    assert!(
        !names.contains(&"other"),
        "it reached the default instance: {names:?}"
    );
    assert_eq!(names.len(), 1, "{names:?}");
    p.stop();
}

/// A subscription to an event that does not exist is refused at once (exit 2),
/// not a stream that stays silent forever.
#[test]
fn subscribing_to_an_unknown_event_is_refused_at_once() {
    let p = Instance::start(&["sleep 300"]);
    let mut client = Command::new(BIN)
        .args(["ctl", "subscribe", "--event", "exitted"])
        .env("XDG_RUNTIME_DIR", p.runtime.path())
        .env_remove("PROCTOR_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proctor ctl");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = client.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            let _ = client.wait();
            panic!("the subscription to 'exitted' never ended");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(2));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut client.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert!(
        err.contains("unknown event 'exitted'") && err.contains("exited"),
        "{err}"
    );
    p.stop();
}
