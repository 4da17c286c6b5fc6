//! The workload JSON Schema: `proctor schema` prints the committed file, every
//! shipped workload validates against it, and a workload naming it in
//! `"$schema"` runs.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::BIN;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn schema() -> Value {
    let out = Command::new(BIN)
        .arg("schema")
        .stdin(Stdio::null())
        .output()
        .expect("run proctor schema");
    assert!(out.status.success(), "{out:?}");
    let committed = std::fs::read_to_string(Path::new(ROOT).join("assets/workload.schema.json"))
        .expect("the committed schema");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "assets/workload.schema.json is stale: run `proctor schema > assets/workload.schema.json`"
    );
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

/// Checks `value` against `schema`, for the keywords the workload schema uses;
/// returns the first problem with its path.
fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{path}: {what} (value {value})"));
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return fail("bad type keyword"),
        };
        let is = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            _ => false,
        };
        if !names.iter().any(|t| is(t)) {
            return fail(&format!("not of type {names:?}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return fail(&format!("not one of {options:?}"));
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            return fail("below minimum");
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            return fail("above maximum");
        }
        if schema
            .get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n <= m)
        {
            return fail("not above exclusiveMinimum");
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            return fail("too short");
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            return fail("too long");
        }
    }
    if let Some(items) = value.as_array() {
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| (items.len() as u64) < m)
        {
            return fail("too few items");
        }
        if let Some(item) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                check(item, v, &format!("{path}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(key.as_str().unwrap_or_default()) {
                return fail(&format!("missing {key}"));
            }
        }
        for (k, v) in obj {
            let sub = format!("{path}.{k}");
            match (
                props.and_then(|p| p.get(k)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => check(s, v, &sub)?,
                (None, Some(Value::Bool(false))) => return fail(&format!("unknown field {k}")),
                (None, Some(s @ Value::Object(_))) => check(s, v, &sub)?,
                (None, _) => {}
            }
        }
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|s| check(s, value, path).is_ok())
            .count();
        if passing != 1 {
            return fail(&format!(
                "matches {passing} of the oneOf options, not exactly 1"
            ));
        }
    }
    Ok(())
}

#[test]
fn proctor_schema_prints_the_committed_schema_and_shipped_workloads_pass_it() {
    let schema = schema();
    let mut files: Vec<_> = ["assets", "assets/pipeline", "tests/valid_workloads"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(Path::new(ROOT).join(dir)).expect("dir"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.ends_with("workload.schema.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        check(&schema, &value, "$").unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

#[test]
fn the_validator_catches_what_the_loader_refuses() {
    let schema = schema();
    for bad in [
        r#"{"jobs": []}"#,
        r#"{"jobs": [{"cmd": ["true"], "shell": "true"}]}"#,
        r#"{"jobs": [{"cmd": ["true"], "count": 0}]}"#,
        r#"{"jobs": [{"cmd": ["true"], "colour": "red"}]}"#,
        r#"{"jobs": [{"cmd": ["true"], "restart": "sometimes"}]}"#,
        r#"{"max_parallel": 0, "jobs": [{"cmd": ["true"]}]}"#,
    ] {
        let value: Value = serde_json::from_str(bad).expect("JSON");
        assert!(check(&schema, &value, "$").is_err(), "schema passed {bad}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.json");
        std::fs::write(&path, bad).expect("write");
        let out = Command::new(BIN)
            .args(["--json", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("run proctor");
        assert_eq!(out.status.code(), Some(2), "loader accepted {bad}");
    }
}

#[test]
fn a_workload_naming_the_schema_runs_and_a_bad_schema_value_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"$schema": "../assets/workload.schema.json", "jobs": [{"cmd": ["echo", "hi"]}]}"#,
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["--json", "-f"])
        .arg(&good)
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""line":"hi""#));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"$schema": 7, "jobs": [{"cmd": ["true"]}]}"#).expect("write");
    let out = Command::new(BIN)
        .args(["--json", "-f"])
        .arg(&bad)
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("$schema"), "{stderr}");
}
