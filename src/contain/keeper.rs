//! The keeper: a small process that outlives proctor and ends what proctor started
//! when proctor dies without saying goodbye (SIGKILL, a crash).
//!
//! proctor runs its own executable with a hidden first argument; that process forks
//! once and exits, so the keeper is nobody's child proctor waits on (proctor reaps
//! every child it has) and is not in proctor's process group (a terminal's Ctrl-C
//! never reaches it). Its stdin is a pipe whose write end only proctor holds
//! (close-on-exec, so no worker inherits it): end of input means proctor is gone.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{cgroup, scan};
use crate::engine::os::tree::{self, Known};
use crate::sample::proc::{ppid_and_state, start_time};

/// The hidden first argument that makes proctor's binary a keeper.
pub const KEEPER_ARG: &str = "__proctor_keeper";

/// What the keeper learned from proctor: processes and worker process groups.
#[derive(Debug, Default)]
pub struct Ledger {
    pub procs: HashSet<Known>,
    pub groups: HashSet<(u32, u64)>,
}

/// Starts the keeper. Returns the channel that takes ledger lines and the thread
/// that writes them into the pipe; `None` if the keeper could not start.
pub fn start(
    token: &str,
    cgroup: Option<&Path>,
) -> Option<(mpsc::Sender<String>, std::thread::JoinHandle<()>)> {
    use std::os::unix::process::CommandExt;
    let cgroup_arg = cgroup.map_or_else(PathBuf::new, Path::to_path_buf);
    let mut child = Command::new("/proc/self/exe")
        .arg(KEEPER_ARG)
        .arg(token)
        .arg(cgroup_arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let mut pipe = child.stdin.take()?;
    // The first process only forks the keeper and exits at once.
    let _ = child.wait();
    let (tx, rx) = mpsc::channel::<String>();
    let writer = std::thread::Builder::new()
        .name("proctor-keeper-ledger".into())
        .spawn(move || {
            crate::engine::os::reaper::route_sigchld_here(false);
            while let Ok(line) = rx.recv() {
                if pipe.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some((tx, writer))
}

/// In `main`, before anything else: when started as the keeper, runs it and returns
/// the exit status; otherwise `None`.
pub fn main_if_keeper() -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != KEEPER_ARG {
        return None;
    }
    let token = args.next()?.to_string_lossy().into_owned();
    let cgroup = args.next().filter(|a| !a.is_empty()).map(PathBuf::from);
    // SAFETY: fork in a single-threaded process; the parent only exits.
    match unsafe { libc::fork() } {
        0 => {}
        pid if pid > 0 => return Some(std::process::ExitCode::SUCCESS),
        _ => return Some(std::process::ExitCode::FAILURE),
    }
    // SAFETY: plain libc calls with constant arguments.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    let _ = std::env::set_current_dir("/");
    let ledger = read_ledger();
    if let Some(ledger) = ledger {
        end_everything(&token, cgroup.as_deref(), &ledger);
    }
    Some(std::process::ExitCode::SUCCESS)
}

/// Reads ledger lines until proctor says goodbye (`None`) or its pipe ends (the
/// ledger, to act on).
fn read_ledger() -> Option<Ledger> {
    let mut ledger = Ledger::default();
    let stdin = std::io::stdin();
    let mut since_prune = 0usize;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_ascii_whitespace();
        let kind = words.next();
        let pid = words.next().and_then(|w| w.parse::<u32>().ok());
        let start = words.next().and_then(|w| w.parse::<u64>().ok());
        match (kind, pid, start) {
            (Some("bye"), _, _) => return None,
            (Some("p"), Some(pid), Some(start)) => {
                ledger.procs.insert(Known { pid, start });
            }
            (Some("g"), Some(pgid), Some(start)) => {
                ledger.groups.insert((pgid, start));
            }
            _ => continue,
        }
        since_prune += 1;
        // Keep the ledger to live processes, so it stays small over long runs.
        if since_prune >= 4096 {
            since_prune = 0;
            ledger.procs.retain(|k| start_time(k.pid) == Some(k.start));
            ledger
                .groups
                .retain(|&(pgid, start)| start_time(pgid) == Some(start) || has_members(pgid));
        }
    }
    Some(ledger)
}

/// True while some process is in group `pgid` (checked by a kill with signal 0).
fn has_members(pgid: u32) -> bool {
    // SAFETY: killpg with signal 0 only checks for existence.
    unsafe { libc::killpg(pgid as libc::pid_t, 0) == 0 }
}

/// SIGKILLs everything this instance started: the instance cgroup, every ledger
/// entry that is still the same process, and every process with the instance's
/// marker or in a worker's group. Repeats until a pass finds nothing (a process may
/// fork while the pass runs), for at most 2 s; then removes the cgroups.
pub fn end_everything(token: &str, cgroup: Option<&Path>, ledger: &Ledger) {
    let groups: Vec<(u32, u64)> = ledger.groups.iter().copied().collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut hit = 0;
        if let Some(dir) = cgroup
            && !cgroup::members(dir).is_empty()
        {
            cgroup::kill(dir);
            hit += 1;
        }
        for k in &ledger.procs {
            // A killed process stays a zombie until its new parent reaps it: done.
            let zombie = ppid_and_state(k.pid).is_some_and(|(_, s)| s == 'Z');
            if !zombie && tree::signal_known(*k, libc::SIGKILL) {
                hit += 1;
            }
        }
        for found in scan::marked(token, &groups) {
            if found.fd.send(libc::SIGKILL).is_ok() {
                hit += 1;
            }
        }
        if hit == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(dir) = cgroup {
        cgroup::remove_instance(dir);
    }
}
