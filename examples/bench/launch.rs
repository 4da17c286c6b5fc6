//! Launch rate: 2,000 `/bin/true` with max_parallel 2, proctor from start to summary,
//! against a bare std::process loop keeping 2 in flight.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Row;
use crate::util::{run_quiet, workload};

const N: usize = 2000;

/// Rounds, interleaved; the best of each side counts, so a noisy neighbour on a
/// shared machine does not decide the ratio.
const ROUNDS: usize = 3;

pub fn run(bin: &Path) -> Row {
    let (_dir, file) = workload(&format!(
        r#"{{"max_parallel":2,"jobs":[{{"name":"t","cmd":["/bin/true"],"count":{N}}}]}}"#
    ));
    let (mut bare, mut proctor) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        bare = bare.min(bare_loop());
        let start = Instant::now();
        run_quiet(bin, &file);
        proctor = proctor.min(start.elapsed().as_secs_f64());
    }
    let bare_rate = N as f64 / bare;
    let rate = N as f64 / proctor;
    let ratio = rate / bare_rate;
    Row {
        name: format!("launch rate: {N} × /bin/true, -j 2 (best of {ROUNDS})"),
        target: "≥ 0.9 × bare loop".into(),
        measured: format!("{rate:.0}/s (bare loop {bare_rate:.0}/s)"),
        ratio: format!("{ratio:.2}×"),
        met: ratio >= 0.9,
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
