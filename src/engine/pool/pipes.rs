//! The OS side of a pool worker: a task writer on its stdin and a reader of its
//! result pipe, both tasks on the engine's runtime.

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::PoolInput;
use crate::engine::command::WorkerId;
use crate::engine::os::pipes::FlushRequest;
use crate::engine::supervisor::Input;

/// A result line longer than this is cut there (and then is no valid result):
/// an untrusted worker must not make proctor hold unbounded memory.
const MAX_LINE: usize = 64 << 20;

/// Starts the writer of a worker's task pipe; dropping the sender closes the
/// worker's stdin once what was sent is written.
pub fn writer(fd: OwnedFd) -> Option<mpsc::UnboundedSender<Vec<u8>>> {
    let mut tx = pipe::Sender::from_owned_fd(fd).ok()?;
    let (lines, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            // A worker that died or closed stdin: its exit re-queues its task.
            if tx.write_all(&line).await.is_err() {
                return;
            }
        }
    });
    Some(lines)
}

/// Reads result lines until end of stream and hands each to the engine. A
/// flush (the worker was reaped) is answered once every line written before
/// its exit has been handed on, so the pool sees a result before the death.
pub async fn read_results(
    worker: WorkerId,
    fd: OwnedFd,
    inputs: mpsc::UnboundedSender<Input>,
    mut flush: mpsc::UnboundedReceiver<FlushRequest>,
    _alive: mpsc::Sender<()>,
) {
    let Ok(rx) = pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut lines = Lines {
        worker,
        partial: Vec::new(),
        inputs,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut flush_open = true;
    loop {
        tokio::select! {
            biased;
            request = flush.recv(), if flush_open => match request {
                Some(ack) => {
                    let ended = lines.drain_now(&rx, &mut buf);
                    let _ = ack.send(());
                    if ended {
                        break;
                    }
                }
                None => flush_open = false,
            },
            ready = rx.readable() => {
                if ready.is_err() {
                    break;
                }
                match rx.try_read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => lines.push(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
            }
        }
    }
    lines.finish();
    while let Ok(ack) = flush.try_recv() {
        let _ = ack.send(());
    }
}

struct Lines {
    worker: WorkerId,
    partial: Vec<u8>,
    inputs: mpsc::UnboundedSender<Input>,
}

impl Lines {
    /// Reads what is in the pipe now with read(2) (tokio's readiness may not
    /// have caught up yet). True at end of stream.
    fn drain_now(&mut self, rx: &pipe::Receiver, buf: &mut [u8]) -> bool {
        loop {
            // SAFETY: reading into a buffer we own from a descriptor we own.
            let n = unsafe { libc::read(rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            match n {
                0 => return true,
                n if n > 0 => self.push(&buf[..n as usize]),
                _ => return false,
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            self.send();
            rest = &rest[end + 1..];
        }
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
    }

    /// A last line without a newline still counts.
    fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.send();
        }
    }

    fn send(&mut self) {
        let mut raw = std::mem::take(&mut self.partial);
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8_lossy(&raw).into_owned();
        let _ = self.inputs.send(Input::Pool(PoolInput::Line {
            worker: self.worker,
            line,
        }));
    }
}
