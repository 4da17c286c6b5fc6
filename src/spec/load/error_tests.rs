//! Errors: each kind names the position, the field path, the bad value and
//! what was expected.

use super::*;

/// Asserts the error for `text` starts with `w.json:AT: FIELD: ` (no `FIELD: `
/// when `field` is empty) and contains `part`.
fn assert_err(text: &str, at: &str, field: &str, part: &str) {
    let e = parse_workload(text, "w.json").unwrap_err().to_string();
    let prefix = match field {
        "" => format!("w.json:{at}: "),
        _ => format!("w.json:{at}: {field}: "),
    };
    assert!(
        e.starts_with(&prefix),
        "expected prefix {prefix:?} in {e:?}"
    );
    assert!(e.contains(part), "expected {part:?} in {e:?}");
    assert!(
        !e.contains(" at line "),
        "serde_json's suffix left in {e:?}"
    );
}

/// Checks cases of one job (`"cmd": "x"` plus the case's fields). The error must
/// sit at the last character of `at` within the fields (all of them when `at`
/// is empty), about `jobs[0].FIELD` (`jobs[0]` when `field` is empty).
fn check_job_cases(cases: &[(&str, &str, &str, &str)]) {
    for (fields, at, field, part) in cases {
        let text = format!(r#"{{"jobs": [{{"cmd": "x", {fields}}}]}}"#);
        let start = text.find(fields).unwrap();
        let needle = if at.is_empty() { fields } else { at };
        let end = start + fields.find(needle).unwrap() + needle.len();
        let column = text[..end].chars().count();
        let path = match *field {
            "" => "jobs[0]".to_string(),
            f => format!("jobs[0].{f}"),
        };
        assert_err(&text, &format!("1:{column}"), &path, part);
    }
}

#[test]
#[rustfmt::skip]
fn syntax_errors_point_at_the_spot() {
    let cases = [
        ("{\"jobs\": [\n  {\"cmd\": \"x\" \"count\": 2}\n]}", "2:15", "invalid JSON: expected ',' or '}'"),
        (r#"{"jobs": [{"cmd": "x"},]}"#, "1:24", "invalid JSON: trailing comma"),
        (r#"{"jobs": [{"cmd": "x"}]} 5"#, "1:26", "invalid JSON: trailing characters"),
        ("{\"jobs\": [\n", "2:1", "invalid JSON: EOF while parsing"),
        (r#"{"jobs": [}"#, "1:11", "invalid JSON: expected value"),
    ];
    for (text, at, part) in cases {
        assert_err(text, at, "", part);
    }
}

#[test]
#[rustfmt::skip]
fn empty_text_and_wrong_top_level_types() {
    let cases = [
        ("", "1:1", "", "the workload file is empty"),
        (" \n\t", "1:1", "", "the workload file is empty"),
        ("[]", "1:2", "", "found an array: expected a workload object"),
        (r#""jobs""#, "1:6", "", "found string 'jobs': expected a workload object"),
        ("{}", "1:2", "", "missing field 'jobs'"),
        (r#"{"jobs": {}}"#, "1:11", "jobs", "found an object: expected an array"),
        (r#"{"jobs": []}"#, "1:11", "jobs", "the workload has no jobs; add at least one"),
        (r#"{"jobs": [5]}"#, "1:11", "jobs[0]", "found number '5': expected a job object"),
        // A byte-order mark takes no column.
        ("\u{feff}{\"jobs\": []}", "1:11", "jobs", "no jobs"),
    ];
    for (text, at, field, part) in cases {
        assert_err(text, at, field, part);
    }
}

#[test]
#[rustfmt::skip]
fn unknown_and_repeated_fields() {
    let cases = [
        ("{\"jobs\": [\n  {\"cmdd\": \"x\"}\n]}", "2:9", "jobs[0]",
         "unknown field 'cmdd', expected one of cmd, shell, name, env, env_clear, cwd, count, "),
        (r#"{"jobs": [{"cmdd": "x"}]}"#, "1:17", "jobs[0]", "health, pool (did you mean 'cmd'?)"),
        (r#"{"cmd": "x", "jobs": []}"#, "1:6", "",
         "unknown field 'cmd', expected one of max_parallel, stop_grace_ms, jobs, $schema; job settings"),
        (r#"{"max_parallel": 1, "max_parallel": 2, "jobs": []}"#, "1:34", "",
         "field 'max_parallel' is given twice"),
    ];
    for (text, at, field, part) in cases {
        assert_err(text, at, field, part);
    }
    check_job_cases(&[(r#""count": 1, "count": 2"#, r#", "count""#, "", "field 'count' is given twice")]);
}

#[test]
#[rustfmt::skip]
fn command_errors() {
    let cases = [
        (r#"{"jobs": [{"count": 2}]}"#, "1:22", "jobs[0]",
         "no command: expected exactly one of 'cmd' (a program and its arguments) or 'shell'"),
        (r#"{"jobs": [{"cmd": "x", "shell": "y"}]}"#, "1:30", "jobs[0]",
         "both 'cmd' and 'shell' are given: expected exactly one of them"),
        (r#"{"jobs": [{"cmd": []}]}"#, "1:20", "jobs[0].cmd", "the command is empty"),
        (r#"{"jobs": [{"cmd": "  "}]}"#, "1:22", "jobs[0].cmd", "empty command '  '"),
        (r#"{"jobs": [{"cmd": ["", "a"]}]}"#, "1:21", "jobs[0].cmd[0]", "'' is empty: expected a program name"),
        (r#"{"jobs": [{"cmd": "'' a"}]}"#, "1:24", "jobs[0].cmd", "'' is empty"),
        (r#"{"jobs": [{"cmd": ["a", 1]}]}"#, "1:25", "jobs[0].cmd[1]", "found number '1': expected a string"),
        (r#"{"jobs": [{"cmd": "echo \"hi"}]}"#, "1:29", "jobs[0].cmd",
         "cannot split 'echo \"hi' into words: unterminated quote: the \" at character 6 is never closed"),
        (r#"{"jobs": [{"cmd": ["a", "b\u0000"]}]}"#, "1:33", "jobs[0].cmd[1]", r"'b\u{0}' contains a NUL character"),
        (r#"{"jobs": [{"cmd": 7}]}"#, "1:19", "jobs[0].cmd", "found number '7': expected an array of strings"),
        (r#"{"jobs": [{"shell": " "}]}"#, "1:23", "jobs[0].shell", "' ' is blank"),
        (r#"{"jobs": [{"shell": ["sh"]}]}"#, "1:21", "jobs[0].shell", "found an array"),
    ];
    for (text, at, field, part) in cases {
        assert_err(text, at, field, part);
    }
}

#[test]
#[rustfmt::skip]
fn name_errors() {
    check_job_cases(&[
        (r#""name": """#, "", "name", "'' is empty: expected a name without whitespace"),
        (r#""name": "a b""#, "", "name", "'a b' contains a space"),
        (r#""name": "w#1""#, "", "name", "'w#1' contains '#'"),
        (r#""name": "a\tb""#, "", "name", r"'a\tb' contains the character \t"),
        (r#""name": 3"#, "", "name", "found number '3': expected a job name"),
    ]);
    let cases = [
        ("{\"jobs\": [\n {\"name\": \"a\", \"cmd\": \"x\"},\n {\"name\": \"a\", \"cmd\": \"y\"}\n]}",
         "3:13", "jobs[1].name", "duplicate job name 'a' (jobs[0] has it too): expected a name no other job has"),
        (r#"{"jobs": [{"cmd": "sleep 1"}, {"name": "sleep", "cmd": "y"}]}"#, "1:46", "jobs[1].name",
         "duplicate job name 'sleep' (jobs[0] has it too, derived from its command)"),
        (r#"{"jobs": [{"name": "sleep", "cmd": "y"}, {"cmd": "sleep 1"}]}"#, "1:59", "jobs[1]",
         "duplicate job name 'sleep' (derived from this job's command; jobs[0] is named so explicitly)"),
    ];
    for (text, at, field, part) in cases {
        assert_err(text, at, field, part);
    }
}

#[test]
#[rustfmt::skip]
fn range_errors_name_the_value_and_the_range() {
    check_job_cases(&[
        (r#""count": 0"#, "", "count", "'0' is out of range: expected 1..=10000"),
        (r#""count": 10001"#, "", "count", "'10001' is out of range: expected 1..=10000"),
        (r#""count": -3"#, "", "count", "'-3' is out of range"),
        (r#""count": 1.5"#, "", "count", "'1.5' is not a whole number: expected 1..=10000"),
        (r#""count": 1e30"#, "", "count", "'1e30' is out of range"),
        (r#""count": "2""#, "", "count", "found string '2': expected a whole number in 1..=10000"),
        (r#""max_restarts": -1"#, "", "max_restarts", "'-1' is out of range: expected 0..=4294967295"),
        (r#""timeout_s": 0"#, "", "timeout_s", "'0' is out of range: expected a number of seconds greater than 0"),
        (r#""timeout_s": 31536001"#, "", "timeout_s", "'31536001' is out of range"),
        (r#""stuck_after_s": -2.5"#, "", "stuck_after_s", "'-2.5' is out of range"),
        (r#""stuck_cpu_pct": 101"#, "", "stuck_cpu_pct", "'101' is out of range: expected a percentage in 0..=100"),
        (r#""stuck_cpu_pct": -1"#, "", "stuck_cpu_pct", "'-1' is out of range"),
        (r#""stop_grace_ms": 3600001"#, "", "stop_grace_ms", "'3600001' is out of range: expected 0..=3600000"),
        (r#""env_clear": 1"#, "", "env_clear", "found number '1': expected true or false"),
    ]);
    let cases = [
        (r#"{"max_parallel": 0, "jobs": []}"#, "1:18", "'0' is out of range: expected 1..=10000"),
        (r#"{"max_parallel": -4, "jobs": []}"#, "1:19", "'-4' is out of range"),
        (r#"{"max_parallel": null, "jobs": []}"#, "1:21", "found null: expected a whole number"),
        (r#"{"stop_grace_ms": 1e7, "jobs": []}"#, "1:21", "'10000000' is out of range"),
    ];
    for (text, at, part) in cases {
        let field = if text.contains("max_parallel") { "max_parallel" } else { "stop_grace_ms" };
        assert_err(text, at, field, part);
    }
}

#[test]
#[rustfmt::skip]
fn choice_signal_stdin_and_path_errors() {
    check_job_cases(&[
        (r#""restart": "sometimes""#, "", "restart",
         "'sometimes' is not a restart policy: expected one of never, on-failure, always"),
        (r#""on_stuck": "kill""#, "", "on_stuck", "'kill' is not an on_stuck action: expected one of flag, terminate"),
        (r#""stop_signal": "SIGFOO""#, "", "stop_signal", "unknown signal 'SIGFOO'"),
        (r#""stop_signal": 0"#, "", "stop_signal", "signal number '0' is out of range"),
        (r#""stop_signal": true"#, "", "stop_signal", "found boolean 'true': expected a signal name"),
        (r#""stdin": """#, "", "stdin", "'' is empty"),
        (r#""stdin": 1"#, "", "stdin", "found number '1': expected null, 'null', 'inherit' or a file path"),
        (r#""cwd": """#, "", "cwd", "'' is empty: expected a directory path"),
        (r#""cwd": []"#, "", "cwd", "found an array: expected a directory path"),
    ]);
}

#[test]
#[rustfmt::skip]
fn env_errors_name_the_key() {
    check_job_cases(&[
        (r#""env": {"A=B": "1"}"#, r#""A=B""#, "env", "variable name 'A=B' contains '='"),
        (r#""env": {"": "1"}"#, r#""""#, "env", "'' is empty: expected a variable name"),
        (r#""env": {"A": 8080}"#, "8080", "env.A", "found number '8080': expected a string"),
        (r#""env": {"A": "x\u0000"}"#, r#""x\u0000""#, "env.A", r"'x\u{0}' contains a NUL"),
        (r#""env": {"A": "1", "A": "2"}"#, r#", "A""#, "env", "variable 'A' is given twice"),
        (r#""env": ["A=1"]"#, "[", "env", "found an array"),
    ]);
}

#[test]
fn columns_count_characters_and_the_error_has_its_parts() {
    let text = r#"{"jobs": [{"cmd": "ééé", "count": 0}]}"#;
    let e = parse_workload(text, "w.json").unwrap_err();
    assert_eq!(e.at, Some((1, 35)));
    assert_eq!(e.field.as_deref(), Some("jobs[0].count"));
    assert!(e.message.starts_with("w.json:1:35: jobs[0].count: '0'"));
    assert_eq!(e.to_string(), e.message);
}
