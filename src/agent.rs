//! `proctor agent --stdio`: a headless proctor whose control connection is its
//! own stdin and stdout, for another proctor to drive over `ssh -T`. It speaks the
//! control socket's protocol (the same server code), supervises its workers exactly
//! as a local proctor does, and holds a lease: when its input ends, or no line
//! (a blank heartbeat will do) comes for the lease, it stops everything it started
//! and exits, so a dead link never leaves workers behind on its host.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use crate::ctl::server::{self, Ctx, Ended, Link};
use crate::engine::{self, EngineConfig};

/// Exit status when the link ended by the lease (no heartbeat) or a protocol mismatch.
pub const EXIT_LINK_LOST: u8 = 1;
/// Exit status when the agent could not start (threads, descriptors).
pub const EXIT_INTERNAL: u8 = 3;

/// Finished workers kept in the agent's snapshots.
const KEEP_FINISHED: usize = 1000;

/// How the agent's run ended, for its exit status and its last words on stderr.
#[derive(Debug)]
pub enum AgentEnd {
    /// The link closed: everything stopped, as asked.
    Closed,
    /// The lease ran out or the hello failed.
    Lost(String),
    /// The engine ended by itself (a signal to the agent).
    EngineEnded,
}

/// Runs the agent until its link ends. Call before any thread starts (it moves
/// the link off descriptors 0 and 1, so no worker can inherit it).
pub fn run(lease: Duration, max_parallel: Option<usize>) -> Result<AgentEnd, String> {
    let (input, output) = take_link().map_err(|e| format!("cannot set up stdin/stdout: {e}"))?;
    crate::contain::init();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = EngineConfig {
        // Launches come through the link; its end stops the work.
        close_queue: false,
        // Output reaches the link through the tap only, so no front end reads events.
        output_events: false,
        ..EngineConfig::default()
    };
    config.policy.max_parallel = max_parallel.unwrap_or(cpus);
    // A long map run sends many tasks; finished ones are reported, then retired.
    config.policy.keep_finished = Some(KEEP_FINISHED);
    let mut engine =
        engine::start(config, Vec::new()).map_err(|e| format!("cannot start the engine: {e}"))?;
    let link = Link {
        requests: engine.requests.clone(),
        snapshot: engine.snapshot.clone(),
        store: engine.store.clone(),
        tap: engine.tap.clone(),
    };
    let ctx = Ctx::new(link, "agent".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the agent's runtime: {e}"))?;
    let end = rt.block_on(async {
        let rd = tokio::fs::File::from_std(input);
        let wr = tokio::fs::File::from_std(output);
        tokio::select! {
            ended = server::serve_io(rd, wr, ctx, Some(lease)) => match ended {
                Ended::Closed => AgentEnd::Closed,
                Ended::LeaseExpired => AgentEnd::Lost(format!(
                    "no line from the link for {}s (the lease): stopped every worker",
                    lease.as_secs_f64()
                )),
                Ended::Mismatch => AgentEnd::Lost("the client speaks another protocol".into()),
                Ended::NoHello => AgentEnd::Lost(format!(
                    "the input ended without a hello: the agent is for another proctor to \
                     drive (`proctor map --hosts`); its first line must be \
                     {{\"hello\":{{\"protocols\":[{}]}}}}",
                    crate::ctl::protocol::spoken()
                )),
            },
            // Nobody else reads the engine's events; they end when it does.
            () = async { while engine.events.recv().await.is_some() {} } => AgentEnd::EngineEnded,
        }
    });
    // A read of the link may still block in the runtime's pool; nothing waits for it.
    rt.shutdown_background();
    // Stops every worker (the stop ladder) and waits until each is reaped.
    drop(engine);
    Ok(end)
}

/// Moves the link (fds 0 and 1) to close-on-exec descriptors and puts /dev/null
/// and stderr in their place: a worker with `stdin: inherit` reads nothing and
/// no worker can write into the protocol stream.
fn take_link() -> std::io::Result<(File, File)> {
    let input: OwnedFd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output: OwnedFd = std::io::stdout().as_fd().try_clone_to_owned()?;
    let null = File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null).map_err(std::io::Error::from)?;
    nix::unistd::dup2_stdout(std::io::stderr().as_fd()).map_err(std::io::Error::from)?;
    Ok((File::from(input), File::from(output)))
}
