//! `depends_on`, `ready` and `health`: parsing, defaults, and errors with positions.

use std::time::Duration;

use super::*;
use crate::spec::deps::{Condition, Instances, OnUnhealthy, ProbeCheck};

fn err(text: &str) -> SpecError {
    match parse_workload(text, "w.json") {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

#[test]
fn both_forms_and_probes_are_parsed() {
    let w = parse_workload(
        r#"{"jobs": [
            {"name": "db", "cmd": "srv", "ready": {"tcp": "127.0.0.1:5432", "interval": "100ms", "deadline": 5}},
            {"name": "mig", "cmd": "m", "depends_on": ["db"]},
            {"name": "app", "cmd": "a", "depends_on": {"db": {"condition": "ready", "instances": "any"}, "mig": {}},
             "health": {"http": "http://127.0.0.1:8080/h", "failure_threshold": 2, "on_unhealthy": "restart"}}
        ]}"#,
        "w.json",
    )
    .unwrap();
    let ready = w.jobs[0].ready.as_ref().unwrap();
    assert_eq!(ready.check, ProbeCheck::Tcp("127.0.0.1:5432".into()));
    assert_eq!(ready.interval, Duration::from_millis(100));
    assert_eq!(ready.deadline, Duration::from_secs(5));
    assert_eq!(ready.timeout, Duration::from_secs(1));
    assert_eq!(w.jobs[1].depends_on[0].condition, Condition::Succeeded);
    let app = &w.jobs[2];
    assert_eq!(app.depends_on[0].condition, Condition::Ready);
    assert_eq!(app.depends_on[0].instances, Instances::Any);
    assert_eq!(app.depends_on[1].job, "mig");
    let health = app.health.as_ref().unwrap();
    assert_eq!(health.failure_threshold, 2);
    assert_eq!(health.on_unhealthy, OnUnhealthy::Restart);
    assert_eq!(health.probe.interval, Duration::from_secs(5));
}

#[test]
fn an_unknown_name_is_located_at_its_entry() {
    let e = err(
        "{\"jobs\": [\n  {\"name\": \"db\", \"cmd\": \"x\"},\n  {\"name\": \"app\", \"cmd\": \"x\", \"depends_on\": [\"db\", \"dbb\"]}\n]}",
    );
    assert_eq!(e.at, Some((3, 56)), "{e}");
    assert_eq!(e.field.as_deref(), Some("jobs[1].depends_on[1]"));
    assert!(e.message.contains("'dbb': no job has this name"), "{e}");
    assert!(e.message.contains("did you mean 'db'"), "{e}");
}

#[test]
fn a_cycle_is_printed_and_located() {
    let e = err(r#"{"jobs": [
        {"name": "a", "cmd": "x", "depends_on": ["b"]},
        {"name": "b", "cmd": "x", "depends_on": {"c": {"condition": "started"}}},
        {"name": "c", "cmd": "x", "depends_on": ["a"]}
    ]}"#);
    assert!(
        e.message.contains("dependency cycle: a -> b -> c -> a"),
        "{e}"
    );
    assert_eq!(e.at.map(|a| a.0), Some(4), "{e}");
    assert_eq!(e.field.as_deref(), Some("jobs[2].depends_on[0]"));
    let e = err(r#"{"jobs": [{"name": "a", "cmd": "x", "depends_on": ["a"]}]}"#);
    assert!(e.message.contains("dependency cycle: a -> a"), "{e}");
}

#[test]
fn condition_ready_needs_a_ready_probe() {
    let e = err(r#"{"jobs": [
        {"name": "db", "cmd": "x"},
        {"name": "app", "cmd": "x", "depends_on": {"db": {"condition": "ready"}}}
    ]}"#);
    assert!(e.message.contains("has no 'ready' probe"), "{e}");
    assert_eq!(e.at.map(|a| a.0), Some(3), "{e}");
}

#[test]
fn probes_are_checked() {
    let bad = [
        (r#"{"http": "http://example.com/"}"#, "not a local address"),
        (r#"{"tcp": "nope"}"#, "not host:port"),
        (r#"{"log": "("}"#, "not a valid regular expression"),
        (
            r#"{"tcp": "127.0.0.1:1", "log": "x"}"#,
            "more than one check",
        ),
        (r#"{"interval": "1s"}"#, "no check"),
        (
            r#"{"tcp": "127.0.0.1:1", "failure_threshold": 2}"#,
            "unknown field",
        ),
    ];
    for (probe, expected) in bad {
        let text = format!(r#"{{"jobs": [{{"cmd": "x", "ready": {probe}}}]}}"#);
        let e = err(&text);
        assert!(e.message.contains(expected), "{probe}: {e}");
    }
}

#[test]
fn a_log_health_probe_is_a_heartbeat_with_health_defaults() {
    let w = parse_workload(
        r#"{"jobs": [{"cmd": "x", "health": {"log": "^tick", "failure_threshold": 2}}]}"#,
        "w.json",
    )
    .unwrap();
    let health = w.jobs[0].health.as_ref().unwrap();
    assert_eq!(health.probe.check, ProbeCheck::Log("^tick".into()));
    assert_eq!(health.probe.interval, Duration::from_secs(5));
    assert_eq!(health.failure_threshold, 2);
    let e = err(r#"{"jobs": [{"cmd": "x", "health": {"log": "("}}]}"#);
    assert!(e.message.contains("not a valid regular expression"), "{e}");
}
