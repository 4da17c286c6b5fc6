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
use crate::engine::output::{Line, LineSplitter, LogBuffer, OutputStore, neutralise, neutralised};
use crate::engine::supervisor::Input;

const CHUNK: usize = 64 * 1024;

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
    Lines(Vec<String>),
    WouldBlock,
    End,
}

impl Reader {
    /// Runs until end of stream. `flush` requests come from the reaper path, so the
    /// `exited` event follows the output the worker wrote before it exited.
    pub async fn run(mut self, fd: OwnedFd, mut flush: mpsc::UnboundedReceiver<FlushRequest>) {
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
                            match self.read_once(&rx, &mut splitter, Mode::Now) {
                                Read::Lines(lines) => self.store_lines(lines, &buffer).await,
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
                    match self.read_once(&rx, &mut splitter, Mode::Reactor) {
                        Read::Lines(lines) => self.store_lines(lines, &buffer).await,
                        Read::WouldBlock => {}
                        Read::End => break,
                    }
                }
            }
        }
        let mut lines = Vec::new();
        splitter.finish(&mut |l| lines.push(l));
        self.store_lines(lines, &buffer).await;
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

    /// One non-blocking read into the shared scratch buffer, split into lines.
    fn read_once(&mut self, rx: &pipe::Receiver, splitter: &mut LineSplitter, mode: Mode) -> Read {
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
                    let mut lines = Vec::new();
                    splitter.feed(bytes, &mut |l| lines.push(l));
                    Read::Lines(lines)
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::WouldBlock,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Read::WouldBlock,
                Err(_) => Read::End,
            }
        })
    }

    async fn store_lines(&mut self, lines: Vec<String>, buffer: &Mutex<LogBuffer>) {
        let Some(last) = lines.last() else { return };
        let last_line = neutralise(last);
        // The raw lines go to the event stream (JSON escapes them); the buffer keeps
        // neutralised copies. Without events the lines move into the buffer uncopied.
        let raw = self.events.is_some().then(|| lines.clone());
        if let Ok(mut b) = buffer.lock() {
            b.set_byte_cap(self.store.share());
            for text in lines {
                let seq = self.store.next_seq();
                b.push(Line {
                    seq,
                    stream: self.stream,
                    text: neutralised(text),
                });
            }
        }
        let _ = self.inputs.send(Input::Output {
            id: self.id,
            last_line,
        });
        if let (Some(events), Some(lines)) = (&self.events, raw) {
            for line in lines {
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
