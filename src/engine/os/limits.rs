//! The open-file limit. Every running worker costs proctor descriptors (two pipe
//! read ends, a pidfd, its log files, its cgroup), so the common soft limit of
//! 1,024 would cap a pool near 330 workers. proctor raises its soft limit to the
//! hard one at start, and workers get the original soft limit back, so they see the
//! limit they would have had anyway. What is still too low for `max_parallel`
//! becomes a limit on how many workers run at once (`worker_slots`): the rest wait
//! in the queue instead of failing with "Too many open files".

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

/// Descriptors kept free for what is opened besides running workers: a spawn's
/// pipe write ends and stdin file, /proc reads of the sampler, control-socket
/// clients, a reader closing just after its worker's exit.
const RESERVE: usize = 16;

/// Descriptors proctor holds for one running worker: two pipe read ends and a
/// pidfd, plus its log files and its cgroup directory.
pub fn descriptors_per_worker(log_files: bool) -> usize {
    let cgroup = crate::contain::get().is_some_and(|c| c.cgroup.is_some());
    3 + if log_files { 2 } else { 0 } + usize::from(cgroup)
}

/// How many workers fit in the open-file limit next to what proctor holds now
/// (at least one, which fails with the OS's reason if even it does not fit).
/// `None` when there is no limit. Call after `raise_open_files`.
pub fn worker_slots(per_worker: usize) -> Option<usize> {
    let mut limit: libc::rlimit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let limit = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    let free = limit.saturating_sub(open_now()).saturating_sub(RESERVE);
    Some((free / per_worker.max(1)).max(1))
}

/// Descriptors open in proctor now (1,024 when /proc cannot tell).
fn open_now() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(1024, |dir| dir.count().saturating_sub(1))
}
