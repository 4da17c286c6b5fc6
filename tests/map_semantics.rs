//! Map mode's decided semantics, through the real binary: what the exit status
//! says (`--exit-status`), how many attempts `--retries N` makes and whose
//! output is printed, and `--keep-order` with more held output than memory keeps.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn proctor(args: &[&str], stdin: &[u8], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .arg("map")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proctor map");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for proctor")
}

fn status(args: &[&str], dir: &Path) -> Option<i32> {
    proctor(args, b"", dir).status.code()
}

#[test]
fn exit_status_count_is_the_number_of_failed_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fail_with = ["sh", "-c", "exit $1", "sh", ":::"];
    let run = |extra: &[&str], codes: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend_from_slice(&fail_with);
        args.extend_from_slice(codes);
        status(&args, dir.path())
    };
    // The default: 1 on any failure, 0 when none failed.
    assert_eq!(run(&[], &["0", "3", "4"]), Some(1));
    assert_eq!(run(&["--exit-status", "count"], &["0", "0"]), Some(0));
    // parallel's: the count of failed tasks.
    assert_eq!(run(&["--exit-status", "count"], &["0", "3", "4"]), Some(2));
    assert_eq!(
        run(&["--exit-status", "count"], &["5", "5", "5", "0", "5"]),
        Some(4)
    );
    // Under --halt: the status of the task that met the rule.
    assert_eq!(
        run(
            &["-j1", "--exit-status", "count", "--halt", "now,fail=1"],
            &["0", "7", "4"]
        ),
        Some(7)
    );
    // A task killed by a signal reads as 128+N, as in a shell.
    let killed = status(
        &[
            "--exit-status",
            "count",
            "--halt",
            "now,fail=1",
            "sh",
            "-c",
            "kill -9 $$",
            ":::",
            "a",
        ],
        dir.path(),
    );
    assert_eq!(killed, Some(137));
}

#[test]
fn exit_status_count_stops_at_101() {
    let dir = tempfile::tempdir().expect("tempdir");
    let words: Vec<String> = (1..=105).map(|n| n.to_string()).collect();
    let mut args = vec!["-j4", "--exit-status", "count", "false", ":::"];
    args.extend(words.iter().map(String::as_str));
    assert_eq!(status(&args, dir.path()), Some(101));
}

#[test]
fn exit_status_rejects_unknown_schemes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &["--exit-status", "sum", "touch", "made", ":::", "a"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("count"));
    assert!(!dir.path().join("made").exists());
}

/// A task that fails until its third attempt: each attempt appends to a file
/// and prints its attempt number.
const FLAKY: &str = "echo x >> tries; n=$(wc -l < tries); echo attempt $n; echo err $n >&2; \
                     [ $n -ge 3 ]";

/// `--retries N` means N more attempts (N+1 in all), unlike parallel's N in all:
/// proctor's `restart` vocabulary counts re-runs, and `--retries 0` (the
/// default) must mean "run once". Only the final attempt's output is printed.
#[test]
fn retries_are_extra_attempts_and_only_the_last_one_is_printed() {
    for extra in [&[][..], &["-k"][..], &["--results", "res"][..]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = extra.to_vec();
        args.extend(["--retries", "2", "sh", "-c", FLAKY, ":::", "a"]);
        let out = proctor(&args, b"", dir.path());
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "attempt 3\n",
            "{extra:?}"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err 3\n", "{extra:?}");
        let tries = std::fs::read_to_string(dir.path().join("tries")).expect("tries");
        assert_eq!(tries.lines().count(), 3, "{extra:?}: 1 attempt + 2 retries");
        if extra.contains(&"--results") {
            let res = dir.path().join("res/1");
            assert_eq!(
                std::fs::read_to_string(res.join("stdout")).expect("stdout"),
                "attempt 3\n"
            );
            assert_eq!(
                std::fs::read_to_string(res.join("stderr")).expect("stderr"),
                "err 3\n"
            );
        }
    }
    // One retry is not enough: two attempts, the task fails with the last one's output.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &["--retries", "1", "sh", "-c", FLAKY, ":::", "a"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "attempt 2\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("after 1 retries"), "{stderr}");
}

/// All attempts stay visible in the events: one `exited` per attempt.
#[test]
fn every_attempt_is_in_the_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &["--json", "--retries", "2", "sh", "-c", FLAKY, ":::", "a"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let exited: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "exited")
        .collect();
    let workers: Vec<&str> = exited.iter().filter_map(|e| e["worker"].as_str()).collect();
    assert_eq!(workers, ["task-1", "task-1.retry1", "task-1.retry2"]);
}

/// Task 1 waits until task 100 has finished, so every later task's output
/// (20 MB, past the 8 MiB kept in memory) is held for its turn: the pool must
/// run past the slow task (not stall on a window of held tasks), the held
/// output must come back whole and in order, and the temporary file must not
/// outlive the run.
#[test]
fn keep_order_runs_past_a_slow_task_and_spills_held_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = tempfile::tempdir().expect("tmpdir");
    let script = "if [ $1 = 1 ]; then \
                    i=0; while [ ! -e done-100 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; \
                    [ -e done-100 ] || exit 9; \
                  fi; \
                  i=0; while [ $i -lt 2000 ]; do printf '%s-%099d\\n' $1 $i; i=$((i+1)); done; \
                  touch done-$1";
    let words: Vec<String> = (1..=100).map(|n| n.to_string()).collect();
    let mut args = vec!["-k", "-j4", "sh", "-c", script, "sh", ":::"];
    args.extend(words.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .arg("map")
        .args(&args)
        .current_dir(dir.path())
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = String::new();
    for task in 1..=100 {
        for i in 0..2000 {
            want.push_str(&format!("{task}-{i:099}\n"));
        }
    }
    assert!(
        out.stdout == want.as_bytes(),
        "output differs: {} bytes, want {}",
        out.stdout.len(),
        want.len()
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// `--delay D`: a task starts at least D after the one before, even with free
/// slots. Timed from before proctor starts to the last task's own clock: a lower
/// bound that a busy machine can only lengthen (each gap alone is not, as a slow
/// spawn of one task shortens the gap after it).
#[test]
fn delay_spaces_the_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let out = proctor(
        &[
            "-j4",
            "--delay",
            "0.3s",
            "sh",
            "-c",
            "date +%s.%N",
            ":::",
            "1",
            "2",
            "3",
            "4",
        ],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let starts: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().expect("a time"))
        .collect();
    assert_eq!(starts.len(), 4);
    let last = starts.iter().copied().fold(f64::MIN, f64::max);
    assert!(
        last - before >= 0.9,
        "3 delays of 0.3 s: {:?}",
        starts.iter().map(|s| s - before).collect::<Vec<_>>()
    );
}

/// `--shuf`: every task runs once, in some order, numbered in the order run.
#[test]
fn shuf_runs_every_task_once_numbered_as_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let words: Vec<String> = (1..=50).map(|n| n.to_string()).collect();
    let mut args = vec!["-k", "--shuf", "echo", "{#}", "{}", ":::"];
    args.extend(words.iter().map(String::as_str));
    let out = proctor(&args, b"", dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<(u64, u64)> = text
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').expect("two fields");
            (n.parse().expect("number"), v.parse().expect("value"))
        })
        .collect();
    let numbers: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>(), "numbered as run");
    let mut values: Vec<u64> = rows.iter().map(|r| r.1).collect();
    // 50 values in input order by chance: 1 in 50!.
    assert_ne!(values, (1..=50).collect::<Vec<_>>(), "shuffled");
    values.sort_unstable();
    assert_eq!(values, (1..=50).collect::<Vec<_>>(), "each task once");
}

/// `-X` with more values than one command line holds: several tasks, each
/// under the kernel's limit, every value exactly once and in order.
#[test]
fn context_replace_splits_at_the_command_line_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String = (1..=200_000).map(|n| format!("{n}\n")).collect();
    let out = proctor(
        &["-X", "-k", "sh", "-c", "printf '%s\\n' \"$@\"", "sh"],
        input.as_bytes(),
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == input.as_bytes(), "every value once, in order");
    let tasks = proctor(
        &["-X", "--json", "sh", "-c", "true", "sh"],
        input.as_bytes(),
        dir.path(),
    );
    let count = String::from_utf8_lossy(&tasks.stdout)
        .lines()
        .filter(|l| l.contains("\"event\":\"task\""))
        .count();
    assert!(
        count >= 2,
        "200,000 values need more than one command line: {count}"
    );
}

/// `--pipe`: stdin in blocks, each to one task's stdin; with -k the blocks'
/// output in order is stdin again, byte for byte; the spool does not outlive
/// the run.
#[test]
fn pipe_feeds_every_byte_once_in_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = tempfile::tempdir().expect("tmpdir");
    let input: Vec<u8> = (0..200_000u32)
        .flat_map(|n| {
            let mut line = format!("line {n} \u{e9}").into_bytes();
            line.extend_from_slice(b"\xff\n");
            line
        })
        .collect();
    let run = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
            .arg("map")
            .args(args)
            .current_dir(dir.path())
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run proctor map");
        let mut stdin = child.stdin.take().expect("stdin");
        let data = input.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer").expect("write stdin");
        out
    };
    let out = run(&["--pipe", "--block", "64k", "-k", "-j3", "cat"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == input,
        "{} bytes back, want {}",
        out.stdout.len(),
        input.len()
    );
    let counts = run(&["--pipe", "--block", "64k", "-k", "wc", "-c"]);
    let sizes: Vec<usize> = String::from_utf8_lossy(&counts.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("a count"))
        .collect();
    assert!(sizes.len() > 10, "{} blocks", sizes.len());
    assert_eq!(sizes.iter().sum::<usize>(), input.len());
    // Every block but the last reaches 64 KiB and ends at a record end.
    assert!(
        sizes[..sizes.len() - 1]
            .iter()
            .all(|&s| (65_536..65_536 + 40).contains(&s)),
        "{sizes:?}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// A `--pipe` run killed by SIGKILL cannot remove its spool directory; the next
/// `--pipe` run with the same `$TMPDIR` removes it (its owner is gone).
#[test]
fn a_killed_pipe_runs_spool_is_swept_by_the_next_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["map", "--pipe", "--block", "1K", "-j", "1", "--"])
        .args(["sh", "-c", "sleep 60"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run proctor map --pipe");
    let mut input = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let line = [b'x'; 99];
        for _ in 0..1000 {
            if input
                .write_all(&line)
                .and_then(|()| input.write_all(b"\n"))
                .is_err()
            {
                return;
            }
        }
    });
    let spools = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(tmp.path())
            .expect("read TMPDIR")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains(".proctor-pipe-"))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while spools().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no spool appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL proctor");
    child.wait().expect("reap proctor");
    writer.join().expect("writer");
    let stale = spools();
    assert_eq!(stale.len(), 1, "the killed run's spool is left: {stale:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["map", "--pipe", "--", "wc", "-c"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run proctor map --pipe again");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(spools().is_empty(), "left: {:?}", spools());
}

/// Ctrl-C: the tasks proctor stops are reported as stopped by the interrupt,
/// not as failures of their own, and the run exits 130.
#[test]
fn tasks_stopped_by_ctrl_c_are_not_called_failed() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["map", "-j", "2", "--line-buffer", "--"])
        .args(["sh", "-c", "echo up; sleep 60", "sh", ":::", "a", "b", "c"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proctor map");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Both running tasks have started once each said so.
    for _ in 0..2 {
        let line = lines.next().expect("a task's line").expect("read");
        assert_eq!(line, "up");
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT proctor");
    let out = child.wait_with_output().expect("wait for proctor");
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 of 2 task(s) stopped by the interrupt"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("failed"), "stderr: {stderr}");
}
