//! Each pool's throughput and ETA, for the Workers panel: tasks finished per second
//! over the last few seconds of snapshots, and how long the queued and running
//! tasks would take at that rate.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use crate::engine::snapshot::PoolView;

/// How far back the rate looks: long enough to smooth bursts, short enough to
/// follow a pool that slows down.
const WINDOW: Duration = Duration::from_secs(10);
/// Less than this much history gives no rate (one snapshot is not a trend).
const MIN_SPAN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Default)]
pub struct PoolRates {
    /// Per pool: (when, tasks finished by then), oldest first.
    seen: HashMap<String, VecDeque<(SystemTime, u64)>>,
}

impl PoolRates {
    /// Records the pools of a snapshot taken at `now`; forgets pools that are gone.
    pub fn note(&mut self, pools: &[PoolView], now: SystemTime) {
        self.seen
            .retain(|name, _| pools.iter().any(|p| &p.name == name));
        for p in pools {
            let history = self.seen.entry(p.name.clone()).or_default();
            let finished = p.done + p.failed;
            // Several frames can draw the same instant: one entry for it.
            if history.back().is_some_and(|&(at, _)| at == now) {
                continue;
            }
            history.push_back((now, finished));
            while history.len() > 2
                && history
                    .front()
                    .is_some_and(|&(at, _)| now.duration_since(at).unwrap_or_default() > WINDOW)
            {
                history.pop_front();
            }
        }
    }

    /// Tasks finished per second, once there is enough history.
    pub fn rate(&self, pool: &str) -> Option<f64> {
        let history = self.seen.get(pool)?;
        let (first, last) = (history.front()?, history.back()?);
        let span = last.0.duration_since(first.0).ok()?;
        if span < MIN_SPAN {
            return None;
        }
        Some(last.1.saturating_sub(first.1) as f64 / span.as_secs_f64())
    }

    /// `35.0/s, ETA 0:12` (or just the rate when nothing moves), for the summary.
    pub fn describe(&self, pool: &PoolView) -> Option<String> {
        let rate = self.rate(&pool.name)?;
        let left = pool.queued + pool.running;
        if rate <= 0.0 || left == 0 {
            return Some(format!("{rate:.1}/s"));
        }
        let eta = Duration::from_secs_f64(left as f64 / rate);
        Some(format!("{rate:.1}/s, ETA {}", super::format::duration(eta)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(done: u64, queued: usize) -> PoolView {
        PoolView {
            name: "p".into(),
            state: "running",
            queued,
            running: 2,
            done,
            ..PoolView::default()
        }
    }

    #[test]
    fn rate_and_eta_follow_the_snapshots() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut rates = PoolRates::default();
        rates.note(&[pool(0, 100)], t0);
        assert_eq!(
            rates.describe(&pool(0, 100)),
            None,
            "one snapshot is no trend"
        );
        rates.note(&[pool(20, 80)], t0 + Duration::from_secs(2));
        assert_eq!(rates.rate("p"), Some(10.0));
        let shown = rates.describe(&pool(20, 80)).expect("a rate");
        assert!(shown.starts_with("10.0/s, ETA "), "{shown}");
        // Old history leaves the window: the rate follows a slowdown.
        rates.note(&[pool(21, 79)], t0 + Duration::from_secs(20));
        rates.note(&[pool(22, 78)], t0 + Duration::from_secs(22));
        assert_eq!(rates.rate("p"), Some(0.5));
        // A pool that is gone is forgotten.
        rates.note(&[], t0 + Duration::from_secs(23));
        assert_eq!(rates.rate("p"), None);
    }
}
