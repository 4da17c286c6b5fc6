//! `--keep-order`: a task's output is printed only once every earlier task has
//! finished; until then it is held here. The task whose turn it is streams at once.

use std::collections::BTreeMap;

/// Output held per task number until that task's turn comes.
#[derive(Debug)]
pub struct Order<T> {
    /// The first task number not yet finished: its output passes straight through.
    next: u64,
    /// Tasks at or after `next` with held output or already finished.
    slots: BTreeMap<u64, Slot<T>>,
}

#[derive(Debug)]
struct Slot<T> {
    held: Vec<T>,
    finished: bool,
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Order {
            next: 1,
            slots: BTreeMap::new(),
        }
    }
}

impl<T> Order<T> {
    /// Output of task `number`: returned when it may be printed now, else held.
    pub fn output(&mut self, number: u64, item: T) -> Option<T> {
        if number <= self.next {
            return Some(item);
        }
        self.slot(number).held.push(item);
        None
    }

    /// Whether output of task `number` would be held now (its turn has not come).
    pub fn holds(&self, number: u64) -> bool {
        number > self.next
    }

    /// Task `number` finished (or will never run): returns the held output that
    /// may be printed now, in task order.
    pub fn finish(&mut self, number: u64) -> Vec<T> {
        if number < self.next {
            return Vec::new();
        }
        self.slot(number).finished = true;
        let mut ready = Vec::new();
        while let Some(slot) = self.slots.remove(&self.next) {
            ready.extend(slot.held);
            if !slot.finished {
                // Its turn has come: what it holds goes out, the rest streams.
                break;
            }
            self.next += 1;
        }
        ready
    }

    /// Everything still held, in task order (for the end of a run that stopped
    /// before some tasks ended).
    pub fn drain(&mut self) -> Vec<T> {
        let slots = std::mem::take(&mut self.slots);
        slots.into_values().flat_map(|slot| slot.held).collect()
    }

    /// The first task number whose output is not yet all printed.
    pub fn next(&self) -> u64 {
        self.next
    }

    fn slot(&mut self, number: u64) -> &mut Slot<T> {
        self.slots.entry(number).or_insert_with(|| Slot {
            held: Vec::new(),
            finished: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_output_waits_for_earlier_tasks() {
        let mut o = Order::default();
        assert_eq!(o.output(3, "3a"), None);
        assert_eq!(o.output(2, "2a"), None);
        assert_eq!(o.output(1, "1a"), Some("1a"));
        assert!(o.finish(3).is_empty());
        assert_eq!(o.output(2, "2b"), None);
        // Task 1 ends: task 2's turn, its held lines go out, task 3 still waits.
        assert_eq!(o.finish(1), ["2a", "2b"]);
        assert_eq!(o.next(), 2);
        assert_eq!(o.output(2, "2c"), Some("2c"));
        assert_eq!(o.finish(2), ["3a"]);
        assert_eq!(o.next(), 4);
    }

    #[test]
    fn tasks_without_output_still_advance_the_turn() {
        let mut o: Order<&str> = Order::default();
        assert!(o.finish(2).is_empty());
        assert!(o.finish(1).is_empty());
        assert_eq!(o.next(), 3);
        assert_eq!(o.output(5, "5"), None);
        assert!(o.finish(4).is_empty());
        // Task 5's turn comes (it is still running): its held line goes out.
        assert_eq!(o.finish(3), ["5"]);
        assert_eq!(o.next(), 5);
        assert!(o.finish(5).is_empty());
        assert_eq!(o.next(), 6);
        assert_eq!(o.output(8, "8"), None);
        assert_eq!(o.output(7, "7"), None);
        assert_eq!(o.drain(), ["7", "8"]);
    }
}
