//! proctor's benchmarks: each measured figure against a baseline from the same run
//! (the best this machine does without proctor) or against its target.
//!
//!     cargo build --release && cargo run --release --example bench [-- NAME...]
//!
//! NAME picks benchmarks: launch, drain, events, blocked, reap, idle, tui-idle, keys, render, memory, pool.
//! The output is the Markdown table the README's "Performance" section shows.

mod blocked;
mod drain;
mod events;
mod idle;
mod keys;
mod launch;
mod memory;
mod pool;
mod reap;
mod render;
mod util;

/// One row of the results table.
pub struct Row {
    pub name: String,
    pub target: String,
    pub measured: String,
    /// How the figure compares: measured/baseline or target/measured, etc.
    pub ratio: String,
    pub met: bool,
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.first().is_some_and(|a| a == "--writer") {
        blocked::writer(&wanted[1..]);
        return;
    }
    let want = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let Some(bin) = util::proctor_binary() else {
        eprintln!("bench: build proctor first: cargo build --release");
        std::process::exit(2);
    };
    let mut rows = Vec::new();
    if want("launch") {
        rows.extend(launch::run(&bin));
    }
    if want("drain") {
        rows.extend(drain::run(&bin));
    }
    if want("events") {
        rows.extend(events::run(&bin));
    }
    if want("blocked") {
        rows.push(blocked::run(&bin));
    }
    if want("reap") {
        rows.push(reap::run(&bin, 1));
        rows.push(reap::run(&bin, 4));
    }
    if want("idle") {
        rows.push(idle::run(&bin, 100));
        rows.push(idle::run(&bin, 1000));
    }
    if want("tui-idle") {
        rows.extend(idle::run_tui(&bin, 100));
        rows.extend(idle::run_tui(&bin, 1000));
    }
    if want("keys") {
        rows.extend(keys::run(&bin));
    }
    if want("render") {
        rows.push(render::run());
    }
    if want("memory") {
        rows.push(memory::run(&bin));
    }
    if want("pool") {
        rows.extend(pool::run(&bin));
    }
    println!("| benchmark | target | measured | ratio | met |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        let met = if r.met { "yes" } else { "**no**" };
        println!(
            "| {} | {} | {} | {} | {} |",
            r.name, r.target, r.measured, r.ratio, met
        );
    }
}
