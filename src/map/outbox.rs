//! The driver's way out to the printer: output held for `--keep-order` (in
//! memory up to a limit, then in a temporary file), queue events without
//! repeats, and noticing when nobody reads any more.

use super::order::Order;
use super::spill::{Held, Spill};
use crate::engine::{Event, EventKind, EventSender};

pub struct Outbox {
    printer: Option<EventSender>,
    /// `Some` with `--keep-order`.
    order: Option<Order<Held>>,
    spill: Spill,
    /// A task's record is held with its output (plain `--keep-order`), so it
    /// follows that output.
    hold_records: bool,
    last_queue: Option<EventKind>,
    /// The printer went away and `newly_closed` has not said so yet.
    closed_unseen: bool,
}

impl Outbox {
    pub fn new(printer: EventSender, keep_order: bool, hold_records: bool) -> Self {
        Outbox {
            printer: Some(printer),
            order: keep_order.then(Order::default),
            spill: Spill::new(super::spill::MEMORY_LIMIT, std::env::temp_dir()),
            hold_records,
            last_queue: None,
            closed_unseen: false,
        }
    }

    /// True once, after the printer has gone (e.g. `| head` ended): from then
    /// on nobody watches the run.
    pub fn newly_closed(&mut self) -> bool {
        std::mem::take(&mut self.closed_unseen)
    }

    pub async fn send(&mut self, event: Event) {
        let Some(printer) = &self.printer else { return };
        // Output waits for the printer (backpressure back to the engine's
        // readers, and so to the workers); the rest never waits.
        let output = matches!(
            event.kind,
            EventKind::Output { .. } | EventKind::Bytes { .. }
        );
        let sent = if output {
            printer.send_output(vec![event]).await
        } else {
            printer.send_batch(vec![event])
        };
        if !sent {
            self.printer = None;
            self.closed_unseen = true;
        }
    }

    /// A queue event, unless it repeats the previous one.
    pub async fn queue(&mut self, t: f64, kind: EventKind) {
        if self.last_queue.as_ref() == Some(&kind) {
            return;
        }
        self.last_queue = Some(kind.clone());
        self.send(Event {
            t,
            host: None,
            kind,
        })
        .await;
    }

    /// An output line of task `number`: printed now, or held until its turn.
    pub async fn output(&mut self, number: u64, event: Event) {
        match &mut self.order {
            Some(order) if order.holds(number) => {
                let held = self.spill.hold(event);
                // Cannot come back: the turn was checked just now.
                let _ = order.output(number, held);
            }
            _ => self.send(event).await,
        }
    }

    /// Task `number`'s `task` record: sent now, or held after its output.
    pub async fn record(&mut self, number: u64, event: Event) {
        if self.hold_records {
            self.output(number, event).await;
        } else {
            self.send(event).await;
        }
    }

    /// Task `number` will write no more (finished, or will never run).
    pub async fn release(&mut self, number: u64) {
        let Some(order) = &mut self.order else { return };
        let ready = order.finish(number);
        self.send_held(ready).await;
    }

    /// Prints whatever is still held (for tasks that never ended).
    pub async fn release_all(&mut self) {
        let Some(order) = &mut self.order else { return };
        let held = order.drain();
        self.send_held(held).await;
    }

    /// Held output, read back one piece at a time as the printer takes it.
    async fn send_held(&mut self, held: Vec<Held>) {
        for held in held {
            let event = self.spill.take(held);
            self.send(event).await;
        }
    }

    /// With `--keep-order`, the first task whose output is not yet all printed.
    pub fn next_to_print(&self) -> Option<u64> {
        self.order.as_ref().map(Order::next)
    }
}
