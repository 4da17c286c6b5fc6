//! The sampler against real processes. The machine is shared and small, so CPU
//! bounds are loose and CPU checks retry over several windows before failing.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use proctor::sample::proc::parse_stat;
use proctor::sample::{Sampler, TreeSample};

/// A process spawned as its own group leader; killed with its whole group and
/// waited for on drop, so a failing test leaves nothing running.
struct Group(Child);

impl Group {
    fn sh(script: &str) -> Group {
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        Group(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: plain syscall; the leader is not yet waited for, so its pid (and
        // so the group id) cannot have been reused.
        unsafe {
            libc::killpg(self.0.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn tree_of(sampler: &mut Sampler, root: u32) -> TreeSample {
    sampler
        .sample(&[root])
        .trees
        .into_iter()
        .find(|t| t.root == root)
        .expect("root is alive")
}

/// Tests that burn CPU run one at a time, so they do not measure each other.
static CPU_HEAVY: Mutex<()> = Mutex::new(());

fn cpu_heavy() -> MutexGuard<'static, ()> {
    CPU_HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One window between two samples of a tree.
struct Window {
    tree: TreeSample,
    /// Machine-wide CPU % over the same window.
    system_cpu: f32,
    /// CPU % of the leader and of its descendants from their own /proc/PID/stat
    /// ticks, read by the test next to the sampler: an independent check.
    leader_cpu: f64,
    descendants_cpu: f64,
}

impl Window {
    /// Whether other load left our processes no spare core in this window, so a
    /// low figure says nothing about the sampler.
    fn saturated(&self) -> bool {
        self.system_cpu >= 90.0
    }
}

fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|text| parse_stat(&text))
        .map_or(0, |stat| stat.cpu_ticks)
}

/// Samples `root` in ~1 s windows until `accept` holds (returns that window) or
/// `windows` have passed (returns the last).
fn cpu_windows(root: u32, windows: usize, accept: impl Fn(&Window) -> bool) -> Window {
    // SAFETY: sysconf only reads a configuration value.
    let clk_tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut sampler = Sampler::new();
    let mut before = tree_of(&mut sampler, root);
    let mut start = Instant::now();
    let mut leader_ticks = cpu_ticks(root);
    let mut ticks: Vec<u64> = before.descendants.iter().map(|&p| cpu_ticks(p)).collect();
    let mut last = None;
    for _ in 0..windows {
        sleep(Duration::from_secs(1));
        let sample = sampler.sample(&[root]);
        let elapsed = start.elapsed().as_secs_f64();
        let leader_spent = cpu_ticks(root).saturating_sub(leader_ticks);
        let tree = sample.trees.into_iter().next().expect("root is alive");
        let spent: u64 = (before.descendants.iter().zip(&ticks))
            .map(|(&pid, &was)| cpu_ticks(pid).saturating_sub(was))
            .sum();
        let percent = |ticks: u64| ticks as f64 / clk_tck / elapsed * 100.0;
        let window = Window {
            leader_cpu: percent(leader_spent),
            descendants_cpu: percent(spent),
            system_cpu: sample.system.cpu,
            tree,
        };
        if accept(&window) {
            return window;
        }
        start = Instant::now();
        leader_ticks = cpu_ticks(root);
        ticks = window
            .tree
            .descendants
            .iter()
            .map(|&p| cpu_ticks(p))
            .collect();
        before = window.tree.clone();
        last = Some(window);
    }
    last.expect("at least one window")
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn busy_loop_reads_about_one_core() {
    let _serial = cpu_heavy();
    let busy = Group::sh("while :; do :; done");
    let window = cpu_windows(busy.pid(), 8, |w| (50.0..=150.0).contains(&w.tree.cpu));
    let tree = &window.tree;
    // One thread can never read more than one core. Below half a core only if
    // the machine had nothing spare: then it must at least have run, and the
    // figure must still agree with the process's own tick counter.
    assert!(tree.cpu <= 150.0, "busy loop at {}%", tree.cpu);
    assert!(
        (f64::from(tree.cpu) - window.leader_cpu).abs() < 10.0,
        "busy loop at {}%, its own ticks say {:.1}%",
        tree.cpu,
        window.leader_cpu
    );
    let floor = if window.saturated() { 1.0 } else { 50.0 };
    assert!(
        tree.cpu >= floor,
        "busy loop at {}%, machine at {}%",
        tree.cpu,
        window.system_cpu
    );
    assert_eq!(
        tree.tree_cpu, tree.cpu,
        "no descendants: {:?}",
        tree.descendants
    );
    assert_eq!(tree.state, 'R');
    assert_eq!(tree.threads, 1);
    assert!(tree.rss > 0);
}

#[test]
fn sleeping_process_reads_near_zero() {
    let idle = Group::sh("exec sleep 30");
    let tree = cpu_windows(idle.pid(), 1, |_| true).tree;
    assert!(tree.cpu < 5.0, "sleep at {}%", tree.cpu);
    assert_eq!(tree.state, 'S');
}

#[test]
fn tree_counts_descendants_and_their_cpu() {
    let _serial = cpu_heavy();
    let parent = Group::sh(r#"sh -c "while :; do :; done" & sh -c "while :; do :; done" & wait"#);
    let root = parent.pid();
    let mut sampler = Sampler::new();
    wait_for("two children", Duration::from_secs(10), || {
        tree_of(&mut sampler, root).descendants.len() == 2
    });
    // Two busy loops on a two-core machine: more than one core's worth in some
    // window, unless other load kept the machine saturated throughout.
    let window = cpu_windows(root, 8, |w| w.tree.tree_cpu > 100.0);
    let tree = &window.tree;
    let floor = if window.saturated() { 2.0 } else { 100.0 };
    assert!(
        tree.tree_cpu > floor,
        "tree at {}%, machine at {}%",
        tree.tree_cpu,
        window.system_cpu
    );
    assert!(
        tree.tree_cpu <= 250.0,
        "tree at {}% on two loops",
        tree.tree_cpu
    );
    // Whatever the load: the tree figure is the leader plus its descendants as
    // their own tick counters tell (a few ticks of read skew allowed).
    let expected = window.leader_cpu + window.descendants_cpu;
    assert!(
        (f64::from(tree.tree_cpu) - expected).abs() < 15.0,
        "tree at {}%, leader + descendants' own ticks say {expected:.1}%",
        tree.tree_cpu
    );
    assert!(tree.cpu < 5.0, "waiting leader at {}%", tree.cpu);
    assert_eq!(tree.descendants.len(), 2, "{:?}", tree.descendants);
    assert!(tree.tree_rss > tree.rss);
    assert!(tree.zombies.is_empty());
}

#[test]
fn zombie_child_is_reported_with_its_parent() {
    // The background child exits at once; `exec` turns its parent into `sleep`,
    // which never waits, so the child stays a zombie whose parent is the root.
    let group = Group::sh("sleep 0.1 & exec sleep 30");
    let root = group.pid();
    let mut sampler = Sampler::new();
    let mut last = None;
    wait_for("a zombie", Duration::from_secs(10), || {
        let tree = tree_of(&mut sampler, root);
        let found = !tree.zombies.is_empty();
        last = Some(tree);
        found
    });
    let tree = last.expect("sampled at least once");
    assert_eq!(tree.zombies.len(), 1, "{:?}", tree.zombies);
    let (zombie, parent) = tree.zombies[0];
    assert_eq!(parent, root);
    assert!(!tree.descendants.contains(&zombie), "zombies are not live");
    assert_eq!(tree.state, 'S');
}

#[test]
fn vanished_root_is_skipped() {
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let gone_pid = gone.id();
    gone.wait().expect("wait");
    let alive = Group::sh("exec sleep 30");
    let mut sampler = Sampler::new();
    let sample = sampler.sample(&[gone_pid, alive.pid()]);
    let roots: Vec<u32> = sample.trees.iter().map(|t| t.root).collect();
    assert_eq!(roots, vec![alive.pid()]);
}

#[test]
fn system_figures_cover_every_core() {
    let mut sampler = Sampler::new();
    let first = sampler.sample(&[]);
    sleep(Duration::from_millis(200));
    let second = sampler.sample(&[]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Affinity or cgroups can hide cores from this process, never add them.
    assert!(
        second.system.cores.len() >= cores,
        "{:?}",
        second.system.cores
    );
    assert_eq!(first.system.cores.len(), second.system.cores.len());
    assert!((0.0..=100.0).contains(&second.system.cpu));
    assert!(second.system.mem_total > 0);
    assert!(second.system.mem_used <= second.system.mem_total);
    assert!(second.system.load.iter().all(|l| *l >= 0.0));
    assert!(second.trees.is_empty());
}
