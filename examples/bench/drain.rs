//! Drain rate: 4 workers each writing 250 MB of short lines as fast as they can,
//! against the same writers read by a bare loop into nothing. Also proctor's peak RSS.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Row;
use crate::util::{spawn_quiet, watch_peak_rss, workload};

const WRITERS: usize = 4;
const BYTES: u64 = 250_000_000;

fn writer_script() -> String {
    format!(
        "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c {BYTES}"
    )
}

/// Rounds, interleaved; the best of each side counts (the writers' own speed on a
/// shared 2-core machine varies a lot from run to run).
const ROUNDS: usize = 3;

pub fn run(bin: &Path) -> Vec<Row> {
    let (_dir, file) = workload(&format!(
        r#"{{"max_parallel":{WRITERS},"jobs":[{{"name":"w","shell":"{}","count":{WRITERS}}}]}}"#,
        writer_script()
    ));
    let (mut bare, mut secs, mut peak) = (f64::MAX, f64::MAX, 0.0f64);
    for _ in 0..ROUNDS {
        bare = bare.min(bare_drain());
        let start = Instant::now();
        let mut child = spawn_quiet(bin, &file, &[]);
        let watcher = watch_peak_rss(child.id());
        let status = child.wait().expect("wait proctor");
        secs = secs.min(start.elapsed().as_secs_f64());
        assert!(status.success(), "proctor failed: {status}");
        peak = peak.max(watcher.join().unwrap_or(f64::NAN));
    }
    let total_mb = (WRITERS as u64 * BYTES) as f64 / 1e6;
    let rate = total_mb / secs;
    let bare_rate = total_mb / bare;
    let ratio = rate / bare_rate;
    vec![
        Row {
            name: format!("drain rate: {WRITERS} × 250 MB of 73-byte lines (best of {ROUNDS})"),
            target: "≥ 0.5 × bare pipe reader".into(),
            measured: format!("{rate:.0} MB/s (bare {bare_rate:.0} MB/s)"),
            ratio: format!("{ratio:.2}×"),
            met: ratio >= 0.5,
        },
        Row {
            name: "drain: proctor peak RSS".into(),
            target: "< 100 MB".into(),
            measured: format!("{peak:.1} MiB"),
            ratio: format!("{:.2} of target", peak / 100.0),
            met: peak < 100.0,
        },
    ]
}

/// Seconds for the same writers read to EOF by plain threads, bytes discarded.
fn bare_drain() -> f64 {
    let start = Instant::now();
    let readers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let mut child = Command::new("sh")
                .args(["-c", &writer_script()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn writer");
            let mut out = child.stdout.take().expect("stdout");
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while out.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
                child.wait().expect("wait writer");
            })
        })
        .collect();
    for r in readers {
        r.join().expect("reader thread");
    }
    start.elapsed().as_secs_f64()
}
