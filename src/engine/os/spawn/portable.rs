//! The portable spawn path (non-Linux): std's `Command` with a `pre_exec` hook that
//! cleans the signal state. It forks, which is slower than Linux's vfork path.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::Started;
use crate::spec::JobSpec;

/// Spawns `argv` with the job's settings; `stdin` is the already-opened stdin.
pub fn spawn(job: &JobSpec, argv: &[OsString], stdin: Stdio) -> Result<Started, String> {
    let Some((program_os, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let program = program_os.to_string_lossy();
    let mut cmd = Command::new(program_os);
    cmd.args(args)
        .stdin(stdin)
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
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls.
    unsafe {
        cmd.pre_exec(|| {
            clean_child_state();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start '{program}': {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("cannot start '{program}': no output pipes"));
    };
    let (stdout, stderr): (OwnedFd, OwnedFd) = (stdout.into(), stderr.into());
    // The `Child` is dropped without waiting: the engine's one reaper collects it.
    Ok(Started {
        pid: child.id(),
        stdout,
        stderr,
        feed: None,
    })
}

/// In the child: unblock every signal and restore default dispositions.
fn clean_child_state() {
    // SAFETY: plain libc calls on local, initialised values; all are async-signal-safe.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}
