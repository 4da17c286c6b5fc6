//! Where instances live and how one is known to be alive.
//!
//! Each running proctor owns `DIR/NAME.sock` and `DIR/NAME.json` in a private
//! runtime directory (`$XDG_RUNTIME_DIR/proctor`, else `/tmp/proctor-UID`). It is
//! alive exactly while it holds an exclusive lock on its `NAME.json`: a file left
//! behind by a dead instance proves nothing, and its socket is replaced.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The control protocol versions this build speaks.
pub const PROTOCOL: u32 = 1;

/// What `NAME.json` holds, for `proctor ctl ls` and clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Info {
    pub name: String,
    pub pid: u32,
    /// The process start time (clock ticks since boot), so a reused pid is told apart.
    pub start: u64,
    pub version: String,
    pub protocol: u32,
    pub cwd: String,
}

/// A claimed name: the lock is held for as long as this lives.
pub struct Instance {
    pub info: Info,
    pub socket: PathBuf,
    json: PathBuf,
    _lock: Flock<File>,
}

impl Instance {
    /// Writes `NAME.json` once the socket listens, so a client that finds the
    /// instance can connect.
    pub fn announce(&mut self) -> std::io::Result<()> {
        let text = serde_json::to_string(&self.info).unwrap_or_default();
        self._lock.set_len(0)?;
        self._lock.write_all_at(text.as_bytes(), 0)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Removed while the lock is still held, so no other instance's files go.
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.json);
    }
}

/// Checks a name given with `--name`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "instance name '{name}' is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', \
             not starting with '.'"
        ))
    }
}

/// The private runtime directory, created 0700 if missing. Refuses one that is a
/// symlink, not a directory, not ours, or open to others.
pub fn runtime_dir() -> Result<PathBuf, String> {
    let uid = nix::unistd::geteuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(base) if !base.is_empty() && Path::new(&base).is_absolute() => {
            PathBuf::from(base).join("proctor")
        }
        _ => PathBuf::from(format!("/tmp/proctor-{uid}")),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create '{}': {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| format!("cannot inspect '{}': {e}", dir.display()))?;
    let problem = if meta.file_type().is_symlink() {
        Some("is a symlink")
    } else if !meta.is_dir() {
        Some("is not a directory")
    } else if meta.uid() != uid {
        Some("belongs to another user")
    } else if meta.permissions().mode() & 0o077 != 0 {
        Some("is open to other users (mode must be 0700)")
    } else {
        None
    };
    match problem {
        Some(p) => Err(format!(
            "the runtime directory '{}' {p}; remove it or set XDG_RUNTIME_DIR to a private directory",
            dir.display()
        )),
        None => Ok(dir),
    }
}

fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.sock")),
        dir.join(format!("{name}.json")),
    )
}

/// Opens `NAME.json` without following a symlink.
fn open_json(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Claims `requested`, or `default` (then `pid-PID` if a live instance has it).
pub fn claim(requested: Option<&str>) -> Result<Instance, String> {
    let dir = runtime_dir()?;
    let pid = std::process::id();
    let names = match requested {
        Some(name) => {
            check_name(name)?;
            vec![name.to_string()]
        }
        None => vec!["default".to_string(), format!("pid-{pid}")],
    };
    for name in &names {
        let (socket, json) = paths(&dir, name);
        let file =
            open_json(&json, true).map_err(|e| format!("cannot open '{}': {e}", json.display()))?;
        let Ok(lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            continue; // a live instance has it
        };
        let info = Info {
            name: name.clone(),
            pid,
            start: crate::sample::proc::start_time(pid).unwrap_or(0),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: PROTOCOL,
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        };
        // Empty until the socket listens (`announce`): clients treat a locked but
        // empty file as an instance still starting.
        lock.set_len(0)
            .map_err(|e| format!("cannot write '{}': {e}", json.display()))?;
        // Whatever socket is there belongs to a dead instance.
        let _ = std::fs::remove_file(&socket);
        return Ok(Instance {
            info,
            socket,
            json,
            _lock: lock,
        });
    }
    Err(match requested {
        Some(name) => format!(
            "an instance named '{name}' is already running; choose another --name \
             (`proctor ctl ls` lists them)"
        ),
        None => "no free instance name; give one with --name".to_string(),
    })
}

/// A live instance's info, or `None` when no live instance has `name`.
pub fn find(name: &str) -> Result<Option<(Info, PathBuf)>, String> {
    check_name(name)?;
    let dir = runtime_dir()?;
    let (socket, json) = paths(&dir, name);
    let Ok(file) = open_json(&json, false) else {
        return Ok(None);
    };
    // Taking a shared lock succeeds only when nobody holds the exclusive one.
    if Flock::lock(file, FlockArg::LockSharedNonblock).is_ok() {
        return Ok(None); // stale: its owner is dead
    }
    let text = std::fs::read_to_string(&json).unwrap_or_default();
    match serde_json::from_str::<Info>(&text) {
        Ok(info) => Ok(Some((info, socket))),
        // Locked but not yet written: the instance is starting.
        Err(_) => Ok(None),
    }
}

/// Every live instance, by name.
pub fn list() -> Result<Vec<Info>, String> {
    let dir = runtime_dir()?;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list '{}': {e}", dir.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".json")?.to_string();
            check_name(&name).ok().map(|()| name)
        })
        .collect();
    names.sort();
    Ok(names
        .iter()
        .filter_map(|n| find(n).ok().flatten().map(|(info, _)| info))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("web-1.dev_x").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65), "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
