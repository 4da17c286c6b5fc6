//! The JSON Schema of a workload file, for editors (`"$schema"` in a workload,
//! `proctor schema`). The loader's field tables stay the authority: a test checks
//! that every field they accept has a schema here and nothing else does, so the
//! two cannot drift; the committed `assets/workload.schema.json` is checked equal
//! to what this prints.

use serde_json::{Value, json};

use crate::spec::MAX_COUNT;
use crate::spec::bounds::{MAX_GRACE_MS, MAX_NAME_BYTES, MAX_PARALLEL};

/// Where the committed schema lives in the repository.
pub const COMMITTED: &str = "assets/workload.schema.json";

/// The whole schema (draft 2020-12).
pub fn workload() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/proctor/proctor/assets/workload.schema.json",
        "title": "proctor workload",
        "description": "Jobs for proctor -f WORKLOAD.json; see the README's \"Workload file\" section.",
        "type": "object",
        "additionalProperties": false,
        "required": ["jobs"],
        "properties": object(top_fields()),
    })
}

/// The top-level fields, each with its schema.
pub fn top_fields() -> Vec<(&'static str, Value)> {
    vec![
        (
            "$schema",
            json!({"type": "string", "description": "this schema's address, for editors; ignored by proctor"}),
        ),
        (
            "max_parallel",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_PARALLEL,
                   "description": "at most this many workers at once (default: the number of logical CPUs)"}),
        ),
        (
            "stop_grace_ms",
            json!({"type": "integer", "minimum": 0, "maximum": MAX_GRACE_MS,
                   "description": "time between the stop signal and SIGKILL (default 3000)"}),
        ),
        (
            "jobs",
            json!({"type": "array", "minItems": 1, "items": job()}),
        ),
    ]
}

fn job() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "oneOf": [{"required": ["cmd"]}, {"required": ["shell"]}],
        "properties": object(job_fields()),
    })
}

/// Every job field, each with its schema.
pub fn job_fields() -> Vec<(&'static str, Value)> {
    let seconds = json!({"type": "number", "exclusiveMinimum": 0});
    vec![
        (
            "name",
            json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_BYTES,
                   "pattern": "^[^\\s#]+$", "description": "unique job name"}),
        ),
        (
            "cmd",
            json!({"description": "argv, executed without a shell; a string is split into words",
                   "oneOf": [{"type": "array", "minItems": 1, "items": {"type": "string"}},
                             {"type": "string", "minLength": 1}]}),
        ),
        (
            "shell",
            json!({"type": "string", "minLength": 1, "description": "a script for /bin/sh -c"}),
        ),
        (
            "env",
            json!({"type": "object", "additionalProperties": {"type": "string"},
                   "description": "added to the inherited environment"}),
        ),
        ("env_clear", json!({"type": "boolean"})),
        ("cwd", json!({"type": "string"})),
        (
            "count",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_COUNT}),
        ),
        (
            "restart",
            json!({"enum": ["never", "on-failure", "always"]}),
        ),
        ("max_restarts", json!({"type": "integer", "minimum": 0})),
        ("timeout_s", seconds.clone()),
        (
            "stdin",
            json!({"description": "null or \"null\" (/dev/null), \"inherit\", or a file path",
                   "type": ["string", "null"]}),
        ),
        (
            "stop_signal",
            json!({"description": "a signal name (\"INT\", \"SIGTERM\") or number",
                   "type": ["string", "integer"]}),
        ),
        (
            "stop_grace_ms",
            json!({"type": "integer", "minimum": 0, "maximum": MAX_GRACE_MS}),
        ),
        ("stuck_after_s", seconds),
        (
            "stuck_cpu_pct",
            json!({"type": "number", "minimum": 0, "maximum": 100}),
        ),
        ("on_stuck", json!({"enum": ["flag", "terminate"]})),
        ("depends_on", depends_on()),
        ("ready", probe(false)),
        ("health", probe(true)),
        ("pool", pool()),
    ]
}

fn pool() -> Value {
    let duration = json!({"type": ["string", "number"],
                          "description": "\"500ms\", \"2m\", \"1h\", or a number of seconds"});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["workers"],
        "description": "makes the job a pool: long-lived workers fed tasks (see the README's \"Pools\")",
        "properties": object(pool_fields(duration)),
    })
}

fn pool_fields(duration: Value) -> Vec<(&'static str, Value)> {
    vec![
        (
            "workers",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_COUNT}),
        ),
        ("protocol", json!({"enum": ["jsonl", "lines"]})),
        ("max_tasks", json!({"type": "integer", "minimum": 1})),
        ("max_tasks_jitter", json!({"type": "integer", "minimum": 0})),
        (
            "max_rss",
            json!({"type": ["string", "integer"], "description": "bytes, or \"2GiB\", \"512MiB\""}),
        ),
        ("max_age", duration.clone()),
        ("init_timeout", duration.clone()),
        ("task_timeout", duration),
        (
            "retries",
            json!({"type": "integer", "minimum": 0, "maximum": 1000}),
        ),
    ]
}

fn depends_on() -> Value {
    let condition = json!({"enum": ["started", "ready", "succeeded", "exited"]});
    json!({
        "description": "job names (each must exit 0), or name -> condition or {condition, instances}",
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {"oneOf": [
                condition.clone(),
                {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "condition": condition,
                        "instances": {"enum": ["all", "any"]},
                    },
                },
            ]}},
        ],
    })
}

fn probe(health: bool) -> Value {
    let duration = json!({"type": ["string", "number"],
                          "description": "\"250ms\", \"2s\", or a number of seconds"});
    let mut fields = vec![
        (
            "exec",
            json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        ),
        ("tcp", json!({"type": "string", "description": "HOST:PORT"})),
        (
            "http",
            json!({"type": "string", "description": "a local http:// URL"}),
        ),
        (
            "log",
            json!({"type": "string", "description": "a regex over the worker's output lines"}),
        ),
        ("initial_delay", duration.clone()),
        ("interval", duration.clone()),
        ("timeout", duration.clone()),
    ];
    if health {
        fields.push((
            "failure_threshold",
            json!({"type": "integer", "minimum": 1}),
        ));
        fields.push((
            "on_unhealthy",
            json!({"enum": ["none", "restart", "terminate"]}),
        ));
    } else {
        fields.push(("deadline", duration));
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "oneOf": [{"required": ["exec"]}, {"required": ["tcp"]},
                  {"required": ["http"]}, {"required": ["log"]}],
        "properties": object(fields),
    })
}

fn object(fields: Vec<(&'static str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The schema as `proctor schema` prints it and the repository commits it.
pub fn pretty() -> String {
    let mut text = serde_json::to_string_pretty(&workload()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &[(&'static str, Value)]) -> Vec<&'static str> {
        let mut names: Vec<_> = fields.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names
    }

    fn sorted(mut v: Vec<&'static str>) -> Vec<&'static str> {
        v.sort_unstable();
        v
    }

    fn probe_names(health: bool) -> Vec<&'static str> {
        let p = probe(health);
        let mut names: Vec<&'static str> = p["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(|k| &*k.clone().leak())
            .collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn the_schema_covers_exactly_the_fields_the_loader_accepts() {
        let [top, job, ready, health, pool] = crate::spec::accepted_fields();
        assert_eq!(names(&top_fields()), sorted(top), "top-level fields");
        assert_eq!(names(&job_fields()), sorted(job), "job fields");
        assert_eq!(probe_names(false), sorted(ready), "ready probe fields");
        assert_eq!(probe_names(true), sorted(health), "health probe fields");
        assert_eq!(names(&pool_fields(json!({}))), sorted(pool), "pool fields");
    }
}
