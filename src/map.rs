//! Map mode: one command template over many tasks (like `Pool.map`, `xargs -P`,
//! GNU parallel). Each task becomes one worker named `task-N`; tasks are read
//! lazily from stdin, `--tasks FILE` or the words after `:::`.
//!
//! On a terminal, map mode shows the terminal UI (task counts, throughput, ETA,
//! the slowest running tasks); otherwise, or with `--headless`, it prints JSON
//! Lines events. Either way the driver stands between the engine and the front end.

mod attempt;
mod driver;
mod dry_run;
mod halt;
mod joblog;
mod notes;
mod order;
mod outbox;
mod plain;
mod pool_run;
mod source;
mod tasks;
mod template;
mod words;

use std::fmt;
use std::io::IsTerminal;

use tokio::sync::mpsc;

use crate::cli::{MapArgs, OutputMode};
use crate::engine::{self, EngineConfig, EngineHandle, Outcome};
use crate::{headless, setup, tui};
use driver::{Driver, Records, Settings};
use halt::HaltRule;
use joblog::{Joblog, Succeeded};
use notes::Notes;
use source::{Item, Origin, Reading, Total};
use tasks::{Inputs, Tasks};
use template::Template;

pub use attempt::worker_name;

/// The word that separates the template from tasks given as arguments.
pub const TASKS_FOLLOW: &str = words::WORDS;

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
    front: Front,
    plain: plain::Options,
    inputs: Inputs,
    tasks: Tasks,
    resume: Succeeded,
    joblog: Option<Joblog>,
    config: EngineConfig,
}

/// Runs the tasks until every task has finished (or the run was halted,
/// interrupted or quit): in the terminal UI when stdout is a terminal, else
/// printing the tasks' output (or JSON Lines events with `--json`). Bad
/// arguments are reported before anything starts.
pub fn run(
    args: &MapArgs,
    instance: Option<crate::ctl::instance::Instance>,
) -> Result<Outcome, MapError> {
    if let Some(workers) = args.pool {
        return pool_run::run(args, workers, instance);
    }
    let plan = plan(args).map_err(MapError::Usage)?;
    if args.dry_run {
        return Ok(dry_run::print(plan.tasks, &plan.settings));
    }
    let front = plan.front;
    if front != Front::Ui && plan.inputs.reads_stdin() && std::io::stdin().is_terminal() {
        eprintln!("proctor: reading tasks from the terminal, one per line; end with Ctrl-D");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| internal("cannot start the map driver", e))?;
    let total = plan.tasks.total.clone();
    let tasks = plan
        .tasks
        .spawn(READ_AHEAD)
        .map_err(|e| internal("cannot start the task reader", e))?;
    let engine = engine::start(plan.config, Vec::new())
        .map_err(|e| internal("cannot start the engine", e))?;
    // Held until the run ends: the socket answers `proctor ctl` meanwhile.
    let _socket = crate::ctl::serve(instance, &engine).map_err(MapError::Internal)?;
    let started = Started {
        runtime,
        settings: plan.settings,
        records: Records {
            resume: plan.resume,
            joblog: plan.joblog,
        },
        total,
        tasks,
        engine,
    };
    match front {
        Front::Ui => run_with_ui(started),
        Front::Json => run_headless(started, Printer::Json),
        Front::Plain => run_headless(started, Printer::Plain(plan.plain)),
    }
}

/// Who shows the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Front {
    Ui,
    /// JSON Lines events (`--json`, `--headless`).
    Json,
    /// The tasks' own output (`plain.rs`).
    Plain,
}

/// JSON with `--json`/`--headless`; plain output when asked for one of its
/// options, when stdout is not a terminal, or when the run needs the terminal
/// for itself; else the terminal UI.
fn front(args: &MapArgs, inputs: &Inputs) -> Result<Front, String> {
    let plain_flags = [
        (args.plain, "--plain"),
        (args.group, "--group"),
        (args.line_buffer, "--line-buffer"),
        (args.ungroup, "--ungroup"),
        (args.tag, "--tag"),
        (args.tagstring.is_some(), "--tagstring"),
        (args.results.is_some(), "--results"),
    ];
    let asked_plain = plain_flags
        .iter()
        .find(|(set, _)| *set)
        .map(|(_, flag)| *flag);
    if args.json || args.common.headless {
        if let Some(flag) = asked_plain {
            return Err(format!(
                "{flag} is for plain output, and --json/--headless print JSON Lines events \
                 instead: leave one of them out"
            ));
        }
        return Ok(Front::Json);
    }
    if asked_plain.is_some() || !std::io::stdout().is_terminal() || args.keep_order {
        return Ok(Front::Plain);
    }
    if inputs.reads_stdin() && std::io::stdin().is_terminal() {
        eprintln!(
            "proctor: tasks come from the terminal, so map mode prints their output; \
             give them after ':::', with -a FILE or through a pipe for the terminal UI"
        );
        return Ok(Front::Plain);
    }
    Ok(Front::Ui)
}

/// How the headless printer shows the run.
enum Printer {
    Json,
    Plain(plain::Options),
}

fn internal(what: &str, e: std::io::Error) -> MapError {
    MapError::Internal(format!("{what}: {e}"))
}

/// Everything started but the driver, which each front end wires up its own way.
struct Started {
    runtime: tokio::runtime::Runtime,
    settings: Settings,
    records: Records,
    total: Total,
    tasks: mpsc::Receiver<Item>,
    engine: EngineHandle,
}

/// Prints the driver's events (as JSON Lines, or the tasks' output) until the
/// engine has ended.
fn run_headless(started: Started, shown_as: Printer) -> Result<Outcome, MapError> {
    let Started {
        runtime,
        settings,
        records,
        total,
        tasks,
        mut engine,
    } = started;
    let commands = engine.commands.clone();
    let driver = Driver::new(settings, records, total, commands, Notes::stderr());
    let (printer, mut to_print) = crate::engine::outbound::channel();
    let thread = std::thread::Builder::new()
        .name("proctor-map".into())
        .spawn(move || {
            let finish = runtime.block_on(driver.run(&mut engine.events, tasks, printer, None));
            (finish.ok, engine.wait())
        })
        .map_err(|e| internal("cannot start the map driver", e))?;
    // Returns early when stdout is gone; dropping the channel then tells the
    // driver that nobody is watching, and it stops the run.
    let printed = match shown_as {
        Printer::Json => {
            headless::print_events(&mut to_print);
            None
        }
        Printer::Plain(options) => Some(plain::print(&mut to_print, options)),
    };
    drop(to_print);
    let (ok, outcome) = thread
        .join()
        .map_err(|_| MapError::Internal("the map driver failed".into()))?;
    let troubled = printed.as_ref().is_some_and(|p| p.troubled);
    if let Some(printed) = printed
        && printed.failed > 0
        && printed.complete
    {
        eprintln!(
            "proctor: {} of {} task(s) failed",
            printed.failed, printed.tasks
        );
    }
    Ok(Outcome {
        ok: ok && !troubled,
        interrupted: outcome.interrupted,
    })
}

/// Shows the terminal UI until the user quits (or proctor is interrupted).
fn run_with_ui(started: Started) -> Result<Outcome, MapError> {
    let Started {
        runtime,
        settings,
        records,
        total,
        tasks,
        mut engine,
    } = started;
    // The UI talks to the driver as if it were the engine: its commands pass
    // through the driver (which notes quit and join all), and it gets the
    // driver's events (task counts and results). The handle stays the UI's, so
    // its drop still stops everything if the UI fails.
    let (to_driver, controls) = mpsc::unbounded_channel();
    let (to_ui, from_driver) = crate::engine::outbound::channel();
    let commands = std::mem::replace(&mut engine.commands, to_driver);
    let mut events = std::mem::replace(&mut engine.events, from_driver);
    let driver = Driver::new(settings, records, total, commands, Notes::held());
    let thread = std::thread::Builder::new()
        .name("proctor-map".into())
        .spawn(move || runtime.block_on(driver.run(&mut events, tasks, to_ui, Some(controls))))
        .map_err(|e| internal("cannot start the map driver", e))?;
    // Returns once the driver's events have ended: the driver is done.
    let shown = tui::run_map(engine);
    let finish = thread
        .join()
        .map_err(|_| MapError::Internal("the map driver failed".into()))?;
    // Held while the UI had the screen.
    for note in &finish.notes {
        eprintln!("proctor: {note}");
    }
    let outcome = shown.map_err(|e| MapError::Internal(e.to_string()))?;
    Ok(Outcome {
        ok: finish.ok,
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
    setup::check_common(&args.common)?;
    let (template_words, inputs) = words::split(&args.template, &args.arg_files)?;
    let reading = Reading {
        delimiter: if args.null { 0 } else { b'\n' },
        allow_empty: args.allow_empty,
        colsep: args.colsep.as_deref().map(colsep).transpose()?,
    };
    let batch = args.max_args as usize;
    let template = Template::parse(
        &template_words,
        args.shell,
        inputs.values_per_task(&reading, batch),
    )?;
    let halt = match &args.halt {
        Some(text) => HaltRule::parse(text)?,
        None => None,
    };
    let tasks = Tasks::open(&inputs, &reading, batch)?;
    let resume = match (&args.joblog, args.resume) {
        (Some(path), true) => Succeeded::read(path)?,
        _ => Succeeded::default(),
    };
    let files = inputs.groups.iter().flatten().filter_map(|o| match o {
        Origin::File(path) => Some(path),
        _ => None,
    });
    if let Some(log) = &args.joblog
        && let Some(tasks) = files.into_iter().find(|f| same_file(log, f))
    {
        return Err(format!(
            "--joblog '{}' is an input file ('{}'): writing the joblog would overwrite the \
             tasks; give another path",
            log.display(),
            tasks.display()
        ));
    }
    // Opened last: without --resume this starts the file afresh.
    let joblog = match &args.joblog {
        Some(path) => Some(Joblog::open(path, args.resume)?),
        None => None,
    };
    let front = front(args, &inputs)?;
    let is_plain = front == Front::Plain;
    let tags = match (&args.tagstring, args.tag) {
        (Some(text), _) => Some(plain::Tags::new(Some(template::Word::parse(text)?))),
        (None, true) => Some(plain::Tags::new(None)),
        (None, false) => None,
    };
    if tags.is_some() && args.ungroup {
        return Err(
            "--tag and --tagstring need whole lines: use them with --group \
                    (the default) or --line-buffer, not --ungroup"
                .into(),
        );
    }
    let grouping = if args.ungroup {
        plain::Grouping::Ungroup
    } else if args.line_buffer {
        plain::Grouping::LineBuffer
    } else {
        plain::Grouping::Group
    };
    let mut config = setup::engine_config(&args.common, None, None);
    config.close_queue = false;
    // Output is always counted for the joblog: as lines for JSON and the UI, as
    // bytes for plain output. The driver forwards lines only when asked.
    config.output_events = !is_plain;
    config.raw_output = is_plain;
    let max_parallel = config.policy.max_parallel;
    // A map run may have millions of tasks: the engine keeps only the latest
    // finished workers (the joblog and `task` events have every result).
    config.policy.keep_finished = Some(window(max_parallel));
    let settings = Settings {
        template,
        timeout: args.timeout,
        retries: args.retries.unwrap_or(0),
        halt,
        keep_order: args.keep_order,
        forward_output: front == Front::Json && args.common.output == OutputMode::Events,
        plain: is_plain,
        tags: tags.clone(),
        window: window(max_parallel),
        max_parallel,
    };
    Ok(Plan {
        settings,
        front,
        plain: plain::Options {
            grouping,
            tags,
            results: args.results.clone(),
        },
        inputs,
        tasks,
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

fn colsep(text: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(text)
        .map_err(|e| format!("--colsep '{text}' is not a regular expression: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_scales_with_the_pool() {
        assert_eq!(window(1), 64);
        assert_eq!(window(32), 128);
    }
}
