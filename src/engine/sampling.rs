//! The sampling thread: every interval it samples the system and the trees of the
//! live workers (taken from the latest snapshot) and sends the engine an owned
//! `Sample`. /proc reads never happen on the engine's or the UI's thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::snapshot::Snapshot;
use super::supervisor::Input;
use crate::sample::Sampler;

/// Starts the thread; it ends when the engine stops listening.
pub fn spawn(
    interval: Duration,
    snapshot: watch::Receiver<Arc<Snapshot>>,
    inputs: mpsc::UnboundedSender<Input>,
) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("proctor-sampler".into())
        .spawn(move || {
            super::os::reaper::route_sigchld_here(false);
            let mut sampler = Sampler::new();
            let mut roots = Vec::new();
            let mut next = Instant::now();
            loop {
                roots.clear();
                roots.extend(
                    snapshot
                        .borrow()
                        .workers
                        .iter()
                        .filter(|w| w.state.is_active())
                        .filter_map(|w| w.pid),
                );
                let sample = sampler.sample(&roots);
                if inputs.send(Input::Sample(Box::new(sample))).is_err() {
                    return;
                }
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        })
        .ok()
}
