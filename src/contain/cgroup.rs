//! cgroup v2 groups: one for this proctor instance (next to proctor, in its own
//! cgroup), one per running worker inside it (reused: `pool.rs`). A worker starts
//! in its group (or joins it before exec), so everything it ever forks is a member.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `proctor-<pid>-<token>` in proctor's own cgroup v2 group. `None` where
/// there is no cgroup v2 hierarchy, it is not writable, or `cgroup.kill` is missing
/// (kernels before 5.14).
pub fn create_instance(token: &str) -> Option<PathBuf> {
    let own = own_group()?;
    let dir = own.join(format!("proctor-{}-{token}", std::process::id()));
    std::fs::create_dir(&dir).ok()?;
    if !dir.join("cgroup.kill").exists() {
        let _ = std::fs::remove_dir(&dir);
        return None;
    }
    Some(dir)
}

/// proctor's own cgroup v2 directory: the cgroup2 mount plus /proc/self/cgroup's
/// `0::` path.
fn own_group() -> Option<PathBuf> {
    process_group(std::process::id())
}

/// Pids in a group now (the group and its nested groups).
pub fn members(group: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    collect(group, &mut out);
    out
}

fn collect(group: &Path, out: &mut Vec<u32>) {
    if let Ok(text) = std::fs::read_to_string(group.join("cgroup.procs")) {
        out.extend(
            text.split_whitespace()
                .filter_map(|w| w.parse::<u32>().ok()),
        );
    }
    if let Ok(entries) = std::fs::read_dir(group) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect(&e.path(), out);
            }
        }
    }
}

/// True if `pid` is now in `group` (or a group nested in it).
pub fn contains(group: &Path, pid: u32) -> bool {
    let Some(own) = process_group(pid) else {
        return false;
    };
    own.starts_with(group)
}

/// The cgroup v2 directory `pid` is in.
pub fn process_group(pid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let base = cgroup_root()?;
    Some(base.join(rel.trim_start_matches('/')))
}

/// Where the cgroup2 hierarchy's root is mounted (found once).
fn cgroup_root() -> Option<PathBuf> {
    static ROOT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mounts.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2")).then_some(())?;
            let fields: Vec<&str> = left.split_whitespace().collect();
            (fields.get(3) == Some(&"/")).then_some(())?;
            fields.get(4).map(PathBuf::from)
        })
    })
    .clone()
}

/// SIGKILLs every process in the group and its nested groups at once.
pub fn kill(group: &Path) -> bool {
    std::fs::write(group.join("cgroup.kill"), b"1").is_ok()
}

/// Removes the instance group and every worker group in it. Groups still holding
/// processes (none after a clean stop) are killed first, then waited for briefly.
pub fn remove_instance(instance: &Path) {
    if !members(instance).is_empty() {
        kill(instance);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Ok(entries) = std::fs::read_dir(instance) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        if std::fs::remove_dir(instance).is_ok() || !instance.exists() {
            return;
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
