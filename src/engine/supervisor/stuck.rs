//! Folding sampler results into workers: live figures, zombies, stuck detection.

use std::collections::HashMap;
use std::time::Instant;

use super::Supervisor;
use super::worker::StopReason;
use crate::engine::event::{EventKind, WorkerSampleOut};
use crate::engine::snapshot::{WorkerState, WorkerStats};
use crate::sample::{Sample, TreeSample};
use crate::spec::OnStuck;

impl Supervisor {
    fn sample_rows(&self) -> Vec<WorkerSampleOut> {
        self.workers
            .values()
            .filter(|w| w.state.is_active() && w.stats.os_state != '\0')
            .filter_map(|w| {
                Some(WorkerSampleOut {
                    worker: w.name.clone(),
                    pid: w.pid?,
                    state: w.stats.os_state.to_string(),
                    cpu: w.stats.cpu,
                    rss: w.stats.rss,
                    threads: w.stats.threads,
                    tree_cpu: w.stats.tree_cpu,
                    tree_rss: w.stats.tree_rss,
                    descendants: w.stats.descendants,
                    zombies: w.stats.zombies,
                })
            })
            .collect()
    }

    pub(super) fn sample(&mut self, sample: Sample, now: Instant) {
        let by_root: HashMap<u32, &TreeSample> = sample.trees.iter().map(|t| (t.root, t)).collect();
        let mut to_terminate = Vec::new();
        let mut events = Vec::new();
        for w in self.workers.values_mut() {
            let (Some(pid), true) = (w.pid, w.state.is_active()) else {
                continue;
            };
            let Some(tree) = by_root.get(&pid) else {
                continue;
            };
            w.stats = WorkerStats {
                cpu: tree.cpu,
                rss: tree.rss,
                threads: tree.threads,
                os_state: tree.state,
                tree_cpu: tree.tree_cpu,
                tree_rss: tree.tree_rss,
                descendants: tree.descendants.len() as u32,
                zombies: tree.zombies.len() as u32,
                procs: tree.procs.as_slice().into(),
            };
            for &(zpid, parent) in &tree.zombies {
                if !w.zombies.iter().any(|(z, _)| *z == zpid) {
                    events.push(EventKind::Zombie {
                        worker: w.name.clone(),
                        pid: zpid,
                        parent,
                    });
                }
            }
            w.zombies.clone_from(&tree.zombies);

            let threshold = w.job.stuck_cpu_pct.unwrap_or(self.policy.stuck_cpu_pct);
            let after = w.job.stuck_after.unwrap_or(self.policy.stuck_after);
            // A paused worker is idle on purpose; a stopping one is about to go.
            if f64::from(tree.tree_cpu) >= threshold
                || w.stop.is_some()
                || w.state == WorkerState::Paused
            {
                w.busy_at = now;
                w.stuck = false;
                continue;
            }
            let idle = now.saturating_duration_since(w.busy_at);
            if idle >= after && !w.stuck {
                w.stuck = true;
                let idle_s = (idle.as_secs_f64() * 10.0).round() / 10.0;
                events.push(EventKind::Stuck {
                    worker: w.name.clone(),
                    idle_s,
                });
                if w.job.on_stuck == OnStuck::Terminate {
                    w.stuck_terminated = true;
                    to_terminate.push(w.id);
                }
            }
        }
        for event in events {
            self.emit(event);
        }
        for id in to_terminate {
            self.terminate(id, StopReason::Stuck, now);
        }
        if self.policy.sample_events {
            let workers = self.sample_rows();
            let system = sample.system.clone();
            self.emit(EventKind::Sample { system, workers });
        }
        self.system = Some(sample.system);
    }
}
