//! Starting a worker: std's `Command` (never tokio's, whose reaping would race the
//! one reaper), its own process group, piped output, a clean signal state.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
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
    let argv = job.program.argv_os();
    let Some((program_os, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let program = program_os.to_string_lossy();
    precheck(program_os, job.cwd.as_deref())?;
    let mut cmd = Command::new(program_os);
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
fn precheck(program_os: &OsStr, cwd: Option<&Path>) -> Result<(), String> {
    let program = program_os.to_string_lossy();
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
    let bytes = program_os.as_bytes();
    if bytes.contains(&b'/') {
        let path = match cwd {
            Some(dir) if !bytes.starts_with(b"/") => dir.join(program_os),
            _ => Path::new(program_os).to_path_buf(),
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
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::io::Read;
    use std::os::unix::ffi::OsStringExt;

    use super::*;
    use crate::spec::Program;

    /// Words that are not UTF-8 reach the child byte for byte.
    #[test]
    fn byte_argv_reaches_the_child_unchanged() {
        let word = b"caf\xe9 \xff'; $(x)".to_vec();
        let program = Program::ArgvOs(vec![
            "/bin/sh".into(),
            "-c".into(),
            "printf %s \"$1\"".into(),
            "_".into(),
            OsString::from_vec(word.clone()),
        ]);
        let started = spawn(&JobSpec::new("bytes", program)).unwrap();
        let mut out = Vec::new();
        File::from(started.stdout).read_to_end(&mut out).unwrap();
        let mut status = 0;
        // SAFETY: waiting for our own child by pid, with a valid out pointer.
        let reaped = unsafe { libc::waitpid(started.pid as libc::pid_t, &mut status, 0) };
        assert_eq!(reaped, started.pid as libc::pid_t);
        assert_eq!(out, word);
    }
}
