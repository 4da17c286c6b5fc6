//! Finding processes proctor started but has not recorded: one pass over /proc,
//! reading each process's stat and, for candidates, its environment marker.
//! Only the keeper and proctor's emergency path do this; it is never on a hot path.

use crate::engine::os::pidfd::PidFd;
use crate::sample::proc::{start_time, stat};

/// One process found by a scan, with a pidfd opened before its identity was
/// checked, so the pidfd can only name the process that was checked.
pub struct Found {
    pub pid: u32,
    pub fd: PidFd,
}

/// The marker value in `pid`'s environment, if it has one.
pub fn marker_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let key = format!("{}=", super::MARKER);
    env.split(|&b| b == 0)
        .find_map(|var| var.strip_prefix(key.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Every process (but proctor and the caller) that carries the instance's marker
/// `<token>/…` or sits in one of `groups` (worker leaders as (pgid, start time); a
/// member started before its leader cannot be in that group, so a recycled group
/// id is never taken for ours).
pub fn marked(token: &str, groups: &[(u32, u64)]) -> Vec<Found> {
    let me = std::process::id();
    let prefix = format!("{token}/");
    // A group whose leader's pid now names another process may have been recycled.
    let groups: Vec<(u32, u64)> = groups
        .iter()
        .copied()
        .filter(|&(pgid, start)| start_time(pgid).is_none_or(|s| s == start))
        .collect();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(fd) = PidFd::open(pid) else {
            continue;
        };
        let Some(stat) = stat(pid) else {
            continue;
        };
        if stat.state == 'Z' {
            continue;
        }
        let in_group = groups
            .iter()
            .any(|&(pgid, start)| pgid == stat.pgrp && stat.start_time >= start);
        if in_group || marker_of(pid).is_some_and(|m| m.starts_with(&prefix)) {
            out.push(Found { pid, fd });
        }
    }
    out
}
