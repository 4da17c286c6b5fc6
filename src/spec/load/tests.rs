//! Loading: every field, the defaults, names, files, the command line, fixtures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::spec::{OnStuck, RestartPolicy, StdinSpec};

fn ok(text: &str) -> Workload {
    parse_workload(text, "w.json").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_field_is_parsed() {
    let w = ok(r#"{
        "max_parallel": 4,
        "stop_grace_ms": 500,
        "jobs": [{
            "name": "web",
            "cmd": ["python3", "-m", "http.server", "8000"],
            "env": {"PORT": "8000", "EMPTY": ""},
            "env_clear": true,
            "cwd": "/srv",
            "count": 3,
            "restart": "on-failure",
            "max_restarts": 5,
            "timeout_s": 1.5,
            "stdin": "inherit",
            "stop_signal": "SIGINT",
            "stop_grace_ms": 100,
            "stuck_after_s": 30,
            "stuck_cpu_pct": 0.5,
            "on_stuck": "terminate"
        }]
    }"#);
    assert_eq!(w.max_parallel, Some(4));
    assert_eq!(w.stop_grace, Duration::from_millis(500));
    let j = &w.jobs[0];
    assert_eq!(j.name, "web");
    assert_eq!(
        j.program,
        Program::Argv(vec![
            "python3".into(),
            "-m".into(),
            "http.server".into(),
            "8000".into()
        ])
    );
    let env: BTreeMap<String, String> = [("EMPTY", ""), ("PORT", "8000")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(j.env, env);
    assert!(j.env_clear);
    assert_eq!(j.cwd, Some(PathBuf::from("/srv")));
    assert_eq!(j.count, 3);
    assert_eq!(j.restart, RestartPolicy::OnFailure);
    assert_eq!(j.max_restarts, Some(5));
    assert_eq!(j.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(j.stdin, StdinSpec::Inherit);
    assert_eq!(j.stop_signal, libc::SIGINT);
    assert_eq!(j.stop_grace, Some(Duration::from_millis(100)));
    assert_eq!(j.stuck_after, Some(Duration::from_secs(30)));
    assert_eq!(j.stuck_cpu_pct, Some(0.5));
    assert_eq!(j.on_stuck, OnStuck::Terminate);
}

#[test]
fn defaults_fill_what_is_left_out() {
    let w = ok(r#"{"jobs": [{"cmd": "/usr/bin/sleep 1"}]}"#);
    assert_eq!(w.max_parallel, None);
    assert_eq!(w.stop_grace, Duration::from_millis(3000));
    let program = Program::Argv(vec!["/usr/bin/sleep".into(), "1".into()]);
    assert_eq!(w.jobs, [JobSpec::new("sleep", program)]);
}

#[test]
fn other_values_of_each_field() {
    let w = ok(r#"{"jobs": [
        {"shell": "echo hi | wc -c", "restart": "always", "stop_signal": 2, "stdin": null},
        {"cmd": "x", "restart": "never", "stdin": "null", "on_stuck": "flag", "max_restarts": 0},
        {"cmd": "x", "stdin": "/tmp/in.txt", "stop_signal": "kill", "stop_grace_ms": 0},
        {"cmd": "x", "count": 10000, "timeout_s": 31536000, "stuck_cpu_pct": 100, "env_clear": false}
    ]}"#);
    let [a, b, c, d] = &w.jobs[..] else {
        panic!("four jobs expected")
    };
    assert_eq!(a.program, Program::Shell("echo hi | wc -c".into()));
    assert_eq!(a.name, "echo");
    assert_eq!(a.restart, RestartPolicy::Always);
    assert_eq!(a.stop_signal, libc::SIGINT);
    assert_eq!(a.stdin, StdinSpec::Null);
    assert_eq!(b.restart, RestartPolicy::Never);
    assert_eq!(b.stdin, StdinSpec::Null);
    assert_eq!(b.on_stuck, OnStuck::Flag);
    assert_eq!(b.max_restarts, Some(0));
    assert_eq!(c.stdin, StdinSpec::File("/tmp/in.txt".into()));
    assert_eq!(c.stop_signal, libc::SIGKILL);
    assert_eq!(c.stop_grace, Some(Duration::ZERO));
    assert_eq!(d.count, 10000);
    assert_eq!(d.timeout, Some(Duration::from_secs(31_536_000)));
    assert_eq!(d.stuck_cpu_pct, Some(100.0));
    assert!(!d.env_clear);
    assert_eq!(
        ok(r#"{"max_parallel": 1e1, "jobs": [{"cmd": "x"}]}"#).max_parallel,
        Some(10)
    );
}

#[test]
fn cmd_strings_are_split_like_sh_without_expansion() {
    let w = ok(r#"{"jobs": [{"cmd": "grep -e 'a b' \"$HOME\" ; $(rm x) *"}]}"#);
    let words = ["grep", "-e", "a b", "$HOME", ";", "$(rm", "x)", "*"];
    assert_eq!(
        w.jobs[0].program,
        Program::Argv(words.map(String::from).to_vec())
    );
}

#[test]
fn derived_names_are_made_unique_and_leave_explicit_ones_alone() {
    let w = ok(r#"{"jobs": [
        {"cmd": "sleep 1"},
        {"cmd": "/bin/sleep 2"},
        {"name": "sleep-2", "cmd": "true"},
        {"shell": "true"},
        {"shell": "false"}
    ]}"#);
    let names: Vec<&str> = w.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["sleep", "sleep-3", "sleep-2", "true", "false"]);
    let w = ok(r#"{"jobs": [{"cmd": ["/opt/my tool#2"]}, {"cmd": ["./"]}]}"#);
    assert_eq!(w.jobs[0].name, "my_tool_2");
    assert_eq!(w.jobs[1].name, "job");
    assert_eq!(job_from_cli("'my tool' x", false).unwrap().name, "my_tool");
}

#[test]
fn load_file_reports_unreadable_paths() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_file(dir.path()).unwrap_err().to_string();
    assert!(e.contains("cannot read workload file"), "{e}");
    assert!(e.starts_with(&dir.path().display().to_string()), "{e}");
    let missing = dir.path().join("nope.json");
    let e = load_file(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}: cannot read workload file: ",
            missing.display()
        )),
        "{e}"
    );

    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let e = load_file(&empty).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:1:1: the workload file is empty",
            empty.display()
        )),
        "{e}"
    );

    let latin1 = dir.path().join("latin1.json");
    std::fs::write(&latin1, b"{\"jobs\": [\n {\"cmd\": \"caf\xe9\"}]}").unwrap();
    let e = load_file(&latin1).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:2:14: invalid UTF-8", latin1.display())),
        "{e}"
    );

    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"jobs": [{"cmd": "true"}]}"#).unwrap();
    assert_eq!(load_file(&good).unwrap().jobs[0].name, "true");
}

#[test]
fn cli_jobs() {
    let j = job_from_cli("python3 -c 'print(1); print(2)'", false).unwrap();
    assert_eq!(j.name, "python3");
    assert_eq!(j.program.argv(), ["python3", "-c", "print(1); print(2)"]);
    let j = job_from_cli("echo $HOME; ls *", true).unwrap();
    assert_eq!(j.name, "echo");
    assert_eq!(j.program, Program::Shell("echo $HOME; ls *".into()));
    let j = job_from_cli("web=python3 -m http.server", false).unwrap();
    assert_eq!((j.name.as_str(), j.explicit_name), ("web", true));
    assert_eq!(j.program.argv(), ["python3", "-m", "http.server"]);
    let j = job_from_cli("env FOO=bar printenv FOO", false).unwrap();
    assert_eq!(j.name, "env");
    let j = job_from_cli("echo a ; rm -rf x", false).unwrap();
    assert_eq!(j.program.argv(), ["echo", "a", ";", "rm", "-rf", "x"]);
    for (line, shell) in [("", false), ("  ", false), ("", true), (" \t", true)] {
        let e = job_from_cli(line, shell).unwrap_err().to_string();
        assert!(e.starts_with("empty command: "), "{e}");
    }
    assert!(
        job_from_cli("'' x", false)
            .unwrap_err()
            .to_string()
            .starts_with("empty command: ")
    );
    let e = job_from_cli("echo 'hi", false).unwrap_err();
    assert!(e.message.contains("unterminated quote"), "{e}");
    assert_eq!(e.at, None);
}

/// What each invalid fixture's message says after its position.
const FIXTURE_REASONS: &[(&str, &str)] = &[
    (
        "bad_stop_signal",
        " jobs[0].stop_signal: unknown signal 'SIGTERMINATE'",
    ),
    (
        "cmd_and_shell",
        " jobs[0]: both 'cmd' and 'shell' are given",
    ),
    (
        "count_too_big",
        " jobs[0].count: '100000' is out of range: expected 1..=10000",
    ),
    (
        "count_zero",
        " jobs[0].count: '0' is out of range: expected 1..=10000",
    ),
    (
        "duplicate_name",
        " jobs[1].name: duplicate job name 'worker'",
    ),
    ("empty_cmd", " jobs[0].cmd: the command is empty"),
    (
        "env_key_with_equals",
        " jobs[0].env: variable name 'PATH=/usr/bin' contains '='",
    ),
    ("malformed_json", " invalid JSON: expected ',' or ']'"),
    (
        "max_parallel_negative",
        " max_parallel: '-2' is out of range",
    ),
    ("max_parallel_zero", " max_parallel: '0' is out of range"),
    ("no_jobs", " jobs: the workload has no jobs"),
    ("unknown_field", " jobs[0]: unknown field 'cmdd'"),
    (
        "unterminated_quote",
        " jobs[0].cmd: cannot split 'echo 'hello' into words: unterminated quote",
    ),
    (
        "wrong_type",
        " jobs[0].count: found string '3': expected a whole number",
    ),
];

/// Every fixture under `tests/invalid_workloads` fails with a positioned message;
/// every one under `tests/valid_workloads` loads.
#[test]
fn fixtures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let files = |dir: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
    };
    let invalid = files("invalid_workloads");
    assert!(invalid.len() >= 12, "{invalid:?}");
    for path in invalid {
        let e = load_file(&path).expect_err(&path.display().to_string());
        // `PATH:LINE:COLUMN: ` then the reason this fixture exists.
        let rest = e.message.strip_prefix(&format!("{}:", path.display()));
        let rest = rest.unwrap_or_else(|| panic!("{e}"));
        let mut parts = rest.splitn(3, ':');
        let (line, column) = (parts.next().unwrap(), parts.next().unwrap());
        assert!(line.parse::<usize>().is_ok(), "{e}");
        assert!(column.parse::<usize>().is_ok(), "{e}");
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let (_, reason) = FIXTURE_REASONS
            .iter()
            .find(|(name, _)| *name == stem)
            .unwrap_or_else(|| panic!("add {stem} to FIXTURE_REASONS"));
        assert!(parts.next().unwrap().starts_with(reason), "{e}");
    }
    let valid = files("valid_workloads");
    assert!(valid.len() >= 2, "{valid:?}");
    for path in valid {
        let w = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!w.jobs.is_empty());
    }
}
