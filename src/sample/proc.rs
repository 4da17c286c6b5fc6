//! Small /proc readers shared by the sampler and the engine's stop logic.

use std::fs;
use std::io::{self, Read};

/// Direct children of `pid`, from /proc/PID/task/*/children (no full /proc scan).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = fs::read_to_string(path) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|w| w.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// /proc/PID/stat of one process, if it exists (one parser: [`parse_stat`]).
pub fn stat(pid: u32) -> Option<Stat> {
    let mut buf = Vec::with_capacity(512);
    parse_stat(read_proc_file(&format!("/proc/{pid}/stat"), &mut buf).ok()?)
}

/// Parent pid and state letter from /proc/PID/stat, if the process exists.
pub fn ppid_and_state(pid: u32) -> Option<(u32, char)> {
    stat(pid).map(|s| (s.ppid, s.state))
}

/// Field 22 of /proc/PID/stat: start time in clock ticks since boot. Together with
/// the pid it identifies a process across pid reuse.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// The fields of /proc/PID/stat the sampler needs, from one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// State letter: R, S, D, T, t, Z, X, I, …
    pub state: char,
    pub ppid: u32,
    /// Process group id.
    pub pgrp: u32,
    /// utime + stime, in clock ticks (sysconf(_SC_CLK_TCK)).
    pub cpu_ticks: u64,
    pub num_threads: u32,
    /// Start time in clock ticks since boot; with the pid it names one process.
    pub start_time: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

/// Parses the text of /proc/PID/stat. Works on bytes so the sampler needs no UTF-8
/// check, and splits after the last ')' because the command name may contain spaces
/// and parentheses.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let mut fields = text
        .get(close + 1..)?
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    // Field numbers below are proc(5)'s (1-based; pid and comm were fields 1 and 2).
    let state = char::from(*fields.next()?.first()?); // 3
    let ppid = parse_u64(fields.next()?)?; // 4
    let pgrp = parse_u64(fields.next()?)?; // 5
    let mut fields = fields.skip(8); // 6..=13
    let utime = parse_u64(fields.next()?)?; // 14
    let stime = parse_u64(fields.next()?)?; // 15
    let mut fields = fields.skip(4); // 16..=19
    let num_threads = parse_u64(fields.next()?)?; // 20
    let mut fields = fields.skip(1); // 21
    let start_time = parse_u64(fields.next()?)?; // 22
    let mut fields = fields.skip(1); // 23
    // rss is signed in the kernel's format; a negative value would be a kernel
    // accounting glitch, so it reads as 0 rather than failing the whole process.
    let rss = fields.next()?; // 24
    let rss_pages = if rss.first() == Some(&b'-') {
        0
    } else {
        parse_u64(rss)?
    };
    Some(Stat {
        state,
        ppid: u32::try_from(ppid).ok()?,
        pgrp: u32::try_from(pgrp).unwrap_or(0),
        cpu_ticks: utime.saturating_add(stime),
        num_threads: u32::try_from(num_threads).unwrap_or(u32::MAX),
        start_time,
        rss_pages,
    })
}

/// The resident field (the second) of /proc/PID/statm, in pages. Unlike the rss
/// field of /proc/PID/stat, which the kernel reads from per-CPU counters without
/// summing them (seen ~8 % low for small processes on Linux 6.x), statm's value
/// is exact and matches VmRSS in /proc/PID/status, `ps` and htop.
pub fn parse_statm_resident(text: &[u8]) -> Option<u64> {
    let mut fields = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    fields.next()?;
    parse_u64(fields.next()?)
}

/// Decimal digits to u64; `None` for anything else (empty, sign, overflow).
pub fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Reads a /proc file into `buf` (kept and grown across calls, so a sampling tick
/// allocates nothing) and returns the filled part.
///
/// Only for procfs files served by seq_file (stat, children, meminfo, …): std's
/// `read_to_end` spends a statx and an lseek on a size hint that procfs does not
/// have, and a final read just to see EOF. seq_file hands out
/// min(request, what fits its internal buffer of at least a page), so a read that
/// returns less than was asked *and* less than half a page can only mean the
/// content ended: one read per file in the common case.
pub fn read_proc_file<'a>(path: &str, buf: &'a mut Vec<u8>) -> io::Result<&'a [u8]> {
    const CHUNK: usize = 4096;
    // A seq_file read stopped by its full internal buffer returns at least a page
    // minus one record; records of the files read here are far below this.
    const SURELY_SHORT: usize = CHUNK / 2;
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let mut file = fs::File::open(path)?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let asked = buf.len() - filled;
        let n = match file.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if n == 0 || (n < asked && n < SURELY_SHORT) {
            break;
        }
    }
    Ok(&buf[..filled])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat_handles_spaces_and_parens_in_comm() {
        let text = b"4242 (a) b (c) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                     7 5 0 0 20 0 3 0 123456 10000000 321 18446744073709551615 \
                     0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(text).expect("parses");
        assert_eq!(
            stat,
            Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                cpu_ticks: 12,
                num_threads: 3,
                start_time: 123456,
                rss_pages: 321,
            }
        );
    }

    #[test]
    fn parse_stat_rejects_truncated_text() {
        assert_eq!(parse_stat(b"1 (x) S 0 1 1 0"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn statm_resident_is_the_second_field() {
        assert_eq!(
            parse_statm_resident(b"1122 484 371 193 0 141 0\n"),
            Some(484)
        );
        assert_eq!(parse_statm_resident(b"1122"), None);
    }

    #[test]
    fn statm_resident_matches_vmrss() {
        let status = fs::read_to_string("/proc/self/status").expect("readable");
        let mut buf = Vec::new();
        let statm = read_proc_file("/proc/self/statm", &mut buf).expect("readable");
        let pages = parse_statm_resident(statm).expect("parses");
        let vm_rss_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS");
        // SAFETY: sysconf only reads a configuration value.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let statm_kib = pages * page / 1024;
        // Two reads a moment apart: the test binary's other threads may allocate
        // in between, so allow a little drift, far below the stat field's error.
        let drift = vm_rss_kib.abs_diff(statm_kib);
        assert!(
            drift * 100 <= vm_rss_kib,
            "statm {statm_kib} KiB vs VmRSS {vm_rss_kib} KiB"
        );
    }

    #[test]
    fn parse_u64_digits_only() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
    }

    #[test]
    fn read_proc_file_reads_own_stat() {
        let mut buf = Vec::new();
        // thread-self: the test thread is running; the main thread is waiting.
        let text = read_proc_file("/proc/thread-self/stat", &mut buf).expect("readable");
        let stat = parse_stat(text).expect("parses");
        assert_eq!(stat.state, 'R');
        assert_eq!(stat.ppid, std::os::unix::process::parent_id());
        assert!(stat.num_threads >= 1);
    }

    #[test]
    fn read_proc_file_reads_past_one_chunk() {
        // A large seq_file of many small records whose content does not change
        // while the test runs (unlike /proc/self/maps under parallel tests).
        let Ok(full) = fs::read("/proc/kallsyms") else {
            return;
        };
        let mut buf = Vec::new();
        let text = read_proc_file("/proc/kallsyms", &mut buf).expect("readable");
        assert_eq!(text.len(), full.len());
        assert!(text == full.as_slice());
    }
}
