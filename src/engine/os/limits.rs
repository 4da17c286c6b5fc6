//! The open-file limit. Every running worker costs proctor three descriptors (two
//! pipes and a pidfd), so the common soft limit of 1,024 would cap a pool near 330
//! workers. proctor raises its soft limit to the hard one at start, and workers get
//! the original soft limit back, so they see the limit they would have had anyway.

use std::sync::OnceLock;

static ORIGINAL: OnceLock<libc::rlimit> = OnceLock::new();

/// Raises the soft RLIMIT_NOFILE to the hard limit (once; later calls do nothing).
pub fn raise_open_files() {
    ORIGINAL.get_or_init(|| {
        // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return libc::rlimit {
                    rlim_cur: libc::RLIM_INFINITY,
                    rlim_max: libc::RLIM_INFINITY,
                };
            }
            let original = limit;
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            original
        }
    });
}

/// The limit to give workers back, if proctor changed its own.
pub fn original_open_files() -> Option<libc::rlimit> {
    ORIGINAL
        .get()
        .copied()
        .filter(|l| l.rlim_cur != libc::RLIM_INFINITY || l.rlim_max != libc::RLIM_INFINITY)
}
