//! Starting a worker: std's `Command` (never tokio's, whose reaping would race the
//! one reaper), its own process group, piped output, a clean signal state.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::spec::{JobSpec, StdinSpec};

/// A started worker: its pid (also its process group id) and the read ends of its pipes.
pub struct Started {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Spawns the job's program. The error text names the program and the OS reason.
pub fn spawn(job: &JobSpec) -> Result<Started, String> {
    let argv = job.program.argv();
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    precheck(program, job.cwd.as_deref())?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if job.env_clear {
        cmd.env_clear();
    }
    cmd.envs(&job.env);
    if let Some(cwd) = &job.cwd {
        cmd.current_dir(cwd);
    }
    cmd.stdin(match &job.stdin {
        StdinSpec::Null => Stdio::null(),
        StdinSpec::Inherit => Stdio::inherit(),
        StdinSpec::File(path) => File::open(path)
            .map_err(|e| format!("cannot open stdin file '{}': {e}", path.display()))?
            .into(),
    });
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (sigprocmask, signal, prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            clean_child_state(parent);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start '{program}': {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("cannot start '{program}': no output pipes"));
    };
    // The `Child` is dropped without waiting: the engine's one reaper collects it.
    Ok(Started {
        pid: child.id(),
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

/// Clearer messages than exec's bare errno for the common mistakes.
fn precheck(program: &str, cwd: Option<&Path>) -> Result<(), String> {
    if let Some(dir) = cwd {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "cannot start '{program}': cwd '{}' is not a directory",
                    dir.display()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot start '{program}': cwd '{}': {e}",
                    dir.display()
                ));
            }
        }
    }
    if program.contains('/') {
        let path = match cwd {
            Some(dir) if !program.starts_with('/') => dir.join(program),
            _ => Path::new(program).to_path_buf(),
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(format!("cannot start '{program}': it is a directory"));
            }
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                return Err(format!(
                    "cannot start '{program}': it is not executable (no x permission)"
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("cannot start '{program}': {e}")),
        }
    }
    Ok(())
}

/// Every signal back to SIG_DFL, real-time ones included. The raw syscall is used
/// because glibc refuses to touch the two signals it reserves (32, 33), yet an
/// ignored one can still be inherited from whoever started proctor.
#[cfg(target_os = "linux")]
unsafe fn reset_dispositions() {
    // A zeroed kernel sigaction is { handler: SIG_DFL, flags: 0, restorer: 0, mask: 0 }.
    let action = [0u64; 4];
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction(sig, &act, NULL, sizeof(kernel sigset_t) = 8).
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    action.as_ptr(),
                    std::ptr::null::<u64>(),
                    8usize,
                );
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
unsafe fn reset_dispositions() {
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: signal() with a valid number and SIG_DFL.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

/// In the child: unblock every signal, restore default dispositions (proctor's
/// handlers or an inherited SIG_IGN must not leak into workers), and ask for
/// SIGKILL when proctor dies. The death signal is tied to the spawning thread,
/// which is the engine thread that lives as long as any worker does.
fn clean_child_state(parent: libc::pid_t) {
    // SAFETY: plain libc calls on local, initialised values; all are async-signal-safe.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        reset_dispositions();
        #[cfg(target_os = "linux")]
        {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            // proctor may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        let _ = parent;
    }
}
