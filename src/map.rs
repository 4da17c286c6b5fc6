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
mod front;
mod halt;
mod header;
mod hosts;
mod joblog;
mod notes;
mod opening;
mod order;
mod outbox;
mod pack;
mod pipe;
mod plain;
mod pool_run;
mod progress;
mod source;
mod spill;
mod tasks;
mod template;
mod words;

use std::fmt;
use std::io::IsTerminal;

use tokio::sync::mpsc;

use crate::cli::{ExitStatusArg, MapArgs, OutputMode};
use crate::engine::{self, EngineConfig, EngineHandle, Outcome};
use crate::{headless, setup, tui};
use driver::{Driver, Finish, Records, Settings};
use front::{Front, front};
use halt::HaltRule;
use joblog::{Joblog, Succeeded};
use notes::Notes;
use source::{Item, Origin, Reading, Total};
use tasks::{Inputs, Tasks};

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

/// How a map run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapOutcome {
    pub outcome: Outcome,
    /// With `--exit-status count`, the status to exit with when not `ok`.
    pub failed_status: Option<u8>,
}

/// `--exit-status count`: after a halt, the failing task's status; else the
/// number of failed tasks, 101 meaning more than 100 (GNU parallel's scheme),
/// and at least 1 (a run can fail with no failed task: unreadable input).
fn count_status(finish: &Finish) -> u8 {
    match finish.halt_status {
        Some(status) if status != 0 => status,
        _ => finish.failed.clamp(1, 101) as u8,
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
    /// `--hosts`/`--hosts-file`: `None` entries are this machine.
    hosts: Option<Vec<Option<crate::remote::HostSpec>>>,
}

/// Runs the tasks until every task has finished (or the run was halted,
/// interrupted or quit): in the terminal UI when stdout is a terminal, else
/// printing the tasks' output (or JSON Lines events with `--json`). Bad
/// arguments are reported before anything starts.
pub fn run(
    args: &MapArgs,
    instance: Option<crate::ctl::instance::Instance>,
) -> Result<MapOutcome, MapError> {
    if let Some(workers) = args.pool {
        return pool_run::run(args, workers, instance);
    }
    let plan = plan(args).map_err(MapError::Usage)?;
    if args.dry_run {
        return Ok(MapOutcome {
            outcome: dry_run::print(plan.tasks, &plan.settings),
            failed_status: None,
        });
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
    let max_parallel = plan.settings.max_parallel;
    let hosts = plan
        .hosts
        .map(|hosts| hosts::Hosts::start(hosts, max_parallel));
    // `proctor ctl` reaches remote workers through their host's link.
    let requests = match &hosts {
        Some(h) => crate::remote::route::start(h.table(), engine.requests.clone())
            .map_err(|e| internal("cannot start the request router", e))?,
        None => engine.requests.clone(),
    };
    // Held until the run ends: the socket answers `proctor ctl` meanwhile.
    let _socket =
        crate::ctl::serve_routed(instance, &engine, requests).map_err(MapError::Internal)?;
    let started = Started {
        hosts,
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
    let (outcome, finish) = match front {
        Front::Ui => run_with_ui(started),
        Front::Json => run_headless(started, Printer::Json),
        Front::Plain => run_headless(started, Printer::Plain(plan.plain)),
    }?;
    Ok(MapOutcome {
        outcome,
        failed_status: (args.exit_status == ExitStatusArg::Count).then(|| count_status(&finish)),
    })
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
    hosts: Option<hosts::Hosts>,
}

/// Prints the driver's events (as JSON Lines, or the tasks' output) until the
/// engine has ended.
fn run_headless(started: Started, shown_as: Printer) -> Result<(Outcome, Finish), MapError> {
    let Started {
        runtime,
        settings,
        records,
        total,
        tasks,
        mut engine,
        hosts,
    } = started;
    let commands = engine.commands.clone();
    let driver = Driver::new(settings, records, total, commands, Notes::stderr());
    let driver = match hosts {
        Some(hosts) => driver.with_hosts(hosts),
        None => driver,
    };
    let (printer, mut to_print) = crate::engine::outbound::channel();
    let thread = std::thread::Builder::new()
        .name("proctor-map".into())
        .spawn(move || {
            let finish = runtime.block_on(driver.run(&mut engine.events, tasks, printer, None));
            let outcome = engine.wait();
            (finish, outcome)
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
    let (finish, outcome) = thread
        .join()
        .map_err(|_| MapError::Internal("the map driver failed".into()))?;
    let troubled = printed.as_ref().is_some_and(|p| p.troubled);
    if let Some(printed) = printed
        && printed.complete
    {
        if printed.failed > 0 {
            eprintln!(
                "proctor: {} of {} task(s) failed",
                printed.failed, printed.tasks
            );
        }
        if printed.interrupted > 0 {
            eprintln!(
                "proctor: {} of {} task(s) stopped by the interrupt (with --joblog, \
                 --resume runs them again)",
                printed.interrupted, printed.tasks
            );
        }
    }
    let outcome = Outcome {
        ok: finish.ok && !troubled,
        interrupted: outcome.interrupted,
    };
    Ok((outcome, finish))
}

/// Shows the terminal UI until the user quits (or proctor is interrupted).
fn run_with_ui(started: Started) -> Result<(Outcome, Finish), MapError> {
    let Started {
        runtime,
        settings,
        records,
        total,
        tasks,
        mut engine,
        hosts,
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
    let driver = match hosts {
        Some(hosts) => driver.with_hosts(hosts),
        None => driver,
    };
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
    let outcome = Outcome {
        ok: finish.ok,
        interrupted: outcome.interrupted,
    };
    Ok((outcome, finish))
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
        colsep: args.colsep.as_deref().map(opening::colsep).transpose()?,
    };
    let halt = match &args.halt {
        Some(text) => HaltRule::parse(text)?,
        None => None,
    };
    let (tasks, template, spool) = opening::open_tasks(args, &inputs, &reading, template_words)?;
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
    let hosts = if args.hosts.is_some() || args.hosts_file.is_some() {
        Some(crate::remote::plan(
            args.hosts.as_deref(),
            args.hosts_file.as_deref(),
        )?)
    } else {
        None
    };
    // A map run may have millions of tasks: the engine keeps only the latest
    // finished workers (the joblog and `task` events have every result).
    config.policy.keep_finished = Some(window(max_parallel));
    let settings = Settings {
        template,
        timeout: args.timeout,
        spool,
        delay: args.delay.filter(|d| !d.is_zero()),
        retries: args.retries.unwrap_or(0),
        halt,
        keep_order: args.keep_order,
        forward_output: front == Front::Json && args.common.output == OutputMode::Events,
        plain: is_plain,
        tags: tags.clone(),
        // Every host may be as busy as this one.
        window: window(max_parallel * hosts.as_ref().map_or(1, Vec::len)),
        max_parallel,
    };
    Ok(Plan {
        settings,
        front,
        plain: plain::Options {
            grouping,
            tags,
            results: args.results.clone(),
            progress: progress::Show {
                bar: args.bar,
                eta: args.eta,
            },
        },
        inputs,
        tasks,
        resume,
        joblog,
        config,
        hosts,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_scales_with_the_pool() {
        assert_eq!(window(1), 64);
        assert_eq!(window(32), 128);
    }
}
