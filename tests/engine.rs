//! The engine end to end, through the headless front end, with real processes.

#![allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is the point

mod common;

use common::*;

#[test]
fn every_exit_code_0_to_255_is_reported_exactly() {
    let jobs: Vec<String> = (0..=255)
        .map(|n| format!(r#"{{"name":"c{n}","cmd":["sh","-c","exit {n}"]}}"#))
        .collect();
    let (_dir, path) = temp_file(
        "codes.json",
        &format!(r#"{{"max_parallel":8,"jobs":[{}]}}"#, jobs.join(",")),
    );
    let run = run(&["--output", "none", "-f", &path]);
    for n in 0..=255 {
        let e = run.exit_of(&format!("c{n}"));
        assert_eq!(e["code"], n, "{e}");
        assert!(e.get("signal").is_none(), "{e}");
    }
    assert_eq!(run.code(), Some(1), "some worker exited non-zero");
}

#[test]
fn signal_deaths_are_negative_with_the_name_and_distinct_from_exit_137() {
    let run = run(&[
        "sh -c 'kill -9 $$'",
        "sh -c 'kill -TERM $$'",
        "sh -c 'exit 137'",
    ]);
    let e = run.exit_of("sh");
    assert_eq!(
        (e["code"].as_i64(), e["signal"].as_str()),
        (Some(-9), Some("SIGKILL"))
    );
    let e = run.exit_of("sh-2");
    assert_eq!(
        (e["code"].as_i64(), e["signal"].as_str()),
        (Some(-15), Some("SIGTERM"))
    );
    let e = run.exit_of("sh-3");
    assert_eq!(e["code"], 137);
    assert!(e.get("signal").is_none());
    let summary = &run.of("summary")[0];
    assert_eq!(summary["ok"], false);
}

#[test]
fn a_program_that_cannot_start_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "not a program").unwrap();
    let plain = plain.to_string_lossy().into_owned();
    let dirname = dir.path().to_string_lossy().into_owned();
    let run = run(&["no-such-program-xyz", &plain, &dirname, "echo still-here"]);
    let failed = run.of("failed");
    assert_eq!(failed.len(), 3, "{:#?}", run.events);
    let errors: Vec<&str> = failed
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert!(
        errors[0].contains("No such file or directory"),
        "{errors:?}"
    );
    assert!(errors[1].contains("not executable"), "{errors:?}");
    assert!(errors[2].contains("is a directory"), "{errors:?}");
    assert_eq!(run.output_of("echo"), ["still-here"]);
    assert_eq!(run.exit_of("echo")["code"], 0);
    assert_eq!(run.code(), Some(1));
}

#[test]
fn a_bad_cwd_fails_that_worker_with_the_reason() {
    let (_dir, path) = temp_file(
        "cwd.json",
        r#"{"jobs":[{"name":"lost","cmd":["pwd"],"cwd":"/no/such/dir"},{"name":"ok","cmd":["pwd"],"cwd":"/"}]}"#,
    );
    let run = run(&["-f", &path]);
    let failed = run.of("failed");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("/no/such/dir"),
        "{failed:?}"
    );
    assert_eq!(run.output_of("ok"), ["/"]);
}

#[test]
fn the_pool_never_runs_more_than_max_parallel() {
    let cmds: Vec<String> = (0..6)
        .map(|i| format!("sh -c 'sleep 0.3; echo {i}'"))
        .collect();
    let mut args = vec!["-j", "2"];
    args.extend(cmds.iter().map(String::as_str));
    let run = run(&args);
    let mut running = 0i32;
    let mut peak = 0;
    for e in &run.events {
        match e["event"].as_str() {
            Some("spawned") => running += 1,
            Some("exited") => running -= 1,
            _ => {}
        }
        peak = peak.max(running);
    }
    assert_eq!(peak, 2, "{:#?}", run.events);
    assert!(
        run.of("queue")
            .iter()
            .all(|q| q["running"].as_u64().unwrap() <= 2)
    );
    assert_eq!(run.of("exited").len(), 6);
    assert_eq!(run.code(), Some(0));
}

#[test]
fn terminate_escalates_to_sigkill_for_a_worker_that_traps_term() {
    let mut p = Live::start(
        &[
            "--stop-grace",
            "500ms",
            "sh -c 'trap \"echo caught\" TERM; echo ready; while :; do sleep 0.05; done'",
        ],
        true,
    );
    p.wait_for("ready", |v| v["line"] == "ready");
    p.send(r#"{"cmd":"terminate","worker":"sh"}"#);
    let stopping = p.wait_event("stopping", "sh");
    assert_eq!(stopping["signal"], "SIGTERM");
    p.wait_event("killed", "sh");
    let exited = p.wait_event("exited", "sh");
    assert_eq!(exited["code"], -9);
    assert_eq!(exited["signal"], "SIGKILL");
    p.close();
    let run = p.finish();
    assert!(
        run.output_of("sh").contains(&"caught".to_string()),
        "TERM was delivered first"
    );
}

#[test]
fn signals_pause_and_resume_reach_the_worker() {
    let mut p = Live::start(
        &["sh -c 'trap \"echo got-usr1\" USR1; echo ready; while :; do sleep 0.05; done'"],
        true,
    );
    let spawned = p.wait_event("spawned", "sh");
    let pid = spawned["pid"].as_u64().unwrap() as u32;
    p.wait_for("ready", |v| v["line"] == "ready");
    p.send(r#"{"cmd":"signal","worker":"sh","signal":"USR1"}"#);
    p.wait_for("usr1 handled", |v| v["line"] == "got-usr1");
    p.send(r#"{"cmd":"pause","worker":"sh"}"#);
    p.wait_event("signaled", "sh");
    // Paused: every process of the tree stopped, or (when SIGSTOP caught the
    // shell's vfork child before its exec) the shell waiting in D for that
    // stopped child, which it cannot get past until resume.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !tree_paused(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "worker never paused: state {:?}, children {:?}",
            state(pid),
            children_of(pid)
                .iter()
                .map(|&c| (c, state(c)))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    p.send(r#"{"cmd":"resume","worker":"sh"}"#);
    // Running again: the shell itself runs its trap (a paused shell could not).
    p.send(r#"{"cmd":"signal","worker":"sh","signal":"USR1"}"#);
    p.next("usr1 handled after resume", |v| v["line"] == "got-usr1");
    assert!(!tree_paused(pid), "worker still paused after resume");
    p.send(r#"{"cmd":"kill","worker":"sh"}"#);
    let exited = p.wait_event("exited", "sh");
    assert_eq!(exited["code"], -9);
    p.close();
    // Killed on request: stopped, not failed.
    assert_eq!(p.finish().code(), Some(0));
}

#[test]
fn join_times_out_then_reports_the_exit_status() {
    let mut p = Live::start(&["sleep 300"], true);
    p.wait_event("spawned", "sleep");
    p.send(r#"{"cmd":"join","worker":"sleep","timeout_s":0.3}"#);
    p.wait_event("join_timeout", "sleep");
    p.send(r#"{"cmd":"join","worker":"sleep"}"#);
    p.send(r#"{"cmd":"kill","worker":"sleep"}"#);
    let joined = p.wait_event("joined", "sleep");
    assert_eq!(joined["code"], -9);
    assert_eq!(joined["signal"], "SIGKILL");
    p.send(r#"{"cmd":"join"}"#);
    let all = p.wait_for("join all", |v| {
        v["event"] == "joined" && v.get("worker").is_none()
    });
    assert_eq!(all["ok"], true, "a worker killed on request did not fail");
    assert_eq!(p.finish().status.code(), Some(0));
}

#[test]
fn grandchildren_that_escape_the_group_are_stopped_and_reaped() {
    // One grandchild stays in the group, one leaves with setsid, one double-forks;
    // the worker itself exits at once, leaving all three to proctor as subreaper.
    let script = "sh=sleep 300 & echo $!; setsid sleep 301 & echo $!; \
                  (setsid sh -c 'sleep 302 & echo $!' &); sleep 0.2; exit 0";
    let run = run(&["--shell", "--stop-grace", "1s", script]);
    let pids: Vec<u32> = run
        .output_of("sh")
        .iter()
        .filter_map(|l| l.parse().ok())
        .collect();
    assert_eq!(pids.len(), 3, "{:#?}", run.events);
    for pid in pids {
        assert!(!alive(pid), "grandchild {pid} survived proctor");
    }
    assert_eq!(run.exit_of("sh")["code"], 0);
}

#[test]
fn a_worker_blasting_200_mb_finishes_with_bounded_memory() {
    let mut p = Live::start(
        &[
            "--output",
            "none",
            "--ring-lines",
            "10000",
            "sh -c 'yes 0123456789012345678901234567890123456789 | head -c 200000000'",
        ],
        false,
    );
    let proctor = p.pid();
    let mut peak_kb = 0u64;
    let sampler = std::thread::spawn(move || {
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{proctor}/status")) {
            if let Some(kb) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        peak_kb
    });
    let exited = p.wait_event("exited", "sh");
    assert_eq!(exited["code"], 0);
    let run = p.finish();
    let peak_kb = sampler.join().unwrap();
    assert!(
        peak_kb > 0 && peak_kb < 100 * 1024,
        "proctor peak RSS {peak_kb} kB"
    );
    assert_eq!(run.code(), Some(0));
}

#[test]
fn commands_are_split_into_words_and_never_given_to_a_shell() {
    let run = run(&["printf '%s\\n' 'a b' \"c;d\" '$(id)' x\\ y"]);
    assert_eq!(run.output_of("printf"), ["a b", "c;d", "$(id)", "x y"]);
    let run2 = common::run(&["--shell", "sh=echo one; echo two"]);
    assert_eq!(run2.output_of("sh"), ["one", "two"]);
}

#[test]
fn stderr_is_captured_as_its_own_stream_and_output_precedes_the_exit() {
    let run = run(&["--shell", "echo out; echo err >&2; printf 'no newline'"]);
    let outs = run.of("output");
    assert!(
        outs.iter()
            .any(|e| e["stream"] == "stderr" && e["line"] == "err")
    );
    assert!(
        outs.iter()
            .any(|e| e["stream"] == "stdout" && e["line"] == "no newline")
    );
    let exit_at = run
        .events
        .iter()
        .position(|e| e["event"] == "exited")
        .unwrap();
    let last_output = run
        .events
        .iter()
        .rposition(|e| e["event"] == "output")
        .unwrap();
    assert!(
        last_output < exit_at,
        "output must come before the exited event"
    );
}

#[test]
fn sigterm_to_proctor_stops_every_worker_and_exits_143() {
    let mut p = Live::start(&["sleep 300", "sleep 301"], false);
    let a = p.wait_event("spawned", "sleep")["pid"].as_u64().unwrap() as u32;
    let b = p.wait_event("spawned", "sleep-2")["pid"].as_u64().unwrap() as u32;
    // SAFETY: signalling the proctor child this test started.
    unsafe { libc::kill(p.pid() as i32, libc::SIGTERM) };
    let run = p.finish();
    assert_eq!(run.code(), Some(143));
    assert!(!run.of("interrupted").is_empty());
    assert!(!alive(a) && !alive(b));
}

#[test]
fn workers_die_with_proctor_even_when_it_is_sigkilled() {
    let mut p = Live::start(&["sleep 300"], false);
    let pid = p.wait_event("spawned", "sleep")["pid"].as_u64().unwrap() as u32;
    p.child.kill().unwrap();
    let _ = p.child.wait();
    assert!(wait_gone(pid), "worker {pid} outlived a SIGKILLed proctor");
}

#[test]
fn workers_start_with_null_stdin_and_a_clean_signal_mask() {
    // proctor's own stdin is a pipe holding data: a worker must see none of it.
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args([
        "--headless",
        "--shell",
        "sh=grep -E '^(SigBlk|SigIgn)' /proc/self/status; readlink /proc/self/fd/0; cat; echo eof",
    ]);
    let mut p = common::Live::start_command(cmd, true);
    p.send("data on proctor's stdin");
    let run = p.finish();
    let lines = run.output_of("sh");
    // SigBlk/SigIgn come from /proc: a worker must inherit nothing blocked or ignored.
    assert!(
        lines.contains(&"SigBlk:\t0000000000000000".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"SigIgn:\t0000000000000000".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"/dev/null".to_string()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("data on")), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("eof"));
}

#[test]
fn usage_errors_exit_2_and_start_nothing() {
    let run = run(&[]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("nothing to run"), "{}", run.stderr);
    let run = common::run(&["-j", "0", "true"]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("out of range"), "{}", run.stderr);
    let run = common::run(&["--interval", "10ms", "true"]);
    assert_eq!(run.code(), Some(2));
    let run = common::run(&["echo 'unbalanced"]);
    assert_eq!(run.code(), Some(2));
    assert!(run.events.is_empty());
}

#[test]
fn timeout_terminates_and_is_reported_as_timed_out() {
    let (_dir, path) = temp_file(
        "t.json",
        r#"{"stop_grace_ms":500,"jobs":[{"name":"late","cmd":["sleep","30"],"timeout_s":0.5}]}"#,
    );
    let run = run(&["-f", &path]);
    let e = run.exit_of("late");
    assert_eq!(e["timed_out"], true);
    assert_eq!(e["code"], -15);
    assert!(e["runtime_s"].as_f64().unwrap() < 20.0);
    assert_eq!(run.code(), Some(1));
}

#[test]
fn on_failure_restarts_until_max_restarts() {
    let (_dir, path) = temp_file(
        "r.json",
        r#"{"jobs":[{"name":"flaky","shell":"echo run; exit 4","restart":"on-failure","max_restarts":2}]}"#,
    );
    let run = run(&["-f", &path]);
    assert_eq!(run.output_of("flaky"), ["run", "run", "run"]);
    assert_eq!(run.of("restarting").len(), 2);
    let last = run.of("exited").last().copied().cloned().unwrap();
    assert_eq!(last["restarts"], 2);
    assert_eq!(run.code(), Some(1));
}

#[test]
fn log_dir_keeps_raw_output_and_none_mode_keeps_it_out_of_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().to_string_lossy().into_owned();
    let run = run(&[
        "--output",
        "none",
        "--log-dir",
        &logs,
        "--shell",
        "sh=echo to-out; echo to-err >&2",
    ]);
    assert!(run.of("output").is_empty());
    let out = std::fs::read_to_string(dir.path().join("sh.out.log")).unwrap();
    let err = std::fs::read_to_string(dir.path().join("sh.err.log")).unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("to-out\n", "to-err\n"));
}

#[test]
fn launch_over_the_control_stream_and_env_settings_apply() {
    let mut p = Live::start(&[], true);
    p.send(r#"{"cmd":"launch","job":{"name":"env","shell":"echo $GREETING-$HOME","env":{"GREETING":"hi"},"env_clear":true,"count":2}}"#);
    p.wait_event("exited", "env#1");
    p.wait_event("exited", "env#2");
    p.close();
    let run = p.finish();
    assert_eq!(run.output_of("env#1"), ["hi-"]);
    assert_eq!(run.code(), Some(0));
}

#[test]
fn a_bad_workload_file_names_the_field_and_line_and_starts_nothing() {
    let text = "{\n  \"jobs\": [\n    {\"name\": \"a\", \"cmd\": [\"touch\", \"MARKER\"]},\n    {\"name\": \"b\", \"cmd\": [\"true\"], \"count\": 0}\n  ]\n}\n";
    let (dir, path) = temp_file("bad.json", text);
    let marker = dir.path().join("MARKER");
    let text = text.replace("MARKER", &marker.to_string_lossy());
    std::fs::write(&path, text).unwrap();
    let run = run(&["-f", &path]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("bad.json:4:"), "{}", run.stderr);
    assert!(run.stderr.contains("jobs[1].count"), "{}", run.stderr);
    assert!(run.events.is_empty());
    assert!(!marker.exists(), "nothing may start");
    let run = common::run(&["-f", "/"]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("is a directory"), "{}", run.stderr);
}

#[test]
fn restart_kills_what_the_previous_run_left_behind() {
    // The child ignores TERM; the shell leaves on TERM. A restart must not leave the
    // old child running beside the new run's.
    let script =
        "(trap '' TERM; exec sleep 301) & echo $!; trap 'exit 0' TERM; while :; do sleep 0.1; done";
    let mut p = Live::start(&["--stop-grace", "30s", "--shell", script], true);
    let first = p.wait_event("spawned", "sh")["pid"].clone();
    let old: u32 = p.wait_for("the child's pid", |v| v["event"] == "output")["line"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    p.send(r#"{"cmd":"restart","worker":"sh"}"#);
    p.wait_for("the second run", |v| {
        v["event"] == "spawned" && v["worker"] == "sh" && v["pid"] != first
    });
    assert!(
        wait_gone(old),
        "the first run's child {old} survived the restart"
    );
    p.send(r#"{"cmd":"kill","worker":"sh"}"#);
    p.close();
    p.finish();
}

#[test]
fn a_stalled_reader_of_proctors_stdout_does_not_stall_stopping() {
    use std::process::{Command, Stdio};
    // Nobody reads proctor's stdout while a worker floods it and ignores TERM.
    let mut child = Command::new(BIN)
        .args([
            "--headless",
            "--stop-grace",
            "500ms",
            "--shell",
            "trap '' TERM; echo $$; yes flood",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut worker = None;
    for _ in 0..10 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "output" {
            worker = v["line"].as_str().and_then(|l| l.parse::<u32>().ok());
            break;
        }
    }
    let worker = worker.expect("the worker printed its pid");
    // SAFETY: signalling the proctor child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(
        wait_gone(worker),
        "the worker outlived the stop while stdout was stalled"
    );
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut out, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn a_low_open_file_limit_does_not_cap_the_pool_and_workers_get_it_back() {
    let bin = BIN;
    let script = format!("ulimit -Sn 256; exec {bin} --headless -j 300 -f /dev/stdin");
    let workload = r#"{"jobs":[{"name":"s","cmd":["sleep","0.5"],"count":300},
                                {"name":"limit","shell":"ulimit -Sn"}]}"#;
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), workload.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let failed = text
        .lines()
        .filter(|l| l.contains("\"event\":\"failed\""))
        .count();
    assert_eq!(failed, 0, "spawns failed under a 256 fd limit");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.contains(r#""worker":"limit","stream":"stdout","line":"256""#),
        "{text}"
    );
}

#[test]
fn workers_are_named_after_their_program_or_a_leading_name() {
    let spawned = |run: &Run| -> Vec<String> {
        let mut names: Vec<String> = run
            .of("spawned")
            .iter()
            .map(|e| e["worker"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    };
    // A script is named after the first program it runs, not `sh`.
    let run = common::run(&[
        "--shell",
        "cat /dev/null | base64",
        "env FOO=1 true",
        "cat /dev/null",
        "web=echo hi",
        "sh=FOO=1 exec true",
    ]);
    assert_eq!(spawned(&run), ["cat", "cat-2", "sh", "true", "web"]);
    assert_eq!(run.code(), Some(0));
    assert_eq!(run.output_of("web"), ["hi"]);
    // `NAME=COMMAND` names a job; `env` keeps an assignment a command.
    let run = common::run(&["web=echo hi", "env FOO=bar printenv FOO"]);
    assert_eq!(spawned(&run), ["env", "web"]);
    assert_eq!(run.output_of("env"), ["bar"]);
    assert_eq!(run.code(), Some(0));
    // A name given twice is a usage error: nothing starts.
    let run = common::run(&["a=true", "a=false"]);
    assert_eq!(run.code(), Some(2));
    assert!(
        run.stderr.contains("duplicate job name 'a'"),
        "{}",
        run.stderr
    );
    assert!(run.of("spawned").is_empty());
}
