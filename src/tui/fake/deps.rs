//! A fabricated pipeline with dependencies: a database, a migration, an app with
//! two workers, its tests waiting, and a docs job skipped because lint failed.

use super::{ended, live, system, worker};
use crate::engine::event::SkipReason;
use crate::engine::{QueueStats, Snapshot, WorkerState};
use crate::spec::deps::{Condition, Dependency, Instances};

fn on(job: &str, condition: Condition) -> Vec<Dependency> {
    vec![Dependency {
        job: job.into(),
        condition,
        instances: Instances::All,
    }]
}

/// Every dependency state at once: ready, unhealthy, waiting, skipped.
pub fn snapshot() -> Snapshot {
    let mut db = live(0, "db", "python3 -m http.server 5480", 95, 0.4, 22);
    db.deps.has_ready = true;
    db.deps.ready = true;
    let mut migrate = ended(1, "migrate", "./migrate.sh", 3, 0);
    migrate.deps.depends_on = on("db", Condition::Ready);
    migrate.last_line = "applied 12 migrations".into();
    let mut app1 = live(2, "app#1", "./app --port 8080", 88, 3.1, 64);
    app1.deps.depends_on = on("migrate", Condition::Succeeded);
    app1.deps.has_ready = true;
    app1.deps.ready = true;
    app1.last_line = "listening on :8080".into();
    let mut app2 = live(3, "app#2", "./app --port 8081", 2, 0.9, 12);
    app2.state = WorkerState::Starting;
    app2.deps = app1.deps.clone();
    app2.deps.ready = false;
    let mut tests = worker(4, "tests", WorkerState::Waiting);
    tests.command = "./run-tests.sh".into();
    tests.deps.depends_on = on("app", Condition::Ready);
    let mut cache = live(5, "cache", "redis-server --port 6380", 90, 0.2, 9);
    cache.deps.unhealthy = true;
    let mut lint = ended(6, "lint", "cargo clippy", 41, 1);
    lint.last_line = "error: could not compile".into();
    let mut docs = worker(7, "docs", WorkerState::Skipped);
    docs.command = "mdbook build".into();
    docs.deps.depends_on = on("lint", Condition::Succeeded);
    docs.deps.skipped = Some(SkipReason {
        dep: "lint".into(),
        cause: "exited 1".into(),
    });
    Snapshot {
        workers: vec![db, migrate, app1, app2, tests, cache, lint, docs],
        queue: QueueStats {
            depth: 0,
            running: 4,
            done: 1,
            failed: 1,
            stopped: 0,
        },
        max_parallel: 4,
        system: Some(system(2)),
        ..Snapshot::default()
    }
}
