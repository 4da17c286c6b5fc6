//! Nothing lost: every line a worker writes reaches headless stdout exactly once,
//! in order, whatever the speed of the reader; a slow reader applies backpressure
//! (the workers block in write, proctor's memory stays bounded); `--log-dir` files
//! are byte-exact; a log that cannot be written is reported, not cut silently.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, PATIENCE};
use serde_json::Value;

/// Runs proctor with stdout to a pipe that nobody reads for `stall`, then reads
/// it all. Returns the events and the exit code.
fn run_with_slow_reader(args: &[&str], stall: Duration) -> (Vec<Value>, Option<i32>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start proctor");
    std::thread::sleep(stall);
    let mut text = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read stdout");
    let status = child.wait().expect("wait");
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect();
    (events, status.code())
}

/// Output lines of `worker`, in order.
fn lines_of<'a>(events: &'a [Value], worker: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["event"] == "output" && e["worker"] == worker)
        .map(|e| e["line"].as_str().unwrap_or_default())
        .collect()
}

fn numbers(n: usize) -> Vec<String> {
    (1..=n).map(|i| i.to_string()).collect()
}

fn position(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("event not found in {} events", events.len()))
}

#[test]
fn a_slow_reader_still_gets_every_line_of_100000_in_order() {
    let (events, code) =
        run_with_slow_reader(&["--headless", "seq 1 100000"], Duration::from_millis(2500));
    assert_eq!(lines_of(&events, "seq"), numbers(100_000));
    // Every line comes before the worker's `exited`, and the run is a success
    // only because everything was delivered.
    let last_line = events
        .iter()
        .rposition(|e| e["event"] == "output")
        .unwrap_or(0);
    assert!(last_line < position(&events, |e| e["event"] == "exited"));
    let summary = events.last().expect("a summary");
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(code, Some(0));
}

#[test]
fn four_floods_into_a_file_give_every_line_every_time() {
    for round in 0..2 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.jsonl");
        let file = std::fs::File::create(&path).expect("create");
        let status = Command::new(BIN)
            .args(["--headless", "-j", "4"])
            .args(["seq 1 400000"; 4])
            .stdin(Stdio::null())
            .stdout(file)
            .status()
            .expect("run proctor");
        assert!(status.success(), "round {round}: {status}");
        let reader = BufReader::new(std::fs::File::open(&path).expect("open"));
        let mut next = std::collections::HashMap::new();
        let mut total = 0;
        for line in reader.lines() {
            let e: Value = serde_json::from_str(&line.expect("line")).expect("json");
            if e["event"] != "output" {
                continue;
            }
            let worker = e["worker"].as_str().unwrap_or_default().to_string();
            let n = next.entry(worker.clone()).or_insert(1u64);
            assert_eq!(
                e["line"],
                n.to_string(),
                "round {round}: {worker} out of order"
            );
            *n += 1;
            total += 1;
        }
        assert_eq!(total, 1_600_000, "round {round}");
    }
}

#[test]
fn map_mode_with_a_slow_reader_delivers_all_output_and_counts_it() {
    let (events, code) = run_with_slow_reader(
        &["map", "--headless", "--", "seq", "{}", ":::", "20000"],
        Duration::from_millis(2500),
    );
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "output")
        .map(|e| e["line"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(lines, numbers(20_000));
    let task = &events[position(&events, |e| e["event"] == "task")];
    let written: usize = numbers(20_000).iter().map(|l| l.len() + 1).sum();
    assert_eq!(task["output_bytes"], written as u64);
    // The runtime ends when the task exited, not when its output was read.
    let runtime = task["runtime_s"].as_f64().unwrap_or(f64::MAX);
    assert!(
        runtime < 2.0,
        "runtime_s {runtime} counts the reader's stall"
    );
    assert_eq!(code, Some(0));
}

#[test]
fn map_mode_floods_into_a_file_give_every_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.jsonl");
    let file = std::fs::File::create(&path).expect("create");
    let status = Command::new(BIN)
        .args(["map", "--headless", "-j", "4", "--", "seq", "{}", ":::"])
        .args(["300000", "300001", "300002", "300003"])
        .stdin(Stdio::null())
        .stdout(file)
        .status()
        .expect("run proctor");
    assert!(status.success());
    let text = std::fs::read_to_string(&path).expect("read");
    let mut outputs = 0;
    let mut bytes = 0;
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).expect("json");
        match e["event"].as_str() {
            Some("output") => outputs += 1,
            Some("task") => bytes += e["output_bytes"].as_u64().unwrap_or(0),
            _ => {}
        }
    }
    assert_eq!(outputs, 300_000 * 4 + 6);
    let expected: u64 = (0..4)
        .map(|k| {
            (1..=300_000u64 + k)
                .map(|i| i.to_string().len() as u64 + 1)
                .sum::<u64>()
        })
        .sum();
    assert_eq!(bytes, expected);
}

#[test]
fn the_last_unterminated_line_comes_before_exited() {
    let (events, code) = run_with_slow_reader(
        &["--headless", "--shell", "printf 'a\\nb'"],
        Duration::from_millis(200),
    );
    let worker = events[position(&events, |e| e["event"] == "spawned")]["worker"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(lines_of(&events, worker), ["a", "b"]);
    let b = position(&events, |e| e["line"] == "b");
    assert!(b < position(&events, |e| e["event"] == "exited"));
    assert_eq!(code, Some(0));
}

#[test]
fn a_descendant_holding_the_pipe_does_not_hold_exited_back() {
    // The worker exits at once; its background child keeps stdout open, writes
    // later, and its line still arrives, as the worker's, after `exited`.
    let mut p = common::Live::start(
        &["sh -c '(sleep 1; echo late) & echo early'", "sleep 4"],
        false,
    );
    p.wait_event("exited", "sh");
    let late = p.next("the late line", |e| {
        e["event"] == "output" && e["line"] == "late"
    });
    assert_eq!(late["worker"], "sh");
    let run = p.finish();
    let all = run.events;
    assert!(position(&all, |e| e["line"] == "early") < position(&all, |e| e["event"] == "exited"));
}

/// The pid of `worker` from its `spawned` event, read from a proctor's stdout.
fn spawned_pid(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> u32 {
    for line in lines.by_ref() {
        let e: Value = serde_json::from_str(&line.expect("line")).expect("json");
        if e["event"] == "spawned" {
            return e["pid"].as_u64().unwrap_or(0) as u32;
        }
    }
    panic!("no spawned event");
}

fn status_field(pid: u32, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
}

#[test]
fn a_stalled_reader_makes_the_worker_block_and_memory_stays_bounded() {
    let mut child = Command::new(BIN)
        .args(["--headless", "yes 0123456789012345678901234567890123456789"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start proctor");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let worker = spawned_pid(&mut lines);
    // Nobody reads on: the worker must end up blocked writing into its pipe.
    let deadline = Instant::now() + PATIENCE;
    let blocked = loop {
        let wchan = std::fs::read_to_string(format!("/proc/{worker}/wchan")).unwrap_or_default();
        let sleeping = status_field(worker, "State:").is_some_and(|s| s.starts_with('S'));
        if sleeping && wchan.contains("pipe_write") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Give it time to overrun memory if it were reading on regardless.
    std::thread::sleep(Duration::from_secs(2));
    let rss_kb: u64 = status_field(child.id(), "VmRSS:")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(u64::MAX);
    let still_blocked = std::fs::read_to_string(format!("/proc/{worker}/wchan"))
        .unwrap_or_default()
        .contains("pipe_write");
    // SAFETY: kill with plain integers; proctor stops its worker on SIGTERM.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    drop(lines);
    let _ = child.wait();
    assert!(blocked, "the worker never blocked in write(2)");
    assert!(
        still_blocked,
        "proctor read on while nobody read its stdout"
    );
    assert!(rss_kb < 200 * 1024, "proctor's RSS grew to {rss_kb} kB");
}

#[test]
fn log_files_are_byte_exact_copies_with_a_slow_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 3 MB of every byte value, CRs, no final newline, invalid UTF-8.
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let input = dir.path().join("input.bin");
    std::fs::write(&input, &data).expect("write input");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let command = format!("cat {}", input.display());
    let (events, code) = run_with_slow_reader(
        &[
            "--headless",
            "--log-dir",
            logs.to_str().expect("utf-8"),
            &command,
        ],
        Duration::from_millis(1500),
    );
    assert_eq!(code, Some(0), "{:?}", events.last());
    let log = std::fs::read(logs.join("cat.out.log")).expect("the log");
    assert!(
        log == data,
        "the log differs ({} vs {} bytes)",
        log.len(),
        data.len()
    );
}

#[test]
fn a_log_write_error_is_reported_and_fails_the_run() {
    // A 64 KiB filesystem in a private mount namespace fills up part-way.
    if !Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        panic!("this test needs unshare -m (root): run the suite as CI does");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().to_str().expect("utf-8").to_string();
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs {logs} && exec {BIN} --headless --log-dir {logs} 'seq 1 100000'"
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error = events
        .iter()
        .find(|e| e["event"] == "error")
        .unwrap_or_else(|| panic!("no error event; stderr: {stderr}"));
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("seq.out.log"), "{message}");
    assert!(stderr.contains("seq.out.log"), "stderr: {stderr}");
    // The worker ran on and all its output still reached stdout.
    assert_eq!(lines_of(&events, "seq").len(), 100_000);
    assert_eq!(out.status.code(), Some(1));
}
