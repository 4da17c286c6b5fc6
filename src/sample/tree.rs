//! Per-worker process trees: walk a leader's descendants through
//! /proc/PID/task/TID/children (never a scan of all of /proc), read each
//! process's /proc/PID/stat once, and turn CPU tick deltas into percentages.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;

use super::proc::{Stat, parse_stat, parse_statm_resident, parse_u64, read_proc_file};
use super::{ProcSample, TreeSample};

/// Command lines are cut here: the tree view shows one screen line of each.
const MAX_COMMAND: usize = 4096;

/// (pid, start time): names one process even after its pid is reused.
type ProcKey = (u32, u64);

/// What a tick learnt about one process, for the next tick.
#[derive(Debug, Clone, Default)]
struct Kept {
    cpu_ticks: u64,
    /// stat's approximate resident pages, and statm's exact figure read with it:
    /// while the first does not move, the second is reused instead of read again.
    rss_approx: u64,
    rss_exact: u64,
    /// The command line and how many ticks ago it was read.
    command: Option<(String, u8)>,
}

/// Ticks a command line is reused before it is read again (an exec changes it).
const COMMAND_FOR: u8 = 5;

/// What one tick knows about time, shared by every tree it walks.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    /// Wall seconds since the previous tick; `None` on the first tick, which has
    /// nothing to compare with and reports 0 CPU.
    pub elapsed: Option<f64>,
    /// Boot-clock time of the previous tick in clock ticks: a process started at
    /// or after it was born during the interval, so all its CPU ticks are new.
    pub prev_boot_ticks: u64,
}

/// Walks process trees; keeps the previous CPU ticks of every process it saw and
/// the buffers it reads with, so a tick allocates next to nothing.
#[derive(Debug)]
pub struct TreeReader {
    clk_tck: f64,
    page_size: u64,
    prev: HashMap<ProcKey, Kept>,
    next: HashMap<ProcKey, Kept>,
    path: String,
    buf: Vec<u8>,
    /// (pid, the parent it was listed under, depth) still to visit.
    stack: Vec<(u32, u32, u16)>,
    seen: HashSet<u32>,
}

impl TreeReader {
    pub fn new(clk_tck: u64, page_size: u64) -> Self {
        TreeReader {
            clk_tck: clk_tck.max(1) as f64,
            page_size,
            prev: HashMap::new(),
            next: HashMap::new(),
            path: String::with_capacity(64),
            buf: Vec::new(),
            stack: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Samples the tree under `root`; `None` if `root` no longer exists.
    pub fn tree(&mut self, root: u32, tick: Tick) -> Option<TreeSample> {
        let leader = self.stat(root)?;
        let (cpu, rss, _) = self.visit(root, &leader, tick, false);
        let mut out = TreeSample {
            root,
            state: leader.state,
            cpu,
            rss,
            threads: leader.num_threads,
            tree_cpu: cpu,
            tree_rss: rss,
            descendants: Vec::new(),
            descendant_starts: Vec::new(),
            zombies: Vec::new(),
            procs: Vec::new(),
        };
        self.stack.clear();
        self.seen.clear();
        self.seen.insert(root);
        self.push_children(root, &leader, 1);
        while let Some((pid, parent, depth)) = self.stack.pop() {
            // A pid can show up twice if it moved between two children files
            // while they were read; count it once.
            if !self.seen.insert(pid) {
                continue;
            }
            // Gone between the parent's children file and now: nothing to count.
            let Some(stat) = self.stat(pid) else {
                continue;
            };
            // Exited and its pid already reused by a process outside this tree (or
            // re-parented mid-walk): not ours to count or to remember.
            if stat.ppid != parent {
                continue;
            }
            // A zombie's last CPU ticks are still real work done in this interval.
            let zombie = stat.state == 'Z';
            let (cpu, rss, command) = self.visit(pid, &stat, tick, !zombie);
            out.tree_cpu += cpu;
            let mut proc = ProcSample {
                pid,
                ppid: stat.ppid,
                start: stat.start_time,
                state: stat.state,
                cpu,
                rss: 0,
                command: String::new(),
                depth,
            };
            if stat.state == 'Z' {
                out.zombies.push((pid, stat.ppid));
                out.procs.push(proc);
                continue;
            }
            out.descendants.push(pid);
            out.descendant_starts.push(stat.start_time);
            out.tree_rss = out.tree_rss.saturating_add(rss);
            proc.rss = rss;
            proc.command = command;
            out.procs.push(proc);
            self.push_children(pid, &stat, depth.saturating_add(1));
        }
        Some(out)
    }

    /// Ends a tick: forget processes not seen in it, so the map tracks only live
    /// processes and a reused pid never inherits an old count.
    pub fn finish_tick(&mut self) {
        std::mem::swap(&mut self.prev, &mut self.next);
        self.next.clear();
    }

    fn stat(&mut self, pid: u32) -> Option<Stat> {
        self.path.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.path, "/proc/{pid}/stat");
        parse_stat(read_proc_file(&self.path, &mut self.buf).ok()?)
    }

    /// CPU % since the previous tick (100.0 = one core), resident bytes and (with
    /// `command`) the command line of one process; records what the next tick
    /// needs. Resident bytes come from statm (exact, as `ps` and htop show them),
    /// read again only when stat's approximate figure moved.
    fn visit(&mut self, pid: u32, stat: &Stat, tick: Tick, command: bool) -> (f32, u64, String) {
        let key = (pid, stat.start_time);
        let before = self.prev.remove(&key);
        let cpu = match tick.elapsed.filter(|&e| e > 0.0) {
            None => 0.0,
            Some(elapsed) => {
                let delta = match &before {
                    Some(b) => Some(stat.cpu_ticks.saturating_sub(b.cpu_ticks)),
                    None if stat.start_time >= tick.prev_boot_ticks => Some(stat.cpu_ticks),
                    // Older than the previous tick yet not seen then: a root sampled
                    // for the first time; its past use says nothing about this interval.
                    None => None,
                };
                delta.map_or(0.0, |d| (d as f64 / self.clk_tck / elapsed * 100.0) as f32)
            }
        };
        let rss_exact = match &before {
            Some(b) if b.rss_approx == stat.rss_pages => b.rss_exact,
            _ => self.statm_resident(pid).unwrap_or(stat.rss_pages),
        };
        let mut kept = Kept {
            cpu_ticks: stat.cpu_ticks,
            rss_approx: stat.rss_pages,
            rss_exact,
            command: None,
        };
        let mut line = String::new();
        if command {
            let (text, age) = match before.and_then(|b| b.command) {
                Some((text, age)) if age < COMMAND_FOR => (text, age + 1),
                _ => (self.command_line(pid), 0),
            };
            line.clone_from(&text);
            kept.command = Some((text, age));
        }
        self.next.insert(key, kept);
        (cpu, rss_exact.saturating_mul(self.page_size), line)
    }

    fn statm_resident(&mut self, pid: u32) -> Option<u64> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/statm");
        read_proc_file(&self.path, &mut self.buf)
            .ok()
            .and_then(parse_statm_resident)
    }

    /// The command line of `pid`, arguments joined by spaces (empty for a kernel
    /// thread or a process that just exited).
    fn command_line(&mut self, pid: u32) -> String {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/cmdline");
        let Ok(bytes) = read_proc_file(&self.path, &mut self.buf) else {
            return String::new();
        };
        let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        let bytes = &bytes[..bytes.len().min(MAX_COMMAND)];
        String::from_utf8_lossy(bytes).replace('\0', " ")
    }

    /// Pushes the direct children of `pid` onto the walk stack.
    fn push_children(&mut self, pid: u32, stat: &Stat, depth: u16) {
        // A zombie has no children left: they were re-parented when it exited.
        if stat.state == 'Z' {
            return;
        }
        // Each thread lists only the children it forked. A single-threaded process
        // (the common worker) has one task, its own pid: skip listing the task
        // directory. A thread started since the stat read is caught next tick.
        if stat.num_threads <= 1 {
            self.read_children(pid, pid, depth);
            return;
        }
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task");
        let Ok(tasks) = fs::read_dir(&self.path) else {
            return;
        };
        for task in tasks.flatten() {
            let tid = task
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(tid) = tid {
                self.read_children(pid, tid, depth);
            }
        }
    }

    fn read_children(&mut self, pid: u32, tid: u32, depth: u16) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/children");
        let Ok(text) = read_proc_file(&self.path, &mut self.buf) else {
            return;
        };
        self.stack.extend(
            text.split(|&b| b == b' ' || b == b'\n')
                .filter_map(parse_u64)
                .filter_map(|n| u32::try_from(n).ok())
                .map(|child| (child, pid, depth)),
        );
    }
}
