//! The engine's one ordered stream of events to its front end.
//!
//! Two kinds of sender share it, and the difference is the point:
//! - the engine's own events (spawned, exited, queue, samples…) never wait, so a
//!   stalled front end can never stall reaping, timers or Ctrl-C;
//! - output lines wait for credit. Credit comes back as the front end takes the
//!   lines off the stream, so a slow consumer slows the pipe readers, which stop
//!   reading, and the workers block in write(2) exactly as they would on any
//!   full pipe. Nothing is dropped and memory stays bounded by the credit.
//!
//! Both go through one channel, so the order they were sent in is the order the
//! front end sees: a worker's output always comes before its `exited`.
//!
//! A `Tap` copies every event, numbered, to any number of subscribers (control
//! socket clients). Unlike the front end they never slow anything: a subscriber
//! that falls behind loses the oldest copies and is told how many (`lagged`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Semaphore, broadcast, mpsc};

use super::event::{Event, EventKind};
use super::output::MAX_LINE;

/// Bytes of output lines in flight between the readers and the front end, at
/// most (each line counts its text plus `LINE_COST`).
pub const OUTPUT_CREDIT: usize = 8 << 20;

/// What a line costs besides its text (the event around it).
const LINE_COST: usize = 64;

/// Past this many samples waiting in the stream, newer ones are skipped: the
/// next sample says the same, newer, and a stalled front end must not make the
/// engine's memory grow without end.
const WAITING_SAMPLES: usize = 64;

/// Credit asked for in one go; a chunk may need more, taken in several steps so
/// no request can ever exceed the whole credit. A single line (cut at
/// `output::MAX_LINE`) always fits in one step.
const CREDIT_STEP: usize = 1 << 20;

/// Copies kept for a subscriber that is behind, at most.
pub const TAP_CAPACITY: usize = 4096;

/// Every event, numbered, for subscribers.
pub struct Tap {
    tx: broadcast::Sender<(u64, Arc<Event>)>,
    seq: AtomicU64,
}

impl Tap {
    pub fn new() -> Arc<Tap> {
        Arc::new(Tap {
            tx: broadcast::channel(TAP_CAPACITY).0,
            seq: AtomicU64::new(0),
        })
    }

    /// A new subscriber sees events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<(u64, Arc<Event>)> {
        self.tx.subscribe()
    }

    /// True while someone listens (copies cost nothing otherwise).
    pub fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    fn copy(&self, event: &Event) {
        if self.listened() {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let _ = self.tx.send((seq, Arc::new(event.clone())));
        }
    }
}

struct Shared {
    credit: Semaphore,
    /// The credit when nothing is in flight.
    total: usize,
    samples: AtomicUsize,
}

/// The sending side; cloned into every pipe reader.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::UnboundedSender<Vec<Event>>,
    shared: Arc<Shared>,
    tap: Option<Arc<Tap>>,
}

/// The front end's side.
pub struct EventReceiver {
    rx: mpsc::UnboundedReceiver<Vec<Event>>,
    batch: VecDeque<Event>,
    shared: Arc<Shared>,
}

/// A stream with the default output credit.
pub fn channel() -> (EventSender, EventReceiver) {
    channel_with_credit(OUTPUT_CREDIT)
}

/// A stream that lets `credit` bytes of output lines wait for the front end.
pub fn channel_with_credit(credit: usize) -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let total = credit.max(CREDIT_STEP + MAX_LINE + LINE_COST);
    let shared = Arc::new(Shared {
        credit: Semaphore::new(total),
        total,
        samples: AtomicUsize::new(0),
    });
    (
        EventSender {
            tx,
            shared: shared.clone(),
            tap: None,
        },
        EventReceiver {
            rx,
            batch: VecDeque::new(),
            shared,
        },
    )
}

impl EventSender {
    /// Copies every event sent from now on to `tap`'s subscribers too.
    pub fn with_tap(mut self, tap: Arc<Tap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// True when output lines have somewhere to go without the front end.
    pub fn tapped(&self) -> bool {
        self.tap.as_ref().is_some_and(|t| t.listened())
    }

    /// Copies output lines to the subscribers only (for a front end that reads
    /// output from the rings, not as events).
    pub fn tap_only(&self, lines: &[Event]) {
        if let Some(tap) = &self.tap {
            lines.iter().for_each(|e| tap.copy(e));
        }
    }

    /// Sends the engine's own events; never waits. False once the front end is gone.
    pub fn send_batch(&self, mut events: Vec<Event>) -> bool {
        if events.is_empty() {
            return !self.tx.is_closed();
        }
        if let Some(tap) = &self.tap {
            events.iter().for_each(|e| tap.copy(e));
        }
        let samples = &self.shared.samples;
        events.retain(|e| {
            if !is_sample(e) {
                return true;
            }
            // Counted when sent, uncounted when taken: the number waiting now.
            if samples.load(Ordering::Relaxed) >= WAITING_SAMPLES {
                return false;
            }
            samples.fetch_add(1, Ordering::Relaxed);
            true
        });
        self.tx.send(events).is_ok()
    }

    /// Sends output lines once the front end has room for them: this await is the
    /// backpressure. False once the front end is gone.
    pub async fn send_output(&self, mut lines: Vec<Event>) -> bool {
        while !lines.is_empty() {
            // As many lines as fit in one step (always at least one).
            let mut cost = 0;
            let step = lines
                .iter()
                .take_while(|e| {
                    cost += output_cost(e);
                    cost <= CREDIT_STEP
                })
                .count()
                .max(1);
            let rest = lines.split_off(step);
            self.tap_only(&lines);
            let cost: usize = lines.iter().map(output_cost).sum();
            match self.shared.credit.acquire_many(cost as u32).await {
                // Given back by the receiver, line by line, as it takes them.
                Ok(permit) => permit.forget(),
                Err(_) => return false,
            }
            if self.tx.send(lines).is_err() {
                return false;
            }
            lines = rest;
        }
        true
    }

    /// True while output lines wait for the front end to take them.
    pub fn output_in_flight(&self) -> bool {
        self.shared.credit.available_permits() < self.shared.total
    }

    /// True once the front end has gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl EventReceiver {
    /// The next event, waiting for one; `None` once the engine has ended.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.take() {
                return Some(event);
            }
            self.batch.extend(self.rx.recv().await?);
        }
    }

    /// `recv` for a plain thread.
    pub fn blocking_recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.take() {
                return Some(event);
            }
            self.batch.extend(self.rx.blocking_recv()?);
        }
    }

    /// The next event if one is there now.
    pub fn try_recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.take() {
                return Some(event);
            }
            self.batch.extend(self.rx.try_recv().ok()?);
        }
    }

    /// True when no event waits right now.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.rx.is_empty()
    }

    /// Stops the stream: senders learn the front end is gone, and output waiting
    /// for credit is released (its readers go on draining into the rings only).
    pub fn close(&mut self) {
        self.rx.close();
        self.shared.credit.close();
    }

    fn take(&mut self) -> Option<Event> {
        let event = self.batch.pop_front()?;
        match &event.kind {
            EventKind::Output { .. } | EventKind::Bytes { .. } => {
                self.shared.credit.add_permits(output_cost(&event))
            }
            EventKind::Sample { .. } => {
                self.shared.samples.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        Some(event)
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        self.close();
    }
}

/// The credit an output line takes while it waits for the front end.
fn output_cost(event: &Event) -> usize {
    match &event.kind {
        EventKind::Output { line, .. } => line.len() + LINE_COST,
        EventKind::Bytes { bytes, .. } => bytes.len() + LINE_COST,
        _ => 0,
    }
}

fn is_sample(event: &Event) -> bool {
    matches!(event.kind, EventKind::Sample { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::Stream;

    /// A line as long as lines get: `FIT` of them fill the smallest credit.
    fn line(n: usize) -> Event {
        let mut text = n.to_string();
        text.push_str(&" ".repeat(MAX_LINE - text.len()));
        Event::now(EventKind::Output {
            worker: "w".into(),
            stream: Stream::Stdout,
            line: text,
        })
    }
    const FIT: usize = (CREDIT_STEP + MAX_LINE + LINE_COST) / (MAX_LINE + LINE_COST);

    fn words(rx: &mut EventReceiver) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv())
            .map(|e| match e.kind {
                EventKind::Output { line, .. } => line.trim_end().to_string(),
                EventKind::Error { message } => message,
                _ => String::new(),
            })
            .collect()
    }

    #[tokio::test]
    async fn output_waits_for_credit_and_order_is_kept() {
        let (tx, mut rx) = channel_with_credit(0);
        assert!(tx.send_output((0..FIT).map(line).collect()).await);
        // No credit left: the next line waits until the front end takes one.
        let sender = tx.clone();
        let next = tokio::spawn(async move { sender.send_output(vec![line(FIT)]).await });
        tokio::task::yield_now().await;
        assert!(!next.is_finished());
        let note = Event::now(EventKind::Error {
            message: "engine events never wait".into(),
        });
        assert!(tx.send_batch(vec![note]));
        assert!(rx.recv().await.is_some());
        assert!(next.await.unwrap_or(false));
        let mut expected: Vec<String> = (1..FIT).map(|n| n.to_string()).collect();
        expected.push("engine events never wait".into());
        expected.push(FIT.to_string());
        assert_eq!(words(&mut rx), expected);
    }

    #[tokio::test]
    async fn more_output_than_the_credit_still_gets_through_in_order() {
        let (tx, mut rx) = channel_with_credit(0);
        let lines: Vec<Event> = (0..5 * FIT).map(line).collect();
        let sender = tokio::spawn(async move { tx.send_output(lines).await });
        let mut got = Vec::new();
        while let Some(e) = rx.recv().await {
            if let EventKind::Output { line, .. } = e.kind {
                got.push(line.trim_end().to_string());
            }
        }
        let expected: Vec<String> = (0..5 * FIT).map(|n| n.to_string()).collect();
        assert_eq!(got, expected);
        assert!(sender.await.unwrap_or(false));
    }

    #[tokio::test]
    async fn closing_releases_waiting_output() {
        let (tx, mut rx) = channel_with_credit(0);
        assert!(tx.send_output((0..FIT).map(line).collect()).await);
        let sender = tx.clone();
        let waiting = tokio::spawn(async move { sender.send_output(vec![line(0)]).await });
        tokio::task::yield_now().await;
        rx.close();
        assert!(!waiting.await.unwrap_or(true));
        assert!(tx.is_closed());
    }

    #[test]
    fn samples_waiting_are_capped() {
        let (tx, mut rx) = channel();
        let sample = || {
            Event::now(EventKind::Sample {
                system: crate::sample::SystemSample::default(),
                workers: Vec::new(),
            })
        };
        for _ in 0..3 * WAITING_SAMPLES {
            assert!(tx.send_batch(vec![sample()]));
        }
        assert_eq!(
            std::iter::from_fn(|| rx.try_recv()).count(),
            WAITING_SAMPLES
        );
        // Taken off the stream, they make room for new ones.
        assert!(tx.send_batch(vec![sample()]));
        assert_eq!(std::iter::from_fn(|| rx.try_recv()).count(), 1);
    }
}
