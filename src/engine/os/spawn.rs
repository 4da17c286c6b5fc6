//! Starting a worker in its own process group, with piped output and a clean signal
//! state. Never through tokio's process API, whose reaping would race the one reaper.
//! Linux uses a vfork-style clone (`spawn/vfork.rs`); elsewhere std's `Command`.

#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(target_os = "linux")]
mod vfork;

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::spec::{JobSpec, StdinSpec};

/// A started worker: its pid (also its process group id) and the read ends of its pipes.
pub struct Started {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// A pool worker's pipes (`job.feed`).
    pub feed: Option<Feed>,
}

/// proctor's ends of a pool worker's pipes.
pub struct Feed {
    /// Write end of the worker's stdin: tasks go here.
    pub tasks: OwnedFd,
    /// Read end of the worker's result pipe (fd 3, or stdout for `lines`).
    pub results: OwnedFd,
}

/// What keeps a worker contained, set in the child before exec (Linux only).
#[derive(Debug, Default)]
pub struct Contain {
    /// `NAME=VALUE` added to the worker's environment.
    pub marker: Option<std::ffi::CString>,
    /// The worker's cgroup directory, open: the child starts in it.
    pub cgroup: Option<std::os::fd::RawFd>,
}

/// Spawns the job's program. The error text names the program and the OS reason.
pub fn spawn(job: &JobSpec, contain: &Contain) -> Result<Started, String> {
    let argv = job.program.argv_os();
    let Some(program) = argv.first() else {
        return Err("empty command".into());
    };
    precheck(program, job.cwd.as_deref())?;
    let stdin = match &job.stdin {
        StdinSpec::Null => None,
        StdinSpec::Inherit if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            return Err(
                "stdin: 'inherit' cannot work while proctor's stdin is a terminal: \
                 the worker runs in its own process group, so reading the terminal would \
                 stop it (SIGTTIN); give it a file or run proctor with stdin from a pipe"
                    .into(),
            );
        }
        StdinSpec::Inherit => None,
        StdinSpec::File(path) => Some(
            File::open(path)
                .map_err(|e| format!("cannot open stdin file '{}': {e}", path.display()))?,
        ),
    };
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if job.feed.is_some() {
            let fail = |e: std::io::Error| format!("cannot make a pool worker's pipes: {e}");
            let (task_r, task_w) = vfork::pipe().map_err(fail)?;
            let (result_r, result_w) = vfork::pipe().map_err(fail)?;
            let mut started = vfork::spawn(
                job,
                &argv,
                task_r.as_raw_fd(),
                Some(result_w.as_raw_fd()),
                contain,
            )?;
            started.feed = Some(Feed {
                tasks: task_w,
                results: result_r,
            });
            return Ok(started);
        }
        let fd = match (&job.stdin, &stdin) {
            (StdinSpec::Null, _) => dev_null()?,
            (_, Some(f)) => f.as_raw_fd(),
            (_, None) => 0,
        };
        vfork::spawn(job, &argv, fd, None, contain)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let stdin = match (&job.stdin, stdin) {
            (StdinSpec::Null, _) => std::process::Stdio::null(),
            (_, Some(f)) => f.into(),
            (_, None) => std::process::Stdio::inherit(),
        };
        let _ = contain;
        portable::spawn(job, &argv, stdin)
    }
}

/// One /dev/null for every worker's stdin, opened once (close-on-exec; each child
/// gets its own copy as fd 0).
#[cfg(target_os = "linux")]
fn dev_null() -> Result<std::os::fd::RawFd, String> {
    use std::os::fd::AsRawFd;
    static NULL: std::sync::OnceLock<std::io::Result<File>> = std::sync::OnceLock::new();
    match NULL.get_or_init(|| File::open("/dev/null")) {
        Ok(f) => Ok(f.as_raw_fd()),
        Err(e) => Err(format!("cannot open /dev/null: {e}")),
    }
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
        let started = spawn(&JobSpec::new("bytes", program), &Contain::default()).unwrap();
        let mut out = Vec::new();
        File::from(started.stdout).read_to_end(&mut out).unwrap();
        let mut status = 0;
        // SAFETY: waiting for our own child by pid, with a valid out pointer.
        let reaped = unsafe { libc::waitpid(started.pid as libc::pid_t, &mut status, 0) };
        assert_eq!(reaped, started.pid as libc::pid_t);
        assert_eq!(out, word);
    }
}
