//! A job's `"pool": {...}` setting, checked field by field with messages that
//! name the field, the value and what was expected.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::spec::MAX_COUNT;
use crate::spec::pool::{PoolSpec, Protocol};

pub(super) const FIELDS: &[&str] = &[
    "workers",
    "protocol",
    "max_tasks",
    "max_tasks_jitter",
    "max_rss",
    "max_age",
    "init_timeout",
    "task_timeout",
    "retries",
];

/// The pool object of a job.
pub(super) fn parse(value: &Value) -> Result<PoolSpec, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "'pool' is {value}: expected an object such as {{\"workers\": 4}}"
        ));
    };
    if let Some(key) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "'pool' has an unknown field '{key}': expected one of {}",
            FIELDS.join(", ")
        ));
    }
    let workers = match map.get("workers") {
        Some(v) => whole(v, "workers", 1, MAX_COUNT)?,
        None => return Err("'pool' needs \"workers\": how many workers (1 or more)".into()),
    };
    let protocol = match map.get("protocol") {
        None => Protocol::Jsonl,
        Some(Value::String(s)) => Protocol::parse(s).map_err(|e| format!("pool.protocol: {e}"))?,
        Some(other) => {
            return Err(format!(
                "pool.protocol is {other}: expected \"jsonl\" or \"lines\""
            ));
        }
    };
    let mut spec = PoolSpec::new(workers, protocol);
    spec.max_tasks = opt(map, "max_tasks", |v| whole(v, "max_tasks", 1, u32::MAX))?;
    spec.max_tasks_jitter = opt(map, "max_tasks_jitter", |v| {
        whole(v, "max_tasks_jitter", 0, u32::MAX)
    })?
    .unwrap_or(0);
    spec.max_rss = opt(map, "max_rss", bytes)?;
    spec.max_age = opt(map, "max_age", |v| duration(v, "max_age"))?;
    if let Some(d) = opt(map, "init_timeout", |v| duration(v, "init_timeout"))? {
        spec.init_timeout = d;
    }
    spec.task_timeout = opt(map, "task_timeout", |v| duration(v, "task_timeout"))?;
    if let Some(n) = opt(map, "retries", |v| whole(v, "retries", 0, 1000))? {
        spec.retries = n;
    }
    Ok(spec)
}

fn opt<T>(
    map: &Map<String, Value>,
    key: &str,
    f: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    map.get(key).map(f).transpose()
}

fn whole(v: &Value, field: &str, lo: u32, hi: u32) -> Result<u32, String> {
    v.as_u64()
        .filter(|n| (u64::from(lo)..=u64::from(hi)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| format!("pool.{field} is {v}: expected a whole number in {lo}..={hi}"))
}

/// `"90s"`, `"1h"`, or a number of seconds.
fn duration(v: &Value, field: &str) -> Result<Duration, String> {
    let parsed = match v {
        Value::String(s) => crate::sample::parse_duration(s).ok(),
        Value::Number(n) => n.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok()),
        _ => None,
    };
    parsed.filter(|d| !d.is_zero()).ok_or_else(|| {
        format!("pool.{field} is {v}: expected a duration such as \"90s\" or \"1h\"")
    })
}

/// `"2GiB"`, `"512MiB"`, `"100MB"`, or a number of bytes.
fn bytes(v: &Value) -> Result<u64, String> {
    let bad = || format!("pool.max_rss is {v}: expected a size such as \"2GiB\" or \"512MiB\"");
    let text = match v {
        Value::Number(n) => return n.as_u64().filter(|&n| n > 0).ok_or_else(bad),
        Value::String(s) => s.trim(),
        _ => return Err(bad()),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    let n: f64 = number.parse().map_err(|_| bad())?;
    let total = n * scale as f64;
    (total >= 1.0 && total < u64::MAX as f64)
        .then_some(total as u64)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_is_read() {
        let spec = parse(&json!({
            "workers": 4, "protocol": "lines", "max_tasks": 1000, "max_tasks_jitter": 100,
            "max_rss": "2GiB", "max_age": "1h", "init_timeout": "120s",
            "task_timeout": "60s", "retries": 2
        }))
        .expect("a valid pool");
        assert_eq!(spec.workers, 4);
        assert_eq!(spec.protocol, Protocol::Lines);
        assert_eq!(spec.max_tasks, Some(1000));
        assert_eq!(spec.max_tasks_jitter, 100);
        assert_eq!(spec.max_rss, Some(2 << 30));
        assert_eq!(spec.max_age, Some(Duration::from_secs(3600)));
        assert_eq!(spec.task_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let e = parse(&json!({"workers": 0})).expect_err("0 workers");
        assert!(e.contains("pool.workers") && e.contains("1..="), "{e}");
        let e = parse(&json!({"workers": 2, "max_rss": "lots"})).expect_err("bad size");
        assert!(e.contains("2GiB"), "{e}");
        let e = parse(&json!({"workers": 2, "threads": 2})).expect_err("unknown");
        assert!(e.contains("unknown field 'threads'"), "{e}");
        let e = parse(&json!({})).expect_err("no workers");
        assert!(e.contains("needs \"workers\""), "{e}");
    }
}
