//! The headless front ends: every engine event as one JSON line on stdout
//! (`--json`, `--headless`), or plain prefixed lines for people (`plain`); both
//! optionally read commands as JSON lines from `--control`.

mod plain;

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use tokio::sync::mpsc;

use crate::engine::{Command, EngineHandle, Event, EventReceiver, Outcome};

/// What the headless front end prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Every event as one JSON line.
    Json,
    /// Worker lines prefixed with their names; lifecycle lines on stderr.
    Plain,
}

/// Prints events until the engine ends; returns how it ended.
/// `control` is an opened `--control` stream (see `open_control`).
pub fn run(
    mut engine: EngineHandle,
    control: Option<Box<dyn BufRead + Send>>,
    format: Format,
) -> std::io::Result<Outcome> {
    if let Some(reader) = control {
        let commands = engine.commands.clone();
        std::thread::Builder::new()
            .name("proctor-control".into())
            .spawn(move || read_control(reader, &commands))?;
    }
    let printed = match format {
        Format::Json => print_events(&mut engine.events),
        Format::Plain => plain::print_events(&mut engine.events),
    };
    if !printed {
        // The reader of our stdout is gone (e.g. `| head`): stop the work rather
        // than run on unobserved, but keep draining events until the engine ends.
        let _ = engine.commands.send(Command::StopAll);
        while engine.events.blocking_recv().is_some() {}
    }
    Ok(engine.wait())
}

/// Prints each event as one JSON line on stdout until the channel closes (true)
/// or stdout stops taking them (false). Output is flushed whenever the channel
/// is momentarily empty, so lines appear promptly without a write per event.
pub fn print_events(events: &mut EventReceiver) -> bool {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    // For the reliability suite (test builds only): a panic in the front end must
    // still stop every worker.
    let induce_panic =
        cfg!(feature = "test-hooks") && std::env::var_os("PROCTOR_TEST_PANIC").is_some();
    while let Some(event) = events.blocking_recv() {
        if write_event(&mut out, &event).is_err() {
            return false;
        }
        // A problem (a log that cannot be written) is for the person too, who
        // may not be reading the JSON.
        if let crate::engine::EventKind::Error { message } = &event.kind {
            eprintln!("proctor: {message}");
        }
        if induce_panic && matches!(event.kind, crate::engine::EventKind::Output { .. }) {
            let _ = out.flush();
            panic!("induced by PROCTOR_TEST_PANIC");
        }
        if events.is_empty() && out.flush().is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}

fn write_event(out: &mut impl Write, event: &Event) -> std::io::Result<()> {
    crate::json_safe::to_writer(&mut *out, event)?;
    out.write_all(b"\n")
}

/// Opens `--control`'s FILE, or stdin for `-`. Call before starting the engine, so a
/// bad path starts nothing.
pub fn open_control(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "control file '{}' is a directory: give a file (or FIFO) of JSON Lines \
                 commands, or '-' for stdin",
                path.display()
            ),
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot open control file '{}': {e}", path.display()),
        )
    })?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

/// Reads control lines until end of input, then closes the queue.
fn read_control(mut reader: Box<dyn BufRead + Send>, commands: &mpsc::UnboundedSender<Command>) {
    /// Closes the queue when reading ends by any route (end of input, a read
    /// error, even a panic), or the engine would wait for launches forever.
    struct CloseOnDrop<'a>(&'a mpsc::UnboundedSender<Command>);
    impl Drop for CloseOnDrop<'_> {
        fn drop(&mut self) {
            let _ = self.0.send(Command::CloseQueue);
        }
    }
    let _close = CloseOnDrop(commands);
    let mut bytes = Vec::new();
    for number in 1.. {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                eprintln!("proctor: control: cannot read line {number}: {e}; stopped reading");
                return;
            }
        }
        // A bad line is reported and skipped; the lines after it still count.
        let Ok(line) = std::str::from_utf8(&bytes) else {
            eprintln!("proctor: control: line {number} is not UTF-8: skipped; write JSON text");
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let command = match crate::control::parse_line(line) {
            Ok(c) => c,
            Err(message) => {
                eprintln!("proctor: control: line {number}: {message}");
                continue;
            }
        };
        if commands.send(command).is_err() {
            return;
        }
    }
}
