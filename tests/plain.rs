//! Main mode's plain output (the default when stdout is not a terminal): worker
//! lines prefixed with their names, lifecycle lines and the summary on stderr.

mod common;

use std::process::{Command, Output, Stdio};

use common::BIN;

/// Runs proctor with stdout and stderr captured (so not terminals) and no stdin.
fn proctor(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run proctor")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn worker_lines_are_prefixed_on_their_own_streams() {
    let out = proctor(&[
        "--shell",
        "web=echo hello; echo warning >&2; exit 3",
        "database=echo ready",
    ]);
    assert_eq!(out.status.code(), Some(1), "a worker failed");
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    // Names are padded to the widest name seen so far, so `web` may or may not be
    // padded depending on which worker spoke first; strip the padding to compare.
    let squeezed: Vec<String> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(squeezed, ["database | ready", "web | hello"], "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour into a pipe: {stdout:?}"
    );
    let squeezed_err = stderr
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>();
    for want in ["web | warning", "web | started (pid "] {
        assert!(
            squeezed_err.iter().any(|l| l.starts_with(want)),
            "missing {want:?} in stderr:\n{stderr}"
        );
    }
    assert!(
        squeezed_err
            .iter()
            .any(|l| l.starts_with("web | exited 3 after ")),
        "{stderr}"
    );
    assert!(
        squeezed_err
            .iter()
            .any(|l| l.starts_with("database | exited 0 after ")),
        "{stderr}"
    );
    let last = squeezed_err.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("proctor: 2 workers: ")
            && last.contains("1 exited 3")
            && last.contains("1 exited 0"),
        "the summary ends stderr: {stderr}"
    );
}

#[test]
fn worker_text_cannot_drive_the_terminal() {
    let out = proctor(&[
        "--shell",
        r"evil=printf '\033]0;pwned\007\033[2J\233m\342\200\256x\n'; printf '\033[31m' >&2",
    ]);
    assert_eq!(out.status.code(), Some(0));
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let shown = text(bytes);
        assert!(
            !shown.contains('\x1b') && !shown.contains('\u{9b}') && !shown.contains('\u{202e}'),
            "a control sequence reached {name}: {shown:?}"
        );
    }
    assert!(
        text(&out.stdout).contains("^[]0;pwned^G^[[2J"),
        "{:?}",
        text(&out.stdout)
    );
}

#[test]
fn every_line_arrives_in_order() {
    let out = proctor(&["seq 1 200000"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let numbers: Vec<u32> = stdout
        .lines()
        .map(|l| {
            l.strip_prefix("seq | ")
                .unwrap_or_else(|| panic!("unprefixed line {l:?}"))
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers.len(), 200_000);
    assert!(numbers.iter().zip(1..).all(|(n, want)| *n == want));
}

#[test]
fn json_and_headless_still_print_events() {
    for flag in ["--json", "--headless"] {
        let out = proctor(&[flag, "echo hi"]);
        assert_eq!(out.status.code(), Some(0));
        let events: Vec<serde_json::Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "output" && e["line"] == "hi"),
            "{flag}: {events:?}"
        );
    }
}

#[test]
fn conflicting_formats_are_refused() {
    for args in [["--plain", "--json"], ["--plain", "--headless"]] {
        let out = proctor(&[args[0], args[1], "true"]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("cannot be used with"),
            "{}",
            text(&out.stderr)
        );
    }
}
