//! Short histories for the charts: per-core and total CPU, queue depth, and finished
//! counts for throughput and ETA. Recorded about once a second; time is an input.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::engine::Snapshot;

/// Samples kept per series (five minutes at one a second).
const KEEP: usize = 300;
/// Throughput is measured over this window.
const WINDOW_S: f64 = 30.0;

#[derive(Debug, Default, Clone)]
pub struct History {
    pub cores: Vec<VecDeque<f32>>,
    pub total: VecDeque<f32>,
    pub depth: VecDeque<u64>,
    /// (seconds since the epoch, workers finished so far).
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
    pub fn record(&mut self, snapshot: &Snapshot, now: SystemTime) {
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
        push(&mut self.depth, snapshot.queue.depth as u64);
        let done = snapshot.queue.done + snapshot.queue.failed;
        push(&mut self.finished, (t, done));
    }

    /// Workers finished per second over the last half minute; `None` before there
    /// are two samples.
    pub fn throughput(&self) -> Option<f64> {
        let &(t1, n1) = self.finished.back()?;
        let &(t0, n0) = self
            .finished
            .iter()
            .find(|(t, _)| t1 - t <= WINDOW_S)
            .filter(|(t, _)| *t < t1)?;
        Some(n1.saturating_sub(n0) as f64 / (t1 - t0))
    }

    /// Time until the queue drains at the current throughput, while it is draining.
    pub fn eta(&self, snapshot: &Snapshot) -> Option<Duration> {
        let left = snapshot.queue.depth + snapshot.queue.running;
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
        let mut snap = Snapshot::default();
        snap.queue.depth = 10;
        h.record(&snap, at(100));
        assert_eq!(h.throughput(), None);
        snap.queue.done = 4;
        snap.queue.depth = 6;
        h.record(&snap, at(102));
        assert_eq!(h.throughput(), Some(2.0));
        assert_eq!(h.eta(&snap), Some(Duration::from_secs(3)));
        h.record(&snap, at(102)); // too soon: ignored
        assert_eq!(h.depth.len(), 2);
    }
}
