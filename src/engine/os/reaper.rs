//! The one reaper: the only place in proctor that waits on children. It collects
//! every exited child — workers and orphans adopted as child subreaper alike.

use crate::engine::supervisor::ExitStatus;

/// Makes proctor the subreaper of everything it starts, so orphaned descendants are
/// re-parented to it (and reaped here) instead of escaping to init.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong);
    }
}

/// Blocks (`true`) or unblocks SIGCHLD for the calling thread. The engine thread is
/// the only one that leaves it unblocked, so the kernel delivers each SIGCHLD
/// straight to the thread that reaps, instead of waking another thread that then
/// has to wake the engine.
pub fn route_sigchld_here(here: bool) {
    // SAFETY: sigset manipulation on a local, initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        let how = if here {
            libc::SIG_UNBLOCK
        } else {
            libc::SIG_BLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Reaps every child that has exited, without blocking.
pub fn reap_exited(out: &mut Vec<(u32, ExitStatus)>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return; // 0: children remain but none exited; -1: ECHILD, no children
        }
        let exit = if libc::WIFSIGNALED(status) {
            ExitStatus::Signal(libc::WTERMSIG(status))
        } else {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        };
        out.push((pid as u32, exit));
    }
}

/// True when proctor has no child processes at all (ECHILD).
pub fn has_children() -> bool {
    // SAFETY: waitid with WNOWAIT|WNOHANG only peeks; infop is a valid zeroed struct.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc == 0
    }
}

/// Pids of proctor's direct children, from /proc (workers and adopted orphans).
pub fn own_children() -> Vec<u32> {
    crate::sample::proc::children(std::process::id())
}
