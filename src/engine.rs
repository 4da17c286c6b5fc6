//! The engine: a pure supervisor (`supervisor`) and the OS half (`os`) that carries
//! out its effects, driven by one loop on its own thread (`run`). Front ends talk
//! to it only through `Command`, `Event` and `Snapshot`.

pub mod command;
pub mod event;
pub mod os;
pub mod outbound;
pub mod output;
pub mod pool;
mod run;
mod sampling;
pub mod snapshot;
pub mod supervisor;
mod sweep;

pub use command::{Command, JoinTarget, WorkerId};
pub use event::{Event, EventKind, Stream};
pub use outbound::{EventReceiver, EventSender};
pub use output::OutputStore;
pub use run::{EngineConfig, EngineHandle, Outcome, Request, start};
pub use snapshot::{QueueStats, Snapshot, WorkerState, WorkerStats, WorkerView};
pub use supervisor::Policy;
