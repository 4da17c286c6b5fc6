//! pidfds: signal a process through a handle that can never point at a recycled pid.
//!
//! nix has no wrappers yet, so these are raw syscalls. On kernels without pidfd
//! (before 5.3) or on other systems, `PidFd::open` returns `None` and callers fall
//! back to `kill(2)` while the process is known to be unreaped (then its pid cannot
//! have been reused either).

use std::os::fd::{FromRawFd, OwnedFd};

#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for `pid`. Only sound while `pid` is known to be ours and
    /// unreaped (a child we have not waited for), or right after checking its
    /// parent and start time.
    #[cfg(target_os = "linux")]
    pub fn open(pid: u32) -> Option<PidFd> {
        // SAFETY: pidfd_open takes (pid_t, unsigned int flags) and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the kernel just gave us this fd and nobody else owns it.
        Some(PidFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn open(_pid: u32) -> Option<PidFd> {
        None
    }

    /// Sends `signal`; `Err(ESRCH)` once the process has exited (even if not reaped).
    #[cfg(target_os = "linux")]
    pub fn send(&self, signal: i32) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: (pidfd, sig, siginfo NULL, flags 0) is the documented call form.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn send(&self, _signal: i32) -> std::io::Result<()> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}
