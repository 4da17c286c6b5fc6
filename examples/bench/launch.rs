//! Launch rate: 2,000 `/bin/true` with max_parallel 2, proctor from start to summary,
//! against a bare std::process loop keeping 2 in flight; once at the containment level
//! proctor picks (cgroup where it may create groups) and once at the ledger level.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Row;
use crate::util::{spawn_quiet, workload};

const N: usize = 2000;

/// Rounds, interleaved; the best of each side counts, so a noisy neighbour on a
/// shared machine does not decide the ratio.
const ROUNDS: usize = 3;

pub fn run(bin: &Path) -> Vec<Row> {
    let (_dir, file) = workload(&format!(
        r#"{{"max_parallel":2,"jobs":[{{"name":"t","cmd":["/bin/true"],"count":{N}}}]}}"#
    ));
    // Interleaved, so both levels see the same machine state.
    let levels = [("auto", level_name(bin)), ("ledger", "ledger".to_string())];
    let mut bare = f64::MAX;
    let mut best = [f64::MAX; 2];
    for _ in 0..ROUNDS {
        bare = bare.min(bare_loop());
        for (i, (level, _)) in levels.iter().enumerate() {
            let start = Instant::now();
            let mut child = spawn_quiet(bin, &file, &[("PROCTOR_CONTAINMENT", level)]);
            let status = child.wait().expect("wait proctor");
            assert!(status.success(), "proctor failed: {status}");
            best[i] = best[i].min(start.elapsed().as_secs_f64());
        }
    }
    let bare_rate = N as f64 / bare;
    levels
        .iter()
        .zip(best)
        .map(|((_, name), secs)| {
            let rate = N as f64 / secs;
            let ratio = rate / bare_rate;
            Row {
                name: format!(
                    "launch rate: {N} × /bin/true, -j 2, containment {name} (best of {ROUNDS})"
                ),
                target: "≥ 0.9 × bare loop".into(),
                measured: format!("{rate:.0}/s (bare loop {bare_rate:.0}/s)"),
                ratio: format!("{ratio:.2}×"),
                met: ratio >= 0.9,
            }
        })
        .collect()
}

/// The level proctor picks by itself here, from `proctor --version`.
fn level_name(bin: &Path) -> String {
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if out.contains("cgroup (") {
        "cgroup".into()
    } else {
        "ledger".into()
    }
}

/// Seconds for N spawns+waits of /bin/true, 2 in flight, nothing else.
fn bare_loop() -> f64 {
    let start = Instant::now();
    let mut in_flight = VecDeque::new();
    let mut started = 0;
    while started < N || !in_flight.is_empty() {
        while in_flight.len() < 2 && started < N {
            let child = Command::new("/bin/true")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            in_flight.push_back(child);
            started += 1;
        }
        if let Some(mut child) = in_flight.pop_front() {
            child.wait().expect("wait");
        }
    }
    start.elapsed().as_secs_f64()
}
