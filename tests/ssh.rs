//! Many machines, on loopback only: a private sshd on 127.0.0.1 (tests/support/
//! sshd.rs) answers as several "hosts"; proctor reaches each through ssh and
//! `proctor agent --stdio`, exactly as it would reach another machine.

#[path = "support/agent_link.rs"]
mod agent_link;
#[path = "support/sshd.rs"]
mod sshd;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use agent_link::{AgentLink, PATIENCE, fresh_mark, marked_job, wait_unmarked};
use serde_json::{Value, json};
use sshd::Sshd;

const BIN: &str = env!("CARGO_BIN_EXE_proctor");

/// A hosts file naming each of `hosts` (all this sshd) with 2 slots; `proctor`
/// is the remote command that starts proctor.
fn hosts_file(sshd: &Sshd, hosts: &[(&str, &str)]) -> std::path::PathBuf {
    let list: Vec<Value> = hosts
        .iter()
        .map(|(name, proctor)| {
            json!({"name": name, "ssh": name, "ssh_args": sshd.ssh_args(), "slots": 2, "proctor": proctor})
        })
        .collect();
    let path = sshd.dir.path().join(format!("hosts-{}.json", hosts.len()));
    std::fs::write(&path, serde_json::to_string(&list).expect("json")).expect("hosts file");
    path
}

/// Runs `proctor map --json ARGS` to its end; its events and exit status.
fn map(args: &[&str]) -> (Vec<Value>, Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("map")
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run proctor map");
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    (
        events,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn tasks(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "task").collect()
}

/// The agent over ssh: hello, launch, events; then the ssh client dies and the
/// agent ends everything it started.
#[test]
fn an_agent_over_ssh_ends_its_work_when_ssh_dies() {
    let sshd = Sshd::start(&["h1"]);
    let mark = fresh_mark("ssh-killed");
    let mut link = AgentLink::spawn(sshd.ssh("h1", &[BIN, "agent", "--stdio"]));
    let hello = link.hello(&[1]);
    assert_eq!(
        hello["hello"]["protocol"],
        1,
        "{hello}; stderr: {}",
        link.stderr()
    );
    link.subscribe();
    link.request(json!({"cmd": "launch", "job": marked_job("w", &mark)}));
    link.wait_for("w's output", |v| {
        v["event"]["worker"] == "w" && v["event"]["line"] == "up"
    });
    assert!(
        agent_link::marked(&mark).len() >= 2,
        "w and its child run on the host"
    );
    link.child.kill().expect("kill ssh");
    assert_eq!(
        wait_unmarked(&mark),
        Vec::<u32>::new(),
        "left running on the host"
    );
}

/// Two hosts (one sshd under two names) and this machine run 3 × 20 tasks; every
/// result is right and every host ran some.
#[test]
fn map_spreads_tasks_over_two_hosts_and_local() {
    let sshd = Sshd::start(&["h1", "h2"]);
    let file = hosts_file(&sshd, &[("h1", BIN), ("h2", BIN)]);
    let file = file.to_str().expect("utf-8 path");
    for run in 0..3 {
        let inputs: Vec<String> = (1..=20).map(|i| (run * 100 + i).to_string()).collect();
        let mut args = vec!["-j", "2", "-S", "h1,h2,local", "--hosts-file", file];
        args.extend([
            "--",
            "sh",
            "-c",
            "sleep 0.2; expr \"$1\" \\* 3",
            "sh",
            "{}",
            ":::",
        ]);
        args.extend(inputs.iter().map(String::as_str));
        let (events, code, stderr) = map(&args);
        assert_eq!(code, Some(0), "run {run}: stderr: {stderr}");
        // The links close on purpose at the end: no host is reported down.
        assert!(!stderr.contains("is down"), "run {run}: stderr: {stderr}");
        let done = tasks(&events);
        assert_eq!(done.len(), 20, "run {run}");
        let mut by_host: BTreeMap<String, usize> = BTreeMap::new();
        for t in &done {
            assert_eq!(t["exit_code"], 0, "{t}");
            *by_host
                .entry(t["host"].as_str().unwrap_or("?").into())
                .or_default() += 1;
        }
        assert_eq!(
            by_host.keys().cloned().collect::<BTreeSet<_>>(),
            ["h1", "h2", "local"].map(String::from).into(),
            "run {run}: {by_host:?}"
        );
        // Each task's one output line is its input times 3, wherever it ran.
        for t in &done {
            let worker = t["worker"].as_str().expect("worker");
            let input: i64 = t["input"].as_str().expect("input").parse().expect("number");
            let lines: Vec<&Value> = events
                .iter()
                .filter(|e| e["event"] == "output" && e["worker"] == worker)
                .collect();
            assert_eq!(lines.len(), 1, "{worker}: {lines:?}");
            assert_eq!(lines[0]["line"], (input * 3).to_string(), "{worker}");
            let remote = t["host"] != "local";
            assert_eq!(lines[0].get("host").is_some(), remote, "{:?}", lines[0]);
        }
    }
}

/// The ssh connection to a host is killed mid-run: within the lease nothing
/// the agent started remains there, and the lost tasks run again elsewhere.
#[test]
fn a_lost_host_is_cleaned_up_and_its_tasks_rerun_elsewhere() {
    let sshd = Sshd::start(&["h1"]);
    let mark = fresh_mark("link-lost");
    let proctor = format!("env {}={} {BIN}", mark.0, mark.1);
    let file = hosts_file(&sshd, &[("h1", &proctor)]);
    // On the host (which the agent's mark shows) a task waits forever; here it succeeds.
    let script = format!(
        "if [ -n \"${}\" ]; then sleep 1000; fi; echo done $1",
        mark.0
    );
    let mut child = Command::new(BIN)
        .args([
            "map",
            "--json",
            "-j",
            "2",
            "--retries",
            "1",
            "-S",
            "h1,local",
            "--hosts-file",
        ])
        .arg(&file)
        .args([
            "--", "sh", "-c", &script, "sh", "{}", ":::", "1", "2", "3", "4",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor map");
    let proctor_pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut events = Vec::new();
    let mut remote_spawned = 0;
    while remote_spawned < 2 {
        let line = lines
            .next()
            .expect("events until two remote tasks run")
            .expect("read");
        let v: Value = serde_json::from_str(&line).expect("json");
        if v["event"] == "spawned" && v["host"] == "h1" {
            remote_spawned += 1;
        }
        events.push(v);
    }
    let first = agent_link::marked(&mark);
    assert!(
        first.len() >= 3,
        "the agent and its two tasks run: {first:?}"
    );
    let ssh = agent_link_children(proctor_pid, "ssh");
    assert_eq!(ssh.len(), 1, "one ssh link: {ssh:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ssh[0] as i32),
        nix::sys::signal::SIGKILL,
    )
    .expect("kill ssh");
    // The host is reconnected later; what the first agent started must be gone.
    let started = Instant::now();
    let left = loop {
        let left: Vec<u32> = agent_link::marked(&mark)
            .into_iter()
            .filter(|p| first.contains(p))
            .collect();
        if left.is_empty() || started.elapsed() > PATIENCE {
            break left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(left, Vec::<u32>::new(), "left running on the host");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "not within the lease"
    );
    for line in lines {
        events.push(serde_json::from_str(&line.expect("read")).expect("json"));
    }
    let status = child.wait().expect("wait");
    let done = tasks(&events);
    assert_eq!(done.len(), 4, "{done:?}");
    for t in &done {
        assert_eq!(
            (t["exit_code"].clone(), t["host"].clone()),
            (json!(0), json!("local")),
            "{t}"
        );
    }
    assert!(
        done.iter().filter(|t| t["retries"] == 1).count() >= 2,
        "the lost tasks were retried: {done:?}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "error"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("host h1 is down"))),
        "the host's loss is reported"
    );
    assert_eq!(status.code(), Some(0));
}

/// Direct children of `pid` whose command name is `comm`.
fn agent_link_children(pid: u32, comm: &str) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found: Vec<u32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
            })
            .collect();
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A host that refuses the connection fails only its own work, with ssh's
/// error: alone it can run nothing; beside `local` the tasks run here.
#[test]
fn a_refusing_host_fails_only_its_work_with_the_ssh_error() {
    let port = sshd::free_port().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hosts.json");
    let hosts = json!([{"name": "dead", "ssh": "127.0.0.1",
        "ssh_args": ["-F", "/dev/null", "-p", port, "-o", "StrictHostKeyChecking=no"], "proctor": BIN}]);
    std::fs::write(&file, hosts.to_string()).expect("hosts file");
    let file = file.to_str().expect("utf-8 path");
    let (events, code, stderr) = map(&[
        "-S",
        "dead",
        "--hosts-file",
        file,
        "--",
        "true",
        ":::",
        "a",
        "b",
    ]);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    let done = tasks(&events);
    assert_eq!(done.len(), 2);
    for t in done {
        let error = t["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("host dead") && error.contains("Connection refused"),
            "{t}"
        );
    }
    let (events, code, stderr) = map(&[
        "-S",
        "dead,local",
        "--hosts-file",
        file,
        "--",
        "true",
        ":::",
        "a",
        "b",
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(
        tasks(&events)
            .iter()
            .all(|t| t["host"] == "local" && t["exit_code"] == 0)
    );
    assert!(stderr.contains("Connection refused"), "stderr: {stderr}");
}

/// A host that connects but never answers the hello (here its remote command
/// swallows the link and waits) is given up after a deadline: the run goes on
/// with the other hosts instead of waiting forever, and names the hung host.
#[test]
fn a_host_that_never_answers_is_given_up() {
    let sshd = Sshd::start(&["mute"]);
    let file = hosts_file(&sshd, &[("mute", "cat >/dev/null;")]);
    let file = file.to_str().expect("utf-8 path");
    let (events, code, stderr) = map(&[
        "-S",
        "mute,local",
        "--hosts-file",
        file,
        "--",
        "echo",
        ":::",
        "a",
        "b",
    ]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    let done = tasks(&events);
    assert_eq!(done.len(), 2, "{events:?}");
    assert!(
        done.iter()
            .all(|t| t["host"] == "local" && t["exit_code"] == 0)
    );
    assert!(
        stderr.contains("host mute is down: no answer from"),
        "stderr: {stderr}"
    );
}

/// A host whose proctor speaks another protocol: a clear error naming both versions.
#[test]
fn a_version_mismatch_names_both_versions() {
    let sshd = Sshd::start(&["h1"]);
    let proctor = format!("env PROCTOR_TEST_PROTOCOL=99 {BIN}");
    let file = hosts_file(&sshd, &[("h1", &proctor)]);
    let file = file.to_str().expect("utf-8 path");
    let (events, code, stderr) = map(&["-S", "h1", "--hosts-file", file, "--", "true", ":::", "a"]);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    let done = tasks(&events);
    assert_eq!(done.len(), 1);
    let error = done[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("speaks protocol 99") && error.contains("speaks protocol 1"),
        "{error}"
    );
}

/// Bad host lists are usage errors: exit 2, a message naming the problem, and
/// nothing started (no ssh is run for a refused list).
#[test]
fn bad_host_lists_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([{"name": "a", "slots": 0}]),
            "slots 0 is not 1..=4096",
        ),
        (
            json!([{"name": "a", "sloths": 2}]),
            "unknown field `sloths`",
        ),
        (
            json!([{"name": "local", "ssh": "x"}]),
            "'local' is this machine",
        ),
        (json!([{"name": "any"}]), "host name 'any' cannot be used"),
        (
            json!([{"name": "a", "ssh": "-oProxyCommand=touch /tmp/proctor-pwned"}]),
            "cannot be an ssh destination",
        ),
        (
            json!([{"name": "a", "ssh": "x@y"}, {"name": "a", "ssh": "z@w"}]),
            "names 'a' twice",
        ),
    ];
    for (i, (hosts, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("hosts{i}.json"));
        std::fs::write(&file, hosts.to_string()).expect("write");
        let file = file.to_str().expect("utf-8 path");
        let (events, code, stderr) = map(&["--hosts-file", file, "--", "true", ":::", "a"]);
        assert_eq!(code, Some(2), "{hosts}: {stderr}");
        assert!(stderr.contains(expected), "{hosts}: {stderr}");
        assert!(events.is_empty(), "{events:?}");
    }
    // Picking one of two hosts of the same name is still ambiguous.
    let twice = dir.path().join("twice.json");
    std::fs::write(&twice, json!([{"name": "a"}, {"name": "a"}]).to_string()).expect("write");
    let twice = twice.to_str().expect("utf-8 path");
    let (_, code, stderr) = map(&["-S", "a", "--hosts-file", twice, "--", "true", ":::", "a"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("names 'a' twice"), "{stderr}");
    // A device or a directory is no hosts file: refused at once (reading
    // /dev/zero would never end).
    for (path, expected) in [("/dev/zero", "not a regular file"), ("/", "a directory")] {
        let (events, code, stderr) = map(&["--hosts-file", path, "--", "true", ":::", "a"]);
        assert_eq!(code, Some(2), "{path}: {stderr}");
        assert!(
            stderr.contains("cannot read hosts file") && stderr.contains(expected),
            "{path}: {stderr}"
        );
        assert!(events.is_empty(), "{events:?}");
    }
    // A destination is never an ssh option, nor several words.
    for list in [
        "--hosts=-oProxyCommand=touch /tmp/proctor-pwned",
        "--hosts=a b",
    ] {
        let (events, code, stderr) = map(&[list, "--", "true", ":::", "a"]);
        assert_eq!(code, Some(2), "{list}: {stderr}");
        assert!(stderr.contains("cannot be an ssh destination"), "{stderr}");
        assert!(events.is_empty(), "{events:?}");
    }
    assert!(!std::path::Path::new("/tmp/proctor-pwned").exists());
    for list in ["a,,b", "a,a"] {
        let (_, code, stderr) = map(&["-S", list, "--", "true", ":::", "a"]);
        assert_eq!(code, Some(2), "{list}: {stderr}");
        assert!(
            stderr.contains("host") || stderr.contains("name"),
            "{stderr}"
        );
    }
}

/// `proctor ctl terminate` and `kill` reach workers on another host: each ends
/// with its signal, and its process is gone on the host.
#[test]
fn ctl_terminates_and_kills_remote_workers() {
    let sshd = Sshd::start(&["h1"]);
    let mark = fresh_mark("ctl-remote");
    let proctor = format!("env {}={} {BIN}", mark.0, mark.1);
    let file = hosts_file(&sshd, &[("h1", &proctor)]);
    let instance = format!("ssh-ctl-{}", std::process::id());
    let mut child = Command::new(BIN)
        .args([
            "map",
            "--json",
            "--name",
            &instance,
            "-S",
            "h1",
            "--hosts-file",
        ])
        .arg(&file)
        .args(["--", "sleep", "1000", ":::", "1", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor map");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = move || -> Value {
        let line = lines.next().expect("another event").expect("read");
        serde_json::from_str(&line).expect("json")
    };
    let mut pids = BTreeMap::new();
    while pids.len() < 2 {
        let v = next();
        if v["event"] == "spawned" && v["host"] == "h1" {
            pids.insert(
                v["worker"].as_str().expect("worker").to_string(),
                v["pid"].as_u64().expect("pid") as u32,
            );
        }
    }
    for (worker, word, code) in [("task-1", "terminate", -15), ("task-2", "kill", -9)] {
        let out = Command::new(BIN)
            .args(["ctl", "--name", &instance, word, worker])
            .output()
            .expect("proctor ctl");
        assert!(
            out.status.success(),
            "{word}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let done = loop {
            let v = next();
            if v["event"] == "task" && v["worker"] == worker {
                break v;
            }
        };
        assert_eq!(
            (done["exit_code"].clone(), done["host"].clone()),
            (json!(code), json!("h1")),
            "{done}"
        );
        // The process was the host's own, and it is gone there.
        let pid = pids[worker];
        let gone = Instant::now() + PATIENCE;
        while std::fs::metadata(format!("/proc/{pid}")).is_ok()
            && agent_link::marked(&mark).contains(&pid)
        {
            assert!(
                Instant::now() < gone,
                "{worker} (pid {pid}) still runs on the host"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "the stopped tasks failed");
    assert_eq!(
        wait_unmarked(&mark),
        Vec::<u32>::new(),
        "left running on the host"
    );
}

/// A host whose link broke is reconnected after a back-off and runs tasks again.
#[test]
fn a_lost_host_is_reconnected() {
    let sshd = Sshd::start(&["h1"]);
    let file = hosts_file(&sshd, &[("h1", BIN)]);
    let mut child = Command::new(BIN)
        .args([
            "map",
            "--json",
            "--retries",
            "3",
            "-S",
            "h1",
            "--hosts-file",
        ])
        .arg(&file)
        .args(["--", "sh", "-c", "sleep 0.3; echo $1", "sh", "{}", ":::"])
        .args((1..=12).map(|i| i.to_string()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor map");
    let proctor_pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = move || -> Option<Value> {
        let line = lines.next()?.expect("read");
        Some(serde_json::from_str(&line).expect("json"))
    };
    while next().is_some_and(|v| !(v["event"] == "spawned" && v["host"] == "h1")) {}
    let ssh = agent_link_children(proctor_pid, "ssh");
    assert_eq!(ssh.len(), 1, "one ssh link: {ssh:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ssh[0] as i32),
        nix::sys::signal::SIGKILL,
    )
    .expect("kill ssh");
    let mut after = Vec::new();
    while let Some(v) = next() {
        after.push(v);
    }
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("host h1 is down") && stderr.contains("reconnecting"),
        "{stderr}"
    );
    let done = tasks(&after);
    assert!(
        done.iter()
            .all(|t| t["exit_code"] == 0 && t["host"] == "h1"),
        "{done:?}"
    );
    let down = after
        .iter()
        .position(|e| e["event"] == "error")
        .expect("the loss is reported");
    assert!(
        after[down..]
            .iter()
            .any(|e| e["event"] == "spawned" && e["host"] == "h1"),
        "tasks ran on h1 after it was reconnected"
    );
}
