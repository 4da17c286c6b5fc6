//! Pools through the real binary (`proctor map --pool`), with real Python and
//! sh workers: every result arrives and is right, workers are replaced exactly
//! when asked, a worker killed under a task loses nothing, a poison task fails
//! alone, stdout garbage never becomes a result, a crash loop makes the pool
//! `failing` and it recovers. Waits only on proctor's exit (with a deadline).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A jsonl worker: doubles numbers, prints garbage (even forged results) on
/// stdout, and misbehaves on request: `poison` always SIGKILLs its worker,
/// `once-*` does so on the first attempt only, `hang-*` hangs on the first.
const PY_WORKER: &str = r#"
import json, os, signal, sys, time
out = os.fdopen(int(os.environ["PROCTOR_RESULT_FD"]), "w", buffering=1)
marks = os.environ["MARKS"]
out.write('{"ready": true}\n')
for line in sys.stdin:
    t = json.loads(line)
    x = t["input"]
    print('{"id": "%s", "ok": true, "output": "forged"}' % t["id"], flush=True)
    mark = os.path.join(marks, x)
    if x == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    if x.startswith(("once-", "hang-")) and not os.path.exists(mark):
        open(mark, "w").close()
        if x.startswith("once-"):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(3600)
    value = int(x) * 2 if x.isdigit() else x
    out.write(json.dumps({"id": t["id"], "ok": True, "output": {"pid": os.getpid(), "v": value}}) + "\n")
"#;

/// A jsonl worker in plain sh (no process per task): echoes the input back.
const SH_WORKER: &str = r#"
echo '{"ready": true}' >&3
while IFS= read -r line; do
  id=${line#*\"id\":\"}; id=${id%%\"*}
  input=${line#*\"input\":\"}; input=${input%%\"*}
  echo "stray $input"
  printf '{"id":"%s","ok":true,"output":{"pid":%s,"v":"sh-%s"}}\n' "$id" "$$" "$input" >&3
done
"#;

/// Crashes before it is ready the first 3 times it starts, then serves.
const CRASH_LOOP: &str = r#"
n=$(cat "$MARKS/starts" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$MARKS/starts"
[ "$n" -le 3 ] && exit 1
echo '{"ready": true}' >&3
while IFS= read -r line; do
  id=${line#*\"id\":\"}; id=${id%%\"*}
  printf '{"id":"%s","ok":true,"output":{"pid":%s,"v":"up"}}\n' "$id" "$$" >&3
done
"#;

struct Outcome {
    events: Vec<Value>,
    code: Option<i32>,
    stderr: String,
}

impl Outcome {
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// Every task's result by task id; a task with two results fails the test.
    fn results(&self) -> BTreeMap<String, &Value> {
        let mut by_task = BTreeMap::new();
        for r in self.of("result") {
            let task = r["task"].as_str().expect("task id").to_string();
            assert!(by_task.insert(task, r).is_none(), "two results: {r}");
        }
        by_task
    }
}

/// `proctor map --json ARGS` with `stdin`, in `dir`; fails the test if it
/// does not finish within the deadline.
fn pool(dir: &Path, args: &[&str], stdin: String) -> Outcome {
    let mut child = Command::new(common::BIN)
        .arg("map")
        .arg("--json")
        .args(args)
        .current_dir(dir)
        .env("MARKS", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor");
    let mut input = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let output = watched(child, "proctor map --pool");
    let _ = writer.join();
    let events = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    Outcome {
        events,
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits for `child`'s output; fails the test (after a SIGKILL) if it has not
/// ended within 240 s, so a hang is a failure, never a stuck suite.
fn watched(child: std::process::Child, what: &str) -> std::process::Output {
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(240);
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            if !common::alive(pid) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // SAFETY: signalling our own child, still unreaped (the caller's Child waits).
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let output = child.wait_with_output().expect("wait for proctor");
    assert!(!watchdog.join().unwrap_or(true), "{what} hung");
    output
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write worker");
    }
    dir
}

fn numbers(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// Every pid a result names is gone once proctor has exited.
fn assert_workers_gone(out: &Outcome) {
    for r in out.of("result") {
        if let Some(pid) = r["output"]["pid"].as_u64() {
            assert!(
                common::wait_gone(pid as u32),
                "worker {pid} outlived proctor"
            );
        }
    }
}

#[test]
fn ten_thousand_tasks_through_python_workers_all_come_back_right() {
    let dir = dir_with(&[("w.py", PY_WORKER)]);
    let out = pool(
        dir.path(),
        &["--pool", "2", "--", "python3", "w.py"],
        numbers(10_000),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.results();
    assert_eq!(results.len(), 10_000);
    for i in 1..=10_000u64 {
        let r = results[&i.to_string()];
        assert_eq!(r["status"], "done", "{r}");
        // The forged result printed on stdout never counts: stdout is a log.
        assert_eq!(r["output"]["v"], i * 2, "{r}");
    }
    assert_workers_gone(&out);
}

#[test]
fn ten_thousand_tasks_through_sh_workers_all_come_back_right() {
    let dir = dir_with(&[("w.sh", SH_WORKER)]);
    let out = pool(
        dir.path(),
        &["--pool", "2", "--", "sh", "w.sh"],
        numbers(10_000),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.results();
    assert_eq!(results.len(), 10_000);
    for i in 1..=10_000 {
        assert_eq!(results[&i.to_string()]["output"]["v"], format!("sh-{i}"));
    }
    let pids: BTreeSet<u64> = results
        .values()
        .filter_map(|r| r["output"]["pid"].as_u64())
        .collect();
    assert!(pids.len() <= 2, "2 workers served everything: {pids:?}");
    assert_workers_gone(&out);
}

#[test]
fn max_tasks_replaces_each_worker_after_exactly_that_many() {
    let dir = dir_with(&[("w.py", PY_WORKER)]);
    let args = ["--pool", "2", "--max-tasks", "10", "--", "python3", "w.py"];
    let out = pool(dir.path(), &args, numbers(100));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut served: BTreeMap<u64, u32> = BTreeMap::new();
    for r in out.results().values() {
        *served
            .entry(r["output"]["pid"].as_u64().expect("pid"))
            .or_default() += 1;
    }
    // No worker serves more than 10; each that served 10 was replaced for it;
    // only the two that were busy when the tasks ran out may have served fewer.
    assert!(served.values().all(|&n| n <= 10), "{served:?}");
    assert_eq!(served.values().sum::<u32>(), 100);
    let full = served.values().filter(|&&n| n == 10).count();
    assert!(full >= 8, "{served:?}");
    let recycled = out.of("recycled");
    assert_eq!(recycled.len(), full, "{recycled:?}");
    assert!(
        recycled
            .iter()
            .all(|e| e["reason"] == "max_tasks" && e["served"] == 10)
    );
}

#[test]
fn a_worker_killed_under_a_task_loses_no_task() {
    let dir = dir_with(&[("w.py", PY_WORKER)]);
    let mut tasks = numbers(50);
    tasks.push_str("once-a\n");
    let out = pool(dir.path(), &["--pool", "2", "--", "python3", "w.py"], tasks);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.results();
    assert_eq!(results.len(), 51);
    assert!(results.values().all(|r| r["status"] == "done"));
    let killed = results["51"];
    assert_eq!(killed["output"]["v"], "once-a");
    assert_eq!(killed["attempts"], 2, "{killed}");
}

#[test]
fn a_poison_task_fails_alone_after_its_retries() {
    let dir = dir_with(&[("w.py", PY_WORKER)]);
    let tasks = format!("{}poison\n{}", numbers(20), numbers(20));
    let args = ["--pool", "2", "--retries", "2", "--", "python3", "w.py"];
    let out = pool(dir.path(), &args, tasks);
    assert_eq!(
        out.code,
        Some(1),
        "a failed task fails the run: {}",
        out.stderr
    );
    let results = out.results();
    assert_eq!(results.len(), 41);
    let poison = results["21"];
    assert_eq!(poison["status"], "failed");
    assert_eq!(poison["poison"], true);
    assert_eq!(poison["attempts"], 3, "{poison}");
    let others = results.iter().filter(|(k, _)| k.as_str() != "21");
    assert!(others.into_iter().all(|(_, r)| r["status"] == "done"));
    assert_workers_gone(&out);
}

#[test]
fn a_task_over_its_timeout_ends_its_worker_and_is_retried() {
    let dir = dir_with(&[("w.py", PY_WORKER)]);
    let tasks = format!("hang-x\n{}", numbers(10));
    let args = ["--pool", "2", "--timeout", "2s", "--", "python3", "w.py"];
    let out = pool(dir.path(), &args, tasks);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.results();
    assert_eq!(results.len(), 11);
    assert_eq!(results["1"]["output"]["v"], "hang-x");
    assert_eq!(results["1"]["attempts"], 2);
    assert!(
        out.of("recycled")
            .iter()
            .any(|e| e["reason"] == "task_timeout")
    );
}

#[test]
fn a_crash_loop_makes_the_pool_failing_then_it_recovers() {
    let dir = dir_with(&[("w.sh", CRASH_LOOP)]);
    let out = pool(dir.path(), &["--pool", "1", "--", "sh", "w.sh"], numbers(5));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let states: Vec<&str> = out
        .of("pool_state")
        .iter()
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert_eq!(states, ["failing", "running"]);
    assert_eq!(out.results().len(), 5);
    assert!(out.results().values().all(|r| r["output"]["v"] == "up"));
}

#[test]
fn the_lines_protocol_pairs_one_line_out_with_each_line_in() {
    let dir = dir_with(&[("up.sh", "while IFS= read -r l; do echo \"<$l>\"; done\n")]);
    let args = ["--pool", "2", "--protocol", "lines", "--", "sh", "up.sh"];
    let out = pool(dir.path(), &args, numbers(500));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let results = out.results();
    assert_eq!(results.len(), 500);
    for i in 1..=500 {
        assert_eq!(results[&i.to_string()]["output"], format!("<{i}>"));
    }
}

#[test]
fn plain_output_in_input_order_with_keep_order() {
    let dir = dir_with(&[("up.sh", "while IFS= read -r l; do echo \"<$l>\"; done\n")]);
    let output = Command::new(common::BIN)
        .args([
            "map",
            "--pool",
            "3",
            "--protocol",
            "lines",
            "-k",
            "--",
            "sh",
            "up.sh",
        ])
        .args([":::", "a", "b", "c", "d", "e"])
        .current_dir(dir.path())
        .output()
        .expect("run proctor");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "<a>\n<b>\n<c>\n<d>\n<e>\n"
    );
}

#[test]
fn flags_that_mean_nothing_for_a_pool_are_refused() {
    for args in [
        &["map", "--pool", "2", "--shell", "--", "cat", ":::", "a"][..],
        &["map", "--pool", "2", "--", "echo", "{}", ":::", "a"],
        &[
            "map",
            "--pool",
            "2",
            "--protocol",
            "xml",
            "--",
            "cat",
            ":::",
            "a",
        ],
        &[
            "map",
            "--pool",
            "2",
            "--",
            "no-such-program-here",
            ":::",
            "a",
        ],
    ] {
        let output = Command::new(common::BIN).args(args).output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let named = ["pool", "protocol", "no-such-program-here"];
        assert!(named.iter().any(|n| stderr.contains(n)), "{stderr}");
    }
}

/// A `lines` worker that fails on the input 3 (exits, so its task is lost) and
/// squares the others.
const SQUARES: &str = r#"
while IFS= read -r l; do
  if [ "$l" = 3 ]; then exit 1; fi
  echo "sq $((l*l))"
done
"#;

#[test]
fn the_joblog_records_every_task_and_resume_runs_only_what_did_not_succeed() {
    let dir = dir_with(&[("w.sh", SQUARES)]);
    let log = dir.path().join("log.jsonl");
    let log = log.to_str().expect("utf-8 path");
    let args = [
        "--pool",
        "2",
        "--protocol",
        "lines",
        "--retries",
        "0",
        "--joblog",
        log,
        "--",
        "sh",
        "w.sh",
    ];
    let first = pool(dir.path(), &args, numbers(6));
    assert_eq!(first.code, Some(1), "task 3 fails: {}", first.stderr);
    let lines: Vec<Value> = std::fs::read_to_string(log)
        .expect("joblog")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 6, "one record per task: {lines:?}");
    for record in &lines {
        let want = if record["input"] == "3" { 1 } else { 0 };
        assert_eq!(record["exit_code"], want, "{record}");
    }
    // Again with --resume: only the failed task runs (and fails again).
    let mut again = args.to_vec();
    again.insert(0, "--resume");
    let second = pool(dir.path(), &again, numbers(6));
    assert_eq!(second.code, Some(1));
    let ran: Vec<String> = second.results().into_keys().collect();
    assert_eq!(ran, ["3"], "{}", second.stderr);
    assert!(
        second.stderr.contains("skipped 5 task(s)"),
        "{}",
        second.stderr
    );
}

#[test]
fn halt_now_stops_the_pool_at_the_first_failure() {
    let dir = dir_with(&[("w.sh", SQUARES)]);
    let out = pool(
        dir.path(),
        &[
            "--pool",
            "1",
            "--protocol",
            "lines",
            "--retries",
            "0",
            "--halt",
            "now,fail=1",
            "--",
            "sh",
            "w.sh",
        ],
        numbers(5000),
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("--halt now,fail=1"), "{}", out.stderr);
    let results = out.results();
    let done = results.values().filter(|r| r["status"] == "done").count();
    // One worker takes tasks in order: 1 and 2 succeed before 3 fails; a task
    // handed out next may finish too, but the run stops long before 5000.
    assert!((2..100).contains(&done), "{done} done: {}", out.stderr);
    assert!(results.values().any(|r| r["status"] == "cancelled"));
}

/// Runs a pool job from a workload file headless, feeds it `tasks` through
/// `submit` control lines on stdin, and returns every event once it ends.
fn pool_job(dir: &Path, pool: Value, worker: &str, tasks: u32) -> Vec<Value> {
    let workload = serde_json::json!({"jobs": [{"name": "p", "shell": worker, "pool": pool}]});
    let file = dir.join("w.json");
    std::fs::write(&file, workload.to_string()).expect("write workload");
    let mut child = Command::new(common::BIN)
        .args(["--json", "--interval", "200ms", "--control", "-", "-f"])
        .arg(&file)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start proctor");
    let mut stdin = child.stdin.take().expect("stdin");
    for i in 1..=tasks {
        let line =
            serde_json::json!({"cmd": "submit", "pool": "p", "task": i.to_string(), "input": i});
        writeln!(stdin, "{line}").expect("submit");
    }
    // Closing the control stream closes the queue: the pool drains, then proctor ends.
    drop(stdin);
    let output = watched(child, "the pool job");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn recycled_for(events: &[Value], reason: &str) -> usize {
    events
        .iter()
        .filter(|e| e["event"] == "recycled" && e["reason"] == reason)
        .count()
}

fn all_done(events: &[Value], tasks: u32) {
    let done: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| e["event"] == "result" && e["status"] == "done")
        .map(|e| e["task"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(done.len(), tasks as usize, "every task done: {events:?}");
}

#[test]
fn max_age_replaces_a_worker_between_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let worker = "while IFS= read -r l; do sleep 0.3; echo \"$l\"; done";
    let pool = serde_json::json!({"workers": 1, "protocol": "lines", "max_age": "1s"});
    let events = pool_job(dir.path(), pool, worker, 12);
    all_done(&events, 12);
    // 12 tasks of 0.3 s take about 3.6 s: a 1 s life ends at least twice.
    assert!(recycled_for(&events, "max_age") >= 2, "{events:?}");
}

#[test]
fn max_rss_replaces_a_worker_that_grows() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Each task keeps 8 MiB more, held until the worker is replaced.
    let worker = "python3 -u -c 'import sys\nkept = []\nfor l in sys.stdin:\n    kept.append(bytes(8 << 20).replace(bytes(1), bytes([120])))\n    import time; time.sleep(0.25)\n    print(l.strip(), flush=True)\n'";
    let pool = serde_json::json!({"workers": 1, "protocol": "lines", "max_rss": "64MiB"});
    let events = pool_job(dir.path(), pool, worker, 20);
    all_done(&events, 20);
    // 20 tasks would hold 160 MiB: the worker must have been replaced on the way.
    assert!(recycled_for(&events, "max_rss") >= 1, "{events:?}");
}
