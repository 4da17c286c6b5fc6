//! `--pipe`: stdin cut into blocks of about `--block SIZE` bytes, each ending
//! at a record end (`--recend`, a newline by default), and each fed to one
//! task's stdin. Blocks are cut only as the driver asks for tasks, and wait in
//! files of a private spool directory (removed once the task has finished), so
//! stdin is never held in memory: at most the read-ahead's blocks are on disk,
//! and a slow pool slows the reading (backpressure up to the writer of stdin).

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::source::{Item, Task};

/// `--block`'s default, as parallel's.
pub const DEFAULT_BLOCK: usize = 1 << 20;

/// The directory holding blocks not yet consumed; removed on drop.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// A new directory only we may read, in `parent` (`$TMPDIR`).
    pub fn create(parent: &Path) -> Result<Arc<Spool>, String> {
        sweep_stale(parent);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!(".proctor-pipe-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| {
                format!(
                    "--pipe cannot make its spool directory '{}': {e}; set TMPDIR to a \
                     writable directory",
                    dir.display()
                )
            })?;
        Ok(Arc::new(Spool { dir }))
    }

    /// Where task `number`'s block is.
    pub fn block(&self, number: u64) -> PathBuf {
        self.dir.join(number.to_string())
    }

    /// Task `number` has finished: its block is no longer needed.
    pub fn done(&self, number: u64) {
        let _ = std::fs::remove_file(self.block(number));
    }

    /// Removes every block left (the run ended; the reader may still be cut off).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes the spools of runs that cannot remove their own: a proctor killed
/// by SIGKILL (or a crash) leaves its `.proctor-pipe-PID-N` behind. Only our
/// own directories (not symlinks) whose PID no longer exists are touched; a
/// recycled PID merely keeps a stale spool until a later run.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let me = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".proctor-pipe-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
            .filter(|pid| *pid > 0)
        else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.is_dir() && m.uid() == me
        });
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        if ours && gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Parses `--block`: bytes, or with a suffix K, M, G (powers of 1024).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || {
        format!("--block '{text}' is not a size: use bytes or a number with K, M or G (e.g. 1M)")
    };
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    let n: f64 = digits.trim().parse().map_err(|_| bad())?;
    let bytes = n * (1u64 << shift) as f64;
    if !(1.0..=(1u64 << 32) as f64).contains(&bytes) {
        return Err(format!("--block '{text}' is out of range: use 1 byte..4G"));
    }
    Ok(bytes as usize)
}

/// Parses `--recend`: the text, with `\n`, `\t`, `\r`, `\0` and `\\` unescaped.
pub fn parse_recend(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.bytes();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match chars.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'0') => out.push(0),
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

/// The blocks of an input, as tasks (no values; the block is the task's stdin).
pub struct Blocks {
    input: Box<dyn Read + Send>,
    spool: Arc<Spool>,
    size: usize,
    recend: Vec<u8>,
    /// Bytes read past the last cut.
    carry: Vec<u8>,
    next: u64,
    ended: bool,
}

impl Blocks {
    pub fn new(
        input: Box<dyn Read + Send>,
        spool: Arc<Spool>,
        size: usize,
        recend: Vec<u8>,
    ) -> Blocks {
        Blocks {
            input,
            spool,
            size,
            recend,
            carry: Vec::new(),
            next: 1,
            ended: false,
        }
    }

    /// The next block's bytes: at least `size` (unless the input ends), up to
    /// the end of the record that reaches `size`.
    fn cut(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if self.carry.len() >= self.size
                && let Some(end) = self.record_end()
            {
                let rest = self.carry.split_off(end);
                return Ok(Some(std::mem::replace(&mut self.carry, rest)));
            }
            if self.ended {
                return Ok((!self.carry.is_empty()).then(|| std::mem::take(&mut self.carry)));
            }
            match self.input.read(&mut chunk) {
                Ok(0) => self.ended = true,
                Ok(n) => self.carry.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Where to cut `carry`: after the first record end at or past `size` (as
    /// parallel extends a block to the end of its record); `None` to read more.
    fn record_end(&self) -> Option<usize> {
        let r = self.recend.len();
        if r == 0 {
            return Some(self.size);
        }
        let from = self.size.saturating_sub(r);
        self.carry[from..]
            .windows(r)
            .position(|w| w == self.recend)
            .map(|i| from + i + r)
    }
}

impl Iterator for Blocks {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let block = match self.cut() {
            Ok(Some(block)) => block,
            Ok(None) => return None,
            Err(e) => {
                self.ended = true;
                self.carry.clear();
                return Some(Item::ReadError(format!(
                    "cannot read stdin for --pipe: {e}"
                )));
            }
        };
        let number = self.next;
        self.next += 1;
        if let Err(e) = std::fs::write(self.spool.block(number), &block) {
            self.ended = true;
            self.carry.clear();
            return Some(Item::ReadError(format!(
                "cannot spool a --pipe block of {} bytes: {e}",
                block.len()
            )));
        }
        Some(Item::Task(Task {
            number,
            input: format!("block {number}, {} bytes", block.len()).into_bytes(),
            values: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(input: &'static [u8], size: usize, recend: &str) -> Vec<Vec<u8>> {
        let parent = tempfile::tempdir().expect("tempdir");
        let spool = Spool::create(parent.path()).expect("spool");
        let b = Blocks::new(Box::new(input), spool.clone(), size, parse_recend(recend));
        b.map(|item| match item {
            Item::Task(t) => std::fs::read(spool.block(t.number)).expect("block"),
            other => panic!("{other:?}"),
        })
        .collect()
    }

    #[test]
    fn blocks_end_at_record_ends() {
        let got = blocks(b"aa\nbb\ncc\ndd", 4, "\\n");
        assert_eq!(got, [b"aa\nbb\n".to_vec(), b"cc\ndd".to_vec()]);
        // A record longer than a block goes whole.
        let got = blocks(b"aaaaaaaa\nb\n", 3, "\\n");
        assert_eq!(got, [b"aaaaaaaa\n".to_vec(), b"b\n".to_vec()]);
        // No record end: cut at the size.
        let got = blocks(b"abcdefg", 3, "");
        assert_eq!(got, [b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()]);
        assert!(blocks(b"", 3, "\\n").is_empty());
    }

    #[test]
    fn sizes_and_record_ends_parse() {
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("10k"), Ok(10 << 10));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        for bad in ["", "x", "0", "-1", "5T", "9G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_recend("\\n"), b"\n");
        assert_eq!(parse_recend("</r>\\0"), b"</r>\0");
    }

    #[test]
    fn the_spool_goes_with_the_run() {
        let parent = tempfile::tempdir().expect("tempdir");
        let spool = Spool::create(parent.path()).expect("spool");
        std::fs::write(spool.block(1), b"x").expect("block");
        spool.done(1);
        assert!(!spool.block(1).exists());
        std::fs::write(spool.block(2), b"x").expect("block");
        drop(spool);
        assert_eq!(std::fs::read_dir(parent.path()).expect("dir").count(), 0);
    }
}
