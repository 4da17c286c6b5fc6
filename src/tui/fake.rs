//! Fabricated snapshots, output and histories with fixed names, pids and times, for
//! render tests and the screenshot tool (no engine, no clock): a busy pool, a map
//! run, and a pipeline with dependencies (`fake/deps.rs`).

pub mod deps;

use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;

use super::app::App;
use super::map_run::MapRun;
use super::theme::Theme;
use crate::engine::output::Line;
use crate::engine::{
    OutputStore, QueueStats, Snapshot, Stream, WorkerId, WorkerState, WorkerStats, WorkerView,
};
use crate::sample::SystemSample;

/// The fixed "now" of every fabricated scene.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A worker in `state` with everything else at rest.
pub fn worker(id: u32, name: &str, state: WorkerState) -> WorkerView {
    WorkerView {
        id: WorkerId(id),
        name: name.to_string(),
        command: format!("{name} --job {id}"),
        pid: None,
        state,
        code: None,
        error: None,
        started: None,
        runtime: Duration::ZERO,
        restarts: 0,
        timed_out: false,
        kill_at: None,
        stuck: false,
        unkillable: false,
        stopped: false,
        stats: WorkerStats::default(),
        last_line: String::new(),
        deps: Default::default(),
    }
}

/// A live worker: pid, started `secs` ago, CPU and memory.
fn live(id: u32, name: &str, command: &str, secs: u64, cpu: f32, rss_mb: u64) -> WorkerView {
    let mut w = worker(id, name, WorkerState::Running);
    w.command = command.into();
    w.pid = Some(41_000 + id * 7);
    w.started = Some(now() - Duration::from_secs(secs));
    w.runtime = Duration::from_secs(secs);
    w.stats = WorkerStats {
        cpu,
        rss: rss_mb * 1024 * 1024,
        threads: 1,
        os_state: 'R',
        tree_cpu: cpu,
        tree_rss: rss_mb * 1024 * 1024,
        descendants: 0,
        zombies: 0,
        ..WorkerStats::default()
    };
    w
}

/// An ended worker with an exit code (`-N` for signal N).
fn ended(id: u32, name: &str, command: &str, secs: u64, code: i32) -> WorkerView {
    let state = if code < 0 {
        WorkerState::Signaled
    } else {
        WorkerState::Exited
    };
    let mut w = worker(id, name, state);
    w.command = command.into();
    w.code = Some(code);
    w.runtime = Duration::from_secs(secs);
    w
}

/// A busy pool: every state, flags, a stop countdown, restarts and output.
pub fn snapshot() -> Snapshot {
    let mut workers = Vec::new();
    let encoders = [(92.5, 310), (88.1, 296), (97.0, 322), (45.3, 180)];
    for (i, (cpu, mem)) in encoders.iter().enumerate() {
        let id = workers.len() as u32;
        let mut w = live(
            id,
            &format!("encode#{}", i + 1),
            "ffmpeg -i in.mkv -c:v libx265 out.mp4",
            754 - i as u64 * 61,
            *cpu,
            *mem,
        );
        w.last_line = format!(
            "frame={} fps=48 q=28.0 size=  {}kB",
            31_200 + i * 977,
            81_000 + i * 3_311
        );
        workers.push(w);
    }
    let mut web = live(4, "web", "python3 -m http.server 8080", 3_723, 1.2, 24);
    web.last_line = "127.0.0.1 - - \"GET /health HTTP/1.1\" 200 -".into();
    workers.push(web);
    let mut flaky = live(5, "flaky", "./flaky-worker --retries 3", 42, 12.0, 18);
    flaky.restarts = 2;
    flaky.last_line = "connecting to queue broker…".into();
    workers.push(flaky);
    let mut stuck = live(6, "indexer", "indexer --full", 605, 0.0, 512);
    stuck.stuck = true;
    stuck.stats.zombies = 2;
    stuck.last_line = "waiting for lock /var/lib/index.lock".into();
    workers.push(stuck);
    let mut paused = live(7, "backup", "rsync -a /data/ /mnt/backup/", 300, 0.0, 64);
    paused.state = WorkerState::Paused;
    paused.last_line = "sent 1.24G bytes  received 8.1K bytes".into();
    workers.push(paused);
    let mut stopping = live(8, "crawler#1", "crawler --depth 3", 128, 3.4, 140);
    stopping.kill_at = Some(now() + Duration::from_millis(2_300));
    stopping.last_line = "^[[31mfetch failed^[[0m: https://example.org/a".into();
    workers.push(stopping);
    let mut killed = ended(9, "crawler#2", "crawler --depth 3", 97, -9);
    killed.last_line = "GET https://example.org/b".into();
    killed.stopped = true;
    workers.push(killed);
    let mut tests = ended(10, "test-suite", "cargo test --workspace", 188, 101);
    tests.last_line = "test result: FAILED. 211 passed; 2 failed".into();
    workers.push(tests);
    let mut migrate = ended(11, "migrate", "./manage.py migrate", 12, 0);
    migrate.last_line = "Applying accounts.0042_auto… OK".into();
    workers.push(migrate);
    let mut failed = worker(12, "report", WorkerState::Failed);
    failed.command = "./make-report --daily".into();
    failed.error = Some("No such file or directory (os error 2)".into());
    workers.push(failed);
    for i in 0..5 {
        let mut q = worker(13 + i, &format!("thumbs#{}", i + 1), WorkerState::Queued);
        q.command = "convert -resize 256x256 img.png thumb.png".into();
        workers.push(q);
    }
    workers.push(worker(18, "lint", WorkerState::Cancelled));
    Snapshot {
        workers,
        queue: QueueStats {
            depth: 5,
            running: 8,
            done: 1,
            failed: 2,
            stopped: 1,
        },
        max_parallel: 8,
        queue_paused: false,
        held_by: None,
        open_file_slots: None,
        queue_closed: false,
        system: Some(system(8)),
        finished: false,
        pools: Vec::new(),
    }
}

/// A machine with `cores` logical cores at varied load.
pub fn system(cores: usize) -> SystemSample {
    let per_core: Vec<f32> = (0..cores).map(|i| wave(i, 0) * 100.0).collect();
    let cpu = per_core.iter().sum::<f32>() / cores.max(1) as f32;
    SystemSample {
        cores: per_core,
        cpu,
        mem_used: 11_811_160_064,
        mem_total: 16_629_448_704,
        load: [6.42, 5.87, 4.10],
    }
}

/// A smooth, deterministic 0..1 signal per series over time.
fn wave(series: usize, t: usize) -> f32 {
    let x = t as f32 * 0.21 + series as f32 * 1.7;
    (0.55 + 0.3 * x.sin() + 0.15 * (x * 2.3).cos()).clamp(0.02, 1.0)
}

/// Output for the fabricated workers, interleaved, with some stderr and one line
/// that tries to drive the terminal.
pub fn store(snapshot: &Snapshot) -> OutputStore {
    let store = OutputStore::new(1_000);
    for round in 0..40 {
        for w in &snapshot.workers {
            let never_ran = matches!(
                w.state,
                WorkerState::Queued
                    | WorkerState::Waiting
                    | WorkerState::Cancelled
                    | WorkerState::Skipped
            );
            if never_ran {
                continue;
            }
            let (stream, text) = line_for(w, round);
            let seq = store.next_seq();
            let buffer = store.buffer(w.id);
            if let Ok(mut b) = buffer.lock() {
                b.push(Line::new(seq, stream, text));
            }
        }
    }
    store
}

fn line_for(w: &WorkerView, round: usize) -> (Stream, String) {
    let name = w.name.as_str();
    if round % 7 == 3 {
        return (
            Stream::Stderr,
            format!("warning: {name}: retrying request {round} (timeout after 5s)"),
        );
    }
    let text = match name.split('#').next().unwrap_or(name) {
        "encode" => format!(
            "frame={:>6} fps=48 q=28.0 size={:>8}kB time=00:{:02}:{:02}.40 speed=1.9x",
            780 * round,
            2_031 * round,
            round / 2,
            round % 60
        ),
        "web" => format!(
            "127.0.0.1 - - [14/Nov/2023 22:13:{:02}] \"GET /api/items?page={round} HTTP/1.1\" 200 -",
            round % 60
        ),
        "crawler" if round == 39 => {
            "\u{1b}[31mfetch failed\u{1b}[0m: https://example.org/a".to_string()
        }
        "crawler" => format!(
            "GET https://example.org/page/{round} -> 200 ({} links)",
            12 + round % 9
        ),
        "test-suite" => format!(
            "test tests::case_{round:03} ... {}",
            if round % 13 == 5 { "FAILED" } else { "ok" }
        ),
        _ => format!("{name}: step {round} of 40 done"),
    };
    (Stream::Stdout, crate::engine::output::neutralise(&text))
}

/// An app over the fabricated scene: first worker selected, histories filled.
pub fn app(snapshot: &Snapshot, theme: Theme, screen: Rect) -> App {
    let mut app = App::new(theme, now());
    for t in 0..120 {
        let mut snap = snapshot.clone();
        if let Some(system) = &mut snap.system {
            for (i, core) in system.cores.iter_mut().enumerate() {
                *core = wave(i, t) * 100.0;
            }
            system.cpu = 20.0 + wave(9, t) * 70.0;
        }
        snap.queue.depth = 40usize.saturating_sub(t / 3).max(snapshot.queue.depth);
        snap.queue.done = t / 4;
        let at = now() - Duration::from_secs(120 - t as u64);
        app.history.record(&snap, &snap.queue, at);
    }
    app.sync(snapshot, screen);
    app
}

/// A map run over photos, `-j 6`: six tasks running (one a retry, one a
/// straggler), the latest finished ones (one failed), hundreds pending.
pub fn map_snapshot() -> Snapshot {
    let mut workers = Vec::new();
    let photo =
        |n: u64| format!("convert photos/IMG_{n:04}.jpg -resize 2048x2048 out/IMG_{n:04}.jpg");
    for n in 35..=40u64 {
        let id = workers.len() as u32;
        let code = if n == 38 { 1 } else { 0 };
        let mut w = ended(id, &format!("task-{n}"), &photo(n), 4 + n % 5, code);
        w.last_line = if code == 0 {
            format!("out/IMG_{n:04}.jpg 2048x1536 1.9MB")
        } else {
            format!("convert: insufficient image data in file photos/IMG_{n:04}.jpg")
        };
        workers.push(w);
    }
    let running: [(&str, u64, u64, f32); 6] = [
        ("task-17.retry1", 17, 41, 98.0),
        ("task-41", 41, 188, 99.1),
        ("task-42", 42, 12, 97.4),
        ("task-43", 43, 9, 96.0),
        ("task-44", 44, 5, 88.3),
        ("task-45", 45, 2, 41.7),
    ];
    for (name, n, secs, cpu) in running {
        let id = workers.len() as u32;
        let mut w = live(id, name, &photo(n), secs, cpu, 180 + n);
        w.last_line = format!("photos/IMG_{n:04}.jpg: resizing {}%", (secs * 7) % 100);
        workers.push(w);
    }
    Snapshot {
        workers,
        queue: QueueStats {
            depth: 0,
            running: 6,
            done: 5,
            failed: 1,
            stopped: 0,
        },
        max_parallel: 6,
        queue_paused: false,
        held_by: None,
        open_file_slots: None,
        queue_closed: false,
        system: Some(system(8)),
        finished: false,
        pools: Vec::new(),
    }
}

/// The map driver's figures for `map_snapshot`: tasks, not workers.
pub fn map_run() -> MapRun {
    MapRun {
        tasks: QueueStats {
            depth: 412,
            running: 6,
            done: 38,
            failed: 2,
            stopped: 0,
        },
        halted: None,
        ok: None,
        total_known: true,
        failures: Vec::new(),
    }
}

/// An app in map mode over `map_snapshot`, the slowest task selected, histories
/// filled (zero to three tasks finished a second).
pub fn map_app(snapshot: &Snapshot, theme: Theme, screen: Rect) -> App {
    let mut app = App::new(theme, now());
    let run = map_run();
    let mut finished = 0;
    for t in 0..120usize {
        let mut snap = snapshot.clone();
        if let Some(system) = &mut snap.system {
            for (i, core) in system.cores.iter_mut().enumerate() {
                *core = wave(i, t) * 100.0;
            }
            system.cpu = 20.0 + wave(9, t) * 70.0;
        }
        finished += (wave(3, t) * 3.2) as usize;
        let tasks = QueueStats {
            depth: run.tasks.depth + 400usize.saturating_sub(finished),
            done: finished,
            failed: 0,
            ..run.tasks
        };
        let at = now() - Duration::from_secs(120 - t as u64);
        app.history.record(&snap, &tasks, at);
    }
    app.map = Some(run);
    app.workers.selected = Some(WorkerId(7));
    app.sync(snapshot, screen);
    app
}

/// A rendered buffer as text, one line per row (for tests that compare screens).
pub fn text(buffer: &ratatui::buffer::Buffer) -> String {
    let w = usize::from(buffer.area.width).max(1);
    let mut out = String::new();
    for row in buffer.content().chunks(w) {
        for cell in row {
            out.push_str(cell.symbol());
        }
        out.push('\n');
    }
    out
}
