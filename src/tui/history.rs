//! Short histories for the charts: per-core and total CPU, queue depth, and finished
//! counts for throughput and ETA. Recorded about once a second; time is an input.
//! The queue figures are the app's (workers, or tasks in map mode).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::engine::{QueueStats, Snapshot};

/// Samples kept per series (five minutes at one a second).
const KEEP: usize = 300;
/// Throughput is measured over this window.
const WINDOW_S: f64 = 30.0;

#[derive(Debug, Default, Clone)]
pub struct History {
    pub cores: Vec<VecDeque<f32>>,
    pub total: VecDeque<f32>,
    pub depth: VecDeque<u64>,
    /// (seconds since the epoch, workers or tasks finished so far).
    finished: VecDeque<(f64, usize)>,
}

fn push<T>(series: &mut VecDeque<T>, value: T) {
    if series.len() == KEEP {
        series.pop_front();
    }
    series.push_back(value);
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl History {
    /// Records one sample unless the last one is under a second old.
    pub fn record(&mut self, snapshot: &Snapshot, queue: &QueueStats, now: SystemTime) {
        let t = secs(now);
        if self
            .finished
            .back()
            .is_some_and(|&(last, _)| t - last < 0.95)
        {
            return;
        }
        if let Some(system) = &snapshot.system {
            self.cores.resize_with(system.cores.len(), VecDeque::new);
            for (series, &pct) in self.cores.iter_mut().zip(&system.cores) {
                push(series, pct);
            }
            push(&mut self.total, system.cpu);
        }
        push(&mut self.depth, queue.depth as u64);
        push(
            &mut self.finished,
            (t, queue.done + queue.failed + queue.stopped),
        );
    }

    /// How many finished between one sample and the next, oldest first.
    pub fn finished_per_sample(&self) -> Vec<u64> {
        let counts: Vec<usize> = self.finished.iter().map(|&(_, n)| n).collect();
        counts
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]) as u64)
            .collect()
    }

    /// Finished per second over the last half minute; `None` before there are
    /// two samples.
    pub fn throughput(&self) -> Option<f64> {
        let &(t1, n1) = self.finished.back()?;
        // Nothing finished yet: no rate to speak of (shown as `–`, not `0.00/s`).
        if n1 == 0 {
            return None;
        }
        let &(t0, n0) = self
            .finished
            .iter()
            .find(|(t, _)| t1 - t <= WINDOW_S)
            .filter(|(t, _)| *t < t1)?;
        Some(n1.saturating_sub(n0) as f64 / (t1 - t0))
    }

    /// Time until the queue drains at the current throughput, while it is draining.
    pub fn eta(&self, queue: &QueueStats) -> Option<Duration> {
        let left = queue.depth + queue.running;
        let rate = self.throughput()?;
        (left > 0 && rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn throughput_and_eta_follow_finished_workers() {
        let mut h = History::default();
        let snap = Snapshot::default();
        let mut queue = QueueStats {
            depth: 10,
            ..QueueStats::default()
        };
        h.record(&snap, &queue, at(100));
        assert_eq!(h.throughput(), None);
        queue.done = 4;
        queue.depth = 6;
        h.record(&snap, &queue, at(102));
        assert_eq!(h.throughput(), Some(2.0));
        assert_eq!(h.eta(&queue), Some(Duration::from_secs(3)));
        h.record(&snap, &queue, at(102)); // too soon: ignored
        assert_eq!(h.depth.len(), 2);
        assert_eq!(h.finished_per_sample(), vec![4]);
    }
}
