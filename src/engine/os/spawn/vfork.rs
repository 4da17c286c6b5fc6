//! The Linux spawn path: `clone(CLONE_VM | CLONE_VFORK)`, as posix_spawn does, but
//! with the parent-death signal set in the child, which posix_spawn cannot do.
//!
//! Why not std's `Command` with `pre_exec`: a `pre_exec` hook forces a full fork, and
//! copying the page tables of a multi-threaded proctor (plus the TLB shootdowns that
//! follow) halved the launch rate on a 2-core VM (benches: 1225/s against 2427/s for
//! a bare posix_spawn loop). With CLONE_VM the child borrows proctor's memory until it
//! execs, so nothing is copied.
//!
//! The child runs `child_main` on a separate stack while the parent thread is
//! suspended. It calls only async-signal-safe libc wrappers on data prepared
//! beforehand: no allocation, no locks, no Rust runtime. Those wrappers are not raw
//! system calls: on failure they write `errno` into the thread-local storage of the
//! parent thread (the child shares its memory and its TLS pointer), which is why the
//! child copies errno into `ChildArgs` at once and the parent reads it from there.
//! They must also already be bound: a lazy PLT resolution would run the dynamic
//! linker (locks, allocation) in the child. Rust links with `-z now` (full RELRO) by
//! default, so every libc symbol is resolved before any child runs.

use std::cell::RefCell;
use std::ffi::{CString, OsStr, OsString, c_char, c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use super::{Contain, Started};
use crate::spec::JobSpec;
use crate::spec::pool::RESULT_FD;

const STACK: usize = 64 * 1024;

thread_local! {
    /// The child's stack. Reused: the parent thread is suspended while a child runs on it.
    static CHILD_STACK: RefCell<Vec<u128>> = RefCell::new(vec![0; STACK / 16]);
}

/// Everything the child needs, prepared by the parent; `errno`/`stage` come back.
struct ChildArgs {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    /// A pool worker's result pipe, made its fd 3 (`jsonl`); -1 for none.
    result: RawFd,
    parent: libc::pid_t,
    /// The open-file limit proctor started with, restored before exec.
    nofile: Option<libc::rlimit>,
    /// The worker's cgroup directory, or -1: the child moves itself in before exec.
    cgroup: RawFd,
    /// The highest signal number (SIGRTMAX), asked in the parent: the child resets
    /// every disposition up to it.
    last_signal: c_int,
    errno: AtomicI32,
    stage: AtomicI32,
}

/// What failed in the child: an index into [`STAGES`], named.
const SETPGID: i32 = 1;
const STDIO: i32 = 2;
const CWD: i32 = 3;
const EXEC: i32 = 4;
const CGROUP: i32 = 5;

/// What failed in the child, for the error message (indexed by the stages above).
const STAGES: [&str; 6] = [
    "",
    "setpgid",
    "redirecting stdio",
    "changing to cwd",
    "exec",
    "joining its cgroup",
];

/// Spawns `argv` in its own process group with stdin from `stdin` and piped output.
/// A pool worker's result pipe (`job.feed`) becomes its fd 3 (`jsonl`) or its
/// stdout (`lines`).
pub fn spawn(
    job: &JobSpec,
    argv: &[OsString],
    stdin: RawFd,
    result: Option<RawFd>,
    contain: &Contain,
) -> Result<Started, String> {
    let Some(program_os) = argv.first() else {
        return Err("empty command".into());
    };
    let program = program_os.to_string_lossy();
    let fail = |e: std::io::Error| format!("cannot start '{program}': {e}");
    let own_env;
    let env_c: &[CString] = if job.env.is_empty() && !job.env_clear {
        &base().block // the common case: proctor's own environment, built once
    } else {
        own_env = environment(job)?;
        &own_env
    };
    let search_path = job
        .env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| (!job.env_clear).then(|| base().path.clone()).flatten());
    let path = resolve(program_os, search_path, job.cwd.as_deref())
        .ok_or_else(|| fail(std::io::Error::from_raw_os_error(libc::ENOENT)))?;
    let path = cstring(path.as_os_str().as_bytes())?;
    let argv_c: Vec<CString> = argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let cwd = job
        .cwd
        .as_ref()
        .map(|c| cstring(c.as_os_str().as_bytes()))
        .transpose()?;
    let argv_p = null_terminated(&argv_c);
    let mut envp = null_terminated(env_c);
    if let Some(marker) = &contain.marker {
        envp.insert(envp.len() - 1, marker.as_ptr());
    }
    let (out_r, out_w) = pipe().map_err(fail)?;
    let (err_r, err_w) = pipe().map_err(fail)?;
    let lines = job.feed == Some(crate::spec::pool::Protocol::Lines);
    let (stdout, result) = match result {
        Some(fd) if lines => (fd, -1),
        Some(fd) => (out_w.as_raw_fd(), fd),
        None => (out_w.as_raw_fd(), -1),
    };
    let args = ChildArgs {
        path: path.as_ptr(),
        argv: argv_p.as_ptr(),
        envp: envp.as_ptr(),
        cwd: cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        stdin,
        stdout,
        stderr: err_w.as_raw_fd(),
        result,
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
        nofile: crate::engine::os::limits::original_open_files(),
        cgroup: contain.cgroup.unwrap_or(-1),
        last_signal: libc::SIGRTMAX(),
        errno: AtomicI32::new(0),
        stage: AtomicI32::new(0),
    };
    let pid = clone_child(&args).map_err(fail)?;
    drop((out_w, err_w));
    let errno = args.errno.load(Ordering::SeqCst);
    if errno != 0 {
        // The child already exited with 127; the reaper collects it as an unknown pid.
        let stage = STAGES
            .get(args.stage.load(Ordering::SeqCst) as usize)
            .copied()
            .unwrap_or("exec");
        let e = std::io::Error::from_raw_os_error(errno);
        return Err(format!("cannot start '{program}': {stage}: {e}"));
    }
    Ok(Started {
        pid: pid as u32,
        stdout: out_r,
        stderr: err_r,
        feed: None,
    })
}

/// Runs `child_main` via clone(CLONE_VM|CLONE_VFORK); returns once the child has
/// exec'd or exited. All signals stay blocked meanwhile, so no handler of proctor's
/// can run in the child on proctor's memory.
fn clone_child(args: &ChildArgs) -> std::io::Result<libc::pid_t> {
    CHILD_STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // SAFETY: the stack is ours and outlives the child's use of it (CLONE_VFORK
        // suspends us until the child execs or exits); `args` lives across the call;
        // the signal masks are plain sigset_t values.
        unsafe {
            let top = stack.as_mut_ptr().add(stack.len()) as *mut c_void;
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                child_main,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                args as *const ChildArgs as *mut c_void,
            );
            let err = std::io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 { Err(err) } else { Ok(pid) }
        }
    })
}

/// The child: clean signal state, own process group, stdio, cwd, parent-death
/// signal, exec. Async-signal-safe libc calls only (see the module comment).
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` points at the parent's ChildArgs, alive while we run (CLONE_VFORK).
    let a = unsafe { &*(arg as *const ChildArgs) };
    // SAFETY: async-signal-safe calls on pointers the parent prepared.
    unsafe {
        // A zeroed kernel sigaction is { SIG_DFL, no flags, no mask }. The raw call also
        // resets the two signals glibc reserves (32, 33), which can arrive ignored.
        let action = [0u64; 4];
        for sig in 1..=a.last_signal {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    action.as_ptr(),
                    std::ptr::null::<u64>(),
                    8usize,
                );
            }
        }
        if libc::setpgid(0, 0) != 0 {
            fail(a, SETPGID);
        }
        // Before anything else can fork: every descendant is then in the group.
        if a.cgroup >= 0 {
            let procs = libc::openat(
                a.cgroup,
                c"cgroup.procs".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if procs < 0 || libc::write(procs, b"0".as_ptr().cast(), 1) != 1 {
                fail(a, CGROUP);
            }
        }
        if libc::dup2(a.stdin, 0) < 0 || libc::dup2(a.stdout, 1) < 0 || libc::dup2(a.stderr, 2) < 0
        {
            fail(a, STDIO);
        }
        if a.result >= 0 {
            // dup2 onto itself would keep close-on-exec set: clear it instead.
            let moved = if a.result == RESULT_FD {
                libc::fcntl(RESULT_FD, libc::F_SETFD, 0)
            } else {
                libc::dup2(a.result, RESULT_FD)
            };
            if moved < 0 {
                fail(a, STDIO);
            }
        }
        if !a.cwd.is_null() && libc::chdir(a.cwd) != 0 {
            fail(a, CWD);
        }
        if let Some(limit) = &a.nofile {
            libc::setrlimit(libc::RLIMIT_NOFILE, limit);
        }
        // The death signal is tied to the spawning thread: the engine thread, which
        // outlives every worker. If proctor died before this line, nobody would ever
        // send it, so check the parent is still ours.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
        if libc::getppid() != a.parent {
            libc::_exit(127);
        }
        let empty = 0u64;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty,
            std::ptr::null::<u64>(),
            8usize,
        );
        libc::execve(a.path, a.argv, a.envp);
        fail(a, EXEC);
    }
}

/// Reports errno and the failed stage to the (suspended) parent, then exits.
unsafe fn fail(a: &ChildArgs, stage: i32) -> ! {
    // SAFETY: __errno_location is valid on this thread; _exit never returns.
    unsafe {
        a.errno.store(*libc::__errno_location(), Ordering::SeqCst);
        a.stage.store(stage, Ordering::SeqCst);
        libc::_exit(127)
    }
}

/// proctor's own environment as an exec-ready block, and its PATH, made once: it
/// never changes while proctor runs, and most jobs use it as it is.
struct Base {
    pairs: Vec<(OsString, OsString)>,
    block: Vec<CString>,
    path: Option<OsString>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        // An outer proctor's marker is replaced by this instance's own.
        let pairs: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| k != crate::contain::MARKER)
            .collect();
        let block = pairs.iter().filter_map(|(k, v)| pair(k, v).ok()).collect();
        let path = std::env::var_os("PATH");
        Base { pairs, block, path }
    })
}

fn pair(k: &OsStr, v: &OsStr) -> Result<CString, String> {
    cstring(&[k.as_bytes(), b"=", v.as_bytes()].concat())
}

/// The worker's environment: inherited (unless `env_clear`) plus the job's `env`.
fn environment(job: &JobSpec) -> Result<Vec<CString>, String> {
    let inherited = base()
        .pairs
        .iter()
        .filter(|_| !job.env_clear)
        .filter(|(k, _)| k.to_str().is_none_or(|k| !job.env.contains_key(k)));
    let own = job.env.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v)));
    inherited
        .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
        .chain(own)
        .map(|(k, v)| pair(k, v))
        .collect()
}

/// The executable for `program`: as given when it has a '/', else searched in the
/// worker's PATH (like execvp, but done before cloning, where allocation is allowed).
fn resolve(
    program: &OsStr,
    path: Option<OsString>,
    cwd: Option<&Path>,
) -> Option<std::path::PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(program.into());
    }
    let path = path.unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    // Relative entries (and "" = ".") are taken from the worker's cwd, where exec runs.
    // Absolute, so the path stays right after the child's chdir.
    let base = std::env::current_dir().ok()?;
    let here = cwd.map_or(base.clone(), |c| base.join(c));
    std::env::split_paths(&path)
        .map(|dir| {
            if dir.is_absolute() {
                dir.join(program)
            } else {
                here.join(dir).join(program)
            }
        })
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access with a valid C string.
    let executable = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
    executable && path.is_file()
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes)
        .map_err(|_| format!("'{}' contains a NUL byte", String::from_utf8_lossy(bytes)))
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two-element array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
