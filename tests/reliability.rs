//! What proctor promises, proven with real processes: nothing left behind, signals
//! only where they belong, floods and hostile output handled, bad input refused.
//! Leftovers are counted through /proc, never through proctor's own bookkeeping.

#![allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is the point

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A script whose grandchildren escape in every way: one stays in the group, one
/// leaves with setsid, one double-forks away. It prints their pids, then waits.
const ESCAPERS: &str = "sh=sleep 300 & echo $!; setsid sleep 301 & echo $!; \
                        (setsid sh -c 'sleep 302 & echo $!' &); sleep 300";

/// Pids printed by the ESCAPERS worker (waits until all three are known).
fn escaper_pids(p: &mut Live) -> Vec<u32> {
    let mut pids = Vec::new();
    while pids.len() < 3 {
        let v = p.next("a grandchild pid", |v| {
            v["event"] == "output" && v["worker"] == "sh"
        });
        if let Some(pid) = v["line"].as_str().and_then(|l| l.parse().ok()) {
            pids.push(pid);
        }
    }
    pids
}

fn assert_all_gone(pids: &[u32], route: &str) {
    for &pid in pids {
        assert!(
            wait_gone(pid),
            "after {route}, process {pid} is still running"
        );
    }
}

/// Starts ESCAPERS, ends proctor with `signal`, and checks nothing is left.
fn end_by_signal(signal: i32, expected_status: i32, route: &str) {
    let mut p = Live::start(&["--stop-grace", "1s", "--shell", ESCAPERS], false);
    let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap() as u32;
    let mut pids = escaper_pids(&mut p);
    pids.push(leader);
    // SAFETY: signalling the proctor child this test started.
    unsafe { libc::kill(p.pid() as i32, signal) };
    let run = p.finish();
    assert_eq!(run.code(), Some(expected_status), "{route}: {}", run.stderr);
    assert_all_gone(&pids, route);
}

#[test]
fn nothing_is_left_after_sigint() {
    end_by_signal(libc::SIGINT, 130, "SIGINT");
}

#[test]
fn nothing_is_left_after_sighup() {
    end_by_signal(libc::SIGHUP, 129, "SIGHUP");
}

#[test]
fn nothing_is_left_after_sigterm() {
    end_by_signal(libc::SIGTERM, 143, "SIGTERM");
}

#[test]
fn nothing_is_left_after_a_panic_in_proctor() {
    let out = Command::new(BIN)
        .args([
            "--headless",
            "--stop-grace",
            "1s",
            "--shell",
            "sleep 300 & echo $! $$; wait",
        ])
        .env("PROCTOR_TEST_PANIC", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(101), "a panic exits 101");
    assert!(String::from_utf8_lossy(&out.stderr).contains("induced by PROCTOR_TEST_PANIC"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "output")
        .expect("the worker's pids were printed before the panic");
    let pids: Vec<u32> = line["line"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert_all_gone(&pids, "a panic");
}

#[test]
fn no_zombie_lingers_among_proctors_children() {
    // Orphans re-parented to proctor exit one after another while the worker runs.
    // The worker outlives the watch below, so every zombie is proctor's to reap
    // (after proctor exits, init would reap them and the test would prove nothing).
    let script = "for i in 1 2 3 4 5 6 7 8; do (sleep 0.$i &); done; sleep 6";
    let mut p = Live::start(&["--interval", "200ms", "--shell", script], false);
    p.wait_event("spawned", "sh");
    let proctor = p.pid();
    let mut first_seen = std::collections::HashMap::new();
    let mut longest = Duration::ZERO;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        for child in proctor::sample::proc::children(proctor) {
            if state(child) == Some('Z') {
                let since = *first_seen.entry(child).or_insert_with(Instant::now);
                longest = longest.max(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        p.child.try_wait().is_ok_and(|s| s.is_none()),
        "proctor ended during the watch"
    );
    // Reaping follows SIGCHLD at once; 1 s is the bound for a busy machine.
    assert!(
        longest < Duration::from_secs(1),
        "a zombie child lingered {longest:?}"
    );
    assert_eq!(p.finish().code(), Some(0));
}

#[test]
fn workers_are_signalled_through_pidfds() {
    // strace records how proctor sends each signal: through the worker's pidfd
    // (which cannot point at a recycled pid), never kill(2) on its bare pid.
    let strace = std::process::Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "this test needs strace: install it (e.g. `apt-get install -y strace`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let mut cmd = std::process::Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=kill,tkill,tgkill,pidfd_send_signal",
        "-o",
    ])
    .arg(&trace)
    .args([common::BIN, "--headless", "--control", "-", "sleep 300"]);
    let mut p = Live::start_command(cmd, true);
    let pid = p.wait_event("spawned", "sleep")["pid"].as_u64().unwrap();
    p.send(r#"{"cmd":"signal","worker":"sleep","signal":"USR1","group":false}"#);
    p.wait_event("exited", "sleep");
    p.close();
    p.finish();
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace.contains("pidfd_send_signal(") && trace.contains("SIGUSR1"),
        "no pidfd_send_signal in:\n{trace}"
    );
    let by_pid = format!("kill({pid}, SIGUSR1)");
    assert!(!trace.contains(&by_pid), "signalled by pid:\n{trace}");
}

#[test]
fn commands_address_workers_by_name_never_by_pid() {
    let mut p = Live::start(&["sleep 300"], true);
    let pid = p.wait_event("spawned", "sleep")["pid"].as_u64().unwrap();
    p.send(&format!(r#"{{"cmd":"kill","worker":"{pid}"}}"#));
    p.send(r#"{"cmd":"kill","pid":1}"#);
    p.send(r#"{"cmd":"terminate","worker":"sleep"}"#);
    p.wait_event("exited", "sleep");
    p.close();
    let run = p.finish();
    let unknown = format!("no worker named '{pid}'");
    assert!(
        run.of("error")
            .iter()
            .any(|e| e["message"].as_str().unwrap_or_default().contains(&unknown)),
        "{:?}",
        run.of("error")
    );
    assert!(
        run.stderr.contains("'kill' takes no \"pid\""),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.exit_of("sleep")["code"],
        -15,
        "only the named worker was stopped"
    );
}

#[test]
fn a_thousand_workers_start_and_are_joined_in_one_run() {
    let (_dir, path) = temp_file(
        "k.json",
        r#"{"max_parallel":64,"jobs":[{"name":"w","cmd":["true"],"count":1000}]}"#,
    );
    let run = run(&["--output", "none", "-f", &path]);
    assert_eq!(run.of("exited").len(), 1000);
    assert!(run.of("exited").iter().all(|e| e["code"] == 0));
    assert_eq!(run.code(), Some(0));
}

#[test]
fn five_thousand_queued_jobs_drain_through_four_slots() {
    let (_dir, path) = temp_file(
        "q.json",
        r#"{"max_parallel":4,"jobs":[{"name":"q","cmd":["true"],"count":5000}]}"#,
    );
    let run = run(&["--output", "none", "-f", &path]);
    assert_eq!(run.of("exited").len(), 5000);
    let queue = run.of("queue");
    assert!(queue.iter().all(|q| q["running"].as_u64().unwrap() <= 4));
    assert_eq!(
        queue.iter().map(|q| q["depth"].as_u64().unwrap()).max(),
        Some(4996)
    );
    assert_eq!(run.code(), Some(0));
}

#[test]
fn a_10_mb_line_without_newline_and_binary_junk_are_stored_safely() {
    let run = run(&[
        "--shell",
        "sh=head -c 10000000 /dev/zero | tr '\\0' x",
        "head -c 2000000 /dev/urandom",
    ]);
    let long = run.output_of("sh");
    assert_eq!(long.len(), 1);
    assert!(
        long[0].ends_with("more bytes]"),
        "the 10 MB line is cut and marked"
    );
    assert!(long[0].len() < 70 * 1024);
    assert!(!run.output_of("head").is_empty());
    assert_eq!(run.code(), Some(0));
}

#[test]
fn four_gigabyte_floods_finish_with_bounded_memory_and_a_responsive_engine() {
    let flood = "sh -c 'yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 1000000000'";
    let mut p = Live::start(
        &[
            "--output",
            "none",
            "-j",
            "5",
            flood,
            flood,
            flood,
            flood,
            "sleep 300",
        ],
        true,
    );
    p.wait_event("spawned", "sleep");
    let proctor = p.pid();
    // While the floods run, commands still get their events promptly.
    let mut worst = Duration::ZERO;
    for n in [6, 5, 6, 5] {
        std::thread::sleep(Duration::from_millis(300));
        let sent = Instant::now();
        p.send(&format!(r#"{{"cmd":"max_parallel","n":{n}}}"#));
        p.next("the queue event", |v| {
            v["event"] == "queue" && v["max_parallel"] == n
        });
        worst = worst.max(sent.elapsed());
    }
    for w in ["sh", "sh-2", "sh-3", "sh-4"] {
        assert_eq!(p.wait_event("exited", w)["code"], 0);
    }
    let peak_kb = std::fs::read_to_string(format!("/proc/{proctor}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0);
    p.send(r#"{"cmd":"kill","worker":"sleep"}"#);
    p.close();
    p.finish();
    // Generous bounds for a busy 2-core machine; the benchmarks hold the tight figures.
    assert!(
        worst < Duration::from_secs(2),
        "a command waited {worst:?} for its event"
    );
    assert!(peak_kb < 200 * 1024, "peak RSS {peak_kb} kB");
}

#[test]
fn hostile_output_never_reaches_stdout_raw() {
    let script =
        r"printf '\033[2J\033[H\033]0;pwned\007\033]52;c;aGVsbG8=\007\033[?2004h\233[31mred\n'";
    let mut cmd = Command::new(BIN);
    cmd.args(["--headless", "--shell", script])
        .stdout(Stdio::piped());
    let out = cmd.output().expect("run proctor");
    assert!(!out.stdout.contains(&0x1b), "raw ESC in proctor's stdout");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r"\u001b[2J"), "ESC is JSON-escaped: {text}");
    assert!(text.contains("pwned"), "{text}");
}

#[test]
fn bad_workload_files_exit_2_with_a_position_and_start_nothing() {
    let dir = format!("{}/tests/invalid_workloads", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path().to_string_lossy().into_owned();
        let run = run(&["-f", &path]);
        assert_eq!(run.code(), Some(2), "{path}: {}", run.stderr);
        assert!(run.events.is_empty(), "{path} started something");
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            run.stderr.contains(&format!("{name}:")),
            "{path}: {}",
            run.stderr
        );
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn bad_values_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        (r#"{"jobs":[{"cmd":["true"],"count":100000}]}"#, "10000"),
        (
            r#"{"max_parallel":-1,"jobs":[{"cmd":["true"]}]}"#,
            "max_parallel",
        ),
        (r#"{"jobs":[{"cmd":["true"],"env":{"A=B":"x"}}]}"#, "A=B"),
        (
            r#"{"jobs":[{"cmd":["true"],"env":{"A\u0000":"x"}}]}"#,
            "NUL",
        ),
        (
            r#"{"jobs":[{"cmd":["true"],"stop_signal":"NOPE"}]}"#,
            "NOPE",
        ),
        (
            r#"{"jobs":[{"name":"a","cmd":["true"]},{"name":"a","cmd":["true"]}]}"#,
            "duplicate",
        ),
        (r#"{"jobs":[{"cmd":[]}]}"#, "cmd"),
    ];
    for (json, needle) in cases {
        let (_dir, path) = temp_file("w.json", json);
        let run = run(&["-f", &path]);
        assert_eq!(run.code(), Some(2), "{json}");
        assert!(run.stderr.contains(needle), "{json}: {}", run.stderr);
    }
    let run = run(&["--control", "/no/such/control", "true"]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("/no/such/control"), "{}", run.stderr);
}

/// proctor under a hard open-file limit of 64 with 200 workers allowed at once:
/// instead of failing with "Too many open files", the workers that do not fit
/// wait in the queue, which says why (`held_by`), and every worker runs. At both
/// containment levels, and with log files (two more descriptors per worker).
#[test]
fn a_low_open_file_limit_queues_workers_instead_of_failing_them() {
    let logs = tempfile::tempdir().unwrap();
    let log_dir = logs.path().to_str().unwrap();
    let cases: [(&str, &[&str]); 3] = [
        ("auto", &[]),
        ("ledger", &[]),
        ("auto", &["--log-dir", log_dir]),
    ];
    for (level, extra) in cases {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", BIN])
            .args(["--headless", "-j", "200"])
            .args(extra)
            .args(std::iter::repeat_n("sh -c 'echo hi; sleep 0.05'", 200))
            .env("PROCTOR_CONTAINMENT", level);
        let run = Live::start_command(cmd, false).finish();
        let case = format!("{level} {extra:?}");
        assert!(
            run.of("failed").is_empty(),
            "{case}: {:#?}",
            run.of("failed")
        );
        let exited = run.of("exited");
        assert_eq!(exited.len(), 200, "{case}: {}", run.stderr);
        assert!(exited.iter().all(|e| e["code"] == 0), "{case}");
        assert_eq!(run.of("output").len(), 200, "{case}: output lost");
        let held: Vec<_> = run
            .of("queue")
            .into_iter()
            .filter(|q| q["held_by"] == "open_files")
            .collect();
        assert!(
            !held.is_empty(),
            "{case}: no queue event says what held work back"
        );
        let slots = held[0]["open_file_slots"].as_u64().unwrap();
        assert!((1..64).contains(&slots), "{case}: {}", held[0]);
        assert!(
            held.iter().all(|q| q["depth"].as_u64().unwrap() > 0),
            "{case}: held_by with an empty queue"
        );
        assert!(
            run.of("queue")
                .iter()
                .all(|q| q["running"].as_u64().unwrap() <= slots),
            "{case}: more workers ran than fit"
        );
        assert_eq!(run.code(), Some(0), "{case}");
    }
}
