//! Pipe readers: one task per worker stream drains the pipe continuously into the
//! worker's ring buffer (and the log file, and the event stream when asked), so a
//! child never blocks because proctor is slow.

use std::cell::RefCell;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::engine::command::WorkerId;
use crate::engine::event::{Event, EventKind, Stream};
use crate::engine::outbound::EventSender;
use crate::engine::output::{LineSplitter, LogBuffer, OutputStore, to_text, unix_now};
use crate::engine::supervisor::Input;

const CHUNK: usize = 256 * 1024;

/// Pipe capacity asked for: a flooding worker then writes (and proctor reads) in
/// larger pieces, with fewer wake-ups per megabyte. The kernel may give less.
const PIPE_SIZE: i32 = 1024 * 1024;

thread_local! {
    /// One read buffer for every reader: they all run on the engine thread and never
    /// hold it across an await, so 2,000 readers cost 256 KiB, not 512 MiB.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; CHUNK]);
}

/// A request to drain what is buffered now and answer once it is stored.
pub type FlushRequest = oneshot::Sender<()>;

pub struct Reader {
    pub id: WorkerId,
    pub name: std::sync::Arc<str>,
    pub stream: Stream,
    pub store: Arc<OutputStore>,
    /// The front end's event stream: output lines go there when it wants them
    /// (`output_events`), and problems (a log that cannot be written) always.
    pub events: EventSender,
    pub output_events: bool,
    /// Send what is read as `Bytes` events too, unchanged (map mode's plain output).
    pub raw_output: bool,
    pub inputs: mpsc::UnboundedSender<Input>,
    pub log_file: Option<LogFile>,
    /// Set when something was not delivered where the user asked (a log write
    /// failed): the run then does not count as a success.
    pub troubled: Arc<AtomicBool>,
    /// Held until the stream ends: the engine waits for every reader before it
    /// reports the end of the run, so no output is left unread.
    pub alive: mpsc::Sender<()>,
    /// The run's `log` readiness probe, checked against every line.
    pub log_watch: Option<Arc<super::probe::LogWatch>>,
}

/// A worker's `--log-dir` file and its path (for messages).
pub struct LogFile {
    pub file: std::fs::File,
    pub path: std::path::PathBuf,
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
    /// Lines stored from this many bytes.
    Stored(Stored, usize),
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
    /// The bytes read, only with `raw_output`.
    raw: Vec<u8>,
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
                        if self.drain_written(&rx, &mut splitter, &buffer).await {
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
                    match self.read_once(&rx, &mut splitter, &buffer, Mode::Reactor, CHUNK) {
                        Read::Stored(stored, _) => {
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
        let stored = self.store(&buffer, &mut splitter, None);
        self.report(stored).await;
        if let Some(log) = &mut self.log_file
            && let Err(e) = log.file.flush()
        {
            self.log_failed(e);
        }
        if let Some(ack) = eof_ack {
            let _ = ack.send(());
        }
        // Answer flushes that arrive after EOF at once.
        while let Ok(ack) = flush.try_recv() {
            let _ = ack.send(());
        }
    }

    /// The worker was reaped: stores what is in the pipe now, which holds all it
    /// wrote, so `exited` comes after its output. Reads no more than that, so a
    /// descendant that keeps the pipe open and writes on cannot hold `exited`
    /// back (its later output still comes, after). True at end of stream.
    async fn drain_written(
        &mut self,
        rx: &pipe::Receiver,
        splitter: &mut LineSplitter,
        buffer: &Mutex<LogBuffer>,
    ) -> bool {
        let mut left = buffered_bytes(rx);
        while left > 0 {
            match self.read_once(rx, splitter, buffer, Mode::Now, left) {
                Read::Stored(stored, n) => {
                    left = left.saturating_sub(n);
                    self.report(stored).await;
                }
                Read::WouldBlock => return false,
                Read::End => return true,
            }
        }
        // All read: the stream has ended if no writer is left.
        hung_up(rx)
    }

    /// One non-blocking read of at most `limit` bytes into the shared scratch
    /// buffer, stored as lines.
    fn read_once(
        &mut self,
        rx: &pipe::Receiver,
        splitter: &mut LineSplitter,
        buffer: &Mutex<LogBuffer>,
        mode: Mode,
        limit: usize,
    ) -> Read {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let space = &mut scratch[..limit.clamp(1, CHUNK)];
            let read = match mode {
                Mode::Reactor => rx.try_read(space),
                Mode::Now => read_now(rx, space),
            };
            match read {
                Ok(0) => Read::End,
                Ok(n) => {
                    let bytes = &scratch[..n];
                    if let Some(log) = &mut self.log_file
                        && let Err(e) = log.file.write_all(bytes)
                    {
                        self.log_failed(e);
                    }
                    let mut stored = self.store(buffer, splitter, Some(bytes));
                    if self.raw_output {
                        stored.raw = bytes.to_vec();
                    }
                    Read::Stored(stored, n)
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::WouldBlock,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Read::WouldBlock,
                Err(_) => Read::End,
            }
        })
    }

    /// Stores the lines `chunk` completes (or, at end of stream, the last one)
    /// into the buffer under one lock: a copy into the ring per line, no
    /// allocation (text is made only for output events). The unfinished line is
    /// stored beside them, for the terminal UI to show.
    fn store(
        &self,
        buffer: &Mutex<LogBuffer>,
        splitter: &mut LineSplitter,
        chunk: Option<&[u8]>,
    ) -> Stored {
        let mut stored = Stored::default();
        let Ok(mut b) = buffer.lock() else {
            return stored;
        };
        b.set_byte_cap(self.store.share());
        // Each newline ends a line, plus one gathered from earlier chunks, plus
        // one number for the unfinished line.
        let max_lines = chunk.map_or(1, <[u8]>::len) + 2;
        let mut seq = self.store.reserve_seq(max_lines as u64);
        let at = unix_now();
        let mut any = false;
        // Text is made only when someone takes lines as events.
        let events = self.output_events || self.events.tapped();
        let mut emit = |line: &[u8]| {
            if let Some(watch) = &self.log_watch {
                watch.check(line, &self.inputs);
            }
            b.append(seq, self.stream, at, line);
            seq += 1;
            any = true;
            if events {
                stored.lines.push(to_text(line));
            }
        };
        match chunk {
            Some(bytes) => splitter.feed(bytes, &mut emit),
            None => splitter.finish(&mut emit),
        }
        b.set_pending(self.stream, seq, at, splitter.pending());
        if any {
            b.fit();
            stored.last_line = b.last_text();
        }
        stored
    }

    /// Tells the supervisor about new output and sends output events.
    async fn report(&mut self, stored: Stored) {
        if !stored.raw.is_empty() {
            let bytes = Event::now(EventKind::Bytes {
                worker: self.name.to_string(),
                stream: self.stream,
                bytes: stored.raw,
            });
            // Waits for credit, as lines do: backpressure, never loss.
            if !self.events.send_output(vec![bytes]).await {
                self.raw_output = false; // the front end is gone
            }
        }
        let Some(last_line) = stored.last_line else {
            return;
        };
        let _ = self.inputs.send(Input::Output {
            id: self.id,
            last_line,
        });
        if stored.lines.is_empty() {
            return;
        }
        let lines: Vec<Event> = stored
            .lines
            .into_iter()
            .map(|line| {
                Event::now(EventKind::Output {
                    worker: self.name.clone(),
                    stream: self.stream,
                    line,
                })
            })
            .collect();
        if !self.output_events {
            self.events.tap_only(&lines);
            return;
        }
        // Waiting here is the backpressure: with a slow consumer of the event
        // stream the reader waits, and the pipe (not proctor's memory) fills.
        if !self.events.send_output(lines).await {
            self.output_events = false; // the front end is gone
        }
    }

    /// A log write failed (a full disk, say): say so where the user looks, keep
    /// the worker running and its output in memory, and fail the run at the end.
    fn log_failed(&mut self, error: std::io::Error) {
        let Some(log) = self.log_file.take() else {
            return;
        };
        self.troubled.store(true, Ordering::Relaxed);
        let message = format!(
            "cannot write {}'s log '{}': {error}; its output from here on is kept in memory only",
            self.name,
            log.path.display()
        );
        self.events
            .send_batch(vec![Event::now(EventKind::Error { message })]);
    }
}

/// Bytes waiting in the pipe now.
fn buffered_bytes(rx: &pipe::Receiver) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer we pass.
    let r = unsafe { libc::ioctl(rx.as_raw_fd(), libc::FIONREAD, &mut n) };
    if r < 0 { 0 } else { n.max(0) as usize }
}

/// True when the pipe is empty and no writer is left (read would return 0).
fn hung_up(rx: &pipe::Receiver) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP) && !r.contains(PollFlags::POLLIN)),
        Err(_) => false,
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
