//! Containment, proven with real processes: after proctor ends by any route
//! (SIGKILL, any terminating signal, a panic on the engine thread) nothing it
//! started is left, and a daemon a worker started still belongs to that worker.
//! Each test runs at both containment levels (cgroup where this machine allows it,
//! and the ledger fallback). Processes are identified by (pid, start time) read
//! from /proc, never through proctor's own bookkeeping, and every test kills what
//! it finds left over, so a failure leaves nothing running on the machine.

#![allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is the point

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Every kind of descendant that escaped a SIGKILL of proctor before: one in the
/// worker's group, one in its own group, a setsid child, a double-forked daemon and
/// a TERM-ignorer. Each prints its pid; then the worker waits.
const FIVE_KINDS: &str = "sh=sleep 300 & echo $!; \
    sh -c 'set -m; sleep 300 & echo $!; wait' & \
    setsid sleep 300 & echo $!; \
    (setsid sh -c 'sleep 300 & echo $!' &); \
    sh -c 'trap \"\" TERM; sleep 300 & echo $!; wait' & \
    sleep 300";

/// The two levels: `auto` (cgroup where allowed) and the forced ledger fallback.
const LEVELS: [&str; 2] = ["auto", "ledger"];

/// (pid, start time) of a process, read from /proc/PID/stat.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Proc {
    pid: u32,
    start: u64,
}

impl Proc {
    fn of(pid: u32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let start = stat
            .rsplit(')')
            .next()?
            .split_whitespace()
            .nth(19)?
            .parse()
            .ok()?;
        Some(Proc { pid, start })
    }

    /// Still running (not a zombie) and still the same process.
    fn alive(self) -> bool {
        Proc::of(self.pid) == Some(self) && alive(self.pid)
    }
}

/// Kills on drop whatever of `procs` is still the same process: a failing test
/// must not leave sleeps behind on a shared machine.
struct Cleanup(Vec<Proc>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            if p.alive() {
                // SAFETY: kill with plain integers; the pid was just checked to be
                // the process this test started.
                unsafe { libc::kill(p.pid as i32, libc::SIGKILL) };
            }
        }
    }
}

/// Starts proctor; the Cleanup holds proctor itself, so a test that fails early
/// still ends it (and its keeper then ends what it started).
fn start(level: &str, args: &[&str], control: bool, extra: &[(&str, &str)]) -> (Live, Cleanup) {
    let mut env = vec![("PROCTOR_CONTAINMENT", level)];
    env.extend_from_slice(extra);
    let p = Live::start_with_env(args, control, &env);
    let cleanup = Cleanup(Proc::of(p.pid()).into_iter().collect());
    (p, cleanup)
}

/// Reads `n` pids printed by `worker`.
fn printed_pids(p: &mut Live, worker: &str, n: usize) -> Vec<Proc> {
    let mut out = Vec::new();
    while out.len() < n {
        let v = p.next("a printed pid", |v| {
            v["event"] == "output" && v["worker"] == worker
        });
        let pid: Option<u32> = v["line"].as_str().and_then(|l| l.trim().parse().ok());
        if let Some(proc_) = pid.and_then(Proc::of) {
            out.push(proc_);
        }
    }
    out
}

/// Waits until none of `procs` is alive; returns the ones still alive at `limit`.
fn survivors(procs: &[Proc], limit: Duration) -> Vec<Proc> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<Proc> = procs.iter().copied().filter(|p| p.alive()).collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `started` event names the level in use.
fn assert_level(p: &mut Live, level: &str) {
    let started = p.wait_for("the started event", |v| v["event"] == "started");
    assert_eq!(p.seen[0]["event"], "started", "started must come first");
    // It also names the machine, as the kernel reports it.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    assert!(
        started["os"]
            .as_str()
            .is_some_and(|os| os.contains(release.trim())),
        "{started}"
    );
    assert!(
        started["host"].as_str().is_some_and(|h| !h.is_empty()),
        "{started}"
    );
    if level == "ledger" {
        assert_eq!(started["containment"], "ledger", "{started}");
    } else {
        let c = started["containment"].as_str().unwrap();
        assert!(c == "cgroup" || c == "ledger", "{started}");
    }
}

#[test]
fn nothing_is_left_within_2_s_after_sigkill_of_proctor() {
    for level in LEVELS {
        let (mut p, mut cleanup) = start(level, &["--shell", FIVE_KINDS], false, &[]);
        assert_level(&mut p, level);
        let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap() as u32;
        let mut procs = printed_pids(&mut p, "sh", 5);
        procs.extend(Proc::of(leader));
        cleanup.0.extend(&procs);
        assert!(procs.iter().all(|p| p.alive()), "{level}: not all started");
        // SAFETY: signalling the proctor child this test started.
        unsafe { libc::kill(p.pid() as i32, libc::SIGKILL) };
        let killed = Instant::now();
        let run = p.finish();
        assert_eq!(run.status.code(), None, "{level}: proctor was SIGKILLed");
        let left = survivors(&procs, Duration::from_secs(2));
        assert!(
            left.is_empty(),
            "{level}: alive {:?} after SIGKILL of proctor: {left:?}",
            killed.elapsed()
        );
    }
}

#[test]
fn every_terminating_signal_stops_all_workers_first_and_exits_128_plus_n() {
    let rtmin = libc::SIGRTMIN();
    let rtmax = libc::SIGRTMAX();
    let signals = [
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGPWR,
        libc::SIGSTKFLT,
        libc::SIGABRT,
        rtmin,
        rtmin + 3,
        rtmax,
    ];
    // Without the TERM-ignorer, so each run ends without waiting out the grace.
    let script = "sh=sleep 300 & echo $!; sh -c 'set -m; sleep 300 & echo $!; wait' & \
                  setsid sleep 300 & echo $!; (setsid sh -c 'sleep 300 & echo $!' &); sleep 300";
    for (i, sig) in signals.into_iter().enumerate() {
        let level = LEVELS[i % 2];
        let (mut p, mut cleanup) = start(
            level,
            &["--stop-grace", "5s", "--shell", script],
            false,
            &[],
        );
        let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap() as u32;
        let mut procs = printed_pids(&mut p, "sh", 4);
        procs.extend(Proc::of(leader));
        cleanup.0.extend(&procs);
        // SAFETY: signalling the proctor child this test started.
        unsafe { libc::kill(p.pid() as i32, sig) };
        let run = p.finish();
        assert_eq!(
            run.code(),
            Some(128 + sig),
            "signal {sig} ({level}): {}",
            run.stderr
        );
        assert!(
            !run.of("interrupted").is_empty(),
            "signal {sig}: no interrupted event"
        );
        // proctor stops everything before it exits: nothing may be alive now.
        let left: Vec<Proc> = procs.iter().copied().filter(|p| p.alive()).collect();
        assert!(left.is_empty(), "signal {sig} ({level}): left {left:?}");
    }
}

#[test]
fn a_panic_on_the_engine_thread_stops_every_worker_and_descendant() {
    let script = format!("{FIVE_KINDS} & sleep 0.3; echo panic-now; wait");
    for level in LEVELS {
        let (mut p, mut cleanup) = start(
            level,
            &["--stop-grace", "1s", "--shell", &script],
            false,
            &[("PROCTOR_TEST_ENGINE_PANIC", "1")],
        );
        let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap() as u32;
        let mut procs = printed_pids(&mut p, "sh", 5);
        procs.extend(Proc::of(leader));
        cleanup.0.extend(&procs);
        let run = p.finish();
        assert!(
            run.stderr.contains("induced by PROCTOR_TEST_ENGINE_PANIC"),
            "{level}: the hook did not fire (is the test-hooks feature on?): {}",
            run.stderr
        );
        assert_ne!(run.code(), Some(0), "{level}");
        let left = survivors(&procs, Duration::from_secs(2));
        assert!(
            left.is_empty(),
            "{level}: left after engine panic: {left:?}"
        );
    }
}

/// A worker whose grandchild daemonizes at once (setsid, then its parent exits), so
/// it is re-parented to proctor before any walk can see it. It prints the daemon's pid.
const DAEMON: &str = "(setsid sh -c 'echo $$; exec sleep 300' &); sleep 300";

fn daemon_worker(level: &str) -> (Live, Proc, Cleanup) {
    let (mut p, mut cleanup) = start(level, &["--stop-grace", "2s", "--shell", DAEMON], true, &[]);
    let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap() as u32;
    let daemon = printed_pids(&mut p, "sh", 1)[0];
    cleanup.0.push(daemon);
    cleanup.0.extend(Proc::of(leader));
    (p, daemon, cleanup)
}

fn end(mut p: Live) {
    p.send(r#"{"cmd":"kill","worker":"sh"}"#);
    p.close();
    p.finish();
}

#[test]
fn terminate_reaches_a_daemonized_grandchild() {
    for level in LEVELS {
        let (mut p, daemon, _cleanup) = daemon_worker(level);
        p.send(r#"{"cmd":"terminate","worker":"sh"}"#);
        p.wait_event("exited", "sh");
        // proctor still runs (the control stream is open): its final sweep has not
        // happened, so only the terminate can have ended the daemon.
        assert!(
            survivors(&[daemon], PATIENCE).is_empty(),
            "{level}: terminate missed the daemon {daemon:?}"
        );
        assert!(p.child.try_wait().unwrap().is_none(), "proctor ended early");
        end(p);
    }
}

#[test]
fn pause_and_resume_reach_a_daemonized_grandchild() {
    for level in LEVELS {
        let (mut p, daemon, _cleanup) = daemon_worker(level);
        p.send(r#"{"cmd":"pause","worker":"sh"}"#);
        assert!(
            wait_state(daemon.pid, |s| s == 'T'),
            "{level}: pause missed the daemon (state {:?})",
            state(daemon.pid)
        );
        p.send(r#"{"cmd":"resume","worker":"sh"}"#);
        assert!(
            wait_state(daemon.pid, |s| s != 'T'),
            "{level}: resume missed the daemon"
        );
        end(p);
    }
}

#[test]
fn restart_ends_the_previous_runs_daemon() {
    for level in LEVELS {
        let (mut p, daemon, _cleanup) = daemon_worker(level);
        let first = p.wait_event("spawned", "sh")["pid"].clone();
        p.send(r#"{"cmd":"restart","worker":"sh"}"#);
        p.wait_for("the second run", |v| {
            v["event"] == "spawned" && v["worker"] == "sh" && v["pid"] != first
        });
        let second = printed_pids(&mut p, "sh", 1)[0];
        let _second = Cleanup(vec![second]);
        assert!(
            survivors(&[daemon], PATIENCE).is_empty(),
            "{level}: the first run's daemon survived the restart"
        );
        assert!(second.alive(), "{level}: the new run's daemon was hit");
        end(p);
    }
}

#[test]
fn restart_always_does_not_accumulate_daemons() {
    let workload = r#"{"jobs":[{"name":"d","restart":"always","max_restarts":3,
        "shell":"(setsid sh -c 'echo $$; exec sleep 300' &); sleep 0.2"}]}"#;
    let (_dir, file) = temp_file("daemons.json", workload);
    for level in LEVELS {
        let (mut p, mut cleanup) = start(level, &["-f", &file], true, &[]);
        let daemons = printed_pids(&mut p, "d", 4);
        cleanup.0.extend(&daemons);
        // Each restart ends the previous run's daemon; the last run's daemon is
        // left to the end of proctor, which must end it too.
        let (last, older) = daemons.split_last().unwrap();
        let left = survivors(older, PATIENCE);
        assert!(left.is_empty(), "{level}: daemons accumulate: {left:?}");
        p.close();
        p.finish();
        assert!(
            survivors(&[*last], PATIENCE).is_empty(),
            "{level}: last daemon left"
        );
    }
}

fn wait_state(pid: u32, ok: impl Fn(char) -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if state(pid).is_some_and(&ok) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The cgroup v2 group of a process (`/proc/PID/cgroup`'s `0::` line).
fn cgroup_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Worker cgroups are reused (a run of many workers makes about as many groups
/// as it runs at once), but never one a finished run left a daemon in: that group
/// stays its worker's, and a restart of that worker still ends the daemon while a
/// later worker, in another group, is untouched.
#[test]
fn worker_cgroups_are_reused_but_never_one_holding_a_daemon() {
    let workload = r#"{"max_parallel":2,"jobs":[
        {"name":"d","shell":"(setsid sh -c 'echo $$; exec sleep 300' &)"},
        {"name":"t","count":30,"shell":"grep ^0:: /proc/self/cgroup"},
        {"name":"s","cmd":["sleep","300"]}]}"#;
    let (_dir, file) = temp_file("groups.json", workload);
    let (mut p, mut cleanup) = start("auto", &["-f", &file], true, &[]);
    let started = p.wait_for("the started event", |v| v["event"] == "started");
    if started["containment"] != "cgroup" {
        eprintln!("cgroup level not available here: {started}");
        end_with(p, "s");
        return;
    }
    let daemon = printed_pids(&mut p, "d", 1)[0];
    cleanup.0.push(daemon);
    let s = p.wait_event("spawned", "s")["pid"].as_u64().unwrap() as u32;
    cleanup.0.extend(Proc::of(s));
    let mut groups = std::collections::BTreeSet::new();
    for i in 1..=30 {
        let worker = format!("t#{i}");
        p.wait_event("exited", &worker);
        let line = p.wait_event("output", &worker)["line"].clone();
        groups.insert(line.as_str().unwrap().trim().to_string());
    }
    let daemon_group = format!("0::{}", cgroup_of(daemon.pid).unwrap());
    assert!(
        groups.len() <= 3,
        "30 workers, 2 at a time, used {} groups: {groups:?}",
        groups.len()
    );
    assert!(
        !groups.contains(&daemon_group),
        "a worker was put in the group holding d's daemon: {groups:?}"
    );
    assert_ne!(cgroup_of(s), cgroup_of(daemon.pid), "s shares d's group");
    p.send(r#"{"cmd":"restart","worker":"d"}"#);
    assert!(
        survivors(&[daemon], PATIENCE).is_empty(),
        "the restart of d missed its daemon"
    );
    assert!(alive(s), "the restart of d hit s");
    end_with(p, "s");
}

fn end_with(mut p: Live, worker: &str) {
    p.send(&format!(r#"{{"cmd":"kill","worker":"{worker}"}}"#));
    p.close();
    p.finish();
}
