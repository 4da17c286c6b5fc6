//! Helpers shared by the benchmarks: finding the binary, reading /proc, workloads.

use std::path::PathBuf;
use std::time::Duration;

/// target/release/proctor, next to target/release/examples/bench.
pub fn proctor_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("proctor");
    bin.exists().then_some(bin)
}

/// proctor on a workload file, headless, output kept out of the event stream, events
/// discarded: the way every benchmark but reap latency runs it.
pub fn spawn_quiet(
    bin: &std::path::Path,
    file: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Child {
    std::process::Command::new(bin)
        .envs(env.iter().copied())
        .args(["--headless", "--output", "none", "-f"])
        .arg(file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run proctor")
}

/// `spawn_quiet` to the end; panics unless every worker exited 0.
pub fn run_quiet(bin: &std::path::Path, file: &std::path::Path) {
    let status = spawn_quiet(bin, file, &[]).wait().expect("wait proctor");
    assert!(status.success(), "proctor failed: {status}");
}

/// A workload file in a temp dir (kept alive by the returned guard).
pub fn workload(json: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.json");
    std::fs::write(&path, json).expect("write workload");
    (dir, path)
}

/// utime + stime of a process, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(Duration::from_secs_f64((utime + stime) as f64 / hz))
}

/// A field of /proc/PID/status in kB (VmHWM, VmRSS…).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Polls VmHWM of `pid` until it exits; returns the last (= peak) value in MiB.
pub fn watch_peak_rss(pid: u32) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(kb) = status_kb(pid, "VmHWM:") {
            peak = peak.max(kb);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak as f64 / 1024.0
    })
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
