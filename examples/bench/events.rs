//! Headless event output: 4 workers each writing 25 MB of short lines, every line
//! an `output` event written to a file, against the same run with `--output none`
//! (the drain alone). Also proctor's CPU time per event, which predicts the rate
//! on a machine with more cores.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Row;
use crate::util::{cpu_time, workload};

const WRITERS: usize = 4;
const BYTES: u64 = 25_000_000;
const LINE: u64 = 74;
const ROUNDS: usize = 3;

pub fn run(bin: &Path) -> Vec<Row> {
    let script = format!(
        "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c {BYTES}"
    );
    let (dir, file) = workload(&format!(
        r#"{{"max_parallel":{WRITERS},"jobs":[{{"name":"w","shell":"{script}","count":{WRITERS}}}]}}"#
    ));
    let out = dir.path().join("events.jsonl");
    let (mut events, mut none, mut cpu) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        let (secs, used) = timed(bin, &file, "events", &out);
        if secs < events {
            events = secs;
            cpu = used;
        }
        none = none.min(timed(bin, &file, "none", &out).0);
    }
    let total_mb = (WRITERS as u64 * BYTES) as f64 / 1e6;
    let lines = (WRITERS as u64 * BYTES / LINE) as f64;
    let ratio = none / events;
    vec![
        Row {
            name: format!(
                "headless events into a file: {WRITERS} × 25 MB of 74-byte lines (best of {ROUNDS})"
            ),
            target: "≥ 0.3 × the same run with `--output none`".into(),
            measured: format!(
                "{:.0} MB/s (`--output none` {:.0} MB/s)",
                total_mb / events,
                total_mb / none
            ),
            ratio: format!("{ratio:.2}×"),
            met: ratio >= 0.3,
        },
        Row {
            name: "headless events: proctor CPU per output event".into(),
            target: "< 1 µs".into(),
            measured: format!("{:.0} ns", cpu / lines * 1e9),
            ratio: format!("{:.2} of target", cpu / lines * 1e6),
            met: cpu / lines < 1e-6,
        },
    ]
}

/// Wall seconds of one run and proctor's own CPU seconds in it.
fn timed(bin: &Path, file: &Path, output: &str, out: &Path) -> (f64, f64) {
    let sink = std::fs::File::create(out).expect("events file");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["--headless", "--output", output, "-f"])
        .arg(file)
        .stdout(sink)
        .stdin(Stdio::null())
        .spawn()
        .expect("run proctor");
    let pid = child.id();
    let mut last = 0.0;
    // Polled until the end: a process's CPU time is gone once it is reaped.
    while child.try_wait().ok().flatten().is_none() {
        if let Some(t) = cpu_time(pid) {
            last = t.as_secs_f64();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (start.elapsed().as_secs_f64(), last)
}
