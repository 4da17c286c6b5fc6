//! What one sampling tick costs: spawns N idle workers (`sleep 600`), samples them
//! 20 times and prints wall and CPU time per tick, then the same for the system
//! figures alone next to sysinfo's equivalent.
//!
//!     cargo run --release --example sample_cost -- 1000

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proctor::sample::Sampler;
use proctor::sample::system::SystemReader;

const TICKS: u32 = 20;

/// Kills and waits for every worker, also when the measurement panics.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// User + system CPU time this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable for the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `tick` TICKS times; returns mean (wall, cpu) per tick.
fn measure(mut tick: impl FnMut()) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    for _ in 0..TICKS {
        tick();
    }
    (wall.elapsed() / TICKS, (cpu_time() - cpu) / TICKS)
}

fn report(what: &str, (wall, cpu): (Duration, Duration)) {
    // At a 1 s interval, CPU per tick over 1 s is the share of one core.
    let share = cpu.as_secs_f64() * 100.0;
    println!(
        "{what:<34} wall {wall:>10.3?}/tick   cpu {cpu:>10.3?}/tick   = {share:.2}% of a core at 1 s"
    );
}

fn main() -> Result<(), String> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("bad worker count '{arg}'"))?,
        None => 100,
    };
    let mut workers = Workers(Vec::with_capacity(n));
    for _ in 0..n {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn sleep: {e}"))?;
        workers.0.push(child);
    }
    let roots: Vec<u32> = workers.0.iter().map(Child::id).collect();
    // Let the children finish exec so every tick sees `sleep`, not a half-made fork.
    std::thread::sleep(Duration::from_millis(500));

    let mut sampler = Sampler::new();
    let first = sampler.sample(&roots);
    if first.trees.len() != n {
        return Err(format!("sampled {} of {n} workers", first.trees.len()));
    }
    println!(
        "{n} idle workers, {TICKS} ticks each, {} cores",
        first.system.cores.len()
    );
    report(
        "Sampler::sample (system + trees)",
        measure(|| {
            sampler.sample(&roots);
        }),
    );

    let mut system = SystemReader::new();
    report(
        "system figures (/proc direct)",
        measure(|| {
            system.read();
        }),
    );
    let mut sys = sysinfo::System::new().map_err(|e| format!("sysinfo: {e}"))?;
    report(
        "system figures (sysinfo)",
        measure(|| {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            let _ = sysinfo::System::load_average();
        }),
    );
    Ok(())
}
