//! Signalling a worker's whole process tree, pid-reuse safe.
//!
//! A descendant is identified by (pid, start time). Before signalling one we open
//! a pidfd and re-read its start time: if it matches, the pidfd holds the very
//! process we recorded, and a recycled pid can never be hit.

use super::pidfd::PidFd;
use crate::sample::proc::{children, start_time, stat};

/// Parent pid and start time from one read of /proc/PID/stat.
fn ppid_and_start(pid: u32) -> Option<(u32, u64)> {
    stat(pid).map(|s| (s.ppid, s.start_time))
}

/// A process we may signal: pid plus the start time that proves its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Known {
    pub pid: u32,
    pub start: u64,
}

/// Descendants of `root` now, with their start times. Each is checked to still be
/// the child of the process it was listed under, so a pid freed and reused between
/// the listing and the check is never taken for one of ours.
pub fn walk(root: u32) -> Vec<Known> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(parent) = stack.pop() {
        for pid in children(parent) {
            if out.iter().any(|k: &Known| k.pid == pid) {
                continue;
            }
            let Some((ppid, start)) = ppid_and_start(pid) else {
                continue;
            };
            if ppid == parent {
                out.push(Known { pid, start });
                stack.push(pid);
            }
        }
    }
    out
}

/// Sends `signal` to `k` only if it is still the same process. Returns true if sent.
pub fn signal_known(k: Known, signal: i32) -> bool {
    let Some(fd) = PidFd::open(k.pid) else {
        return false;
    };
    if start_time(k.pid) != Some(k.start) {
        return false; // the pid now belongs to someone else
    }
    fd.send(signal).is_ok()
}

/// Signals a process group. Only called while the group's leader is unreaped, so
/// the group id cannot have been recycled.
pub fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: killpg with plain integers.
    unsafe {
        libc::killpg(pgid as libc::pid_t, signal);
    }
}

/// Merges freshly walked descendants into the remembered set, dropping the dead.
pub fn remember(known: &mut Vec<Known>, fresh: impl IntoIterator<Item = Known>) {
    known.retain(|k| start_time(k.pid) == Some(k.start));
    for k in fresh {
        if !known.contains(&k) {
            known.push(k);
        }
    }
}
