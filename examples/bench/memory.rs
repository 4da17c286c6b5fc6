//! Memory: proctor's peak RSS with 1,000 running workers whose log buffers are full
//! of 100-byte lines (each worker prints 10,000 of them, then sleeps).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Row;
use crate::util::{spawn_quiet, status_kb, workload};

const N: usize = 1000;

pub fn run(bin: &Path) -> Row {
    let line = "x".repeat(99); // + newline = 100 bytes
    let script = format!("yes {line} | head -n 10000; exec sleep 600");
    let (_dir, file) = workload(&format!(
        r#"{{"max_parallel":{N},"jobs":[{{"name":"m","shell":"{script}","count":{N}}}]}}"#
    ));
    let mut child = spawn_quiet(bin, &file, &[]);
    let pid = child.id();
    // Done when every worker is down to its `sleep` and RSS has settled.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last = 0;
    let mut steady = 0;
    while Instant::now() < deadline && steady < 5 {
        std::thread::sleep(Duration::from_secs(1));
        let rss = status_kb(pid, "VmRSS:").unwrap_or(0);
        let sleeping = all_sleeping(pid);
        steady = if sleeping && rss == last {
            steady + 1
        } else {
            0
        };
        last = rss;
    }
    let peak = status_kb(pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0;
    // SAFETY: signalling the proctor we started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.wait();
    Row {
        name: format!("memory: {N} running workers, buffers full of 100-byte lines"),
        target: "< 300 MB".into(),
        measured: format!("{peak:.0} MiB peak RSS"),
        ratio: format!("{:.2} of target", peak / 300.0),
        met: peak < 300.0,
    }
}

/// Every child of proctor is a `sleep` (its output phase is over).
fn all_sleeping(pid: u32) -> bool {
    let kids = proctor::sample::proc::children(pid);
    kids.len() >= N
        && kids.iter().all(|k| {
            std::fs::read_to_string(format!("/proc/{k}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
}
