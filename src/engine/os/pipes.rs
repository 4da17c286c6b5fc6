//! Pipe readers: one task per worker stream drains the pipe continuously into the
//! worker's ring buffer (and the log file, and the event stream when asked), so a
//! child never blocks because proctor is slow.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::engine::command::WorkerId;
use crate::engine::event::{Event, EventKind, Stream};
use crate::engine::output::{Line, LineSplitter, LogBuffer, OutputStore, neutralise};
use crate::engine::supervisor::Input;

const CHUNK: usize = 64 * 1024;

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

impl Reader {
    /// Runs until end of stream. `flush` requests come from the reaper path, so the
    /// `exited` event follows the output the worker wrote before it exited.
    pub async fn run(mut self, fd: OwnedFd, mut flush: mpsc::UnboundedReceiver<FlushRequest>) {
        let mut rx = match pipe::Receiver::from_owned_fd(fd) {
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
        let mut chunk = vec![0u8; CHUNK];
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
                            match read_now(&rx, &mut chunk) {
                                Ok(0) => break true,
                                Ok(n) => self.consume(&chunk[..n], &mut splitter, &buffer).await,
                                Err(_) => break false,
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
                read = rx.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.consume(&chunk[..n], &mut splitter, &buffer).await,
                },
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

    async fn consume(
        &mut self,
        bytes: &[u8],
        splitter: &mut LineSplitter,
        buffer: &Mutex<LogBuffer>,
    ) {
        if let Some(f) = &mut self.log_file
            && f.write_all(bytes).is_err()
        {
            self.log_file = None; // a full disk must not stop the worker
        }
        let mut lines = Vec::new();
        splitter.feed(bytes, &mut |l| lines.push(l));
        self.store_lines(lines, buffer).await;
    }

    async fn store_lines(&mut self, lines: Vec<String>, buffer: &Mutex<LogBuffer>) {
        let Some(last) = lines.last() else { return };
        let last_line = neutralise(last);
        if let Ok(mut b) = buffer.lock() {
            for text in &lines {
                let seq = self.store.next_seq();
                b.push(Line {
                    seq,
                    stream: self.stream,
                    text: neutralise(text),
                });
            }
        }
        let _ = self.inputs.send(Input::Output {
            id: self.id,
            last_line,
        });
        if let Some(events) = &self.events {
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

/// Reads what the pipe holds right now. tokio's `try_read` answers "would block"
/// until its reactor has seen the pipe become readable, which may not have
/// happened yet for output written just before the worker exited; read(2) on
/// the non-blocking descriptor sees it, so `exited` always follows that output.
fn read_now(rx: &pipe::Receiver, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match nix::unistd::read(rx, buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other.map_err(std::io::Error::from),
        }
    }
}
