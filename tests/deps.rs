//! Dependencies, readiness and stop order with real processes, a real local HTTP
//! server and real timing. Everything waits on events; deadlines are generous.

mod common;

use common::{Live, Run, run, temp_file};
use serde_json::Value;

fn t(e: &Value) -> f64 {
    e["t"].as_f64().expect("t")
}

fn event<'a>(r: &'a Run, kind: &str, worker: &str) -> &'a Value {
    r.of(kind)
        .into_iter()
        .find(|e| e["worker"] == worker)
        .unwrap_or_else(|| panic!("no {kind} of {worker}: {:#?}", r.events))
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

fn terminate(live: &Live) {
    // SAFETY: kill with plain integers, on the proctor this test started.
    unsafe { libc::kill(live.pid() as i32, libc::SIGTERM) };
}

#[test]
fn start_order_follows_started_ready_and_succeeded() {
    let port = free_port();
    let workload = format!(
        r#"{{"max_parallel": 4, "jobs": [
        {{"name": "db", "cmd": ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
          "ready": {{"http": "http://127.0.0.1:{port}/", "interval": "100ms", "deadline": 50}}}},
        {{"name": "watch", "cmd": ["sleep", "30"], "depends_on": {{"db": "started"}}}},
        {{"name": "migrate", "cmd": ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')"],
          "depends_on": {{"db": {{"condition": "ready"}}}}}},
        {{"name": "app", "shell": "exit 0", "depends_on": ["migrate"]}}
    ]}}"#
    );
    let (_dir, path) = temp_file("w.json", &workload);
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("exited", "app");
    terminate(&live);
    let r = live.finish();
    let db_spawn = t(event(&r, "spawned", "db"));
    let db_ready = t(event(&r, "ready", "db"));
    assert!(t(event(&r, "spawned", "watch")) >= db_spawn);
    assert!(t(event(&r, "spawned", "migrate")) >= db_ready);
    assert_eq!(r.exit_of("migrate")["code"], 0, "{:#?}", r.events);
    assert!(t(event(&r, "spawned", "app")) >= t(r.exit_of("migrate")));
    assert_eq!(event(&r, "waiting", "app")["on"][0], "migrate");
}

#[test]
fn a_failed_dependency_skips_its_dependents_transitively_and_proctor_ends() {
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"jobs": [
        {"name": "build", "shell": "exit 3"},
        {"name": "test", "cmd": ["true"], "depends_on": ["build"]},
        {"name": "report", "cmd": ["true"], "depends_on": {"test": {"condition": "exited"}}}
    ]}"#,
    );
    let r = run(&["-f", &path]);
    assert_eq!(r.code(), Some(1), "{}", r.stderr);
    let test = event(&r, "skipped", "test");
    assert_eq!(test["reason"]["dep"], "build");
    assert_eq!(test["reason"]["cause"], "exited 3");
    let report = event(&r, "skipped", "report");
    assert_eq!(report["reason"]["dep"], "test");
    assert!(r.of("spawned").iter().all(|e| e["worker"] == "build"));
    let summary = &r.of("summary")[0]["workers"];
    assert_eq!(summary[1]["state"], "skipped");
}

#[test]
fn a_missed_readiness_deadline_fails_the_dependency() {
    let port = free_port();
    let workload = format!(
        r#"{{"jobs": [
        {{"name": "db", "cmd": ["sleep", "30"],
          "ready": {{"tcp": "127.0.0.1:{port}", "interval": "50ms", "deadline": "500ms"}}}},
        {{"name": "app", "cmd": ["true"], "depends_on": {{"db": {{"condition": "ready"}}}}}}
    ]}}"#
    );
    let (_dir, path) = temp_file("w.json", &workload);
    let r = run(&["-f", &path]);
    assert_eq!(event(&r, "ready_timeout", "db")["deadline_s"], 0.5);
    assert_eq!(r.exit_of("db")["signal"], "SIGTERM");
    let app = event(&r, "skipped", "app");
    assert_eq!(app["reason"]["cause"], "missed its readiness deadline");
    assert_ne!(r.code(), Some(0));
}

#[test]
fn a_log_probe_waits_for_the_matching_line() {
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"jobs": [
        {"name": "db", "shell": "echo booting; sleep 0.5; echo 'ready to accept connections on 5432'; exec sleep 30",
         "ready": {"log": "ready to accept connections on \\d+"}},
        {"name": "app", "cmd": ["true"], "depends_on": {"db": "ready"}}
    ]}"#,
    );
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("exited", "app");
    terminate(&live);
    let r = live.finish();
    let ready = t(event(&r, "ready", "db"));
    assert!(ready - t(event(&r, "spawned", "db")) >= 0.4);
    assert!(t(event(&r, "spawned", "app")) >= ready);
}

#[test]
fn dependents_are_stopped_before_what_they_depend_on() {
    // app takes a while to stop; db must not get its stop signal before app exited.
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"max_parallel": 4, "stop_grace_ms": 10000, "jobs": [
        {"name": "db", "cmd": ["sleep", "60"]},
        {"name": "app", "shell": "trap 'sleep 0.5; exit 0' TERM; sleep 60 & wait",
         "depends_on": {"db": "started"}},
        {"name": "web", "shell": "trap 'exit 0' TERM; sleep 60 & wait", "depends_on": {"app": "started"}}
    ]}"#,
    );
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("spawned", "web");
    terminate(&live);
    let r = live.finish();
    let web = t(r.exit_of("web"));
    let app_stop = t(event(&r, "stopping", "app"));
    let app = t(r.exit_of("app"));
    let db_stop = t(event(&r, "stopping", "db"));
    assert!(app_stop >= web, "{:#?}", r.events);
    assert!(db_stop >= app, "{:#?}", r.events);
    // The `exited` events come in reverse dependency order.
    assert!(web <= app && app <= t(r.exit_of("db")), "{:#?}", r.events);
}

#[test]
fn parallel_stop_order_stops_everything_at_once() {
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"max_parallel": 4, "stop_grace_ms": 10000, "jobs": [
        {"name": "db", "cmd": ["sleep", "60"]},
        {"name": "app", "shell": "trap 'sleep 1; exit 0' TERM; sleep 60 & wait",
         "depends_on": {"db": "started"}}
    ]}"#,
    );
    let mut live = Live::start(&["--stop-order", "parallel", "-f", &path], false);
    live.wait_event("spawned", "app");
    terminate(&live);
    let r = live.finish();
    assert!(t(event(&r, "stopping", "db")) < t(r.exit_of("app")));
}

#[test]
fn cycles_and_unknown_names_are_errors_with_positions() {
    let (_dir, path) = temp_file(
        "w.json",
        "{\"jobs\": [\n  {\"name\": \"a\", \"cmd\": \"true\", \"depends_on\": [\"b\"]},\n  {\"name\": \"b\", \"cmd\": \"true\", \"depends_on\": [\"a\"]}\n]}",
    );
    let r = run(&["-f", &path]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains("w.json:3:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("dependency cycle: a -> b -> a"),
        "{}",
        r.stderr
    );
    assert!(r.of("spawned").is_empty());

    let (_dir, path) = temp_file(
        "w.json",
        "{\"jobs\": [\n  {\"name\": \"db\", \"cmd\": \"true\"},\n  {\"name\": \"app\", \"cmd\": \"true\", \"depends_on\": {\"dbb\": {}}}\n]}",
    );
    let r = run(&["-f", &path]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr.contains("w.json:3:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("'dbb': no job has this name"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("did you mean 'db'"), "{}", r.stderr);
}

#[test]
fn a_health_probe_that_fails_three_times_restarts_the_worker() {
    // The probe passes while the marker file exists; removing it makes the worker
    // unhealthy, and after three failures it is restarted (a second `spawned`).
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("healthy");
    std::fs::write(&marker, "").expect("marker");
    let workload = format!(
        r#"{{"jobs": [{{"name": "svc", "cmd": ["sleep", "300"],
          "health": {{"exec": ["test", "-f", "{}"], "interval": "100ms",
                      "failure_threshold": 3, "on_unhealthy": "restart"}}}}]}}"#,
        marker.display()
    );
    let (_wdir, path) = temp_file("w.json", &workload);
    let mut live = Live::start(&["-f", &path], false);
    let first = live.wait_event("spawned", "svc")["pid"].clone();
    std::fs::remove_file(&marker).expect("remove marker");
    let unhealthy = live.wait_event("unhealthy", "svc");
    assert_eq!(unhealthy["action"], "restart", "{unhealthy}");
    assert!(
        unhealthy["failures"].as_u64().unwrap_or(0) >= 3,
        "{unhealthy}"
    );
    // Healthy again before the new run starts, so it stays up.
    std::fs::write(&marker, "").expect("marker");
    let second = live.next("the restarted run", |e| {
        e["event"] == "spawned" && e["worker"] == "svc"
    })["pid"]
        .clone();
    assert_ne!(first, second, "a new process");
    terminate(&live);
    live.finish();
}

#[test]
fn the_readiness_deadline_counts_from_after_the_initial_delay() {
    // The first check comes at 3s, after a 2s deadline would have passed had it
    // counted from the spawn; counted from the first check, the run is ready.
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"jobs": [
        {"name": "db", "cmd": ["sleep", "30"],
         "ready": {"exec": ["true"], "initial_delay": "3s", "deadline": "2s"}},
        {"name": "app", "cmd": ["true"], "depends_on": {"db": "ready"}}
    ]}"#,
    );
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("exited", "app");
    terminate(&live);
    let r = live.finish();
    assert!(r.of("ready_timeout").is_empty(), "{:#?}", r.events);
    assert!(event(&r, "ready", "db")["after_s"].as_f64().unwrap_or(0.0) >= 3.0);
    assert_eq!(r.exit_of("app")["code"], 0);
}

#[test]
fn restarting_a_failed_dependency_by_hand_releases_what_it_skipped() {
    // build fails until its marker exists; test (and report after it) are skipped,
    // then a restart of build that succeeds runs them both.
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("fixed");
    let workload = format!(
        r#"{{"jobs": [
        {{"name": "build", "cmd": ["test", "-f", "{}"]}},
        {{"name": "test", "cmd": ["true"], "depends_on": ["build"]}},
        {{"name": "report", "cmd": ["true"], "depends_on": ["test"]}}
    ]}}"#,
        marker.display()
    );
    let (_wdir, path) = temp_file("w.json", &workload);
    let mut live = Live::start(&["-f", &path], true);
    live.wait_event("skipped", "report");
    std::fs::write(&marker, "").expect("marker");
    live.send(r#"{"cmd":"restart","worker":"build"}"#);
    live.wait_event("exited", "report");
    live.close();
    let r = live.finish();
    assert_eq!(r.code(), Some(0), "{:#?}", r.events);
    let exits: Vec<_> = r.of("exited").iter().map(|e| e["worker"].clone()).collect();
    assert_eq!(
        exits,
        ["build", "build", "test", "report"],
        "{:#?}",
        r.events
    );
    assert_eq!(r.exit_of("test")["code"], 0);
    let waits = r
        .of("waiting")
        .into_iter()
        .filter(|e| e["worker"] == "test");
    assert_eq!(waits.count(), 2, "waited again after the restart");
}

#[test]
fn a_log_health_probe_wants_a_heartbeat_every_interval() {
    // The worker prints a heartbeat three times, then falls silent: three silent
    // intervals make it unhealthy and it is terminated.
    let (_dir, path) = temp_file(
        "w.json",
        r#"{"jobs": [{"name": "svc",
          "shell": "for i in 1 2 3; do echo heartbeat $i; sleep 0.2; done; echo stuck; exec sleep 60",
          "health": {"log": "^heartbeat \\d+$", "interval": "1s", "failure_threshold": 3,
                     "on_unhealthy": "terminate"}}]}"#,
    );
    let r = run(&["-f", &path]);
    let unhealthy = event(&r, "unhealthy", "svc");
    assert_eq!(unhealthy["action"], "terminate", "{unhealthy}");
    assert_eq!(unhealthy["failures"], 3, "{unhealthy}");
    let detail = unhealthy["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no line matched"), "{detail}");
    assert_eq!(r.exit_of("svc")["signal"], "SIGTERM");
    // One passing interval (the heartbeats), then three silent ones.
    let after = t(unhealthy) - t(event(&r, "spawned", "svc"));
    assert!(after >= 3.0, "unhealthy after {after}s");
}

#[test]
fn a_tcp_probe_is_ready_once_the_port_accepts() {
    // The server listens only after a second; its dependent starts after that.
    let port = free_port();
    let workload = format!(
        r#"{{"jobs": [
        {{"name": "db", "cmd": ["python3", "-c",
          "import socket, time; time.sleep(1); s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"],
          "ready": {{"tcp": "127.0.0.1:{port}", "interval": "100ms", "deadline": "50s"}}}},
        {{"name": "app", "cmd": ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"],
          "depends_on": {{"db": "ready"}}}}
    ]}}"#
    );
    let (_dir, path) = temp_file("w.json", &workload);
    let mut live = Live::start(&["-f", &path], false);
    live.wait_event("exited", "app");
    terminate(&live);
    let r = live.finish();
    let ready = event(&r, "ready", "db");
    assert!(ready["after_s"].as_f64().unwrap_or(0.0) >= 1.0, "{ready}");
    assert!(t(event(&r, "spawned", "app")) >= t(ready));
    assert_eq!(r.exit_of("app")["code"], 0, "the port really accepted");
}
