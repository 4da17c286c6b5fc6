//! Sampling through the engine: CPU and tree figures, zombies, stuck workers.

#![allow(clippy::unwrap_used)] // a test that unwraps fails loudly, which is the point

mod common;

use std::sync::Mutex;

use common::*;
use serde_json::Value;

/// CPU-heavy tests run one at a time so they do not starve each other.
static CPU: Mutex<()> = Mutex::new(());

/// On a saturated machine (every core busy) a busy loop gets less than a core, so
/// the lower bounds relax to "clearly busy"; the upper bounds never relax.
fn saturated(row: &Value) -> bool {
    row["system_cpu"].as_f64().unwrap_or(0.0) >= 90.0
}

/// The worker rows of `sample` events for `worker` (with the sample's total CPU as
/// `system_cpu`), as they arrive, until `done`.
fn watch_samples(p: &mut Live, worker: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        let sample = p.next("a sample", |v| v["event"] == "sample");
        if let Some(row) = sample["workers"]
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["worker"] == worker))
        {
            let mut row = row.clone();
            row["system_cpu"] = sample["cpu"].clone();
            rows.push(row);
        }
        if done(&rows) {
            return rows;
        }
    }
}

#[test]
fn a_busy_worker_reads_about_one_core_and_a_sleeping_one_almost_nothing() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let mut p = Live::start(
        &[
            "--sample-events",
            "--interval",
            "300ms",
            "sh -c 'while :; do :; done'",
            "sleep 300",
        ],
        true,
    );
    let good = |r: &Value| {
        let cpu = r["cpu"].as_f64().unwrap();
        // On a saturated machine (a parallel build, say) the loop gets only its
        // share of the two cores; the upper bound below never relaxes.
        cpu >= 70.0 || saturated(r) && cpu >= 10.0
    };
    let rows = watch_samples(&mut p, "sh", |rows| {
        rows.iter().skip(1).any(good) || rows.len() >= 40
    });
    let best = rows
        .iter()
        .skip(1)
        .find(|r| good(r))
        .map(|r| r["cpu"].as_f64().unwrap());
    assert!(
        best.is_some_and(|b| b <= 130.0),
        "busy loop read {best:?}% over {} samples: {rows:?}",
        rows.len()
    );
    assert!(
        rows.iter().all(|r| r["cpu"].as_f64().unwrap() <= 135.0),
        "{rows:?}"
    );
    let idle = watch_samples(&mut p, "sleep", |rows| rows.len() >= 3);
    assert!(
        idle.iter()
            .skip(1)
            .all(|r| r["cpu"].as_f64().unwrap() < 5.0),
        "{idle:?}"
    );
    assert_eq!(idle[2]["state"], "S");
    assert!(idle[2]["rss"].as_u64().unwrap() > 0);
    p.send(r#"{"cmd":"stop_all"}"#);
    p.close();
    p.finish();
}

#[test]
fn tree_figures_cover_grandchildren_in_any_group() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    // One busy grandchild stays in the group, the other moves to its own session.
    let script = "sh -c 'while :; do :; done' & setsid sh -c 'while :; do :; done' & wait";
    let mut p = Live::start(
        &["--sample-events", "--interval", "300ms", "--shell", script],
        true,
    );
    let good = |r: &Value| {
        let tree = r["tree_cpu"].as_f64().unwrap();
        r["descendants"] == 2 && (tree >= 120.0 || saturated(r) && tree >= 50.0)
    };
    let rows = watch_samples(&mut p, "sh", |rows| {
        rows.last().is_some_and(good) || rows.len() >= 40
    });
    let last = rows.last().unwrap();
    assert_eq!(last["descendants"], 2, "{rows:?}");
    let tree = last["tree_cpu"].as_f64().unwrap();
    assert!(good(last) && tree <= 230.0, "tree CPU {tree}% ({rows:?})");
    assert!(last["tree_rss"].as_u64().unwrap() > last["rss"].as_u64().unwrap());
    p.send(r#"{"cmd":"terminate","worker":"sh"}"#);
    p.close();
    let run = p.finish();
    assert_eq!(run.exit_of("sh")["code"], -15);
}

#[test]
fn a_zombie_is_reported_with_its_parent_and_cleared_by_ending_the_parent() {
    // `exec sleep` replaces the shell, so nobody ever waits for the short child.
    let mut p = Live::start(
        &[
            "--interval",
            "200ms",
            "--shell",
            "sh=sleep 0.1 & exec sleep 300",
        ],
        true,
    );
    let leader = p.wait_event("spawned", "sh")["pid"].as_u64().unwrap();
    let zombie = p.wait_event("zombie", "sh");
    assert_eq!(zombie["parent"].as_u64(), Some(leader));
    let zpid = zombie["pid"].as_u64().unwrap() as u32;
    assert_eq!(state(zpid), Some('Z'));
    // `sleep` ignores SIGCHLD, so the nudge cannot help; ending the parent does.
    p.send(r#"{"cmd":"reap_zombies","worker":"sh"}"#);
    p.send(r#"{"cmd":"terminate_zombie_parents","worker":"sh"}"#);
    let exited = p.wait_event("exited", "sh");
    assert_eq!(exited["code"], -15);
    p.close();
    p.finish();
    assert!(state(zpid).is_none(), "zombie {zpid} still there");
}

#[test]
fn a_silent_worker_is_flagged_stuck_and_on_stuck_terminate_ends_it() {
    let (_dir, path) = temp_file(
        "stuck.json",
        r#"{"jobs":[
            {"name":"quiet","cmd":["sleep","300"],"stuck_after_s":0.6,"on_stuck":"terminate"},
            {"name":"flag","cmd":["sleep","300"],"stuck_after_s":0.6}
        ]}"#,
    );
    let mut p = Live::start(&["--interval", "200ms", "-f", &path], true);
    let stuck = p.wait_event("stuck", "quiet");
    assert!(stuck["idle_s"].as_f64().unwrap() >= 0.6);
    let exited = p.wait_event("exited", "quiet");
    assert_eq!(exited["stuck_terminated"], true);
    assert_eq!(exited["code"], -15);
    p.wait_event("stuck", "flag");
    p.send(r#"{"cmd":"kill","worker":"flag"}"#);
    p.close();
    let run = p.finish();
    assert_eq!(run.exit_of("flag")["code"], -9);
}

#[test]
fn sample_events_appear_only_when_asked_for() {
    let run = run(&["--interval", "100ms", "sleep 0.5"]);
    assert!(run.of("sample").is_empty());
    let run = common::run(&["--interval", "100ms", "--sample-events", "sleep 0.5"]);
    let samples = run.of("sample");
    assert!(samples.len() >= 2, "{:#?}", run.events);
    let cores = samples[0]["cores"].as_array().unwrap().len();
    assert_eq!(cores, std::thread::available_parallelism().unwrap().get());
    assert!(samples[0]["mem_total"].as_u64().unwrap() > samples[0]["mem_used"].as_u64().unwrap());
    assert_eq!(samples[0]["load"].as_array().unwrap().len(), 3);
}
