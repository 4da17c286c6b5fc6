//! Printing proctor's JSON Lines in a terminal is always safe: C1 controls, DEL and
//! bidirectional overrides arrive escaped (`\u009b`), and a JSON parser still gets
//! exactly the text the worker wrote.

mod common;

use std::process::{Command, Stdio};

use common::BIN;

/// UTF-8 text a hostile worker prints: CSI as one C1 character, NEL, DEL, and the
/// bidirectional controls that reorder what a terminal shows.
const HOSTILE: &str =
    "a\u{9b}31mred\u{85}b\u{7f}c\u{202e}evil\u{202c}\u{2066}i\u{2069}\u{200e}\u{200f}\u{61c}z";

/// The encoded forms that must never appear raw in proctor's stdout.
fn raw_forms() -> Vec<Vec<u8>> {
    [
        '\u{7f}', '\u{85}', '\u{9b}', '\u{202c}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}',
        '\u{200f}', '\u{61c}',
    ]
    .iter()
    .map(|c| c.to_string().into_bytes())
    .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_safe_and_exact(stdout: &[u8], field: &str) {
    for raw in raw_forms() {
        assert!(!contains(stdout, &raw), "raw {raw:x?} in stdout");
    }
    let text = String::from_utf8_lossy(stdout);
    assert!(
        text.contains("\\u009b") && text.contains("\\u202e"),
        "{text}"
    );
    let found = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .any(|v| v[field] == HOSTILE);
    assert!(found, "no {field} equal to the worker's text: {text}");
}

#[test]
fn c1_controls_del_and_bidi_overrides_are_escaped_in_headless_output() {
    // The worker prints the text from its environment, so the bytes are exactly ours.
    let out = Command::new(BIN)
        .args(["--headless", "--shell", "printf '%s\\n' \"$HOSTILE\""])
        .env("HOSTILE", HOSTILE)
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(0));
    assert_safe_and_exact(&out.stdout, "line");
}

#[test]
fn c1_controls_are_escaped_in_map_output_and_the_joblog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let joblog = dir.path().join("joblog.jsonl");
    let out = Command::new(BIN)
        .args(["map", "--json", "--joblog"])
        .arg(&joblog)
        .args(["--", "printf", "%s\\n", "{}", ":::", HOSTILE])
        .stdin(Stdio::null())
        .output()
        .expect("run proctor map");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_safe_and_exact(&out.stdout, "line");
    let log = std::fs::read(&joblog).expect("joblog");
    assert_safe_and_exact(&log, "input");
}

/// Map mode's plain output on a terminal (a pty from `script`): task output that
/// tries to set the title, clear the screen or reorder text arrives neutralised,
/// on stdout and stderr alike; into a pipe it stays byte for byte.
#[test]
fn map_plain_output_on_a_terminal_is_neutralised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hostile = dir.path().join("hostile.sh");
    std::fs::write(
        &hostile,
        format!("printf '\\033]0;pwned\\007\\033[2J{HOSTILE}\\n'\nprintf '\\033[31merr\\n' >&2\n"),
    )
    .expect("write the script");
    let command = format!("{BIN} map --plain -- sh {} ::: 1", hostile.display());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    assert!(out.status.success(), "{out:?}");
    let shown = &out.stdout;
    assert!(
        !contains(shown, b"\x1b"),
        "ESC reached the terminal: {shown:?}"
    );
    for raw in raw_forms() {
        assert!(!contains(shown, &raw), "{raw:?} reached the terminal");
    }
    let text = String::from_utf8_lossy(shown);
    assert!(text.contains("^[]0;pwned^G^[[2J"), "{text}");
    assert!(text.contains("^[[31merr"), "stderr too: {text}");
    // Into a pipe the same task's output is exact.
    let piped = Command::new(BIN)
        .args(["map", "--", "sh"])
        .arg(&hostile)
        .args([":::", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert!(contains(&piped.stdout, b"\x1b]0;pwned\x07"), "{piped:?}");
}
