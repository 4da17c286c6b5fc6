//! Writer blocking: 4 workers write 250 MB of short lines each as fast as they can
//! while timing every write(2); the longest single write is how long proctor ever
//! left a writer blocked on a full pipe. The workers are this benchmark binary in
//! `--writer` mode.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Row;
use crate::util::{run_quiet, workload};

const WRITERS: usize = 4;
const BYTES: usize = 250_000_000;

pub fn run(bin: &Path) -> Row {
    let Ok(me) = std::env::current_exe() else {
        return failed("cannot find the benchmark binary");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let reports: Vec<_> = (0..WRITERS)
        .map(|i| dir.path().join(format!("w{i}")))
        .collect();
    let jobs: Vec<String> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                r#"{{"name":"w{i}","cmd":["{}","--writer","{BYTES}","{}"]}}"#,
                me.display(),
                r.display()
            )
        })
        .collect();
    let (_w, file) = workload(&format!(
        r#"{{"max_parallel":{WRITERS},"jobs":[{}]}}"#,
        jobs.join(",")
    ));
    run_quiet(bin, &file);
    let worst_ms = reports
        .iter()
        .filter_map(|r| std::fs::read_to_string(r).ok())
        .filter_map(|t| t.trim().parse::<f64>().ok())
        .fold(0.0, f64::max);
    Row {
        name: format!("writer blocked: longest write(2) of {WRITERS} writers × 250 MB"),
        target: "< 100 ms".into(),
        measured: format!("{worst_ms:.1} ms"),
        ratio: format!("{:.2} of target", worst_ms / 100.0),
        met: worst_ms < 100.0,
    }
}

fn failed(why: &str) -> Row {
    Row {
        name: "writer blocked".into(),
        target: "< 100 ms".into(),
        measured: why.into(),
        ratio: "-".into(),
        met: false,
    }
}

/// `--writer BYTES REPORT`: writes BYTES of 73-byte lines to stdout in 64 KiB
/// writes, then records the longest single write in milliseconds in REPORT.
pub fn writer(args: &[String]) {
    let bytes: usize = args.first().and_then(|b| b.parse().ok()).unwrap_or(BYTES);
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n";
    let block: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(64 * 1024 / line.len() * line.len())
        .collect();
    // SAFETY: fd 1 is our stdout; ManuallyDrop keeps it open for the process's exit.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let mut worst = Duration::ZERO;
    let mut written = 0;
    while written < bytes {
        let start = Instant::now();
        if out.write_all(&block).is_err() {
            break;
        }
        worst = worst.max(start.elapsed());
        written += block.len();
    }
    if let Some(report) = args.get(1) {
        let _ = std::fs::write(report, format!("{}", worst.as_secs_f64() * 1000.0));
    }
}
