//! `proctor --detach …`: the same command line, started again in the background
//! (its own session, stdin from /dev/null, stdout and stderr to files in the
//! runtime directory), headless and named, so `proctor attach` and `proctor ctl`
//! reach it later. The queue of a detached instance stays open for launches
//! until it is joined (`proctor ctl join`) or stopped.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::instance;

/// Set in a detached instance's environment.
pub const DETACHED: &str = "PROCTOR_DETACHED";

/// True in an instance started by `--detach`.
pub fn is_detached() -> bool {
    std::env::var_os(DETACHED).is_some()
}

/// How long the background instance may take to listen.
const STARTUP: Duration = Duration::from_secs(20);

/// Starts the background instance and returns its name once it listens.
/// `subcommand` is `Some("map")` for map mode.
pub fn detach(requested: Option<&str>, subcommand: Option<&str>) -> Result<String, String> {
    let dir = instance::runtime_dir()?;
    let name = match requested {
        Some(name) => {
            instance::check_name(name)?;
            if instance::find(name)?.is_some() {
                return Err(format!(
                    "an instance named '{name}' is already running; choose another --name"
                ));
            }
            name.to_string()
        }
        None if instance::find("default")?.is_none() => "default".to_string(),
        None => format!("detached-{}", std::process::id()),
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find proctor itself: {e}"))?;
    let log = |suffix: &str| {
        let path = dir.join(format!("{name}.{suffix}"));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| format!("cannot create '{}': {e}", path.display()))
            .map(|f| (f, path))
    };
    let (out, out_path) = log("out")?;
    let (err, err_path) = log("err")?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    args.retain(|a| a != "--detach");
    let skip = usize::from(subcommand.is_some());
    let mut ours: Vec<std::ffi::OsString> = args.drain(..skip).collect();
    // JSON Lines in the output file, unless the user chose a format themselves
    // (`--headless` beside `--plain` would be refused as a conflict).
    if !args.iter().any(|a| a == "--plain" || a == "--json") {
        ours.push("--headless".into());
    }
    if requested.is_none() {
        ours.push("--name".into());
        ours.push(name.clone().into());
    }
    ours.extend(args);
    let mut command = Command::new(exe);
    command
        .args(ours)
        .env(DETACHED, "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid is async-signal-safe; the child only calls it before exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the background instance: {e}"))?;
    let deadline = Instant::now() + STARTUP;
    loop {
        if instance::find(&name)?.is_some() {
            return Ok(name);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let why = std::fs::read_to_string(&err_path).unwrap_or_default();
            return Err(format!(
                "the background instance ended at once ({status}): {}",
                why.trim()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the background instance did not start listening; see '{}' and '{}'",
                out_path.display(),
                err_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
