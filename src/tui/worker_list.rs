//! The workers table's state: sort order, filter, selection, marks and scrolling.
//! Only row indexes are kept; the rows themselves are drawn from the snapshot.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::format;
use super::text_input::TextInput;
use crate::engine::{Snapshot, WorkerId, WorkerState, WorkerView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Launch,
    Name,
    Cpu,
    Memory,
    Runtime,
    State,
}

impl SortKey {
    /// `s`: the short cycle through the sorts used most, as in htop (CPU, memory,
    /// time, back to launch order); F6 picks any other.
    pub fn next(self) -> Self {
        match self {
            SortKey::Launch | SortKey::Name | SortKey::State => SortKey::Cpu,
            SortKey::Cpu => SortKey::Memory,
            SortKey::Memory => SortKey::Runtime,
            SortKey::Runtime => SortKey::Launch,
        }
    }

    /// The sort's name on the table's border; `⊕` marks CPU and memory of whole
    /// process trees.
    pub fn label(self, tree: bool) -> String {
        let base = self.base_label();
        match self {
            SortKey::Cpu | SortKey::Memory if tree => format!("{base}⊕"),
            _ => base.to_string(),
        }
    }

    /// Which way the rows go, in words, so the border says what the table shows:
    /// `name A→Z`, `cpu⊕ highest first`.
    pub fn direction(self, reverse: bool) -> &'static str {
        let (forward, backward) = match self {
            SortKey::Launch => ("oldest first", "newest first"),
            SortKey::Name => ("A→Z", "Z→A"),
            SortKey::Cpu | SortKey::Memory => ("highest first", "lowest first"),
            SortKey::Runtime => ("longest first", "shortest first"),
            SortKey::State => ("running first", "ended first"),
        };
        if reverse { backward } else { forward }
    }

    fn base_label(self) -> &'static str {
        match self {
            SortKey::Launch => "launch",
            SortKey::Name => "name",
            SortKey::Cpu => "cpu",
            SortKey::Memory => "mem",
            SortKey::Runtime => "time",
            SortKey::State => "state",
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerList {
    pub sort: SortKey,
    pub reverse: bool,
    /// CPU and memory of each worker's whole process tree (the default), else of
    /// its own process only; shown and sorted alike.
    pub tree: bool,
    pub filter: TextInput,
    /// The filter is being typed.
    pub filtering: bool,
    /// Indexes into `Snapshot::workers`, filtered and sorted.
    pub order: Vec<usize>,
    /// The selected worker; `None` selects the first row.
    pub selected: Option<WorkerId>,
    /// The selected row's position in `order`.
    pub cursor: usize,
    /// The first visible row.
    pub offset: usize,
    pub marked: BTreeSet<WorkerId>,
    /// Rows that fit on screen (from the last layout).
    pub viewport: usize,
}

impl Default for WorkerList {
    fn default() -> Self {
        WorkerList {
            sort: SortKey::Launch,
            reverse: false,
            tree: true,
            filter: TextInput::default(),
            filtering: false,
            order: Vec::new(),
            selected: None,
            cursor: 0,
            offset: 0,
            marked: BTreeSet::new(),
            viewport: 10,
        }
    }
}

fn state_rank(s: WorkerState) -> u8 {
    match s {
        WorkerState::Running => 0,
        WorkerState::Paused => 1,
        WorkerState::Starting => 2,
        WorkerState::Queued | WorkerState::Waiting => 3,
        WorkerState::Failed => 4,
        WorkerState::Signaled => 5,
        WorkerState::Exited => 6,
        WorkerState::Cancelled | WorkerState::Skipped => 7,
    }
}

fn compare(key: SortKey, tree: bool, a: &WorkerView, b: &WorkerView) -> Ordering {
    // Biggest first: what a person looks for when sorting by a resource. Workers
    // without a live process (ended, queued) have no figure and sort last, never by
    // the stale figures of their last sample.
    let primary = match key {
        SortKey::Launch => Ordering::Equal,
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Cpu => {
            let cpu = |w| format::cpu_value(w, tree).unwrap_or(-1.0);
            cpu(b).total_cmp(&cpu(a))
        }
        SortKey::Memory => {
            let mem = |w| format::mem_value(w, tree);
            mem(b).cmp(&mem(a))
        }
        SortKey::Runtime => b.runtime.cmp(&a.runtime),
        SortKey::State => state_rank(a.state).cmp(&state_rank(b.state)),
    };
    primary.then(a.id.cmp(&b.id))
}

impl WorkerList {
    /// Recomputes the order for a new snapshot (or new sort/filter) and keeps the
    /// selection on the same worker.
    pub fn sync(&mut self, snapshot: &Snapshot) {
        let needle = self.filter.text().to_lowercase();
        let workers = &snapshot.workers;
        self.order.clear();
        self.order.extend((0..workers.len()).filter(|&i| {
            needle.is_empty()
                || workers[i].name.to_lowercase().contains(&needle)
                || workers[i].command.to_lowercase().contains(&needle)
        }));
        let (key, tree) = (self.sort, self.tree);
        self.order
            .sort_by(|&a, &b| compare(key, tree, &workers[a], &workers[b]));
        if self.reverse {
            self.order.reverse();
        }
        self.marked.retain(|id| (id.0 as usize) < workers.len());
        let found = self
            .selected
            .and_then(|id| self.order.iter().position(|&i| workers[i].id == id));
        match found {
            Some(pos) => self.cursor = pos,
            None => {
                self.cursor = self.cursor.min(self.order.len().saturating_sub(1));
                self.selected = self.order.get(self.cursor).map(|&i| workers[i].id);
            }
        }
        self.scroll_into_view();
    }

    /// Moves the selection to row `pos` (clamped).
    pub fn select_row(&mut self, pos: usize, snapshot: &Snapshot) {
        if self.order.is_empty() {
            return;
        }
        self.cursor = pos.min(self.order.len() - 1);
        self.selected = self
            .order
            .get(self.cursor)
            .and_then(|&i| snapshot.workers.get(i))
            .map(|w| w.id);
        self.scroll_into_view();
    }

    pub fn move_by(&mut self, delta: isize, snapshot: &Snapshot) {
        let pos = self.cursor.saturating_add_signed(delta);
        self.select_row(pos, snapshot);
    }

    pub fn page(&self) -> isize {
        self.viewport.max(1) as isize
    }

    fn scroll_into_view(&mut self) {
        self.offset = visible_offset(self.cursor, self.offset, self.viewport, self.order.len());
    }

    pub fn selected_view<'a>(&self, snapshot: &'a Snapshot) -> Option<&'a WorkerView> {
        let id = self.selected?;
        // Ids are indexes until workers are retired (map mode drops finished
        // ones); then the worker is found by its id.
        snapshot
            .workers
            .get(id.0 as usize)
            .filter(|w| w.id == id)
            .or_else(|| snapshot.workers.iter().find(|w| w.id == id))
    }

    pub fn toggle_mark(&mut self) {
        if let Some(id) = self.selected
            && !self.marked.remove(&id)
        {
            self.marked.insert(id);
        }
    }

    /// What an action applies to: the marked workers, else the selected one.
    pub fn targets(&self) -> Vec<WorkerId> {
        if self.marked.is_empty() {
            self.selected.into_iter().collect()
        } else {
            self.marked.iter().copied().collect()
        }
    }
}

/// The first visible row so that `cursor` shows, moving as little as possible.
pub fn visible_offset(cursor: usize, offset: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let max_offset = len.saturating_sub(height);
    let offset = if cursor < offset {
        cursor
    } else if cursor >= offset + height {
        cursor + 1 - height
    } else {
        offset
    };
    offset.min(max_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(names: &[&str]) -> Snapshot {
        let workers = names
            .iter()
            .enumerate()
            .map(|(i, n)| crate::tui::fake::worker(i as u32, n, WorkerState::Running))
            .collect();
        Snapshot {
            workers,
            ..Snapshot::default()
        }
    }

    #[test]
    fn selection_follows_the_worker_across_sorts_and_filters() {
        let snap = snapshot(&["c", "a", "b"]);
        let mut list = WorkerList::default();
        list.sync(&snap);
        assert_eq!(list.selected, Some(WorkerId(0)));
        list.move_by(2, &snap);
        assert_eq!(list.selected, Some(WorkerId(2)));
        list.sort = SortKey::Name;
        list.sync(&snap);
        assert_eq!(list.cursor, 1);
        list.filter = TextInput::new("A");
        list.sync(&snap);
        assert_eq!(list.order, [1]);
        assert_eq!(list.selected, Some(WorkerId(1)));
    }

    #[test]
    fn resource_sorts_use_the_shown_figure_and_put_ended_workers_last() {
        let mut snap = snapshot(&["a", "b", "c"]);
        for (i, w) in snap.workers.iter_mut().enumerate() {
            w.pid = Some(100 + i as u32);
        }
        // a: busy own process; b: busy children; c: ended, with stale figures.
        snap.workers[0].stats.cpu = 50.0;
        snap.workers[0].stats.tree_cpu = 50.0;
        snap.workers[1].stats.tree_cpu = 90.0;
        snap.workers[1].stats.tree_rss = 9 << 20;
        snap.workers[2].stats.cpu = 400.0;
        snap.workers[2].stats.tree_cpu = 400.0;
        snap.workers[2].stats.tree_rss = 99 << 20;
        snap.workers[2].state = WorkerState::Exited;
        let mut list = WorkerList {
            sort: SortKey::Cpu,
            ..WorkerList::default()
        };
        list.sync(&snap);
        assert_eq!(list.order, [1, 0, 2]);
        list.tree = false;
        list.sync(&snap);
        assert_eq!(list.order, [0, 1, 2]);
        list.sort = SortKey::Memory;
        list.tree = true;
        list.sync(&snap);
        assert_eq!(list.order, [1, 0, 2]);
    }

    #[test]
    fn offsets_scroll_minimally() {
        assert_eq!(visible_offset(0, 0, 10, 100), 0);
        assert_eq!(visible_offset(15, 0, 10, 100), 6);
        assert_eq!(visible_offset(3, 6, 10, 100), 3);
        assert_eq!(visible_offset(99, 0, 10, 100), 90);
        assert_eq!(visible_offset(5, 50, 10, 8), 0);
    }

    #[test]
    fn targets_are_marks_or_the_selection() {
        let snap = snapshot(&["a", "b", "c"]);
        let mut list = WorkerList::default();
        list.sync(&snap);
        assert_eq!(list.targets(), [WorkerId(0)]);
        list.toggle_mark();
        list.move_by(2, &snap);
        list.toggle_mark();
        assert_eq!(list.targets(), [WorkerId(0), WorkerId(2)]);
    }
}
