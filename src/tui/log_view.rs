//! The logs panel's state: whose output (one worker or all merged), the scroll
//! position (or follow), and the regex search. Positions are absolute line numbers
//! for one worker and `seq` numbers for the merged view, so they do not drift while
//! output arrives.

use regex::Regex;

use super::text_input::TextInput;
use crate::engine::{OutputStore, WorkerId};

#[derive(Debug, Clone)]
pub struct Search {
    pub input: TextInput,
    /// The pattern is being typed.
    pub editing: bool,
    pub regex: Option<Regex>,
    pub error: Option<String>,
    /// The match the view is on (line number or seq).
    pub current: Option<u64>,
}

impl Default for Search {
    /// An empty pattern being typed.
    fn default() -> Self {
        Search {
            input: TextInput::default(),
            editing: true,
            regex: None,
            error: None,
            current: None,
        }
    }
}

impl Search {
    /// A search for `pattern`, already compiled, no longer being typed.
    pub fn for_pattern(pattern: &str) -> Self {
        let mut search = Search {
            input: TextInput::new(pattern),
            editing: false,
            ..Search::default()
        };
        search.compile();
        search
    }

    /// Compiles the typed pattern; lowercase-only patterns ignore case (smart case).
    pub fn compile(&mut self) {
        let text = self.input.text();
        if text.is_empty() {
            self.regex = None;
            self.error = None;
            return;
        }
        let pattern = if text.chars().any(char::is_uppercase) {
            text.to_string()
        } else {
            format!("(?i){text}")
        };
        match Regex::new(&pattern) {
            Ok(r) => {
                self.regex = Some(r);
                self.error = None;
            }
            Err(e) => {
                self.regex = None;
                let first = e.to_string();
                let last = first.lines().last().unwrap_or("invalid regex").trim();
                self.error = Some(last.trim_start_matches("error: ").to_string());
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct LogView {
    pub merged: bool,
    /// The first visible line; `None` follows new output.
    pub top: Option<u64>,
    pub search: Option<Search>,
    /// The worker the position belongs to (a new selection starts following again).
    pub worker: Option<WorkerId>,
    /// Lines that fit on screen (from the last layout).
    pub viewport: usize,
    /// Long lines are cut and scrolled sideways instead of wrapped.
    pub nowrap: bool,
    /// Characters scrolled sideways (only while not wrapping).
    pub skip: usize,
    /// Each line shows when it arrived.
    pub timestamps: bool,
}

impl LogView {
    /// Follows the newest output of `worker` when the selection changed.
    pub fn show(&mut self, worker: Option<WorkerId>) {
        if self.worker != worker && !self.merged {
            self.top = None;
            if let Some(s) = &mut self.search {
                s.current = None;
            }
        }
        self.worker = worker;
    }

    pub fn toggle_merged(&mut self) {
        self.merged = !self.merged;
        self.top = None;
        if let Some(s) = &mut self.search {
            s.current = None;
        }
    }

    /// Wrap long lines, or cut them and scroll sideways.
    pub fn toggle_wrap(&mut self) {
        self.nowrap = !self.nowrap;
        self.skip = 0;
    }

    /// Scrolls sideways by `delta` characters (only while not wrapping).
    pub fn scroll_sideways(&mut self, delta: isize) {
        if self.nowrap {
            self.skip = self
                .skip
                .saturating_add_signed(delta)
                .min(crate::engine::output::MAX_LINE);
        }
    }

    pub fn follow(&mut self) {
        self.top = None;
    }

    fn height(&self) -> u64 {
        self.viewport.max(1) as u64
    }

    /// Scrolls by `delta` lines (negative is up, toward older output).
    pub fn scroll(&mut self, store: &OutputStore, delta: i64) {
        if self.merged {
            self.scroll_merged(store, delta);
            return;
        }
        let Some(id) = self.worker else { return };
        let (first, end) = store.extent(id);
        let bottom = end.saturating_sub(self.height()).max(first);
        let top = self.top.unwrap_or(bottom).clamp(first, bottom);
        let next = top.saturating_add_signed(delta).clamp(first, bottom);
        self.top = (next < bottom).then_some(next);
    }

    fn scroll_merged(&mut self, store: &OutputStore, delta: i64) {
        let height = self.viewport.max(1);
        let top = match self.top {
            Some(t) => t,
            None => match store.merged(None, height).first() {
                Some((_, l)) => l.seq,
                None => return,
            },
        };
        let next = if delta < 0 {
            store
                .merged_back(top, delta.unsigned_abs() as usize)
                .unwrap_or(top)
        } else {
            let ahead = store.merged(Some(top), delta as usize + 1);
            ahead.last().map_or(top, |(_, l)| l.seq)
        };
        let follows = store.merged(Some(next), height + 1).len() <= height;
        self.top = (!follows).then_some(next);
    }

    /// Scrolls to the oldest line kept.
    pub fn home(&mut self, store: &OutputStore) {
        self.top = if self.merged {
            store.merged(Some(0), 1).first().map(|(_, l)| l.seq)
        } else {
            self.worker.map(|id| store.extent(id).0)
        };
        self.scroll(store, 0);
    }

    /// Jumps to the next (`forward`, newer) or previous match, wrapping around.
    pub fn find(&mut self, store: &OutputStore, forward: bool) -> bool {
        let Some(search) = &self.search else {
            return false;
        };
        let Some(regex) = search.regex.clone() else {
            return false;
        };
        let is_match = |text: &str| regex.is_match(text);
        let step = |c: u64| {
            if forward {
                c.checked_add(1)
            } else {
                c.checked_sub(1)
            }
        };
        let found = if self.merged {
            let wrap = if forward { 0 } else { u64::MAX };
            let from = search.current.and_then(step).unwrap_or(wrap);
            store
                .merged_find(from, forward, is_match)
                .or_else(|| store.merged_find(wrap, forward, is_match))
        } else {
            let Some(id) = self.worker else { return false };
            let (first, end) = store.extent(id);
            let wrap = if forward {
                first
            } else {
                end.saturating_sub(1)
            };
            let from = search.current.and_then(step).unwrap_or(wrap);
            store
                .find(id, from, forward, is_match)
                .or_else(|| store.find(id, wrap, forward, is_match))
        };
        let Some(line) = found else { return false };
        if let Some(s) = &mut self.search {
            s.current = Some(line);
        }
        self.center_on(store, line);
        true
    }

    fn center_on(&mut self, store: &OutputStore, line: u64) {
        let half = (self.viewport / 2) as u64;
        if self.merged {
            self.top = Some(store.merged_back(line, half as usize).unwrap_or(line));
        } else {
            self.top = Some(line.saturating_sub(half));
        }
        self.scroll(store, 0);
    }
}
