//! `--log-dir` files: one per worker and stream, named so that no two workers can
//! share a file and the name can be read back, opened without following symlinks.
//!
//! A worker name becomes a file name by percent-encoding every byte outside
//! `A-Z a-z 0-9 - _ . #` (and a leading `.`, so no log is hidden); `%` itself is
//! encoded, so the mapping is reversible: `a/b` → `a%2Fb.out.log`, `a_b` →
//! `a_b.out.log`, `é` → `%C3%A9.out.log`.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::engine::event::Stream;

/// Longest file name most Linux file systems accept (NAME_MAX).
const NAME_MAX: usize = 255;

/// The log file name of a worker's stream; `None` when it would exceed NAME_MAX
/// (job names are limited so that this does not happen; see `spec::bounds`).
pub fn file_name(worker: &str, stream: Stream) -> Option<String> {
    let suffix = match stream {
        Stream::Stdout => ".out.log",
        Stream::Stderr => ".err.log",
    };
    let mut name = String::with_capacity(worker.len() + suffix.len());
    for (i, &b) in worker.as_bytes().iter().enumerate() {
        let safe = b.is_ascii_alphanumeric() || b"-_#".contains(&b) || (b == b'.' && i > 0);
        if safe {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(suffix);
    (name.len() <= NAME_MAX).then_some(name)
}

/// The worker name a log file name was made from (the inverse of [`file_name`]).
pub fn worker_of(file_name: &str) -> Option<String> {
    let stem = file_name
        .strip_suffix(".out.log")
        .or_else(|| file_name.strip_suffix(".err.log"))?;
    let mut bytes = Vec::with_capacity(stem.len());
    let mut rest = stem.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Opens (creating, appending to) the log of `worker`'s `stream` in `dir`. A
/// symlink in its place is never followed, and anything but a regular file (a
/// FIFO, a device) is refused: the error says which file and why.
pub fn open_log(dir: &Path, worker: &str, stream: Stream) -> io::Result<File> {
    let name = file_name(worker, stream).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the log file name for '{worker}' would be longer than {NAME_MAX} bytes"),
        )
    })?;
    let path = dir.join(&name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        // O_NONBLOCK: opening a FIFO planted here must not wait for a reader.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| {
            let why = if e.raw_os_error() == Some(libc::ELOOP) {
                "it is a symlink, which proctor never follows".to_string()
            } else {
                e.to_string()
            };
            io::Error::new(e.kind(), format!("{}: {why}", path.display()))
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file", path.display()),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_used_to_collide_get_distinct_files() {
        let names = [
            "a/b", "a_b", "é", "ü", "x:y", "x?y", "x%3Ay", "a b", "a.b", ".a", "%2Ea",
        ];
        let files: Vec<String> = names
            .iter()
            .map(|n| file_name(n, Stream::Stdout).unwrap())
            .collect();
        let mut unique = files.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), files.len(), "{files:?}");
        assert_eq!(files[0], "a%2Fb.out.log");
        assert_eq!(files[1], "a_b.out.log");
        assert_eq!(files[2], "%C3%A9.out.log");
        assert_eq!(files[6], "x%253Ay.out.log");
        assert_eq!(files[9], "%2Ea.out.log");
        assert_eq!(file_name("w#2", Stream::Stderr).unwrap(), "w#2.err.log");
        for (name, file) in names.iter().zip(&files) {
            assert_eq!(worker_of(file).as_deref(), Some(*name));
            assert!(!file.contains('/'), "{file}");
        }
    }

    #[test]
    fn names_too_long_for_the_file_system_have_no_file_name() {
        assert!(file_name(&"é".repeat(41), Stream::Stdout).is_some());
        assert!(file_name(&"é".repeat(42), Stream::Stdout).is_none());
        assert!(file_name(&"n".repeat(247), Stream::Stdout).is_some());
        assert!(file_name(&"n".repeat(248), Stream::Stdout).is_none());
        // The longest job name allowed still fits, whatever its bytes, with `#N`.
        let longest = "é".repeat(crate::spec::bounds::MAX_NAME_BYTES / 2) + "#10000";
        assert!(file_name(&longest, Stream::Stdout).is_some());
    }

    #[test]
    fn symlinks_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("w.out.log")).unwrap();
        let err = open_log(dir.path(), "w", Stream::Stdout).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let fifo = dir.path().join("w.err.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(open_log(dir.path(), "w", Stream::Stderr).is_err());
        let mut f = open_log(dir.path(), "a/b", Stream::Stdout).unwrap();
        std::io::Write::write_all(&mut f, b"x").unwrap();
        assert!(dir.path().join("a%2Fb.out.log").is_file());
    }
}
