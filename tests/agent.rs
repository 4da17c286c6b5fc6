//! `proctor agent --stdio` driven directly (no ssh): the control protocol on its
//! stdin/stdout, its lease, and that whatever ends its link ends its workers.

#[path = "support/agent_link.rs"]
mod agent_link;

use std::process::Command;
use std::time::{Duration, Instant};

use agent_link::{AgentLink, fresh_mark, marked, marked_job, wait_unmarked};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_proctor");

fn agent(args: &[&str]) -> AgentLink {
    let mut cmd = Command::new(BIN);
    cmd.args(["agent", "--stdio"]).args(args);
    AgentLink::spawn(cmd)
}

/// Launch, events, terminate, and end of input: the agent stops what it started
/// (grandchildren too) and exits 0.
#[test]
fn an_agent_runs_workers_and_ends_them_when_its_input_ends() {
    let mark = fresh_mark("agent-eof");
    let mut link = agent(&[]);
    let hello = link.hello(&[1]);
    assert_eq!(hello["hello"]["protocol"], 1, "{hello}");
    assert!(hello["hello"]["cpus"].as_u64().unwrap_or(0) >= 1, "{hello}");
    link.subscribe();
    for name in ["a", "b"] {
        let reply = link.request(json!({"cmd": "launch", "job": marked_job(name, &mark)}));
        assert_eq!(reply["ok"], true, "{reply}");
    }
    let pid_a = link.event("spawned", "a")["pid"].as_u64().expect("pid");
    link.wait_for("a's output", |v| {
        v["event"]["event"] == "output" && v["event"]["worker"] == "a" && v["event"]["line"] == "up"
    });
    link.event("spawned", "b");
    let reply = link.request(json!({"cmd": "terminate", "worker": "a"}));
    assert_eq!(reply["ok"], true, "{reply}");
    let ended = link.event("exited", "a");
    assert_eq!(
        (ended["code"].clone(), ended["signal"].clone()),
        (json!(-15), json!("SIGTERM")),
        "{ended}"
    );
    assert!(!agent_link::marked(&mark).contains(&(pid_a as u32)));
    // b and its grandchild still run; then the link ends.
    link.wait_for("b's output", |v| {
        v["event"]["worker"] == "b" && v["event"]["line"] == "up"
    });
    assert!(marked(&mark).len() >= 2, "b's tree should be running");
    link.close_input();
    let status = link.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr: {}", link.stderr());
    assert_eq!(wait_unmarked(&mark), Vec::<u32>::new(), "left running");
}

/// A silent link (no line, not even a blank heartbeat) for the lease: the agent
/// stops everything and exits 1 saying why.
#[test]
fn a_silent_link_loses_its_lease() {
    let mark = fresh_mark("agent-lease");
    let mut link = agent(&["--lease", "2s"]);
    link.hello(&[1]);
    link.subscribe();
    link.request(json!({"cmd": "launch", "job": marked_job("w", &mark)}));
    link.event("spawned", "w");
    // The input stays open, but nothing more is sent.
    let status = link.wait_exit();
    assert_eq!(status.code(), Some(1), "stderr: {}", link.stderr());
    assert!(link.stderr().contains("lease"), "stderr: {}", link.stderr());
    assert_eq!(wait_unmarked(&mark), Vec::<u32>::new(), "left running");
}

/// Blank lines are heartbeats: a link that sends them outlives its lease many times.
#[test]
fn heartbeats_keep_the_lease() {
    let mut link = agent(&["--lease", "3s"]);
    link.hello(&[1]);
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        link.send_raw("").expect("heartbeat");
        // Answered, so the agent is alive and reading.
        let reply = link.request(json!({"cmd": "status"}));
        assert_eq!(reply["ok"], true, "{reply}");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(link.child.try_wait().expect("try_wait").is_none());
    link.close_input();
    assert_eq!(link.wait_exit().code(), Some(0));
}

/// A client that speaks another protocol gets an error naming both versions.
#[test]
fn a_protocol_mismatch_names_both_versions() {
    let mut link = agent(&[]);
    let answer = link.hello(&[99]);
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"]["code"], "proto_mismatch", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("protocol 1") && message.contains("99"),
        "{message}"
    );
    assert_eq!(
        link.wait_exit().code(),
        Some(1),
        "stderr: {}",
        link.stderr()
    );
}

/// The link is not the workers' stdin: `stdin: inherit` reads end of file, and
/// what a worker prints never enters the protocol stream.
#[test]
fn workers_cannot_touch_the_link() {
    let mut link = agent(&[]);
    link.hello(&[1]);
    link.subscribe();
    let job = json!({"name": "cat", "cmd": ["sh", "-c", "cat; echo done"], "stdin": "inherit"});
    link.request(json!({"cmd": "launch", "job": job}));
    let exited = link.event("exited", "cat");
    assert_eq!(exited["code"], 0, "{exited}");
    let line = link.wait_for("cat's output", |v| {
        v["event"]["worker"] == "cat" && v["event"]["event"] == "output"
    });
    assert_eq!(line["event"]["line"], "done");
    link.close_input();
    assert_eq!(link.wait_exit().code(), Some(0));
}

/// `proctor agent --stdio` run by hand with garbage on stdin (random bytes, a
/// line too long, JSON that is no hello) answers each bad line with an error,
/// exits 1 naming the hello it wanted, and starts nothing.
#[test]
fn garbage_instead_of_a_hello_exits_1_and_says_why() {
    use std::io::Write;
    use std::process::Stdio;
    let mut garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    garbage.extend_from_slice(
        b"\n[1,2]\n{\"id\":1,\"cmd\":\"launch\",\"job\":{\"name\":\"x\",\"cmd\":[\"true\"]}}\n",
    );
    garbage.extend(std::iter::repeat_n(b'a', 2 << 20));
    garbage.push(b'\n');
    let mut child = Command::new(BIN)
        .args(["agent", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let mut input = child.stdin.take().expect("stdin");
    // The agent answers as it reads; writing from another thread keeps both
    // pipes moving whatever their sizes.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&garbage);
    });
    let out = child.wait_with_output().expect("wait for the agent");
    writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("without a hello") && stderr.contains(r#"{"hello":{"protocols":[1]}}"#),
        "stderr: {stderr}"
    );
    let answers: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(!answers.is_empty(), "each bad line is answered");
    assert!(answers.iter().all(|a| a["ok"] == false), "{answers:?}");
}
