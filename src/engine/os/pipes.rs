//! Pipe readers: one task per worker stream drains the pipe continuously into the
//! worker's ring buffer (and the log file, and the event stream when asked), so a
//! child never blocks because proctor is slow.

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::engine::command::WorkerId;
use crate::engine::event::{Event, EventKind, Stream};
use crate::engine::output::{LineSplitter, LogBuffer, OutputStore, to_text};
use crate::engine::supervisor::Input;

const CHUNK: usize = 256 * 1024;

/// Pipe capacity asked for: a flooding worker then writes (and proctor reads) in
/// larger pieces, with fewer wake-ups per megabyte. The kernel may give less.
const PIPE_SIZE: i32 = 1024 * 1024;

thread_local! {
    /// One read buffer for every reader: they all run on the engine thread and never
    /// hold it across an await, so 2,000 readers cost 64 KiB, not 128 MiB.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; CHUNK]);
}

/// A request to drain what is buffered now and answer once it is stored.
pub type FlushRequest = oneshot::Sender<()>;

pub struct Reader {
    pub id: WorkerId,
    pub name: String,
    pub stream: Stream,
    pub store: Arc<OutputStore>,
    /// Output events go here when the front end wants them (headless `--output events`).
    pub events: Option<mpsc::Sender<Event>>,
    pub inputs: mpsc::UnboundedSender<Input>,
    pub log_file: Option<std::fs::File>,
}

/// How to read: through tokio (which clears its readiness on "would block"), or
/// straight from the descriptor.
#[derive(Clone, Copy)]
enum Mode {
    Reactor,
    /// For the exit flush: tokio's `try_read` answers "would block" until its reactor
    /// has seen the pipe become readable, which may not have happened yet for output
    /// written just before the worker exited; read(2) sees it, so `exited` always
    /// follows that output.
    Now,
}

/// What one non-blocking read produced.
enum Read {
    Stored(Stored),
    WouldBlock,
    End,
}

/// Lines just stored: what the supervisor and the event stream still need.
#[derive(Default)]
struct Stored {
    /// The newest complete line (neutralised), if the chunk completed any.
    last_line: Option<String>,
    /// The lines as text, only when output events are wanted.
    lines: Vec<String>,
}

impl Reader {
    /// Runs until end of stream. `flush` requests come from the reaper path, so the
    /// `exited` event follows the output the worker wrote before it exited.
    pub async fn run(mut self, fd: OwnedFd, mut flush: mpsc::UnboundedReceiver<FlushRequest>) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: fcntl on a pipe fd we own; failure just keeps the default size.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
        }
        let rx = match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => rx,
            Err(e) => {
                let message = format!("cannot read {}'s output: {e}", self.name);
                let _ = self.inputs.send(Input::Output {
                    id: self.id,
                    last_line: message,
                });
                return;
            }
        };
        let buffer = self.store.buffer(self.id);
        let mut splitter = LineSplitter::default();
        let mut flush_open = true;
        // A flush that found the end of the stream is answered only once the last,
        // unterminated line is stored too, so it also comes before `exited`.
        let mut eof_ack = None;
        loop {
            tokio::select! {
                biased;
                request = flush.recv(), if flush_open => match request {
                    Some(ack) => {
                        let eof = loop {
                            match self.read_once(&rx, &mut splitter, &buffer, Mode::Now) {
                                Read::Stored(stored) => self.report(stored).await,
                                Read::WouldBlock => break false,
                                Read::End => break true,
                            }
                        };
                        if eof {
                            eof_ack = Some(ack);
                            break;
                        }
                        let _ = ack.send(());
                    }
                    None => flush_open = false,
                },
                ready = rx.readable() => {
                    if ready.is_err() {
                        break;
                    }
                    match self.read_once(&rx, &mut splitter, &buffer, Mode::Reactor) {
                        Read::Stored(stored) => {
                            self.report(stored).await;
                            // One chunk per turn: every flooding worker's pipe gets
                            // drained in turn, so none waits long on a full pipe.
                            tokio::task::yield_now().await;
                        }
                        Read::WouldBlock => {}
                        Read::End => break,
                    }
                }
            }
        }
        let stored = self.store(&buffer, 1, |emit| splitter.finish(emit));
        self.report(stored).await;
        if let Some(f) = &mut self.log_file {
            let _ = f.flush();
        }
        if let Some(ack) = eof_ack {
            let _ = ack.send(());
        }
        // Answer flushes that arrive after EOF at once.
        while let Ok(ack) = flush.try_recv() {
            let _ = ack.send(());
        }
    }

    /// One non-blocking read into the shared scratch buffer, stored as lines.
    fn read_once(
        &mut self,
        rx: &pipe::Receiver,
        splitter: &mut LineSplitter,
        buffer: &Mutex<LogBuffer>,
        mode: Mode,
    ) -> Read {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let read = match mode {
                Mode::Reactor => rx.try_read(&mut scratch),
                Mode::Now => read_now(rx, &mut scratch),
            };
            match read {
                Ok(0) => Read::End,
                Ok(n) => {
                    let bytes = &scratch[..n];
                    if let Some(f) = &mut self.log_file
                        && f.write_all(bytes).is_err()
                    {
                        self.log_file = None; // a full disk must not stop the worker
                    }
                    // Each newline ends a line, plus one gathered from earlier chunks.
                    let max_lines = n + 1;
                    Read::Stored(self.store(buffer, max_lines, |emit| splitter.feed(bytes, emit)))
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::WouldBlock,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Read::WouldBlock,
                Err(_) => Read::End,
            }
        })
    }

    /// Stores the lines `split` emits into the buffer under one lock: a copy into
    /// the ring per line, no allocation (text is made only for output events).
    /// `max_lines` bounds how many lines `split` can emit (one sequence number each).
    fn store(
        &self,
        buffer: &Mutex<LogBuffer>,
        max_lines: usize,
        split: impl FnOnce(&mut dyn FnMut(&[u8])),
    ) -> Stored {
        let mut stored = Stored::default();
        let Ok(mut b) = buffer.lock() else {
            return stored;
        };
        b.set_byte_cap(self.store.share());
        let mut seq = self.store.reserve_seq(max_lines as u64);
        let mut any = false;
        let events = self.events.is_some();
        split(&mut |line: &[u8]| {
            b.append(seq, self.stream, line);
            seq += 1;
            any = true;
            if events {
                stored.lines.push(to_text(line));
            }
        });
        if any {
            b.fit();
            stored.last_line = b.last_text();
        }
        stored
    }

    /// Tells the supervisor about new output and sends output events.
    async fn report(&mut self, stored: Stored) {
        let Some(last_line) = stored.last_line else {
            return;
        };
        let _ = self.inputs.send(Input::Output {
            id: self.id,
            last_line,
        });
        let Some(events) = &self.events else { return };
        for line in stored.lines {
            let kind = EventKind::Output {
                worker: self.name.clone(),
                stream: self.stream,
                line,
            };
            // Awaiting here is the backpressure: with a slow consumer of the event
            // stream the reader waits, and the pipe (not proctor's memory) fills.
            if events.send(Event::now(kind)).await.is_err() {
                self.events = None;
                break;
            }
        }
    }
}

/// read(2) on the non-blocking descriptor, retried on EINTR.
fn read_now(rx: &pipe::Receiver, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match nix::unistd::read(rx, buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other.map_err(std::io::Error::from),
        }
    }
}
