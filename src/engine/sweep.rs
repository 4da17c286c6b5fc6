//! The last sweep: whatever is still a child of proctor after every worker is done
//! (orphans adopted as subreaper, daemons that double-forked) is stopped and reaped,
//! so nothing proctor started outlives it.

use std::time::{Duration, Instant};

use tokio::signal::unix::Signal;

use super::os::reaper::{own_children, reap_exited};
use super::os::tree::{self, Known};
use crate::sample::proc::start_time;

/// TERM (+CONT) to every remaining child and its descendants, KILL after `grace`,
/// and reap until proctor has no children left.
pub async fn sweep_orphans(grace: Duration, sigchld: &mut Signal) {
    let mut reaped = Vec::new();
    reap_exited(&mut reaped);
    if own_children().is_empty() {
        return;
    }
    signal_everything(libc::SIGTERM);
    signal_everything(libc::SIGCONT);
    let deadline = Instant::now() + grace;
    let mut killed = false;
    loop {
        reap_exited(&mut reaped);
        if own_children().is_empty() {
            return;
        }
        let now = Instant::now();
        if now >= deadline && !killed {
            signal_everything(libc::SIGKILL);
            killed = true;
        }
        let wait = if killed {
            Duration::from_millis(50)
        } else {
            deadline - now
        };
        let _ = tokio::time::timeout(wait.min(Duration::from_millis(100)), sigchld.recv()).await;
        if killed && Instant::now() > deadline + Duration::from_secs(10) {
            return; // unkillable (state D): nothing more a signal can do
        }
    }
}

/// Signals each direct child (unreaped, so its pid is safe) and its descendants.
fn signal_everything(signal: i32) {
    for pid in own_children() {
        let mut members: Vec<Known> = tree::walk(pid);
        if let Some(start) = start_time(pid) {
            members.push(Known { pid, start });
        }
        for k in members {
            tree::signal_known(k, signal);
        }
    }
}
