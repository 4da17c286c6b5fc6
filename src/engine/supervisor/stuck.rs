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
            // Off unless the job or the command line asks: an idle server is not stuck.
            let Some(after) = w.job.stuck_after.or(self.policy.stuck_after) else {
                continue;
            };
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::command::{Command, WorkerId};
    use crate::engine::event::EventKind;
    use crate::engine::supervisor::{Effect, Input, Policy};
    use crate::spec::{JobSpec, Program};

    /// Two idle workers, one with `stuck_after`, sampled an hour apart.
    fn stuck_names(policy: Policy) -> Vec<String> {
        let t0 = Instant::now();
        let mut s = Supervisor::new(Policy {
            max_parallel: 2,
            ..policy
        });
        let mut asked = JobSpec::new("asked", Program::Argv(vec!["sleep".into()]));
        asked.stuck_after = Some(Duration::from_secs(30));
        let quiet = JobSpec::new("quiet", Program::Argv(vec!["sleep".into()]));
        let mut stuck = Vec::new();
        for (id, job) in [asked, quiet].into_iter().enumerate() {
            s.handle(Input::Command(Command::Launch(Box::new(job))), t0);
            let (id, pid) = (WorkerId(id as u32), 100 + id as u32);
            s.handle(Input::Spawned { id, pid }, t0);
        }
        let idle = |root| TreeSample {
            root,
            state: 'S',
            ..TreeSample::default()
        };
        let sample = Sample {
            trees: vec![idle(100), idle(101)],
            ..Sample::default()
        };
        let later = t0 + Duration::from_secs(3600);
        for fx in s.handle(Input::Sample(Box::new(sample)), later) {
            if let Effect::Emit(EventKind::Stuck { worker, .. }) = fx {
                stuck.push(worker);
            }
        }
        stuck
    }

    #[test]
    fn stuck_detection_is_off_unless_a_job_or_the_command_line_asks() {
        assert_eq!(stuck_names(Policy::default()), ["asked"]);
        let on = Policy {
            stuck_after: Some(Duration::from_secs(60)),
            ..Policy::default()
        };
        assert_eq!(stuck_names(on), ["asked", "quiet"]);
    }
}
