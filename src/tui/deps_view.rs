//! Dependencies in the UI: what a waiting worker waits for and why a skipped one
//! never started (a line under its log), and the dependency overlay: every job in
//! start order with the jobs it depends on, their conditions and its state now.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::draw::dialog;
use super::format;
use crate::engine::{Snapshot, WorkerState, WorkerView};
use crate::spec::deps::{Condition, Dependency, Instances};

/// What meeting a condition means, as words after the job's name.
fn wants(d: &Dependency) -> &'static str {
    match d.condition {
        Condition::Started => "to start",
        Condition::Ready => "to be ready",
        Condition::Succeeded => "to exit 0",
        Condition::Exited => "to exit",
    }
}

/// A job's workers in launch order.
fn workers_of<'a>(snapshot: &'a Snapshot, job: &str) -> Vec<&'a WorkerView> {
    snapshot.workers.iter().filter(|w| w.job() == job).collect()
}

/// One worker's state in a word or two (`ready`, `exited 1`).
fn state_word(w: &WorkerView, now: SystemTime) -> String {
    let word = format::state(w, now, None);
    match (w.state, w.code) {
        (WorkerState::Exited, Some(code)) if !w.stopped && !w.timed_out => {
            format!("exited {code}")
        }
        _ => word,
    }
}

/// A job's state from its workers: its worker's, or for `count: N` how many are
/// in each state (`2 ready · 1 starting`); `not launched` when it has none yet.
fn job_state(workers: &[&WorkerView], now: SystemTime) -> String {
    match workers {
        [] => "not launched".into(),
        [one] => state_word(one, now),
        many => {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for w in many {
                let word = state_word(w, now);
                match counts.iter_mut().find(|(s, _)| *s == word) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((word, 1)),
                }
            }
            let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            parts.join(" · ")
        }
    }
}

/// `db to be ready (starting)`: one dependency and where its job stands.
fn edge(d: &Dependency, snapshot: &Snapshot, now: SystemTime) -> String {
    let any = if d.instances == Instances::Any {
        "any of "
    } else {
        ""
    };
    let state = job_state(&workers_of(snapshot, &d.job), now);
    format!("{any}{} {} (now {state})", format::safe(&d.job), wants(d))
}

/// The line under a worker's log that says why it has not run: what a waiting
/// worker waits for, or why a skipped one never will. `None` for the others.
pub fn notice(w: &WorkerView, snapshot: &Snapshot, now: SystemTime) -> Option<String> {
    match w.state {
        WorkerState::Waiting => {
            let edges: Vec<String> = w
                .deps
                .depends_on
                .iter()
                .map(|d| edge(d, snapshot, now))
                .collect();
            Some(format!("⧗ waiting for {}", edges.join(", ")))
        }
        WorkerState::Skipped => w.deps.skipped.as_ref().map(|r| {
            format!(
                "✗ skipped: it depends on {}, which {}",
                format::safe(&r.dep),
                cause_words(&r.cause)
            )
        }),
        _ => None,
    }
}

/// A skip cause as the end of a sentence (`exited 1`, `was skipped`).
fn cause_words(cause: &str) -> String {
    match cause {
        "skipped" | "cancelled" => format!("was {cause}"),
        other => format::safe(other).into_owned(),
    }
}

/// One job of the overlay: its name, its dependencies and its workers.
struct JobRow<'a> {
    name: &'a str,
    depends_on: &'a [Dependency],
    workers: Vec<&'a WorkerView>,
}

/// Every job in start order: a job comes after all it depends on, otherwise in
/// launch order.
fn start_order(snapshot: &Snapshot) -> Vec<JobRow<'_>> {
    let mut jobs: Vec<JobRow> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    // One pass over the workers, so a pool of thousands costs no more than that.
    for w in &snapshot.workers {
        let name = w.job();
        match index.get(name) {
            Some(&i) => jobs[i].workers.push(w),
            None => {
                index.insert(name, jobs.len());
                jobs.push(JobRow {
                    name,
                    depends_on: &w.deps.depends_on,
                    workers: vec![w],
                });
            }
        }
    }
    // Kahn's algorithm, always taking the earliest-launched job that is free.
    let mut blockers = vec![0usize; jobs.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        for d in job.depends_on {
            if let Some(&j) = index.get(d.job.as_str()) {
                blockers[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut free: BinaryHeap<Reverse<usize>> = (0..jobs.len())
        .filter(|&i| blockers[i] == 0)
        .map(Reverse)
        .collect();
    let mut placed = vec![false; jobs.len()];
    let mut order = Vec::with_capacity(jobs.len());
    while let Some(Reverse(i)) = free.pop() {
        placed[i] = true;
        order.push(i);
        for &k in &dependents[i] {
            blockers[k] -= 1;
            if blockers[k] == 0 {
                free.push(Reverse(k));
            }
        }
    }
    // Only a cycle (refused at load time) leaves jobs unplaced: launch order then.
    order.extend((0..jobs.len()).filter(|&i| !placed[i]));
    let mut slots: Vec<Option<JobRow>> = jobs.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The overlay's lines: one job a line (long lines are cut, not wrapped).
pub fn lines(app: &App, snapshot: &Snapshot) -> Vec<Line<'static>> {
    let t = &app.theme;
    let jobs = start_order(snapshot);
    let name_w = jobs
        .iter()
        .map(|j| j.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(4, 24);
    let states: Vec<String> = jobs
        .iter()
        .map(|j| job_state(&j.workers, app.now))
        .collect();
    let state_w = states
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(5, 28);
    let mut out = vec![Line::from(Span::styled(
        format!(" {:<name_w$} {:<state_w$} DEPENDS ON", "JOB", "STATE"),
        t.table_header(),
    ))];
    if jobs.iter().all(|j| j.depends_on.is_empty()) {
        out.push(Line::from(Span::styled(
            " No job depends on another.",
            t.dim(),
        )));
    }
    for (job, state) in jobs.iter().zip(states) {
        let name: String = format::safe(job.name).chars().take(name_w).collect();
        let edges: Vec<String> = job
            .depends_on
            .iter()
            .map(|d| {
                let any = if d.instances == Instances::Any {
                    ", any"
                } else {
                    ""
                };
                format!("{} ({}{any})", format::safe(&d.job), d.condition.as_str())
            })
            .collect();
        let arrow = if edges.is_empty() { "" } else { "← " };
        out.push(Line::from(vec![
            Span::styled(format!(" {name:<name_w$} "), t.bold()),
            Span::styled(format!("{state:<state_w$} "), t.state(job.workers[0])),
            Span::styled(format!("{arrow}{}", edges.join(", ")), t.text()),
        ]));
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, scroll: u16) {
    let t = &app.theme;
    let lines = lines(app, snapshot);
    let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    // At least 40 wide, but never wider than the screen (a 40-column terminal).
    let width = (widest + 3)
        .max(40)
        .min(area.width.saturating_sub(4).max(1));
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let inner = dialog(frame, area, width, height, "Dependencies", t);
    if inner.is_empty() {
        return;
    }
    // The footer says how to scroll and close, as for the help.
    let scroll = scroll.min(lines.len().saturating_sub(inner.height as usize) as u16);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fake;

    fn dep(job: &str, condition: Condition) -> Dependency {
        Dependency {
            job: job.into(),
            condition,
            instances: Instances::All,
        }
    }

    #[test]
    fn jobs_come_after_what_they_depend_on() {
        let mut tests = fake::worker(0, "tests", WorkerState::Waiting);
        tests.deps.depends_on = vec![dep("app", Condition::Ready)];
        let mut app = fake::worker(1, "app", WorkerState::Waiting);
        app.deps.depends_on = vec![dep("db", Condition::Ready)];
        let db = fake::worker(2, "db", WorkerState::Starting);
        let snapshot = Snapshot {
            workers: vec![tests, app, db],
            ..Snapshot::default()
        };
        let names: Vec<&str> = start_order(&snapshot).iter().map(|j| j.name).collect();
        assert_eq!(names, ["db", "app", "tests"]);
        let waiting = &snapshot.workers[1];
        assert_eq!(
            notice(waiting, &snapshot, fake::now()).as_deref(),
            Some("⧗ waiting for db to be ready (now starting)")
        );
    }
}
