//! Machine-wide figures: per-core and total CPU from one read of /proc/stat,
//! memory from /proc/meminfo, load from /proc/loadavg.
//!
//! Read directly rather than through sysinfo: the same three files, but with one
//! reused buffer and no per-core bookkeeping beyond two counters
//! (`examples/sample_cost.rs` prints both costs side by side).

use super::SystemSample;
use super::proc::{parse_u64, read_proc_file};

/// Busy and total jiffies of one CPU line, the two numbers a usage % needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    /// % busy between `before` and `self`; 0 when no time passed (first tick,
    /// counters reset by hotplug).
    fn usage_since(self, before: CpuTimes) -> f32 {
        let total = self.total.saturating_sub(before.total);
        if total == 0 {
            return 0.0;
        }
        let busy = self.busy.saturating_sub(before.busy).min(total);
        (busy as f64 * 100.0 / total as f64) as f32
    }
}

/// Keeps the previous tick's counters so each read reports usage since then.
#[derive(Debug, Default)]
pub struct SystemReader {
    buf: Vec<u8>,
    /// Counters of the whole machine at the previous tick; `None` before the first.
    prev_total: Option<CpuTimes>,
    /// Counters per core id at the previous tick (`None`: offline or not seen yet).
    prev_cores: Vec<Option<CpuTimes>>,
}

impl SystemReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads all machine-wide figures. A file that cannot be read leaves its
    /// figures at zero rather than failing the tick: workers still get sampled.
    pub fn read(&mut self) -> SystemSample {
        let mut out = SystemSample::default();
        self.read_cpu(&mut out);
        if let Ok(text) = read_proc_file("/proc/meminfo", &mut self.buf) {
            (out.mem_used, out.mem_total) = parse_meminfo(text);
        }
        if let Ok(text) = read_proc_file("/proc/loadavg", &mut self.buf) {
            out.load = parse_loadavg(text);
        }
        out
    }

    fn read_cpu(&mut self, out: &mut SystemSample) {
        let Ok(text) = read_proc_file("/proc/stat", &mut self.buf) else {
            return;
        };
        // The cpu lines come first; the rest (intr, ctxt, …) is not needed.
        for line in text.split(|&b| b == b'\n') {
            let Some(rest) = line.strip_prefix(b"cpu") else {
                break;
            };
            let mut fields = rest.split(|&b| b == b' ').filter(|f| !f.is_empty());
            // "cpu  …" (no number) is the total line; "cpuN …" is core N.
            let core = if rest.first() == Some(&b' ') {
                None
            } else {
                match fields.next().and_then(parse_u64) {
                    Some(n) => usize::try_from(n).ok(),
                    None => continue,
                }
            };
            let Some(now) = parse_cpu_times(fields) else {
                continue;
            };
            match core {
                None => {
                    out.cpu = self
                        .prev_total
                        .map_or(0.0, |before| now.usage_since(before));
                    self.prev_total = Some(now);
                }
                Some(id) => {
                    if id >= out.cores.len() {
                        out.cores.resize(id + 1, 0.0);
                    }
                    if id >= self.prev_cores.len() {
                        self.prev_cores.resize(id + 1, None);
                    }
                    if let Some(before) = self.prev_cores[id] {
                        out.cores[id] = now.usage_since(before);
                    }
                    self.prev_cores[id] = Some(now);
                }
            }
        }
    }
}

/// user nice system idle iowait irq softirq steal [guest guest_nice]: guest time
/// is already counted in user/nice, so only the first eight add up to the total.
fn parse_cpu_times<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Option<CpuTimes> {
    let mut total = 0u64;
    let mut idle = 0u64;
    let mut count = 0;
    for (i, field) in fields.take(8).enumerate() {
        let value = parse_u64(field)?;
        total = total.saturating_add(value);
        // idle and iowait: the CPU had nothing to run.
        if i == 3 || i == 4 {
            idle = idle.saturating_add(value);
        }
        count += 1;
    }
    // Kernels since 2.6.11 have at least these; fewer means a malformed line.
    (count >= 4).then_some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// (used, total) in bytes; used = total - available, as `free` and htop count it.
fn parse_meminfo(text: &[u8]) -> (u64, u64) {
    let (mut total, mut available, mut free, mut buffers, mut cached) =
        (None, None, 0u64, 0u64, 0u64);
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, rest) = line.split_at(colon);
        let kib = rest[1..]
            .split(|&b| b == b' ')
            .find(|f| !f.is_empty())
            .and_then(parse_u64)
            .unwrap_or(0);
        let bytes = kib.saturating_mul(1024);
        match key {
            b"MemTotal" => total = Some(bytes),
            b"MemFree" => free = bytes,
            b"MemAvailable" => available = Some(bytes),
            b"Buffers" => buffers = bytes,
            b"Cached" => cached = bytes,
            _ => {}
        }
        if total.is_some() && available.is_some() {
            break;
        }
    }
    let total = total.unwrap_or(0);
    // MemAvailable exists since Linux 3.14; before that, estimate it.
    let available = available.unwrap_or(free + buffers + cached);
    (total.saturating_sub(available), total)
}

fn parse_loadavg(text: &[u8]) -> [f64; 3] {
    let mut out = [0.0; 3];
    let fields = text.split(|&b| b == b' ').filter(|f| !f.is_empty());
    for (slot, field) in out.iter_mut().zip(fields) {
        *slot = std::str::from_utf8(field)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_usage_from_two_readings() {
        let a = parse_cpu_times(b"100 0 100 800 0 0 0 0 0 0".split(|&b| b == b' '));
        let b = parse_cpu_times(b"150 0 150 900 0 0 0 0 0 0".split(|&b| b == b' '));
        let (a, b) = (a.expect("parses"), b.expect("parses"));
        assert_eq!(
            a,
            CpuTimes {
                busy: 200,
                total: 1000
            }
        );
        assert_eq!(b.usage_since(a), 50.0);
        assert_eq!(a.usage_since(a), 0.0);
    }

    #[test]
    fn iowait_counts_as_idle_and_guest_is_not_counted_twice() {
        let t = parse_cpu_times(b"10 0 0 50 40 0 0 0 10 0".split(|&b| b == b' ')).expect("parses");
        assert_eq!(
            t,
            CpuTimes {
                busy: 10,
                total: 100
            }
        );
    }

    #[test]
    fn meminfo_used_is_total_minus_available() {
        let text = b"MemTotal:       1000 kB\nMemFree:         100 kB\n\
                     MemAvailable:    600 kB\nBuffers:          10 kB\n";
        assert_eq!(parse_meminfo(text), (400 * 1024, 1000 * 1024));
    }

    #[test]
    fn meminfo_without_available_estimates_it() {
        let text = b"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        assert_eq!(parse_meminfo(text), (600 * 1024, 1000 * 1024));
    }

    #[test]
    fn loadavg_three_figures() {
        assert_eq!(
            parse_loadavg(b"0.79 0.37 0.15 1/84 6387\n"),
            [0.79, 0.37, 0.15]
        );
    }

    #[test]
    fn reader_reports_every_core_and_memory() {
        let mut reader = SystemReader::new();
        let first = reader.read();
        assert!(!first.cores.is_empty());
        assert!(first.mem_total > 0);
        assert!(first.mem_used <= first.mem_total);
        assert_eq!(first.cpu, 0.0);
        let second = reader.read();
        assert_eq!(second.cores.len(), first.cores.len());
        assert!((0.0..=100.0).contains(&second.cpu));
        assert!(second.cores.iter().all(|c| (0.0..=100.0).contains(c)));
    }
}
