//! The terminal UI's state (nothing here draws): focus, the workers table and logs
//! panel states, chart histories, the open dialog, notices, the quit lifecycle
//! and, in map mode, the task counts.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use ratatui::layout::Rect;

use super::confirm::Confirm;
use super::draw;
use super::history::History;
use super::keymap::Context;
use super::launch_dialog::LaunchDialog;
use super::log_view::LogView;
use super::map_run::MapRun;
use super::proc_tree::ProcTree;
use super::signal_menu::SignalMenu;
use super::theme::Theme;
use super::worker_list::WorkerList;
use crate::engine::output::neutralise;
use crate::engine::{QueueStats, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Workers,
    Logs,
}

/// A dialog or overlay drawn over the panels; it gets every key while open.
#[derive(Debug, Clone)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Signal(SignalMenu),
    Sort(super::sort_menu::SortMenu),
    Launch(Box<LaunchDialog>),
    Confirm(Confirm),
    /// The result of `join all`.
    Summary,
    /// Every job in start order with what it depends on.
    Deps {
        scroll: u16,
    },
}

/// What a dialog says after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    Stay,
    Close,
    Submit(T),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Good,
    Error,
}

/// A one-line message in the header (join results, errors from the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub level: Level,
    pub at: SystemTime,
}

/// How long a notice stays in the header.
const NOTICE_FOR: Duration = Duration::from_secs(8);

/// Where proctor is on its way out.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// Everything is being stopped (quit or a signal); the reason, for the banner.
    pub stopping: Option<String>,
    /// Leave the UI once the engine has ended.
    pub leave: bool,
    /// The engine thread is gone (its event stream closed).
    pub engine_ended: bool,
    /// `join all` answered: true when every worker exited 0.
    pub joined_all: Option<bool>,
    /// The instance this UI is attached to (`proctor attach`): quitting detaches
    /// and leaves its work running.
    pub attached_to: Option<String>,
    /// Leave now, the engine still running (an attached UI detaching).
    pub detached: bool,
}

#[derive(Debug, Clone)]
pub struct App {
    pub theme: Theme,
    /// The clock used for runtimes, countdowns and notices (an input, for tests).
    pub now: SystemTime,
    pub focus: Focus,
    pub workers: WorkerList,
    pub logs: LogView,
    pub history: History,
    pub overlay: Option<Overlay>,
    pub notice: Option<Notice>,
    pub mouse: bool,
    pub lifecycle: Lifecycle,
    /// The terminal's size at the last draw (for mouse hit tests and page sizes).
    pub screen: Rect,
    /// `Some` in map mode: the screen leads with the tasks.
    pub map: Option<MapRun>,
    /// A reap-zombies action waiting to check whether the zombies are gone.
    pub reap: Option<ReapCheck>,
    /// A max-parallel value sent to the engine and not yet seen in a snapshot:
    /// quick `+`/`-` presses count on from it, so none is lost.
    pub parallel: Option<PendingParallel>,
    /// Workers waiting out a restart back-off: name → when they start again.
    pub restarts: HashMap<String, SystemTime>,
    /// Each pool's recent throughput, for its rate and ETA.
    pub pool_rates: super::pool_rate::PoolRates,
    /// The process tree panel, when open (it takes the logs panel's place).
    pub tree: Option<ProcTree>,
}

/// A requested max-parallel value and when it was asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingParallel {
    pub value: usize,
    pub at: SystemTime,
}

/// How long a requested max-parallel value leads before the snapshot's wins again
/// (in case the engine settled on another value).
const PARALLEL_LEADS_FOR: Duration = Duration::from_secs(3);

/// How long after a press a snapshot that agrees with it is trusted: the engine
/// has handled the command and published by then (it publishes every 33 ms).
const PARALLEL_SETTLES_AFTER: Duration = Duration::from_millis(300);

/// When to look again at a worker whose zombies' parents were nudged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReapCheck {
    pub id: crate::engine::WorkerId,
    pub at: SystemTime,
}

impl App {
    pub fn new(theme: Theme, now: SystemTime) -> Self {
        App {
            theme,
            now,
            focus: Focus::Workers,
            workers: WorkerList::default(),
            logs: LogView::default(),
            history: History::default(),
            overlay: None,
            notice: None,
            mouse: true,
            lifecycle: Lifecycle::default(),
            screen: Rect::default(),
            map: None,
            reap: None,
            parallel: None,
            restarts: HashMap::new(),
            pool_rates: super::pool_rate::PoolRates::default(),
            tree: None,
        }
    }

    /// The queue figures to show: tasks in map mode, else the snapshot's workers.
    pub fn queue(&self, snapshot: &Snapshot) -> QueueStats {
        self.map.as_ref().map_or(snapshot.queue, |m| m.tasks)
    }

    /// The max-parallel value to show and to count `+`/`-` from: the one last
    /// asked for until a snapshot reports it.
    pub fn max_parallel(&self, snapshot: &Snapshot) -> usize {
        self.parallel.map_or(snapshot.max_parallel, |p| p.value)
    }

    /// When an ended worker starts again, while it waits out a restart back-off.
    pub fn restart_at(&self, w: &crate::engine::WorkerView) -> Option<SystemTime> {
        if w.state.is_active() || self.restarts.is_empty() {
            return None;
        }
        self.restarts.get(&w.name).copied()
    }

    /// The panels' places on this screen.
    pub fn areas(&self, screen: Rect) -> draw::Areas {
        if self.map.is_some() {
            draw::map_areas(screen)
        } else {
            draw::areas(screen)
        }
    }

    /// Brings derived state (row order, selection, log position) up to date with a
    /// snapshot and a screen size. Call before drawing.
    pub fn sync(&mut self, snapshot: &Snapshot, screen: Rect) {
        self.screen = screen;
        let areas = self.areas(screen);
        self.workers.viewport = areas.table.height.saturating_sub(3) as usize;
        self.logs.viewport = areas.logs.height.saturating_sub(2) as usize;
        self.workers.sync(snapshot);
        self.logs.show(self.workers.selected);
        self.pool_rates.note(&snapshot.pools, self.now);
        let now = self.now;
        self.restarts.retain(|_, at| *at > now);
        if let Some(p) = self.parallel {
            let waited = self.now.duration_since(p.at).unwrap_or_default();
            // A snapshot from before the last press can hold the same number (`+`
            // then `-`): only one published well after the press settles it.
            let settled = snapshot.max_parallel == p.value && waited > PARALLEL_SETTLES_AFTER;
            if settled || waited > PARALLEL_LEADS_FOR {
                self.parallel = None;
            }
        }
        if let Some(check) = self.reap
            && self.now >= check.at
            && self.overlay.is_none()
        {
            self.reap = None;
            super::actions::reap_check(self, check.id, snapshot);
        }
    }

    /// Shows a message in the header; worker-derived text is neutralised.
    pub fn notify(&mut self, level: Level, text: impl AsRef<str>) {
        self.notice = Some(Notice {
            text: neutralise(text.as_ref()),
            level,
            at: self.now,
        });
    }

    /// The notice to show now, if it is recent enough.
    pub fn current_notice(&self) -> Option<&Notice> {
        self.notice
            .as_ref()
            .filter(|n| self.now.duration_since(n.at).unwrap_or_default() < NOTICE_FOR)
    }

    /// Keymap contexts in lookup order for the current focus.
    pub fn contexts(&self) -> Vec<Context> {
        if self.tree.is_some() {
            return vec![Context::Tree, Context::Global];
        }
        match self.focus {
            Focus::Workers => vec![Context::Workers, Context::Global],
            Focus::Logs if self.logs.search.is_some() => {
                vec![Context::Search, Context::Logs, Context::Global]
            }
            Focus::Logs => vec![Context::Logs, Context::Global],
        }
    }

    /// A line of text is being typed (filter or search): keys go to the editor.
    pub fn editing(&self) -> bool {
        self.workers.filtering || self.logs.search.as_ref().is_some_and(|s| s.editing)
    }
}
