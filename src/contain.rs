//! Containment: nothing proctor starts may outlive it, by any route out (SIGKILL
//! included). Two levels, picked once at start:
//!
//! - `cgroup`: one cgroup v2 group per running worker (reused, `pool.rs`) under a
//!   group of this proctor instance (where proctor may create groups). Membership
//!   is exact; `cgroup.kill` ends a tree at once.
//! - `ledger`: process groups, the child subreaper, and a ledger of (pid, start time)
//!   of every worker and descendant proctor learns, plus a marker in every worker's
//!   environment (`PROCTOR_INSTANCE=<token>/<worker>`).
//!
//! At both levels a small keeper process (started first, in its own process group,
//! not proctor's child) holds the read end of a pipe only proctor writes to. When the
//! pipe ends without proctor's goodbye, proctor died: the keeper ends every cgroup,
//! ledger entry and marked process.

pub mod cgroup;
pub mod keeper;
pub mod pool;
pub mod scan;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;

/// The environment variable every worker carries: `<instance token>/<worker id>`.
pub const MARKER: &str = "PROCTOR_INSTANCE";

/// Set to `ledger` to skip cgroups (for tests, or where they are not wanted).
pub const FORCE_ENV: &str = "PROCTOR_CONTAINMENT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Cgroup,
    Ledger,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Cgroup => "cgroup",
            Level::Ledger => "ledger",
        }
    }
}

/// This proctor instance's containment state.
pub struct Containment {
    pub level: Level,
    /// Random, unique to this instance: the marker's value prefix.
    pub token: String,
    /// The instance's cgroup directory (level `cgroup` only).
    pub cgroup: Option<PathBuf>,
    /// Ledger lines for the keeper; written by a thread so the engine never blocks.
    keeper: Option<std::sync::Mutex<mpsc::Sender<String>>>,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

static STATE: OnceLock<Containment> = OnceLock::new();

/// Sets containment up; call first in `main`, before any thread starts. Idempotent.
pub fn init() -> &'static Containment {
    STATE.get_or_init(|| {
        let token = random_token();
        let forced_ledger = std::env::var(FORCE_ENV).is_ok_and(|v| v == "ledger");
        let cgroup = if forced_ledger {
            None
        } else {
            cgroup::create_instance(&token)
        };
        let level = if cgroup.is_some() {
            Level::Cgroup
        } else {
            Level::Ledger
        };
        let (keeper, writer) = match keeper::start(&token, cgroup.as_deref()) {
            Some((tx, handle)) => (Some(std::sync::Mutex::new(tx)), Some(handle)),
            None => (None, None),
        };
        Containment {
            level,
            token,
            cgroup,
            keeper,
            writer: std::sync::Mutex::new(writer),
        }
    })
}

/// The state, if `init` ran (the library used without the binary: no keeper).
pub fn get() -> Option<&'static Containment> {
    STATE.get()
}

/// What `--version` and the first headless event say about containment.
pub fn describe() -> String {
    match get() {
        Some(c) => {
            let keeper = if c.keeper.is_some() {
                "keeper"
            } else {
                "no keeper"
            };
            match &c.cgroup {
                Some(dir) => format!("cgroup ({}; {keeper})", dir.display()),
                None => format!("ledger (process groups, subreaper, environment marker; {keeper})"),
            }
        }
        None => "ledger (no keeper)".into(),
    }
}

/// The level this machine allows, without starting anything (for `--version`).
pub fn probe() -> String {
    let forced_ledger = std::env::var(FORCE_ENV).is_ok_and(|v| v == "ledger");
    let cgroup = if forced_ledger {
        None
    } else {
        cgroup::create_instance(&format!("probe-{}", random_token()))
    };
    match cgroup {
        Some(dir) => {
            cgroup::remove_instance(&dir);
            "cgroup (one cgroup v2 group per running worker, reused; keeper)".into()
        }
        None => "ledger (process groups, subreaper, environment marker; keeper)".into(),
    }
}

impl Containment {
    /// Records a process for the keeper: (pid, start time).
    pub fn note(&self, pid: u32, start: u64) {
        self.send(format!("p {pid} {start}\n"));
    }

    /// Records a worker's process group: its leader's (pid, start time).
    pub fn note_group(&self, pgid: u32, start: u64) {
        self.send(format!("g {pgid} {start}\n"));
    }

    fn send(&self, line: String) {
        if let Some(tx) = &self.keeper
            && let Ok(tx) = tx.lock()
        {
            let _ = tx.send(line);
        }
    }

    /// The end of a clean run (every worker stopped and reaped): remove the cgroups
    /// and tell the keeper it is not needed.
    pub fn goodbye(&self) {
        if let Some(dir) = &self.cgroup {
            cgroup::remove_instance(dir);
        }
        self.send("bye\n".into());
        self.close();
    }

    /// proctor is failing (a panic on the engine thread): end everything now, in
    /// this process, then leave the rest to the keeper (no goodbye).
    pub fn emergency_stop(&self) {
        keeper::end_everything(&self.token, self.cgroup.as_deref(), &Default::default());
        self.close();
    }

    /// Closes the pipe to the keeper and waits until every line was handed over.
    fn close(&self) {
        if let Some(tx) = &self.keeper
            && let Ok(mut tx) = tx.lock()
        {
            // Dropping the only sender ends the writer thread's loop.
            *tx = mpsc::channel().0;
        }
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let _ = handle.join();
        }
    }

    /// The marker value of one worker.
    pub fn marker_value(&self, worker: u64) -> String {
        format!("{}/{worker}", self.token)
    }
}

/// 16 hex digits from the kernel's random source (time and pid if it fails).
fn random_token() -> String {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom fills the buffer we own, at most its length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = (t ^ u64::from(std::process::id()).rotate_left(40)).to_le_bytes();
    }
    format!("{:016x}", u64::from_le_bytes(bytes))
}
