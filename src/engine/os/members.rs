//! Who belongs to a worker: its leader's descendants, plus every process that was
//! ever one and was re-parented to proctor (a daemon that double-forked or used
//! setsid). Such an orphan is attributed by its cgroup (exact) or, without cgroups,
//! by the marker in its environment; it then belongs to the worker for stops,
//! pauses and restarts, and the keeper learns it.

use std::collections::HashMap;
use std::ffi::CString;

use super::OsWorker;
use super::spawn::Contain;
use super::tree::{self, Known};
use crate::contain::pool::{Group, Pool};
use crate::contain::{self, Level, cgroup, scan};
use crate::engine::command::WorkerId;
use crate::sample::proc::{ppid_and_state, start_time};

/// A worker's containment: its cgroup (if any) and what it is known to hold.
#[derive(Debug, Default)]
pub struct Members {
    /// Descendants seen so far (walks, samples, adopted orphans).
    pub known: Vec<Known>,
    /// The worker's cgroup, from the pool: held while the run lasts, and after it
    /// while processes the run left are in it.
    group: Option<Group>,
}

impl Members {
    /// Prepares what the spawn child needs: the marker and the cgroup to start in.
    /// A restart keeps a group the previous run left processes in.
    pub fn prepare(&mut self, id: WorkerId, pool: Option<&mut Pool>) -> Contain {
        let Some(c) = contain::get() else {
            return Contain::default();
        };
        if self.group.is_none()
            && let Some(pool) = pool
        {
            self.group = pool.take(u64::from(id.0));
        }
        let marker = format!("{}={}", contain::MARKER, c.marker_value(u64::from(id.0)));
        Contain {
            marker: CString::new(marker).ok(),
            cgroup: self.group.as_mut().and_then(Group::handle),
        }
    }

    /// The run's leader was reaped: an empty group goes back to the pool for the
    /// next worker; one still holding what the run left stays this worker's, with
    /// its descriptor closed.
    pub fn run_ended(&mut self, pool: Option<&mut Pool>) {
        let Some(mut group) = self.group.take() else {
            return;
        };
        match pool {
            Some(pool) if group.is_empty() => pool.give_back(group),
            _ => {
                group.close();
                self.group = Some(group);
            }
        }
    }

    /// A new leader: the keeper learns its group (ledger level; a cgroup is exact).
    pub fn spawned(&self, pid: u32) {
        if let Some(c) = contain::get()
            && c.level == Level::Ledger
            && let Some(start) = start_time(pid)
        {
            c.note_group(pid, start);
            c.note(pid, start);
        }
    }

    /// Merges fresh descendants into `known`; the keeper learns the new ones.
    pub fn learn(&mut self, fresh: impl IntoIterator<Item = Known>) {
        let before = self.known.len();
        tree::remember(&mut self.known, fresh);
        let Some(c) = contain::get() else {
            return;
        };
        if c.level == Level::Ledger {
            for k in self.known.iter().skip(before.min(self.known.len())) {
                c.note(k.pid, k.start);
            }
        }
    }

    /// Everything the worker holds now besides its leader: the cgroup's members,
    /// remembered descendants and, below each adopted orphan, its own descendants.
    pub fn refresh(&mut self) {
        let mut fresh = Vec::new();
        if let Some(group) = &self.group {
            for pid in cgroup::members(&group.dir) {
                if let Some(start) = start_time(pid)
                    && cgroup::contains(&group.dir, pid)
                {
                    fresh.push(Known { pid, start });
                }
            }
        }
        let me = std::process::id();
        for k in &self.known {
            if ppid_and_state(k.pid).is_some_and(|(ppid, _)| ppid == me) {
                fresh.extend(tree::walk(k.pid));
            }
        }
        self.learn(fresh);
    }

    /// Ends everything the previous run left (before a restart).
    pub fn kill_leftovers(&mut self) {
        self.refresh();
        if let Some(group) = &self.group {
            cgroup::kill(&group.dir);
        }
        for k in &self.known {
            tree::signal_known(*k, libc::SIGKILL);
        }
    }

    /// The worker is gone for good: its cgroup goes back to the pool (or, still
    /// holding processes, is left to the instance's final removal).
    pub fn retire(&mut self, pool: Option<&mut Pool>) {
        if let Some(group) = self.group.take()
            && let Some(pool) = pool
        {
            pool.give_back(group);
        }
    }
}

/// Attributes proctor's children that are not worker leaders (orphans re-parented
/// to proctor) to the worker whose cgroup or marker they carry.
pub fn adopt_orphans(
    leaders: &HashMap<u32, WorkerId>,
    workers: &mut HashMap<WorkerId, OsWorker>,
    pool: Option<&Pool>,
) {
    let Some(c) = contain::get() else {
        return;
    };
    for pid in super::reaper::own_children() {
        if leaders.contains_key(&pid) {
            continue;
        }
        // A child of ours not yet reaped: its pid cannot have been reused.
        let Some(start) = start_time(pid) else {
            continue;
        };
        let k = Known { pid, start };
        if workers.values().any(|w| w.members.known.contains(&k)) {
            continue;
        }
        let Some(id) = owner(c, pool, pid) else {
            continue;
        };
        if let Some(w) = workers.get_mut(&id) {
            let mut fresh = vec![k];
            fresh.extend(tree::walk(pid));
            w.members.learn(fresh);
        }
    }
}

/// The worker an orphan came from: by its cgroup, else by its marker.
fn owner(c: &contain::Containment, pool: Option<&Pool>, pid: u32) -> Option<WorkerId> {
    if let Some(pool) = pool
        && let Some(group) = cgroup::process_group(pid)
        && let Some(worker) = pool.owner(&group)
    {
        return u32::try_from(worker).ok().map(WorkerId);
    }
    let marker = scan::marker_of(pid)?;
    let id = marker.strip_prefix(&c.token)?.strip_prefix('/')?;
    id.parse().ok().map(WorkerId)
}
