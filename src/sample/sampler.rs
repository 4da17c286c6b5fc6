//! One sampling tick: system figures plus one tree per worker leader.

use std::time::Instant;

use super::Sample;
use super::system::SystemReader;
use super::tree::{Tick, TreeReader};

/// Samples the machine and a set of process trees, tick after tick. Keep one alive:
/// CPU figures are deltas against the previous call.
#[derive(Debug)]
pub struct Sampler {
    system: SystemReader,
    trees: TreeReader,
    clk_tck: u64,
    /// When the previous tick ran: monotonic for the elapsed wall time, boot clock
    /// in ticks to compare with process start times (which count from boot).
    prev: Option<(Instant, u64)>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub fn new() -> Self {
        let clk_tck = sysconf(libc::_SC_CLK_TCK).unwrap_or(100);
        let page_size = sysconf(libc::_SC_PAGESIZE).unwrap_or(4096);
        Sampler {
            system: SystemReader::new(),
            trees: TreeReader::new(clk_tck, page_size),
            clk_tck,
            prev: None,
        }
    }

    /// One tick: system figures plus one [`TreeSample`](super::TreeSample) per root
    /// pid, in the order of `roots`. A root that no longer exists is **skipped**,
    /// so match trees to workers by `TreeSample::root`, not by position.
    ///
    /// CPU figures are usage since the previous call (100.0 = one core for a
    /// process, 0..100 for the machine); the first call reports 0.
    pub fn sample(&mut self, roots: &[u32]) -> Sample {
        let now = Instant::now();
        let boot_ticks = boot_ticks(self.clk_tck);
        let tick = Tick {
            elapsed: self
                .prev
                .map(|(before, _)| now.duration_since(before).as_secs_f64()),
            // Before the first tick every process is "old": nothing to compare.
            prev_boot_ticks: self.prev.map_or(u64::MAX, |(_, ticks)| ticks),
        };
        self.prev = Some((now, boot_ticks));
        let system = self.system.read();
        let trees = roots
            .iter()
            .filter_map(|&root| self.trees.tree(root, tick))
            .collect();
        self.trees.finish_tick();
        Sample { system, trees }
    }
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value; no pointers involved.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok().filter(|&v| v > 0)
}

/// Time since boot in clock ticks, on the clock /proc/PID/stat start times use
/// (CLOCK_BOOTTIME, which keeps counting through suspend).
fn boot_ticks(clk_tck: u64) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        // Without the clock, no process counts as new: it reports 0 on first sight.
        return u64::MAX;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(clk_tck) + nanos * clk_tck / 1_000_000_000
}
