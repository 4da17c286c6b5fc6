//! The engine: a pure supervisor (`supervisor`) and the OS half (`os`) that carries
//! out its effects. Front ends talk to it only through `Command`, `Event` and
//! `Snapshot`.

pub mod command;
pub mod event;
pub mod snapshot;

pub use command::{Command, JoinTarget, WorkerId};
pub use event::{Event, EventKind, Stream};
pub use snapshot::{QueueStats, Snapshot, WorkerState, WorkerStats, WorkerView};
