//! `proctor map --shell`: no task input ever runs as code, whatever quotes surround
//! its placeholder. Every placement is run against hostile inputs; the task must see
//! exactly the input text, and no command hidden in an input may create a file.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Inputs that would run commands, split, glob or break quoting if they were
/// spliced into a script.
const HOSTILE: &[&str] = &[
    "$(touch pwned1)",
    "`touch pwned2`",
    "'$(touch pwned3)'",
    "\"$(touch pwned4)\"",
    "x'; touch pwned5; echo '",
    "x\"; touch pwned6; echo \"",
    "a; touch pwned7",
    "back\\slash \\$(touch pwned8)",
    "two\nlines $(touch pwned9)",
    "*",
    "$HOME ${PATH} $1 $0",
    "{} {#}",
    "  padded  ",
    "-n",
];

fn map_in(dir: &Path, template: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proctor"));
    cmd.args([
        "map",
        "--headless",
        "--keep-order",
        "-j",
        "4",
        "--shell",
        "--",
        template,
        ":::",
    ])
    .args(HOSTILE)
    .current_dir(dir)
    .stdin(Stdio::null());
    cmd.output().expect("run proctor map")
}

/// Output lines of all tasks, in task order (`--keep-order`).
fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|v| v["event"] == "output")
        .map(|v| v["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn created_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read temp dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// What a task prints for an input.
type Expect = fn(&str) -> String;

#[test]
fn every_placement_delivers_hostile_inputs_as_exact_text() {
    // (template, what the task prints for an input)
    let placements: &[(&str, Expect)] = &[
        (r"printf '%s\n' {}", |v| v.to_string()),
        (r#"printf '%s\n' "{}""#, |v| v.to_string()),
        (r"printf '%s\n' x{}y", |v| format!("x{v}y")),
        (r#"printf '%s\n' "<{}> it's""#, |v| format!("<{v}> it's")),
        (r#"printf '%s\n' "$(printf %s {})""#, |v| v.to_string()),
        (r#"printf '%s\n' "$(printf %s "{}")""#, |v| v.to_string()),
        (r#"v=$(printf %s {}); printf '%s\n' "$v""#, |v| {
            v.to_string()
        }),
        (r#"printf '%s\n' "`printf %s {}`""#, |v| v.to_string()),
        (r"printf '%s\n'", |v| v.to_string()),
    ];
    for (template, expect) in placements {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = map_in(dir.path(), template);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{template}: {stderr}");
        let want: Vec<String> = HOSTILE
            .iter()
            .flat_map(|v| expect(v).split('\n').map(String::from).collect::<Vec<_>>())
            .collect();
        assert_eq!(lines(&out), want, "{template}");
        assert!(
            created_files(dir.path()).is_empty(),
            "{template}: {:?}",
            created_files(dir.path())
        );
    }
}

#[test]
fn placeholders_in_single_quotes_are_refused_before_anything_runs() {
    for template in [
        r"printf %s '{}'",
        r"printf %s 'x{}y'",
        r#"awk 'BEGIN { print "{}" }'"#,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = map_in(dir.path(), template);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{template}: {stderr}");
        assert!(out.stdout.is_empty(), "{template} started something");
        assert!(stderr.contains("placeholder {}"), "{template}: {stderr}");
        assert!(stderr.contains("double quotes"), "{template}: {stderr}");
        assert!(created_files(dir.path()).is_empty(), "{template}");
    }
}

/// Inside `$((…))` a value is evaluated (bash runs `a[$(cmd)]` there), so only
/// whole numbers get that far: every other input fails its task with exit
/// status 2 and a message, and nothing hidden in it runs.
#[test]
fn arithmetic_takes_whole_numbers_and_fails_every_other_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = ["a[$(touch pwned10)]", "1+1", "x", "", "12", "-3"];
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args([
            "map",
            "--headless",
            "--keep-order",
            "--allow-empty",
            "-j",
            "4",
        ])
        .args(["--shell", "--", "echo $(( {} * 2 ))", ":::"])
        .args(HOSTILE)
        .args(extra)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run proctor map");
    assert_eq!(out.status.code(), Some(1));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .collect();
    let printed: Vec<&str> = events
        .iter()
        .filter(|v| v["event"] == "output" && v["stream"] == "stdout")
        .filter_map(|v| v["line"].as_str())
        .collect();
    assert_eq!(printed, ["24", "-6"]);
    let tasks: Vec<&Value> = events.iter().filter(|v| v["event"] == "task").collect();
    assert_eq!(tasks.len(), HOSTILE.len() + extra.len());
    for task in tasks {
        let input = task["input"].as_str().unwrap_or_default();
        let want = if input == "12" || input == "-3" { 0 } else { 2 };
        assert_eq!(task["exit_code"], want, "{input:?}");
    }
    assert!(
        created_files(dir.path()).is_empty(),
        "{:?}",
        created_files(dir.path())
    );
}
