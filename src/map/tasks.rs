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
    /// `--header :`: each input's first record, in the order of the values.
    pub names: Vec<Vec<u8>>,
}

impl Tasks {
    /// Opens every input now (an unreadable file is a usage error); several
    /// inputs are read in full here, to be combined.
    /// With `header`, each input's first record names its values instead.
    pub fn open(
        inputs: &Inputs,
        reading: &Reading,
        batch: usize,
        header: bool,
    ) -> Result<Tasks, String> {
        let stdin_uses = inputs.origins().filter(|o| o.reads_stdin()).count();
        if stdin_uses > 1 {
            return Err("stdin is given as an input twice; it can be read only once".into());
        }
        let origins: Vec<&Origin> = inputs.origins().collect();
        let mut names = Vec::new();
        let (items, count): (Box<dyn Iterator<Item = Item> + Send>, _) = match origins[..] {
            [origin] => {
                let total = match origin {
                    Origin::Words(words) => Total::known(
                        (words
                            .iter()
                            .filter(|w| reading.allow_empty || !w.is_empty())
                            .count()
                            .saturating_sub(usize::from(header)))
                        .div_ceil(batch) as u64,
                    ),
                    Origin::File(path) if reading.delimiter == b'\n' && !header => {
                        Total::count(path, reading.allow_empty, batch as u64)
                    }
                    _ => Total::unknown(),
                };
                let mut source = Source::open(origin, reading)?;
                if header {
                    names = source.take_header()?.unwrap_or_default();
                }
                (Box::new(source), total)
            }
            _ => {
                let combined = Combined::read(inputs, reading, header.then_some(&mut names))?;
                let total = Total::known(combined.len.div_ceil(batch as u64));
                (Box::new(combined), total)
            }
        };
        let items = if batch > 1 {
            Box::new(Batches {
                items,
                size: batch,
                bytes: None,
                next_number: 1,
                held: None,
            })
        } else {
            items
        };
        Ok(Tasks {
            items,
            total: count,
            names,
        })
    }

    /// `--pipe`: the blocks of stdin, each a task.
    pub fn piped(blocks: super::pipe::Blocks) -> Tasks {
        Tasks {
            items: Box::new(blocks),
            total: Total::unknown(),
            names: Vec::new(),
        }
    }

    /// `-X`: as many records to a task as fit in `budget` bytes of command
    /// line, each costing its length plus `per_value`, and at most `records`.
    pub fn packed(self, budget: usize, per_value: usize, records: usize) -> Tasks {
        Tasks {
            items: Box::new(Batches {
                items: self.items,
                size: records,
                bytes: Some((budget, per_value)),
                next_number: 1,
                held: None,
            }),
            total: Total::unknown(),
            names: self.names,
        }
    }

    /// `--shuf`: every task read now, then given out in random order and
    /// numbered in that order (so `{#}` and the joblog count runs as they start).
    pub fn shuffled(self) -> Tasks {
        let mut items: Vec<Item> = self.items.collect();
        shuffle(&mut items, seed());
        let mut number = 0;
        for item in &mut items {
            if let Item::Task(task) | Item::TooLong { task, .. } = item {
                number += 1;
                task.number = number;
            }
        }
        Tasks {
            total: Total::known(number),
            items: Box::new(items.into_iter()),
            names: self.names,
        }
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

/// Fisher–Yates with splitmix64: an order nobody should rely on, not a secret.
fn shuffle<T>(items: &mut [T], mut state: u64) {
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
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
    /// With `names`, each input's first record is its header, added there.
    fn read(
        inputs: &Inputs,
        reading: &Reading,
        mut names: Option<&mut Vec<Vec<u8>>>,
    ) -> Result<Combined, String> {
        let mut groups = Vec::new();
        for group in &inputs.groups {
            let mut linked = Vec::new();
            for origin in group {
                let mut records = read_all(origin, reading)?;
                if let Some(names) = names.as_deref_mut()
                    && !records.is_empty()
                {
                    names.extend(records.remove(0).values);
                }
                linked.push(records);
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
    /// `-X`: the byte budget of one task, and what each value costs beyond its length.
    bytes: Option<(usize, usize)>,
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
        let mut used = 0usize;
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
                    if let Some((budget, per_value)) = self.bytes {
                        let cost: usize = task.values.iter().map(|v| v.len() + per_value).sum();
                        // The first record always goes, so a long one still runs (alone).
                        if taken > 0 && used + cost > budget {
                            self.held = Some(Item::Task(task));
                            break;
                        }
                        used += cost;
                    }
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

    fn inputs_of(groups: Vec<Vec<Origin>>) -> Inputs {
        Inputs { groups }
    }

    #[test]
    fn headers_name_the_values_of_every_input() {
        let inputs = inputs_of(vec![
            vec![words(&["x", "a", "b"])],
            vec![words(&["y", "1"])],
        ]);
        let tasks = Tasks::open(&inputs, &Reading::default(), 1, true).unwrap();
        assert_eq!(tasks.names, [b"x".to_vec(), b"y".to_vec()]);
        assert_eq!(tasks.total.get(), Some(2));
        let one = Tasks::open(
            &inputs_of(vec![vec![words(&["x", "a"])]]),
            &Reading::default(),
            1,
            true,
        )
        .unwrap();
        assert_eq!(one.names, [b"x".to_vec()]);
        assert_eq!(one.total.get(), Some(1));
        let items: Vec<Item> = one.items().collect();
        assert_eq!(items, [Item::Task(Task::single(1, b"a".to_vec()))]);
    }

    fn run(groups: Vec<Vec<Origin>>, batch: usize) -> Vec<String> {
        let tasks = Tasks::open(&inputs_of(groups), &Reading::default(), batch, false).unwrap();
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
    fn packing_fills_a_byte_budget() {
        let inputs = inputs_of(vec![vec![words(&["aaaa", "bb", "cc", "dddddddd", "e"])]]);
        let tasks = Tasks::open(&inputs, &Reading::default(), 1, false).unwrap();
        // Each value costs its length + 2: 6+4 fit in 10, then 4, then 10, then 3.
        let got: Vec<String> = tasks
            .packed(10, 2, usize::MAX)
            .items()
            .map(|item| match item {
                Item::Task(t) => format!("{}:{}", t.number, String::from_utf8_lossy(&t.input)),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got, ["1:aaaa bb", "2:cc", "3:dddddddd", "4:e"]);
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
    fn shuffling_keeps_every_task_and_numbers_them_afresh() {
        let mut items: Vec<u32> = (0..100).collect();
        shuffle(&mut items, 42);
        assert_ne!(
            items,
            (0..100).collect::<Vec<_>>(),
            "a fixed seed moves things"
        );
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
        let tasks = Tasks::open(
            &inputs_of(vec![vec![words(&["a", "b", "c"])]]),
            &Reading::default(),
            1,
            false,
        )
        .unwrap()
        .shuffled();
        assert_eq!(tasks.total.get(), Some(3));
        let mut seen: Vec<(u64, Vec<u8>)> = tasks
            .items()
            .map(|item| match item {
                Item::Task(t) => (t.number, t.input),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3]);
        seen.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            seen.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
            [b"a", b"b", b"c"]
        );
    }

    #[test]
    fn stdin_may_be_read_once() {
        let inputs = Inputs {
            groups: vec![vec![Origin::Stdin], vec![Origin::File("-".into())]],
        };
        let err = Tasks::open(&inputs, &Reading::default(), 1, false)
            .err()
            .unwrap();
        assert!(err.contains("twice"), "{err}");
    }
}
