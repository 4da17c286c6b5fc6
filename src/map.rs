//! Map mode: one command template over many tasks (like `Pool.map`, `xargs -P`,
//! GNU parallel). Each task becomes one worker named `task-N`; tasks are read
//! lazily from stdin, `--tasks FILE` or the words after `:::`.
//!
//! Map mode is headless for now: JSON Lines on stdout, even on a terminal.

mod attempt;
mod driver;
mod halt;
mod joblog;
mod order;
mod outbox;
mod source;
mod template;

use std::fmt;
use std::io::IsTerminal;

use tokio::sync::mpsc;

use crate::cli::{MapArgs, OutputMode};
use crate::engine::{self, EngineConfig, Outcome};
use crate::{headless, setup};
use driver::{Driver, Records, Settings};
use halt::HaltRule;
use joblog::{Joblog, Succeeded};
use source::{Origin, Source, Total};
use template::Template;

pub use attempt::worker_name;

/// The word that separates the template from tasks given as arguments.
pub const TASKS_FOLLOW: &str = ":::";

/// Tasks read ahead of the window, so a slow input rarely leaves a slot idle.
const READ_AHEAD: usize = 64;

/// Why map mode could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// A bad flag, template, rule or file: nothing was started.
    Usage(String),
    /// proctor itself could not run (threads, runtime).
    Internal(String),
}

impl MapError {
    /// 2 for usage errors, 3 for internal ones (as for plain runs).
    pub fn exit_code(&self) -> u8 {
        match self {
            MapError::Usage(_) => 2,
            MapError::Internal(_) => 3,
        }
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Usage(m) | MapError::Internal(m) => f.write_str(m),
        }
    }
}

/// A checked map run: everything opened, nothing started.
struct Plan {
    settings: Settings,
    origin: Origin,
    source: Source,
    resume: Succeeded,
    joblog: Option<Joblog>,
    config: EngineConfig,
}

/// Runs the tasks and prints events until every task has finished (or the run
/// was halted or interrupted). Bad arguments are reported before anything starts.
pub fn run(args: &MapArgs) -> Result<Outcome, MapError> {
    let plan = plan(args).map_err(MapError::Usage)?;
    let internal = |what: &str, e: std::io::Error| MapError::Internal(format!("{what}: {e}"));
    if !args.common.headless && std::io::stdout().is_terminal() {
        eprintln!("proctor: map mode has no terminal UI yet; printing JSON Lines events");
    }
    if plan.origin == Origin::Stdin && std::io::stdin().is_terminal() {
        eprintln!("proctor: reading tasks from the terminal, one per line; end with Ctrl-D");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| internal("cannot start the map driver", e))?;
    let total = Total::start(&plan.origin, args.allow_empty);
    let tasks = plan
        .source
        .spawn(READ_AHEAD)
        .map_err(|e| internal("cannot start the task reader", e))?;
    let mut engine = engine::start(plan.config, Vec::new())
        .map_err(|e| internal("cannot start the engine", e))?;
    let records = Records {
        resume: plan.resume,
        joblog: plan.joblog,
    };
    let driver = Driver::new(plan.settings, records, total, engine.commands.clone());
    let (printer, mut to_print) = mpsc::channel(4096);
    let thread = std::thread::Builder::new()
        .name("proctor-map".into())
        .spawn(move || {
            let ok = runtime.block_on(driver.run(&mut engine.events, tasks, printer));
            (ok, engine.wait())
        })
        .map_err(|e| internal("cannot start the map driver", e))?;
    // Returns early when stdout is gone; dropping the channel then tells the
    // driver that nobody is watching, and it stops the run.
    headless::print_events(&mut to_print);
    drop(to_print);
    let (ok, outcome) = thread
        .join()
        .map_err(|_| MapError::Internal("the map driver failed".into()))?;
    Ok(Outcome {
        ok,
        interrupted: outcome.interrupted,
    })
}

fn plan(args: &MapArgs) -> Result<Plan, String> {
    if args.common.control.is_some() {
        return Err(
            "--control is not available in map mode: tasks come from stdin, --tasks FILE \
             or the words after ':::'"
                .into(),
        );
    }
    let (template_words, task_words) = split_tasks(&args.template);
    let template = Template::parse(template_words, args.shell)?;
    let origin = match (task_words, &args.tasks) {
        (Some(_), Some(_)) => {
            return Err("give tasks either after ':::' or with --tasks FILE, not both".into());
        }
        (Some(words), None) => Origin::Words(words.to_vec()),
        (None, Some(path)) => Origin::File(path.clone()),
        (None, None) => Origin::Stdin,
    };
    let halt = match &args.halt {
        Some(text) => HaltRule::parse(text)?,
        None => None,
    };
    let source = Source::open(&origin, args.allow_empty)?;
    let resume = match (&args.joblog, args.resume) {
        (Some(path), true) => Succeeded::read(path)?,
        _ => Succeeded::default(),
    };
    if let (Some(log), Origin::File(tasks)) = (&args.joblog, &origin)
        && same_file(log, tasks)
    {
        return Err(format!(
            "--joblog '{}' is the --tasks file: writing the joblog would overwrite the \
             tasks; give another path",
            log.display()
        ));
    }
    // Opened last: without --resume this starts the file afresh.
    let joblog = match &args.joblog {
        Some(path) => Some(Joblog::open(path, args.resume)?),
        None => None,
    };
    let mut config = setup::engine_config(&args.common, None, None);
    config.close_queue = false;
    // Output is always counted for the joblog; the driver forwards it only when asked.
    config.output_events = true;
    let max_parallel = config.policy.max_parallel;
    // A map run may have millions of tasks: the engine keeps only the latest
    // finished workers (the joblog and `task` events have every result).
    config.policy.keep_finished = Some(window(max_parallel));
    let settings = Settings {
        template,
        timeout: args.timeout,
        retries: args.retries,
        halt,
        keep_order: args.keep_order,
        forward_output: args.common.output == OutputMode::Events,
        window: window(max_parallel),
        max_parallel,
    };
    Ok(Plan {
        settings,
        origin,
        source,
        resume,
        joblog,
        config,
    })
}

/// Both paths name one existing file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Most tasks read but not finished at once: enough to keep every slot busy.
pub fn window(max_parallel: usize) -> usize {
    (4 * max_parallel).max(64)
}

/// Splits `TEMPLATE... ::: TASK...` at the first `:::`.
fn split_tasks(words: &[String]) -> (&[String], Option<&[String]>) {
    match words.iter().position(|w| w == TASKS_FOLLOW) {
        Some(i) => (&words[..i], Some(&words[i + 1..])),
        None => (words, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_follow_the_first_separator() {
        let words: Vec<String> = ["echo", "{}", ":::", "a", ":::", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (template, tasks) = split_tasks(&words);
        assert_eq!(template, ["echo", "{}"]);
        assert_eq!(tasks.unwrap(), ["a", ":::", "b"]);
        assert_eq!(split_tasks(&words[..2]), (&words[..2], None));
    }

    #[test]
    fn the_window_scales_with_the_pool() {
        assert_eq!(window(1), 64);
        assert_eq!(window(32), 128);
    }
}
