//! System and per-worker sampling: per-core load, process-tree CPU and memory,
//! zombie and stuck detection. Runs on its own thread; the engine receives owned
//! `Sample`s and never reads /proc on its hot path.

pub mod host;
pub mod proc;
pub mod sampler;
pub mod system;
pub mod tree;
pub mod units;

pub use sampler::Sampler;
pub use units::parse_duration;

use serde::{Deserialize, Serialize};

/// Machine-wide figures from one sampling tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemSample {
    /// CPU % per logical core (0..100).
    pub cores: Vec<f32>,
    /// Total CPU % over all cores (0..100).
    pub cpu: f32,
    /// Bytes in use: total minus available (as `free` counts it).
    pub mem_used: u64,
    /// Bytes of RAM.
    pub mem_total: u64,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
}

/// One worker's process tree at one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeSample {
    /// The worker's leader pid (the root of the walk).
    pub root: u32,
    /// OS state letter of the leader: R, S, D, T, Z, …
    pub state: char,
    /// The leader's CPU % since the previous tick; 100.0 = one core fully used.
    pub cpu: f32,
    /// The leader's resident memory in bytes.
    pub rss: u64,
    /// The leader's thread count.
    pub threads: u32,
    /// CPU % of the leader plus every descendant (zombies included: their last
    /// ticks were spent in this interval).
    pub tree_cpu: f32,
    /// Resident bytes of the leader plus every live descendant.
    pub tree_rss: u64,
    /// Every live descendant (not the root), any process group. Zombies are not
    /// live: they are listed in `zombies` instead.
    pub descendants: Vec<u32>,
    /// Start times of `descendants` (same order): with the pid, a process's identity
    /// across pid reuse, read in the same `stat` read as its parent check.
    pub descendant_starts: Vec<u64>,
    /// Zombies among the descendants: (zombie pid, parent pid).
    pub zombies: Vec<(u32, u32)>,
    /// Every descendant, zombies included, in walk order (a parent before its
    /// children), for the process tree view.
    pub procs: Vec<ProcSample>,
}

/// One descendant of a worker at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcSample {
    pub pid: u32,
    pub ppid: u32,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub start: u64,
    /// OS state letter: R, S, D, T, Z, …
    pub state: char,
    /// CPU % of this process alone; 100.0 = one core.
    pub cpu: f32,
    pub rss: u64,
    /// The command line (arguments joined by spaces), raw: neutralise to show.
    pub command: String,
    /// Levels below the worker's leader (1 = its child).
    pub depth: u16,
}

/// Everything one tick produced.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub system: SystemSample,
    pub trees: Vec<TreeSample>,
}
