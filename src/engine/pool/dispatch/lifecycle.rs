//! A pool's workers coming and going: ready, early deaths and the `failing`
//! back-off, recycling, stopping, keeping the pool at its size.

use std::time::Instant;

use super::{DEFAULT_GRACE, EARLY_DEATHS, EARLY_WINDOW, FIRST_BACKOFF, MAX_BACKOFF, Member, Pool};
use crate::engine::command::WorkerId;
use crate::engine::event::EventKind;
use crate::engine::pool::{Effect, Timer, TimerKind};

impl Pool {
    pub(super) fn became_ready(&mut self) {
        self.early_deaths.clear();
        self.backoff = FIRST_BACKOFF;
        if self.failing {
            self.failing = false;
            self.emit(EventKind::PoolState {
                pool: self.name.clone(),
                state: "running",
                detail: "a worker became ready".into(),
            });
        }
    }

    pub(super) fn early_death(&mut self, now: Instant) {
        self.early_deaths.push_back(now);
        while self
            .early_deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > EARLY_WINDOW)
        {
            self.early_deaths.pop_front();
        }
        if self.early_deaths.len() < EARLY_DEATHS || self.holding {
            return;
        }
        self.holding = true;
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.effects.push(Effect::Arm {
            after: wait,
            timer: Timer {
                pool: self.name.clone(),
                worker: WorkerId(0),
                task: 0,
                kind: TimerKind::Backoff,
            },
        });
        if !self.failing {
            self.failing = true;
            self.emit(EventKind::PoolState {
                pool: self.name.clone(),
                state: "failing",
                detail: format!(
                    "{} workers died before they were ready within a minute; \
                     starting again in {:.0?}, tasks stay queued",
                    self.early_deaths.len(),
                    wait
                ),
            });
        }
    }

    /// Closes the worker's input (it should exit), then the stop ladder after grace.
    pub(super) fn recycle(&mut self, id: WorkerId, reason: &'static str, announce: bool) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        m.leaving = Some(reason);
        let (worker, served) = (m.name.clone(), m.served);
        self.effects.push(Effect::CloseInput(id));
        self.effects.push(Effect::Arm {
            after: self.job.stop_grace.unwrap_or(DEFAULT_GRACE),
            timer: Timer {
                pool: self.name.clone(),
                worker: id,
                task: 0,
                kind: TimerKind::Grace,
            },
        });
        if announce {
            self.emit(EventKind::Recycled {
                pool: self.name.clone(),
                worker,
                reason,
                served,
            });
        }
    }

    /// Stops a worker now (its task, if any, is retried on exit).
    pub(super) fn stop(&mut self, id: WorkerId, reason: &'static str) {
        if let Some(m) = self.members.get_mut(&id) {
            m.leaving = Some(reason);
            let (worker, served) = (m.name.clone(), m.served);
            self.effects.push(Effect::Stop(id));
            self.emit(EventKind::Recycled {
                pool: self.name.clone(),
                worker,
                reason,
                served,
            });
        }
    }

    /// Idle workers that have served enough (or that are no longer needed) leave.
    pub(super) fn retire_idle(&mut self, now: Instant) {
        let drained = self.closed && self.queue.is_empty();
        let idle: Vec<(WorkerId, Option<&'static str>)> = self
            .members
            .iter()
            .filter(|(_, m)| m.ready && m.tasks.is_empty() && m.leaving.is_none())
            .map(|(id, m)| (*id, self.why_replace(m, now)))
            .collect();
        for (id, why) in idle {
            match why {
                Some(reason) => self.recycle(id, reason, true),
                None if drained || self.stopping => self.recycle(id, "closed", false),
                None => {}
            }
        }
        // Not ready yet and not needed any more.
        if drained {
            let starting: Vec<WorkerId> = self
                .members
                .iter()
                .filter(|(_, m)| !m.ready && m.leaving.is_none())
                .map(|(id, _)| *id)
                .collect();
            for id in starting {
                self.recycle(id, "closed", false);
            }
        }
    }

    pub(super) fn why_replace(&self, m: &Member, now: Instant) -> Option<&'static str> {
        if m.limit.is_some_and(|n| m.served >= n) {
            Some("max_tasks")
        } else if m.asked_to_leave {
            Some("request")
        } else if self.spec.max_rss.is_some_and(|max| m.rss > max) {
            Some("max_rss")
        } else if self
            .spec
            .max_age
            .is_some_and(|age| now.duration_since(m.born) >= age)
        {
            Some("max_age")
        } else {
            None
        }
    }

    pub(super) fn replenish(&mut self) {
        if self.holding || self.closed && self.queue.is_empty() {
            return;
        }
        let staying = self
            .members
            .values()
            .filter(|m| m.leaving.is_none())
            .count();
        let want = self.spec.workers as usize;
        for _ in staying + self.launching.len()..want {
            self.next_worker += 1;
            let mut job = self.job.clone();
            job.name = format!("{}#{}", self.name, self.next_worker);
            self.launching.insert(job.name.clone());
            self.effects.push(Effect::Launch(Box::new(job)));
        }
    }
}
