//! Worker cgroups, reused. Making and removing a group per worker (mkdir, open,
//! rmdir) cost about a third of the launch rate, and keeping every finished
//! worker's group open made each exec close one more descriptor. A group whose run
//! ended empty goes back to an idle list and the next worker takes it, so a run of
//! any length uses about as many groups as it runs workers at once.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Idle groups kept beyond this are removed (a burst of many parallel workers
/// must not leave as many open descriptors behind).
const MAX_IDLE: usize = 16;

/// One worker cgroup: `g<index>` in the instance's group.
#[derive(Debug)]
pub struct Group {
    index: u64,
    pub dir: PathBuf,
    /// Open `cgroup.procs` (or the directory, for clone3) while the group may take
    /// a new worker; closed while a finished run's leftovers keep it.
    handle: Option<OwnedFd>,
}

impl Group {
    /// The group's directory, open (O_DIRECTORY, close-on-exec) for the spawn
    /// child to start in (`CLONE_INTO_CGROUP`) or to write itself into; opened
    /// again if it was closed.
    pub fn handle(&mut self) -> Option<RawFd> {
        if self.handle.is_none() {
            self.handle = open_dir(&self.dir);
        }
        self.handle.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Closes the open handle (the group keeps a finished run's leftovers).
    pub fn close(&mut self) {
        self.handle = None;
    }

    /// True when no live process is in the group (`populated 0`).
    pub fn is_empty(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .is_ok_and(|text| text.lines().any(|l| l == "populated 0"))
    }
}

/// The instance's worker groups: idle ones to reuse, and which worker holds each
/// group in use (to attribute a re-parented daemon by its cgroup).
#[derive(Debug)]
pub struct Pool {
    instance: PathBuf,
    idle: Vec<Group>,
    next: u64,
    owners: HashMap<u64, u64>,
}

impl Pool {
    pub fn new(instance: PathBuf) -> Self {
        Pool {
            instance,
            idle: Vec::new(),
            next: 0,
            owners: HashMap::new(),
        }
    }

    /// An empty group for `worker`: an idle one, else a new one.
    pub fn take(&mut self, worker: u64) -> Option<Group> {
        let group = match self.idle.pop() {
            Some(g) => g,
            None => self.create()?,
        };
        self.owners.insert(group.index, worker);
        Some(group)
    }

    fn create(&mut self) -> Option<Group> {
        let index = self.next;
        self.next += 1;
        let dir = self.instance.join(format!("g{index}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        let handle = open_dir(&dir);
        Some(Group { index, dir, handle })
    }

    /// A group whose worker is done with it. An empty group is kept for the next
    /// worker (or removed beyond `MAX_IDLE`); one still holding processes is left
    /// for the instance's final removal, which kills them.
    pub fn give_back(&mut self, mut group: Group) {
        self.owners.remove(&group.index);
        if !group.is_empty() {
            return;
        }
        if self.idle.len() < MAX_IDLE {
            group.handle();
            self.idle.push(group);
        } else {
            drop(group.handle.take());
            let _ = std::fs::remove_dir(&group.dir);
        }
    }

    /// The worker holding the group `dir` (a group of this instance, in use).
    pub fn owner(&self, dir: &Path) -> Option<u64> {
        if dir.parent() != Some(self.instance.as_path()) {
            return None;
        }
        let name = dir.file_name()?.to_str()?;
        let index: u64 = name.strip_prefix('g')?.parse().ok()?;
        self.owners.get(&index).copied()
    }

    /// Descriptors the idle groups hold open.
    pub fn open_descriptors(&self) -> usize {
        self.idle.iter().filter(|g| g.handle.is_some()).count()
    }
}

/// Opens a group's directory (O_DIRECTORY | O_CLOEXEC).
fn open_dir(dir: &Path) -> Option<OwnedFd> {
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: open with a valid C string; the fd is owned below.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    // SAFETY: the fd was just opened and is owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}
