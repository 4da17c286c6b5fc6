//! The README's dependencies example, `assets/pipeline/pipeline.json`, runs for
//! real: a database-like server, a migration, an app and its tests start in
//! dependency order, the tests pass, and a stop ends them in reverse.

mod common;

use common::{Live, Run, temp_file};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn t(e: &Value) -> f64 {
    e["t"].as_f64().expect("t")
}

fn event<'a>(r: &'a Run, kind: &str, worker: &str) -> &'a Value {
    r.of(kind)
        .into_iter()
        .find(|e| e["worker"] == worker)
        .unwrap_or_else(|| panic!("no {kind} of {worker}: {:#?}", r.events))
}

/// Two distinct ports nothing listens on right now (both held until both are known).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = |l: &std::net::TcpListener| l.local_addr().expect("address").port();
    (port(&a), port(&b))
}

/// The README's workload block under "Dependencies and readiness".
fn readme_block() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .split("### Dependencies and readiness")
        .nth(1)
        .expect("the section");
    let block = section.split("```json\n").nth(1).expect("a json block");
    block.split("```").next().unwrap_or_default().to_string()
}

#[test]
fn the_readme_pipeline_runs_in_dependency_order_and_stops_in_reverse() {
    let file = std::fs::read_to_string(format!("{ROOT}/assets/pipeline/pipeline.json"))
        .expect("the example workload");
    assert_eq!(readme_block().trim(), file.trim(), "README shows the file");
    // The same workload on ports free now, with its scripts found from anywhere.
    let (db_port, app_port) = free_ports();
    let workload = file
        .replace("5480", &db_port.to_string())
        .replace("8480", &app_port.to_string())
        .replace(
            "\"assets/pipeline\"",
            &format!("\"{ROOT}/assets/pipeline\""),
        );
    let (_dir, path) = temp_file("pipeline.json", &workload);
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("exited", "tests");
    // SAFETY: kill with plain integers, on the proctor this test started.
    unsafe { libc::kill(live.pid() as i32, libc::SIGTERM) };
    let r = live.finish();

    assert_eq!(r.exit_of("migrate")["code"], 0, "{:#?}", r.events);
    assert_eq!(r.exit_of("tests")["code"], 0, "{:#?}", r.events);
    assert!(
        r.output_of("tests").iter().any(|l| l == "tests: 2 passed"),
        "{:?}",
        r.output_of("tests")
    );
    assert!(r.of("ready_timeout").is_empty() && r.of("skipped").is_empty());
    // Start order: each step after what it depends on reached its condition.
    assert!(t(event(&r, "spawned", "migrate")) >= t(event(&r, "ready", "db")));
    assert!(t(event(&r, "spawned", "app")) >= t(r.exit_of("migrate")));
    assert!(t(event(&r, "spawned", "tests")) >= t(event(&r, "ready", "app")));
    // Stop order: the database gets its stop signal only after the app exited.
    assert!(t(event(&r, "stopping", "db")) >= t(r.exit_of("app")));
    assert!(t(r.exit_of("db")) >= t(r.exit_of("app")));
}
