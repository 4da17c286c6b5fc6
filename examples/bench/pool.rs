//! Pools: 10,000 tiny tasks (square a number in Python) through `proctor map
//! --pool 2` against map mode (one Python process per task) and against
//! Python's own `multiprocessing.Pool(2).map` on the same function. Each
//! figure is the wall time of the whole command, interpreter starts included.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Row;

const N: usize = 10_000;
/// Map mode starts one interpreter per task: timed over fewer tasks, compared
/// per task (a run of 10,000 would take minutes and say nothing more).
const MAP_N: usize = 200;

const FUNCTION: &str = "def f(x):\n    return x * x\n";

const WORKER: &str = r#"
import json, os, sys
from f import f
out = os.fdopen(int(os.environ["PROCTOR_RESULT_FD"]), "w", buffering=1)
out.write('{"ready": true}\n')
for line in sys.stdin:
    t = json.loads(line)
    out.write(json.dumps({"id": t["id"], "ok": True, "output": f(int(t["input"]))}) + "\n")
"#;

const ONE_TASK: &str = "import sys\nfrom f import f\nprint(f(int(sys.argv[1])))\n";

const PY_POOL: &str = r#"
import sys
from multiprocessing import Pool
from f import f
if __name__ == "__main__":
    chunksize = int(sys.argv[2]) if len(sys.argv) > 2 else None
    with Pool(2) as p:
        results = p.map(f, range(1, int(sys.argv[1]) + 1), chunksize=chunksize)
    print(len(results))
"#;

pub fn run(bin: &Path) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in [
        ("f.py", FUNCTION),
        ("worker.py", WORKER),
        ("one.py", ONE_TASK),
        ("pypool.py", PY_POOL),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write script");
    }
    let numbers = |n: usize| (1..=n).map(|i| format!("{i}\n")).collect::<String>();
    let pool = timed(
        dir.path(),
        bin,
        &["map", "--pool", "2", "--", "python3", "worker.py"],
        &numbers(N),
        N,
    );
    let map = timed(
        dir.path(),
        bin,
        &["map", "-j", "2", "--", "python3", "one.py"],
        &numbers(MAP_N),
        MAP_N,
    );
    let n = N.to_string();
    let py = timed(dir.path(), Path::new("python3"), &["pypool.py", &n], "", 1);
    let py1 = timed(
        dir.path(),
        Path::new("python3"),
        &["pypool.py", &n, "1"],
        "",
        1,
    );
    let per_task = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    let (pool_us, map_us) = (per_task(pool, N), per_task(map, MAP_N));
    let speedup = map_us / pool_us;
    let vs_py = pool.as_secs_f64() / py.as_secs_f64();
    let vs_py1 = pool.as_secs_f64() / py1.as_secs_f64();
    vec![
        Row {
            name: format!(
                "pool of 2 vs map mode: {N} tiny Python tasks (map mode timed over {MAP_N})"
            ),
            target: "≥ 10× faster per task".into(),
            measured: format!(
                "pool {:.2} s ({pool_us:.0} µs/task); map {:.2} s ({map_us:.0} µs/task)",
                pool.as_secs_f64(),
                map.as_secs_f64()
            ),
            ratio: format!("{speedup:.0}× faster"),
            met: speedup >= 10.0,
        },
        Row {
            name: format!("pool of 2 vs Python's Pool(2).map, {N} tasks"),
            target: "within 2×".into(),
            measured: format!(
                "pool {:.2} s; Pool.map {:.2} s (default chunks), {:.2} s (chunksize=1)",
                pool.as_secs_f64(),
                py.as_secs_f64(),
                py1.as_secs_f64()
            ),
            ratio: format!("{vs_py:.2}× / {vs_py1:.2}×"),
            met: vs_py <= 2.0,
        },
    ]
}

/// Wall time of `program ARGS` with `stdin`; its stdout must have `lines` lines.
fn timed(dir: &Path, program: &Path, args: &[&str], stdin: &str, lines: usize) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the benchmark command");
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let output = child.wait_with_output().expect("wait");
    let took = start.elapsed();
    let _ = writer.join();
    let got = String::from_utf8_lossy(&output.stdout).lines().count();
    assert!(
        output.status.success() && got == lines,
        "{args:?}: {got} lines, {:?}",
        output.status
    );
    took
}
