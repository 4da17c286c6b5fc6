//! Reap latency: from a worker's own last timestamp (printed just before it exits)
//! to proctor's `exited` event, over 1,000 exits.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::Row;
use crate::util::{percentile, workload};

const N: usize = 1000;

/// `parallel` 1 measures proctor's reap path; 4 adds four process start-ups
/// competing for 2 cores, so the scheduler's queueing shows up too.
pub fn run(bin: &Path, parallel: usize) -> Row {
    let (_dir, file) = workload(&format!(
        r#"{{"max_parallel":{parallel},"jobs":[{{"name":"d","cmd":["date","+%s.%N"],"count":{N}}}]}}"#
    ));
    let mut child = Command::new(bin)
        .args(["--headless", "-f"])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run proctor");
    let stdout = child.stdout.take().expect("stdout");
    let mut printed = std::collections::HashMap::new();
    let mut latencies = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let worker = v["worker"].as_str().unwrap_or_default().to_string();
        match v["event"].as_str() {
            Some("output") => {
                if let Some(ts) = v["line"].as_str().and_then(|l| l.parse::<f64>().ok()) {
                    printed.insert(worker, ts);
                }
            }
            Some("exited") => {
                if let (Some(ts), Some(t)) = (printed.get(&worker), v["t"].as_f64()) {
                    latencies.push((t - ts) * 1000.0);
                }
            }
            _ => {}
        }
    }
    let _ = child.wait();
    latencies.sort_by(f64::total_cmp);
    let median = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    Row {
        name: format!(
            "reap latency: last timestamp → `exited`, {} exits, -j {parallel}",
            latencies.len()
        ),
        target: "median < 1 ms, p99 < 10 ms".into(),
        measured: format!("median {median:.2} ms, p99 {p99:.2} ms"),
        ratio: format!("{:.2} / {:.2} of target", median / 1.0, p99 / 10.0),
        met: median < 1.0 && p99 < 10.0 && latencies.len() == N,
    }
}
