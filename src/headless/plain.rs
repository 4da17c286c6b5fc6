//! Plain output for people, in the style of foreman and honcho: every line a worker
//! writes, prefixed with its name (`web  | listening on 8080`), its stdout on
//! proctor's stdout and its stderr on proctor's stderr; lifecycle lines (started,
//! exited with code, stopping, skipped…) and the summary on stderr.
//!
//! Worker text is untrusted: control characters are shown in caret notation
//! (`^[`), so nothing a worker prints can drive the terminal this ends up on,
//! even through a pipe into `cat`. The exact bytes are in `--log-dir` files and
//! the `--json` stream.

use std::collections::HashMap;
use std::io::{BufWriter, IsTerminal, Write};

use crate::engine::event::{Stream, WorkerSummary};
use crate::engine::output::{neutral, neutralised};
use crate::engine::{EventKind, EventReceiver};

/// Prefix colours, one per worker in order of first appearance (ANSI 36, 33, 32,
/// 35, 34, 31: cyan first, red last since red reads as an error).
const PALETTE: [u8; 6] = [36, 33, 32, 35, 34, 31];

/// Prints events as prefixed lines until the channel closes (true) or stdout stops
/// taking them (false).
pub fn print_events(events: &mut EventReceiver) -> bool {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut printer = Printer {
        out: Sink::new(stdout.is_terminal() && colour, stdout.lock()),
        err: Sink::new(stderr.is_terminal() && colour, stderr.lock()),
        names: Names::default(),
    };
    while let Some(event) = events.blocking_recv() {
        if printer.print(&event.kind).is_err() {
            return false;
        }
        if events.is_empty() && printer.flush().is_err() {
            return false;
        }
    }
    printer.flush().is_ok()
}

struct Sink<W: Write> {
    colour: bool,
    w: BufWriter<W>,
}

impl<W: Write> Sink<W> {
    fn new(colour: bool, w: W) -> Self {
        Sink {
            colour,
            w: BufWriter::with_capacity(64 * 1024, w),
        }
    }
}

/// Each worker's column width and colour, learnt as names appear.
#[derive(Default)]
struct Names {
    width: usize,
    colours: HashMap<String, u8>,
}

impl Names {
    fn colour(&mut self, name: &str) -> u8 {
        if let Some(c) = self.colours.get(name) {
            return *c;
        }
        let c = PALETTE[self.colours.len() % PALETTE.len()];
        // Names are bounded (64 bytes per job plus a suffix), so the map stays small
        // next to the workers themselves.
        self.colours.insert(name.to_owned(), c);
        self.width = self.width.max(name.chars().count());
        c
    }
}

struct Printer<O: Write, E: Write> {
    out: Sink<O>,
    err: Sink<E>,
    names: Names,
}

impl<O: Write, E: Write> Printer<O, E> {
    fn flush(&mut self) -> std::io::Result<()> {
        // stderr first: a failed stderr must not hide a failed stdout.
        let _ = self.err.w.flush();
        self.out.w.flush()
    }

    fn print(&mut self, kind: &EventKind) -> std::io::Result<()> {
        match kind {
            EventKind::Output {
                worker,
                stream,
                line,
            } => {
                let text = neutral(line);
                match stream {
                    Stream::Stdout => line_to(&mut self.out, &mut self.names, worker, &text),
                    Stream::Stderr => line_to(&mut self.err, &mut self.names, worker, &text),
                }
            }
            EventKind::Summary { workers, .. } => {
                let text = summary(workers);
                writeln!(self.err.w, "proctor: {text}")
            }
            EventKind::Error { message } => {
                writeln!(self.err.w, "proctor: {}", neutral(message))
            }
            EventKind::Interrupted { signal } => {
                writeln!(self.err.w, "proctor: {signal}: stopping every worker")
            }
            other => match lifecycle(other) {
                Some((worker, text)) => line_to(&mut self.err, &mut self.names, worker, &text),
                None => Ok(()),
            },
        }
    }
}

/// Writes `NAME | text`, the name padded to the widest seen so far.
fn line_to<W: Write>(
    sink: &mut Sink<W>,
    names: &mut Names,
    worker: &str,
    text: &str,
) -> std::io::Result<()> {
    let colour = names.colour(worker);
    let name = neutral(worker);
    let width = names.width;
    if sink.colour {
        writeln!(sink.w, "\x1b[{colour}m{name:<width$} |\x1b[0m {text}")
    } else {
        writeln!(sink.w, "{name:<width$} | {text}")
    }
}

/// The lifecycle line for an event about one worker, if it has one.
fn lifecycle(kind: &EventKind) -> Option<(&str, String)> {
    let line = match kind {
        EventKind::Spawned { worker, pid, .. } => (worker, format!("started (pid {pid})")),
        EventKind::Exited {
            worker,
            code,
            signal,
            runtime_s,
            timed_out,
            ..
        } => {
            let how = match signal {
                Some(sig) => format!("killed by {sig}"),
                None => format!("exited {code}"),
            };
            let why = if *timed_out { " (timed out)" } else { "" };
            (worker, format!("{how} after {runtime_s:.2}s{why}"))
        }
        EventKind::Failed { worker, error } => (worker, format!("cannot start: {error}")),
        EventKind::Cancelled { worker } => (worker, "cancelled before it started".into()),
        EventKind::Signaled { worker, signal, .. } => (worker, format!("sent {signal}")),
        EventKind::Stopping {
            worker,
            signal,
            kill_after_s,
        } => (
            worker,
            format!("stopping: {signal}, SIGKILL after {kill_after_s}s"),
        ),
        EventKind::Killed { worker } => (worker, "SIGKILL: the grace period ran out".into()),
        EventKind::Unkillable { worker, pids } => {
            (worker, format!("still alive after SIGKILL: pids {pids:?}"))
        }
        EventKind::Waiting { worker, on } => (worker, format!("waiting for {}", on.join(", "))),
        EventKind::Skipped { worker, reason } => {
            (worker, format!("skipped: {} {}", reason.dep, reason.cause))
        }
        EventKind::Ready { worker, after_s } => (worker, format!("ready after {after_s:.2}s")),
        EventKind::ReadyTimeout { worker, deadline_s } => {
            (worker, format!("not ready within {deadline_s}s"))
        }
        EventKind::Unhealthy {
            worker,
            failures,
            detail,
            action,
        } => (
            worker,
            format!("unhealthy after {failures} failed checks ({detail}); {action}"),
        ),
        EventKind::Healthy { worker } => (worker, "healthy again".into()),
        EventKind::Restarting {
            worker,
            restarts,
            delay_s,
        } => (
            worker,
            format!("restarting in {delay_s:.1}s (restart {restarts})"),
        ),
        EventKind::Stuck { worker, idle_s } => {
            (worker, format!("stuck: no output for {idle_s:.0}s"))
        }
        EventKind::Zombie {
            worker,
            pid,
            parent,
        } => (worker, format!("zombie pid {pid} (parent {parent})")),
        _ => return None,
    };
    Some((line.0.as_str(), neutralised(line.1)))
}

/// `3 workers: 2 exited 0, 1 failed` from the run's summary.
fn summary(workers: &[WorkerSummary]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for w in workers {
        let label = match (w.state, w.code, &w.signal) {
            _ if w.stopped => "stopped".to_owned(),
            (_, Some(0), _) => "exited 0".to_owned(),
            (_, _, Some(sig)) => format!("killed by {sig}"),
            (_, Some(code), _) => format!("exited {code}"),
            (state, None, None) => state.to_owned(),
        };
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    let noun = if workers.len() == 1 {
        "worker"
    } else {
        "workers"
    };
    let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {l}")).collect();
    format!("{} {noun}: {}", workers.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer() -> Printer<Vec<u8>, Vec<u8>> {
        Printer {
            out: Sink::new(false, Vec::new()),
            err: Sink::new(false, Vec::new()),
            names: Names::default(),
        }
    }

    fn text(sink: Sink<Vec<u8>>) -> String {
        String::from_utf8(sink.w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn lines_are_prefixed_aligned_and_neutralised() {
        let mut p = printer();
        for (worker, stream, line) in [
            ("web", Stream::Stdout, "up"),
            ("database", Stream::Stdout, "\x1b]0;pwned\x07ok"),
            ("web", Stream::Stderr, "warn"),
        ] {
            p.print(&EventKind::Output {
                worker: worker.into(),
                stream,
                line: line.into(),
            })
            .unwrap();
        }
        assert_eq!(
            text(p.out),
            "web | up\ndatabase | ^[]0;pwned^Gok\n",
            "the width grows as longer names appear"
        );
        assert_eq!(text(p.err), "web      | warn\n");
    }

    #[test]
    fn lifecycle_and_summary_go_to_stderr() {
        let mut p = printer();
        p.print(&EventKind::Exited {
            worker: "job".into(),
            pid: 7,
            code: 3,
            signal: None,
            runtime_s: 1.5,
            timed_out: false,
            stuck_terminated: false,
            restarts: 0,
        })
        .unwrap();
        let done = |worker: &str, code| WorkerSummary {
            worker: worker.into(),
            state: "exited",
            code: Some(code),
            signal: None,
            runtime_s: 1.0,
            restarts: 0,
            timed_out: false,
            stopped: false,
            error: None,
        };
        p.print(&EventKind::Summary {
            ok: false,
            workers: vec![done("a", 0), done("b", 0), done("job", 3)],
        })
        .unwrap();
        assert_eq!(text(p.out), "");
        assert_eq!(
            text(p.err),
            "job | exited 3 after 1.50s\nproctor: 3 workers: 2 exited 0, 1 exited 3\n"
        );
    }
}
