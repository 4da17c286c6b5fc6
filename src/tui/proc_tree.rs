//! The process tree panel (htop's F5 / `T`): the selected worker's descendants,
//! live from the sampler, with PID, parent, state, CPU, memory and command line.
//! One process can be chosen and sent any signal through the signal menu; the
//! engine checks by start time that it is still that process, in that tree.
//! Zombies show as what they are (`Z`, `<defunct>`, with their parent).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::draw::{panel, title};
use super::format;
use crate::engine::{Snapshot, WorkerId, WorkerView};
use crate::sample::ProcSample;

/// Which worker's tree is open and which process in it is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcTree {
    pub worker: WorkerId,
    /// The chosen process by (pid, start time), so it stays chosen while the
    /// tree changes; `None` before the first move.
    pub chosen: Option<(u32, u64)>,
}

impl ProcTree {
    pub fn new(worker: WorkerId) -> Self {
        ProcTree {
            worker,
            chosen: None,
        }
    }

    /// The worker's descendants now (none once it has ended: the last sample's
    /// are stale then).
    pub fn procs<'a>(&self, snapshot: &'a Snapshot) -> &'a [ProcSample] {
        worker(snapshot, self.worker)
            .filter(|w| w.state.is_active())
            .map_or(&[], |w| &w.stats.procs)
    }

    /// The chosen process, if it is still in the tree (else the first one).
    pub fn current<'a>(&self, snapshot: &'a Snapshot) -> Option<&'a ProcSample> {
        let procs = self.procs(snapshot);
        self.chosen
            .and_then(|(pid, start)| procs.iter().find(|p| p.pid == pid && p.start == start))
            .or_else(|| procs.first())
    }

    /// Moves the choice by `delta` rows.
    pub fn move_by(&mut self, delta: isize, snapshot: &Snapshot) {
        let procs = self.procs(snapshot);
        if procs.is_empty() {
            return;
        }
        let at = self
            .current(snapshot)
            .and_then(|c| procs.iter().position(|p| p == c))
            .unwrap_or(0);
        let next = at.saturating_add_signed(delta).min(procs.len() - 1);
        self.chosen = Some((procs[next].pid, procs[next].start));
    }
}

fn worker(snapshot: &Snapshot, id: WorkerId) -> Option<&WorkerView> {
    snapshot.workers.iter().find(|w| w.id == id)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot) {
    let Some(tree) = &app.tree else { return };
    if area.is_empty() {
        return;
    }
    let t = &app.theme;
    let w = worker(snapshot, tree.worker);
    let subject = w.map_or("worker gone".to_string(), |w| {
        let pid = w.pid.map_or(String::new(), |p| format!(" (pid {p})"));
        format!("· {}{pid} ", format::safe(&w.name))
    });
    let extra = vec![Span::styled(subject, t.bold())];
    let block = panel(title("Process tree", true, t, extra), true, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let procs = tree.procs(snapshot);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:>7} {:>7} S {:>6} {:>7}  COMMAND",
            "PID", "PPID", "CPU%", "MEM"
        ),
        t.table_header(),
    ))];
    if procs.is_empty() {
        let why = match w {
            Some(w) if w.state.is_active() => "no child processes (T or Esc closes)",
            _ => "the worker is not running (T or Esc closes)",
        };
        lines.push(Line::from(Span::styled(why, t.dim())));
    }
    let current = tree.current(snapshot);
    let rows = inner.height.saturating_sub(1) as usize;
    let at = current
        .and_then(|c| procs.iter().position(|p| p == c))
        .unwrap_or(0);
    let skip = at.saturating_sub(rows.saturating_sub(1));
    for p in procs.iter().skip(skip).take(rows) {
        let indent = "  ".repeat(usize::from(p.depth.saturating_sub(1)).min(8));
        let command = if p.state == 'Z' {
            format!(
                "{indent}└ <defunct>  zombie: its parent {} has not reaped it",
                p.ppid
            )
        } else {
            format!("{indent}└ {}", format::safe(&p.command))
        };
        let text = format!(
            "{:>7} {:>7} {} {:>6.1} {:>7}  {command}",
            p.pid,
            p.ppid,
            p.state,
            p.cpu,
            format::bytes(p.rss)
        );
        let style = if Some(p) == current {
            t.selected()
        } else if p.state == 'Z' {
            t.warn()
        } else {
            t.text()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
