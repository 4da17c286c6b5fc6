//! Map mode's tasks from all its inputs: one input streams lazily; several are
//! combined as GNU parallel does (`:::` groups multiply, the first varying
//! slowest; `:::+` links an input to the one before, wrapping the shorter), and
//! `-n N` puts N records into each task. A thread reads ahead of the driver.

use tokio::sync::mpsc;

use super::source::{Item, MAX_TASK_BYTES, Origin, Reading, Source, Task, Total};

/// The inputs of a run: groups multiply, inputs in a group are linked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub groups: Vec<Vec<Origin>>,
}

impl Inputs {
    pub fn reads_stdin(&self) -> bool {
        self.origins().any(Origin::reads_stdin)
    }

    fn origins(&self) -> impl Iterator<Item = &Origin> {
        self.groups.iter().flatten()
    }

    /// How many values each task has, when known before reading.
    pub fn values_per_task(&self, reading: &Reading, batch: usize) -> Option<usize> {
        if reading.colsep.is_some() {
            return None;
        }
        Some(self.origins().count() * batch)
    }
}

/// The tasks of a run, in order.
pub struct Tasks {
    items: Box<dyn Iterator<Item = Item> + Send>,
    pub total: Total,
}

impl Tasks {
    /// Opens every input now (an unreadable file is a usage error); several
    /// inputs are read in full here, to be combined.
    pub fn open(inputs: &Inputs, reading: &Reading, batch: usize) -> Result<Tasks, String> {
        let stdin_uses = inputs.origins().filter(|o| o.reads_stdin()).count();
        if stdin_uses > 1 {
            return Err("stdin is given as an input twice; it can be read only once".into());
        }
        let origins: Vec<&Origin> = inputs.origins().collect();
        let (items, count): (Box<dyn Iterator<Item = Item> + Send>, _) = match origins[..] {
            [origin] => {
                let total = match origin {
                    Origin::Words(words) => Total::known(
                        words
                            .iter()
                            .filter(|w| reading.allow_empty || !w.is_empty())
                            .count()
                            .div_ceil(batch) as u64,
                    ),
                    Origin::File(path) if reading.delimiter == b'\n' => {
                        Total::count(path, reading.allow_empty, batch as u64)
                    }
                    _ => Total::unknown(),
                };
                (Box::new(Source::open(origin, reading)?), total)
            }
            _ => {
                let combined = Combined::read(inputs, reading)?;
                let total = Total::known(combined.len.div_ceil(batch as u64));
                (Box::new(combined), total)
            }
        };
        let items = if batch > 1 {
            Box::new(Batches {
                items,
                size: batch,
                next_number: 1,
                held: None,
            })
        } else {
            items
        };
        Ok(Tasks {
            items,
            total: count,
        })
    }

    /// Reads tasks on a thread and hands them over through a channel holding at
    /// most `capacity` of them, so reading stays just ahead of running.
    pub fn spawn(self, capacity: usize) -> std::io::Result<mpsc::Receiver<Item>> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let mut items = self.items;
        std::thread::Builder::new()
            .name("proctor-tasks".into())
            .spawn(move || {
                for item in items.by_ref() {
                    // The driver is gone (halted or finished): stop reading.
                    if tx.blocking_send(item).is_err() {
                        break;
                    }
                }
            })?;
        Ok(rx)
    }

    /// Every task, read here (for `--dry-run`).
    pub fn items(self) -> impl Iterator<Item = Item> {
        self.items
    }
}

/// Several inputs, read in full, combined by index.
struct Combined {
    /// Per group, per input: its records.
    groups: Vec<Vec<Vec<Task>>>,
    /// Tasks per group (its longest input).
    sizes: Vec<u64>,
    len: u64,
    next: u64,
}

impl Combined {
    fn read(inputs: &Inputs, reading: &Reading) -> Result<Combined, String> {
        let mut groups = Vec::new();
        for group in &inputs.groups {
            let mut linked = Vec::new();
            for origin in group {
                linked.push(read_all(origin, reading)?);
            }
            groups.push(linked);
        }
        let sizes: Vec<u64> = groups
            .iter()
            .map(|g: &Vec<Vec<Task>>| g.iter().map(Vec::len).max().unwrap_or(0) as u64)
            .collect();
        let len = sizes
            .iter()
            .try_fold(1u64, |n, s| n.checked_mul(*s))
            .ok_or("the inputs combine into more tasks than can be counted")?;
        Ok(Combined {
            groups,
            sizes,
            len,
            next: 0,
        })
    }
}

impl Iterator for Combined {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.next >= self.len {
            return None;
        }
        let mut rest = self.next;
        self.next += 1;
        // The last group varies fastest.
        let mut picks = vec![0u64; self.sizes.len()];
        for (g, size) in self.sizes.iter().enumerate().rev() {
            picks[g] = rest % size;
            rest /= size;
        }
        let mut input = Vec::new();
        let mut values = Vec::new();
        for (group, pick) in self.groups.iter().zip(picks) {
            for records in group {
                // A shorter linked input wraps around (as parallel's --link).
                let record = &records[(pick % records.len() as u64) as usize];
                if !input.is_empty() || !values.is_empty() {
                    input.push(b' ');
                }
                input.extend_from_slice(&record.input);
                values.extend(record.values.iter().cloned());
            }
        }
        Some(Item::Task(Task {
            number: self.next,
            input,
            values,
        }))
    }
}

fn read_all(origin: &Origin, reading: &Reading) -> Result<Vec<Task>, String> {
    let mut records = Vec::new();
    for item in Source::open(origin, reading)? {
        match item {
            Item::Task(task) => records.push(task),
            Item::TooLong { task, len } => {
                return Err(format!(
                    "record {} of an input is {len} bytes long; one argument can carry \
                     at most {MAX_TASK_BYTES} bytes",
                    task.number
                ));
            }
            Item::ReadError(message) => return Err(message),
        }
    }
    Ok(records)
}

/// `-n N`: N records to a task, numbered afresh.
struct Batches {
    items: Box<dyn Iterator<Item = Item> + Send>,
    size: usize,
    next_number: u64,
    /// An item that ended a batch early, given out next.
    held: Option<Item>,
}

impl Iterator for Batches {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let number = self.next_number;
        let mut batch = Task {
            number,
            input: Vec::new(),
            values: Vec::new(),
        };
        let mut taken = 0;
        while taken < self.size {
            let item = match self.held.take() {
                Some(item) => item,
                None => match self.items.next() {
                    Some(item) => item,
                    None => break,
                },
            };
            match item {
                Item::Task(task) => {
                    if taken > 0 {
                        batch.input.push(b' ');
                    }
                    batch.input.extend_from_slice(&task.input);
                    batch.values.extend(task.values);
                    taken += 1;
                }
                // Anything else goes out alone, after the batch so far.
                mut other => {
                    if taken > 0 {
                        self.held = Some(other);
                        break;
                    }
                    if let Item::TooLong { task, .. } = &mut other {
                        task.number = number;
                    }
                    self.next_number += 1;
                    return Some(other);
                }
            }
        }
        if taken == 0 {
            return None;
        }
        self.next_number += 1;
        Some(Item::Task(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Origin {
        Origin::Words(list.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn run(groups: Vec<Vec<Origin>>, batch: usize) -> Vec<String> {
        let tasks = Tasks::open(&Inputs { groups }, &Reading::default(), batch).unwrap();
        tasks
            .items()
            .map(|item| match item {
                Item::Task(t) => {
                    let values: Vec<String> = t
                        .values
                        .iter()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .collect();
                    format!("{}:{}", t.number, values.join(","))
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn groups_multiply_with_the_first_varying_slowest() {
        let got = run(vec![vec![words(&["a", "b"])], vec![words(&["1", "2"])]], 1);
        assert_eq!(got, ["1:a,1", "2:a,2", "3:b,1", "4:b,2"]);
    }

    #[test]
    fn linked_inputs_go_together_and_the_shorter_wraps() {
        let got = run(vec![vec![words(&["a", "b", "c"]), words(&["1", "2"])]], 1);
        assert_eq!(got, ["1:a,1", "2:b,2", "3:c,1"]);
    }

    #[test]
    fn batches_take_n_records() {
        let got = run(vec![vec![words(&["a", "b", "c", "d", "e"])]], 2);
        assert_eq!(got, ["1:a,b", "2:c,d", "3:e"]);
    }

    #[test]
    fn an_empty_input_makes_no_tasks() {
        assert!(run(vec![vec![words(&["a"])], vec![words(&[])]], 1).is_empty());
    }

    #[test]
    fn stdin_may_be_read_once() {
        let inputs = Inputs {
            groups: vec![vec![Origin::Stdin], vec![Origin::File("-".into())]],
        };
        let err = Tasks::open(&inputs, &Reading::default(), 1).err().unwrap();
        assert!(err.contains("twice"), "{err}");
    }
}
