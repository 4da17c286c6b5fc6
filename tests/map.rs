//! `proctor map` end to end: the real binary, real worker processes, JSON Lines.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Generous: the machine may be busy, but a hang must still fail the test.
const LIMIT: Duration = Duration::from_secs(120);

struct Run {
    status: ExitStatus,
    events: Vec<Value>,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// Output lines in the order they were printed.
    fn lines(&self) -> Vec<String> {
        self.of("output")
            .iter()
            .map(|e| e["line"].as_str().expect("line is text").to_string())
            .collect()
    }

    /// Finished tasks by number.
    fn tasks(&self) -> BTreeMap<u64, &Value> {
        self.of("task")
            .into_iter()
            .map(|e| (e["task"].as_u64().expect("task number"), e))
            .collect()
    }

    fn spawned_pids(&self) -> Vec<u32> {
        self.of("spawned")
            .iter()
            .map(|e| e["pid"].as_u64().expect("pid") as u32)
            .collect()
    }
}

fn proctor() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proctor"));
    cmd.arg("map").arg("--headless");
    cmd
}

/// Runs `proctor map --headless ARGS` with `stdin` as its input and waits for it.
fn map(args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = proctor();
    cmd.args(args);
    run(cmd, stdin)
}

fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor");
    let pid = child.id();
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    std::thread::spawn(move || {
        // proctor may stop reading early (halt): a broken pipe is fine.
        let _ = input.write_all(&stdin);
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(LIMIT) {
        Ok(out) => out.expect("wait for proctor"),
        Err(_) => {
            // SAFETY: kill with plain integers; the child is not reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("proctor did not finish within {LIMIT:?}");
        }
    };
    let events = String::from_utf8(output.stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Run {
        status: output.status,
        events,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Kills proctor if it is still running after `LIMIT`, so a hang fails the
/// test instead of stalling it; disarmed when dropped.
struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    fn new(pid: u32) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if rx.recv_timeout(LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
                // SAFETY: kill with plain integers.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn as_strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

fn numbers(range: std::ops::RangeInclusive<u32>) -> Vec<u8> {
    range
        .map(|n| format!("{n}\n"))
        .collect::<String>()
        .into_bytes()
}

fn read_joblog(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read the joblog")
        .lines()
        .map(|l| serde_json::from_str(l).expect("joblog lines are JSON"))
        .collect()
}

/// True while `pid` is a live (not zombie) process running `program`.
fn alive(pid: u32, program: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    !zombie && cmdline.split(|&b| b == 0).next() == Some(program.as_bytes())
}

#[test]
fn two_hundred_tasks_run_at_most_four_at_once() {
    let r = map(
        &["-j", "4", "--", "sh", "-c", "echo $(($1*2))", "_", "{}"],
        &numbers(1..=200),
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    let mut lines: Vec<u64> = r.lines().iter().map(|l| l.parse().unwrap()).collect();
    lines.sort_unstable();
    let want: Vec<u64> = (1..=200).map(|n| n * 2).collect();
    assert_eq!(lines, want, "each doubled number exactly once");
    let tasks = r.tasks();
    assert_eq!(tasks.len(), 200);
    assert!(tasks.values().all(|t| t["exit_code"] == 0));
    // Every task's own output, as the joblog counts it.
    assert_eq!(tasks[&7]["output_bytes"], 3); // "14\n"
    assert_eq!(tasks[&100]["input"], "100");
    let mut running = 0i64;
    let mut most = 0i64;
    for e in &r.events {
        match e["event"].as_str().unwrap() {
            "spawned" => running += 1,
            "exited" => running -= 1,
            "queue" => assert!(e["running"].as_u64().unwrap() <= 4, "{e}"),
            _ => {}
        }
        most = most.max(running);
    }
    assert!(most <= 4, "{most} ran at once");
    let summary = r.of("summary");
    assert_eq!(summary[0]["ok"], true);
}

#[test]
fn a_failing_task_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("count");
    let joblog = dir.path().join("log.jsonl");
    // Fails on its first two runs, succeeds on the third.
    let script = r#"n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"; [ $n -ge 3 ]"#;
    let r = map(
        &[
            "--retries",
            "3",
            "--joblog",
            joblog.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
            "_",
            "{}",
            ":::",
            counter.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    let workers: Vec<&str> = r
        .of("exited")
        .iter()
        .map(|e| e["worker"].as_str().unwrap())
        .collect();
    assert_eq!(workers, ["task-1", "task-1.retry1", "task-1.retry2"]);
    let log = read_joblog(&joblog);
    assert_eq!(log.len(), 1, "one line per task, not per attempt");
    assert_eq!(log[0]["retries"], 2);
    assert_eq!(log[0]["exit_code"], 0);
    assert_eq!(log[0]["worker"], "task-1.retry2");
    assert_eq!(r.of("summary")[0]["ok"], true);
}

#[test]
fn retries_run_out_and_the_task_fails() {
    let r = map(&["--retries", "2", "--", "false", ":::", "x"], b"");
    assert_eq!(r.code(), Some(1));
    assert_eq!(r.of("exited").len(), 3);
    let tasks = r.tasks();
    assert_eq!(tasks[&1]["retries"], 2);
    assert_eq!(tasks[&1]["exit_code"], 1);
}

#[test]
fn a_task_over_its_timeout_is_ended_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let joblog = dir.path().join("log.jsonl");
    let r = map(
        &[
            "--timeout",
            "1",
            "--joblog",
            joblog.to_str().unwrap(),
            "--",
            "sleep",
            ":::",
            "10",
        ],
        b"",
    );
    assert_eq!(r.code(), Some(1));
    assert!(r.elapsed < Duration::from_secs(8), "took {:?}", r.elapsed);
    let log = read_joblog(&joblog);
    assert_eq!(log[0]["timed_out"], true);
    assert_eq!(log[0]["signal"], "SIGTERM");
    assert_eq!(log[0]["exit_code"], -15);
    assert_eq!(r.tasks()[&1]["timed_out"], true);
}

#[test]
fn halt_now_stops_at_the_first_failure_and_leaves_nothing_running() {
    let script = r#"if [ "$1" = fail ]; then exit 3; fi; exec sleep "$1""#;
    let r = map(
        &[
            "-j",
            "3",
            "--halt",
            "now,fail=1",
            "--",
            "sh",
            "-c",
            script,
            "_",
            "{}",
            ":::",
            "30",
            "30",
            "fail",
            "30",
            "30",
            "30",
        ],
        b"",
    );
    assert_eq!(r.code(), Some(1), "stderr: {}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(25), "took {:?}", r.elapsed);
    assert_eq!(r.of("halted").len(), 1);
    assert_eq!(r.of("halted")[0]["rule"], "now,fail=1");
    assert!(r.stderr.contains("--halt now,fail=1"), "{}", r.stderr);
    // Tasks 4..6 never started; 1 and 2 were terminated.
    assert_eq!(r.of("spawned").len(), 3);
    let tasks = r.tasks();
    assert_eq!(tasks.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(tasks[&1]["signal"], "SIGTERM");
    for pid in r.spawned_pids() {
        assert!(!alive(pid, "sleep"), "sleep {pid} outlived proctor");
    }
    assert_eq!(r.of("summary")[0]["ok"], false);
}

#[test]
fn halt_soon_lets_running_tasks_finish_but_starts_no_more() {
    let dir = tempfile::tempdir().unwrap();
    // Task 1 ends only after task 2 has failed, so it is running at the halt.
    let script = r#"if [ "$1" = fail ]; then touch "$2/failed"; exit 3; fi
        i=0; while [ ! -e "$2/failed" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
        sleep 1"#;
    let d = dir.path().to_str().unwrap();
    let r = map(
        &[
            "-j",
            "2",
            "--halt",
            "soon,fail=1",
            "--",
            "sh",
            "-c",
            script,
            "_",
            "{}",
            d,
            ":::",
            "wait",
            "fail",
            "wait",
            "wait",
        ],
        b"",
    );
    assert_eq!(r.code(), Some(1));
    assert_eq!(r.of("spawned").len(), 2);
    let tasks = r.tasks();
    assert_eq!(
        tasks[&1]["exit_code"], 0,
        "the running task finished normally"
    );
    assert_eq!(tasks[&2]["exit_code"], 3);
    assert!(!tasks.contains_key(&3));
}

#[test]
fn keep_order_prints_in_input_order_though_tasks_finish_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    // Task N waits for task N+1 to finish: they end 3, 2, 1.
    let script = r#"n=$1; i=0
        if [ $n -lt 3 ]; then
            while [ ! -e "$2/$((n+1))" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
        fi
        echo "$n a"; echo "$n b"; touch "$2/$n""#;
    let d = dir.path().to_str().unwrap();
    let r = map(
        &[
            "-j",
            "3",
            "--keep-order",
            "--",
            "sh",
            "-c",
            script,
            "_",
            "{}",
            d,
            ":::",
            "1",
            "2",
            "3",
        ],
        b"",
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    let finished: Vec<&str> = r
        .of("exited")
        .iter()
        .map(|e| e["worker"].as_str().unwrap())
        .collect();
    // Neighbours can be reaped in the same instant, so only the ends are compared:
    // task 1 waited (at least one 50 ms poll) for task 2, which waited for task 3.
    let at = |t: &str| finished.iter().position(|w| *w == t).unwrap();
    assert_eq!(finished.len(), 3, "{finished:?}");
    assert!(
        at("task-3") < at("task-1"),
        "tasks did not finish out of order: {finished:?}"
    );
    assert_eq!(r.lines(), ["1 a", "1 b", "2 a", "2 b", "3 a", "3 b"]);
}

#[test]
fn resume_runs_only_failed_and_missing_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let joblog = dir.path().join("log.jsonl");
    let flag = |name: &str| std::fs::write(dir.path().join(name), "").unwrap();
    let prefix = format!("{}/", dir.path().display());
    let args = |resume: bool| {
        let mut a = vec![
            "-j".to_string(),
            "1".into(),
            "--halt".into(),
            "soon,fail=1".into(),
            "--joblog".into(),
            joblog.to_str().unwrap().into(),
        ];
        if resume {
            a.push("--resume".into());
        }
        a.extend(
            [
                "--",
                "test",
                "-e",
                &format!("{prefix}{{}}"),
                ":::",
                "a",
                "b",
                "c",
            ]
            .map(String::from),
        );
        a
    };

    // First run: a succeeds, b fails and halts the run, c never starts.
    flag("a");
    let first = args(false);
    let r = map(&as_strs(&first), b"");
    assert_eq!(r.code(), Some(1));
    assert_eq!(r.tasks().keys().copied().collect::<Vec<_>>(), [1, 2]);

    // Second run: only b (failed) and c (missing) run.
    flag("b");
    let second = args(true);
    let r = map(&as_strs(&second), b"");
    assert_eq!(r.code(), Some(1), "c still fails");
    let spawned: Vec<&str> = r
        .of("spawned")
        .iter()
        .map(|e| e["worker"].as_str().unwrap())
        .collect();
    assert_eq!(spawned, ["task-2", "task-3"]);
    assert!(r.stderr.contains("skipped 1 task"), "{}", r.stderr);

    // Third run: only c.
    flag("c");
    let r = map(&as_strs(&second), b"");
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.of("spawned").len(), 1);
    let log = read_joblog(&joblog);
    let ok: Vec<u64> = log
        .iter()
        .filter(|l| l["exit_code"] == 0)
        .map(|l| l["task"].as_u64().unwrap())
        .collect();
    assert_eq!(ok, [1, 2, 3]);
    assert_eq!(log.len(), 5, "appended across runs: {log:?}");
}

/// Inputs a shell would mangle, one per line.
const NASTY: &[&str] = &[
    "two words",
    "it's",
    "\"double\"",
    "semi; echo pwned",
    "$(echo injected)",
    "`id`",
    "back\\slash",
    "*",
    "  padded  ",
    "-n",
    "{}",
];

#[test]
fn arguments_arrive_unchanged_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, NASTY.join("\n")).unwrap();
    let r = map(
        &[
            "--keep-order",
            "--tasks",
            tasks.to_str().unwrap(),
            "--",
            "printf",
            "%s\\n",
            "{}",
        ],
        b"",
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.lines(), NASTY);
}

#[test]
fn shell_mode_quotes_every_value() {
    let words: Vec<&str> = ["--keep-order", "--shell", "--", "printf '%s\\n' {}", ":::"]
        .into_iter()
        .chain(NASTY.iter().copied())
        .collect();
    let r = map(&words, b"");
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.lines(), NASTY);
}

#[test]
fn bytes_that_are_not_utf8_reach_the_worker_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let r = map(
        &[
            "--",
            "sh",
            "-c",
            r#"printf %s "$1" > "$2""#,
            "_",
            "{}",
            out.to_str().unwrap(),
        ],
        b"caf\xe9 \xff\n",
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"caf\xe9 \xff");
    let task = r.tasks()[&1].clone();
    assert_eq!(task["input_hex"], "636166e920ff");
}

#[test]
fn placeholders_and_appending() {
    let r = map(
        &[
            "--keep-order",
            "--",
            "echo",
            "{#}",
            "{.}",
            "{/}",
            ":::",
            "dir/a.txt",
            "b.tar.gz",
        ],
        b"",
    );
    assert_eq!(r.lines(), ["1 dir/a a.txt", "2 b.tar b.tar.gz"]);
    let r = map(&["--keep-order", "--", "echo", "-", ":::", "x", "y"], b"");
    assert_eq!(r.lines(), ["- x", "- y"]);
}

#[test]
fn empty_lines_are_skipped_unless_allowed() {
    let input = b"a\n\nb\n\n";
    let r = map(&["--", "echo"], input);
    assert_eq!(r.tasks().len(), 2);
    assert_eq!(r.tasks()[&2]["input"], "b");
    let r = map(&["--allow-empty", "--", "echo"], input);
    assert_eq!(r.tasks().len(), 4);
    assert_eq!(r.tasks()[&2]["input"], "");
}

#[test]
fn output_none_still_counts_output_bytes() {
    let r = map(&["--output", "none", "--", "echo", ":::", "hello"], b"");
    assert_eq!(r.code(), Some(0));
    assert!(r.of("output").is_empty());
    assert_eq!(r.tasks()[&1]["output_bytes"], 6);
}

#[test]
fn a_tasks_file_counts_into_the_queue_depth() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, numbers(1..=300)).unwrap();
    let r = map(
        &["-j", "2", "--tasks", tasks.to_str().unwrap(), "--", "true"],
        b"",
    );
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.tasks().len(), 300);
    let depths: Vec<u64> = r
        .of("queue")
        .iter()
        .map(|e| e["depth"].as_u64().unwrap())
        .collect();
    let most = depths.iter().copied().max().unwrap();
    assert!(
        (200..=300).contains(&most),
        "depth counts the unread lines: {most}"
    );
    assert_eq!(depths.last(), Some(&0));
    let last = r.of("queue").last().copied().unwrap().clone();
    assert_eq!(last["done"], 300);
}

#[test]
fn endless_input_is_read_lazily() {
    // Tasks 1, 2, 3… for ever; task 40 fails and halts the run. Reading it all
    // first would never end.
    let mut cmd = proctor();
    cmd.args([
        "-j",
        "2",
        "--halt",
        "soon,fail=1",
        "--",
        "sh",
        "-c",
        r#"[ "$1" -ne 40 ]"#,
        "_",
        "{}",
    ]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _watchdog = Watchdog::new(child.id());
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut n = 0u64;
        loop {
            n += 1;
            if writeln!(input, "{n}").is_err() {
                return n;
            }
        }
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let written = writer.join().unwrap();
    let spawned = events.iter().filter(|e| e["event"] == "spawned").count();
    assert!((40..=42).contains(&spawned), "{spawned} spawned");
    // Nothing piles up: at most the window waits, whatever the input holds.
    for e in events.iter().filter(|e| e["event"] == "queue") {
        assert!(e["depth"].as_u64().unwrap() <= 64, "{e}");
    }
    assert!(written > 40, "the writer was cut off when proctor exited");
}

#[test]
fn a_closed_stdout_stops_the_run() {
    // Chatty tasks, as with `| head`: the next line printed finds stdout closed.
    let mut cmd = proctor();
    let script = "while :; do echo tick; sleep 0.2; done";
    cmd.args(["-j", "2", "--", "sh", "-c", script, ":::"]);
    cmd.args(std::iter::repeat_n("x", 20));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _watchdog = Watchdog::new(child.id());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut pids = Vec::new();
    let mut line = String::new();
    while pids.len() < 2 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "proctor ended early"
        );
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["event"] == "spawned" {
            pids.push(e["pid"].as_u64().unwrap() as u32);
        }
    }
    drop(stdout);
    let start = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!alive(pid, "sh"), "worker {pid} outlived proctor");
    }
}

#[test]
fn an_interrupt_stops_everything_with_status_130() {
    let mut cmd = proctor();
    cmd.args(["-j", "2", "--", "sleep", ":::", "30", "30", "30"]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _watchdog = Watchdog::new(child.id());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut events = Vec::new();
    let mut line = String::new();
    let mut spawned = 0;
    while spawned < 2 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "proctor ended early"
        );
        let e: Value = serde_json::from_str(&line).unwrap();
        spawned += usize::from(e["event"] == "spawned");
        events.push(e);
    }
    // SAFETY: kill with plain integers; the child is not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    for l in stdout.lines() {
        events.push(serde_json::from_str(&l.unwrap()).unwrap());
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(events.iter().any(|e| e["event"] == "interrupted"));
    let pids: Vec<u32> = events
        .iter()
        .filter(|e| e["event"] == "spawned")
        .map(|e| e["pid"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(pids.len(), 2, "the third task never started");
    for pid in pids {
        assert!(!alive(pid, "sleep"), "sleep {pid} outlived proctor");
    }
}

#[test]
fn usage_errors_exit_2_and_start_nothing() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--tasks", "/nonexistent/tasks.txt", "--", "echo"],
            "'/nonexistent/tasks.txt'",
        ),
        (
            &["--halt", "sometimes", "--", "echo", ":::", "a"],
            "now,fail=N",
        ),
        (
            &["--halt", "now,fail=0", "--", "echo", ":::", "a"],
            "now,fail=N",
        ),
        (&["--", ":::", "a"], "template is empty"),
        (&["--", "echo", ":::"], "no values"),
        (&["--", "echo", ":::+", "a"], "none"),
        (&["--", "echo", "{//.}", ":::", "a"], "does not know"),
        (&["--", "echo", "{2}", ":::", "a"], "{2}"),
        (
            &["-j2", "--", "-k", "echo", ":::", "a"],
            "looks like a flag",
        ),
        (&["--control", "-", "--", "echo", ":::", "a"], "--control"),
    ];
    for (args, message) in cases {
        let r = map(args, b"");
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
        assert!(r.events.is_empty(), "{args:?} started something");
    }
}

#[test]
fn the_joblog_may_not_overwrite_the_tasks_file() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.txt");
    std::fs::write(&tasks, "a\nb\n").unwrap();
    let t = tasks.to_str().unwrap();
    let r = map(&["--tasks", t, "--joblog", t, "--", "echo"], b"");
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains("overwrite"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&tasks).unwrap(), "a\nb\n");
}

#[test]
fn a_zero_timeout_is_a_usage_error() {
    let r = map(&["--timeout", "0", "--", "echo", ":::", "a"], b"");
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains("greater than 0"), "{}", r.stderr);
}

#[test]
fn a_tasks_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = map(
        &["--tasks", dir.path().to_str().unwrap(), "--", "echo"],
        b"",
    );
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains("directory"), "{}", r.stderr);
}

#[test]
fn no_tasks_is_success() {
    let r = map(&["--", "echo"], b"\n\n");
    assert_eq!(r.code(), Some(0), "stderr: {}", r.stderr);
    assert!(r.of("spawned").is_empty());
    assert_eq!(r.of("summary")[0]["ok"], true);
}

#[test]
fn a_command_that_cannot_start_fails_its_task() {
    let r = map(&["--", "/nonexistent/tool", ":::", "a"], b"");
    assert_eq!(r.code(), Some(1));
    let task = r.tasks()[&1].clone();
    assert_eq!(task["exit_code"], Value::Null);
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/tool")
    );
}

#[test]
fn worker_names_map_back_to_tasks() {
    let r = map(&["--", "true", ":::", "a", "b"], b"");
    let names: HashMap<u64, String> = r
        .tasks()
        .iter()
        .map(|(n, t)| (*n, t["worker"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(names[&1], "task-1");
    assert_eq!(names[&2], "task-2");
}
