//! Bad input is refused before anything starts: exit status 2, a message that names
//! the problem and the fix, no event on stdout, no worker run.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, PATIENCE};

/// Runs proctor with `args`; the worker it would start creates `marker`.
fn refused(args: &[&str], marker: &Path) -> Output {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert!(started.elapsed() < PATIENCE, "{args:?} took too long");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} started something");
    assert!(!marker.exists(), "{args:?} ran a worker");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn marker(&self) -> std::path::PathBuf {
        self.dir.path().join("ran")
    }
    fn worker(&self) -> String {
        format!("touch {}", self.marker().display())
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

#[test]
fn a_workload_that_is_a_device_a_directory_or_too_big_is_refused() {
    let c = Case::new();
    let big = c.path("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(17 * 1024 * 1024).unwrap();
    let dir = c.dir.path().to_string_lossy().into_owned();
    for (path, needle) in [
        ("/dev/zero", "not a regular file"),
        (dir.as_str(), "directory"),
        (big.as_str(), "16 MiB"),
    ] {
        let started = Instant::now();
        let out = refused(
            &["--headless", "-f", path, "--shell", &c.worker()],
            &c.marker(),
        );
        let text = stderr(&out);
        assert!(
            text.contains(path) && text.contains(needle),
            "{path}: {text}"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{path}");
    }
    // A pipe (`-f /dev/stdin`) is read, but only up to the limit.
    let script = format!("head -c 17M /dev/zero | exec {BIN} --headless -f /dev/stdin");
    let out = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("larger than 16 MiB"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn numeric_flags_out_of_range_are_refused_as_in_the_workload_file() {
    let c = Case::new();
    let w = c.worker();
    let cases: &[(&[&str], &str)] = &[
        (&["--stuck-cpu=-5"], "0..=100"),
        (&["--stuck-cpu", "nan"], "0..=100"),
        (&["--stuck-cpu", "inf"], "0..=100"),
        (&["--stuck-cpu", "1000"], "0..=100"),
        (&["--stuck-after", "0"], "greater than 0"),
        (&["--stuck-after", "9000h"], "at most"),
        (&["--stuck-after=-1s"], "invalid duration"),
        (&["--stuck-after", "nan"], "invalid duration"),
        (&["--stop-grace", "2h"], "3600s"),
        (&["--stop-grace", "inf"], "invalid duration"),
        (&["--interval", "0"], "100ms..60s"),
        (&["-j", "0"], "1..=10000"),
        (&["-j", "10001"], "1..=10000"),
        (&["--ring-lines", "0"], "ring-lines"),
        (&["--output-memory=-1"], "output-memory"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["--headless"];
        args.extend_from_slice(flags);
        args.extend(["--shell", w.as_str()]);
        let text = stderr(&refused(&args, &c.marker()));
        assert!(text.contains(needle), "{flags:?}: {text}");
    }
    // The workload file says the same about the same value.
    let file = c.path("w.json");
    std::fs::write(&file, r#"{"jobs":[{"cmd":["true"],"stuck_cpu_pct":1000}]}"#).unwrap();
    let text = stderr(&refused(&["--headless", "-f", &file], &c.marker()));
    assert!(
        text.contains("'1000' is out of range: expected a percentage in 0..=100"),
        "{text}"
    );
    let text = stderr(&refused(
        &["--headless", "--stuck-cpu", "1000", "true"],
        &c.marker(),
    ));
    assert!(
        text.contains("'1000' is out of range: expected a percentage in 0..=100"),
        "{text}"
    );
    // Map mode shares the flags.
    let text = refused_in_map(&c, &["--timeout", "9000h"]);
    assert!(text.contains("at most"), "{text}");
}

#[test]
fn bad_control_and_log_dir_paths_are_refused_before_anything_starts() {
    let c = Case::new();
    let w = c.worker();
    let file = c.path("plain");
    std::fs::write(&file, "").unwrap();
    let dir = c.dir.path().to_string_lossy().into_owned();
    let missing = c.path("missing/dir");
    let cases: &[(&[&str], &str)] = &[
        (&["--control", &dir], "is a directory"),
        (&["--log-dir", &file], "is not a directory"),
        (&["--log-dir", &missing], "No such file"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["--headless"];
        args.extend_from_slice(flags);
        args.extend(["--shell", w.as_str()]);
        let text = stderr(&refused(&args, &c.marker()));
        assert!(text.contains(needle), "{flags:?}: {text}");
        assert!(text.contains(flags[1]), "{flags:?} names the path: {text}");
    }
    let text = refused_in_map(&c, &["--log-dir", &missing]);
    assert!(text.contains("--log-dir"), "{text}");
}

#[test]
fn a_job_name_too_long_for_its_log_file_is_refused() {
    let c = Case::new();
    let logs = c.path("logs");
    std::fs::create_dir(&logs).unwrap();
    let file = c.path("w.json");
    let name = "n".repeat(250);
    let job = serde_json::json!({"jobs": [{"name": name, "shell": c.worker()}]});
    std::fs::write(&file, job.to_string()).unwrap();
    let text = stderr(&refused(
        &["--headless", "--log-dir", &logs, "-f", &file],
        &c.marker(),
    ));
    assert!(text.contains("at most 64 bytes"), "{text}");
    assert!(
        std::fs::read_dir(&logs).unwrap().next().is_none(),
        "a log was created"
    );
}

/// Map mode refuses `flags` before its task (which would create the marker) runs;
/// returns what it said.
fn refused_in_map(c: &Case, flags: &[&str]) -> String {
    let marker = c.marker();
    let touch = marker.to_string_lossy();
    let mut args = vec!["map"];
    args.extend_from_slice(flags);
    args.extend(["--", "touch", &touch, ":::", "a"]);
    stderr(&refused(&args, &marker))
}
