//! The control stream (`--control`): a bad line is reported and skipped, names are
//! resolved by the engine (at once, including workers launched a line earlier),
//! and a launch under a taken name is an error, as in a workload file.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, PATIENCE};
use serde_json::Value;

/// Unknown names sent in a row; at the old 1 s stall per line this alone took 30 s.
const UNKNOWN: usize = 30;

#[test]
fn bad_lines_unknown_names_and_taken_names_are_answered_and_the_stream_goes_on() {
    let mut script: Vec<u8> = Vec::new();
    script.extend_from_slice(b"\xff\xfe not utf-8 \xc3\n");
    script.extend_from_slice(br#"{"cmd":"launch","job":{"name":"w","shell":"sleep 120"}}"#);
    script.push(b'\n');
    script.extend_from_slice(br#"{"cmd":"launch","job":{"name":"w","shell":"echo renamed"}}"#);
    script.push(b'\n');
    script
        .extend_from_slice(br#"{"cmd":"launch","job":{"name":"v","shell":"sleep 120","count":2}}"#);
    script.push(b'\n');
    script.extend_from_slice(br#"{"cmd":"launch","job":{"name":"v","shell":"echo renamed"}}"#);
    script.push(b'\n');
    for i in 0..UNKNOWN {
        writeln!(script, r#"{{"cmd":"kill","worker":"nobody{i}"}}"#).unwrap();
    }
    // Launched by earlier lines of this very stream: still found.
    script.extend_from_slice(br#"{"cmd":"kill","worker":["w","v#1","v#2"]}"#);
    script.push(b'\n');

    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["--headless", "-j", "8", "--control", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start proctor");
    child.stdin.take().unwrap().write_all(&script).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < PATIENCE, "{elapsed:?}");
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();

    assert!(stderr.contains("line 1 is not UTF-8"), "{stderr}");
    let errors: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "error")
        .map(|e| e["message"].as_str().unwrap_or_default())
        .collect();
    for name in ["w", "v#1"] {
        assert!(
            errors
                .iter()
                .any(|m| m.contains(&format!("a worker named '{name}' exists"))),
            "{errors:?}"
        );
    }
    for i in 0..UNKNOWN {
        assert!(
            errors
                .iter()
                .any(|m| m.contains(&format!("no worker named 'nobody{i}'"))),
            "{errors:?}"
        );
    }
    let spawned: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "spawned")
        .map(|e| e["worker"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(spawned.len(), 3, "no renamed worker started: {spawned:?}");
    for name in ["w", "v#1", "v#2"] {
        let exit = events
            .iter()
            .find(|e| e["event"] == "exited" && e["worker"] == name)
            .unwrap_or_else(|| panic!("{name} did not exit: {stdout}"));
        assert_eq!(exit["code"], -9, "{name} was killed by the last line");
    }
    assert_eq!(
        status.code(),
        Some(0),
        "workers killed on request are stopped, not failed"
    );
    // Unknown names are answered at once, not after a wait each.
    assert!(
        elapsed < Duration::from_secs(UNKNOWN as u64 / 2),
        "{UNKNOWN} unknown names took {elapsed:?}"
    );
}
