//! Starting a worker in its own process group, with piped output and a clean signal
//! state. Never through tokio's process API, whose reaping would race the one reaper.
//! Linux uses a vfork-style clone (`spawn/vfork.rs`); elsewhere std's `Command`.

#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(target_os = "linux")]
mod vfork;

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
    let Some(program) = argv.first() else {
        return Err("empty command".into());
    };
    precheck(program, job.cwd.as_deref())?;
    let stdin = match &job.stdin {
        StdinSpec::Null => {
            Some(File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?)
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
        let fd = stdin.as_ref().map_or(0, |f| f.as_raw_fd());
        vfork::spawn(job, &argv, fd)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let stdin = stdin.map_or_else(std::process::Stdio::inherit, Into::into);
        portable::spawn(job, &argv, stdin)
    }
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
