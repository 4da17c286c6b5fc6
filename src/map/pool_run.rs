//! `proctor map --pool N`: the same task inputs as map mode, but fed to N
//! long-lived workers through the engine's pool dispatcher (`engine/pool`),
//! one `submit` per task, instead of one process per task. Prints each task's
//! output (or, with `--json`, every event) as results arrive.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

mod records;

use records::{Halt, Records};

use super::source::Item;
use super::tasks::Tasks;
use super::{MapError, internal, words};
use crate::cli::MapArgs;
use crate::engine::event::PoolResult;
use crate::engine::{self, Command, EngineHandle, EventKind, Outcome};
use crate::spec::pool::{PoolSpec, Protocol};
use crate::spec::{JobSpec, Program};

/// The pool's job name (its workers are `pool#1`, `pool#2`, …).
const POOL: &str = "pool";

/// Runs the tasks through a pool until every task has a result.
pub fn run(
    args: &MapArgs,
    workers: u32,
    instance: Option<crate::ctl::instance::Instance>,
) -> Result<super::MapOutcome, MapError> {
    let (job, tasks) = plan(args, workers).map_err(MapError::Usage)?;
    let records = Records::open(args.joblog.as_deref(), args.resume, args.halt.as_deref())
        .map_err(MapError::Usage)?;
    let mut config = crate::setup::engine_config(&args.common, None, None);
    config.close_queue = false;
    config.output_events = false;
    // A replacement starts while the worker it replaces winds down.
    config.policy.max_parallel = 2 * workers as usize;
    config.policy.keep_finished = Some(super::window(2 * workers as usize));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| internal("cannot start the map driver", e))?;
    let items = tasks
        .spawn(super::READ_AHEAD)
        .map_err(|e| internal("cannot start the task reader", e))?;
    let engine =
        engine::start(config, Vec::new()).map_err(|e| internal("cannot start the engine", e))?;
    let _socket = crate::ctl::serve(instance, &engine).map_err(MapError::Internal)?;
    let _ = engine.commands.send(Command::Launch(Box::new(job)));
    let feed = Feed {
        json: args.json || args.common.headless,
        keep_order: args.keep_order,
        window: super::window(workers as usize),
        terminal: std::io::stdout().is_terminal(),
    };
    let (ok, engine) = runtime.block_on(feed.run(engine, items, records));
    let outcome = engine.wait();
    Ok(super::MapOutcome {
        outcome: Outcome {
            ok: ok && outcome.interrupted.is_none(),
            interrupted: outcome.interrupted,
        },
        failed_status: None,
    })
}

/// The pool job, and the tasks; flags that mean nothing for a pool are refused.
fn plan(args: &MapArgs, workers: u32) -> Result<(JobSpec, Tasks), String> {
    let refused = [
        (args.shell, "--shell"),
        (args.dry_run, "--dry-run"),
        (args.results.is_some(), "--results"),
        (args.tag || args.tagstring.is_some(), "--tag/--tagstring"),
        (
            args.group || args.line_buffer || args.ungroup,
            "--group/--line-buffer/--ungroup",
        ),
        (args.max_args != 1, "--max-args"),
        (args.common.control.is_some(), "--control"),
        (args.colsep.is_some(), "--colsep"),
        (args.context_replace, "-X"),
        (args.pipe, "--pipe"),
        (args.header.is_some(), "--header"),
        (args.shuf, "--shuf"),
        (args.delay.is_some(), "--delay"),
        (args.bar || args.eta, "--bar/--eta"),
        (
            args.exit_status == crate::cli::ExitStatusArg::Count,
            "--exit-status count",
        ),
        (
            args.hosts.is_some() || args.hosts_file.is_some(),
            "--hosts/--hosts-file",
        ),
    ];
    if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
        return Err(format!(
            "{flag} is not available with --pool: a pool's workers take tasks on stdin \
             and print only results; leave {flag} out (or --pool, for one process per task)"
        ));
    }
    crate::setup::check_common(&args.common)?;
    let protocol = Protocol::parse(&args.protocol).map_err(|e| format!("--protocol: {e}"))?;
    let (command, inputs) = words::split(&args.template, &args.arg_files)?;
    if let Some(word) = command.iter().find(|w| w.contains('{') && w.contains('}')) {
        return Err(format!(
            "'{word}' looks like a placeholder, but a pool's command is started once, \
             not per task: its workers read tasks on stdin; remove it"
        ));
    }
    let Some(program) = command.first() else {
        return Err("--pool needs the worker command after the flags".into());
    };
    if !runnable(program) {
        return Err(format!(
            "cannot start '{program}': no such executable file (in PATH, or at that path); \
             check the worker command"
        ));
    }
    let reading = super::source::Reading {
        delimiter: if args.null { 0 } else { b'\n' },
        allow_empty: args.allow_empty,
        colsep: None,
    };
    let tasks = Tasks::open(&inputs, &reading, 1, false)?;
    let mut spec = PoolSpec::new(workers, protocol);
    spec.max_tasks = args.max_tasks;
    spec.retries = args.retries.unwrap_or(spec.retries);
    spec.task_timeout = args.timeout;
    let mut job = JobSpec::new(POOL, Program::Argv(command));
    job.explicit_name = true;
    job.pool = Some(Arc::new(spec));
    Ok((job, tasks))
}

/// The program exists and is executable (else every worker would fail to start
/// and the pool would back off for ever).
fn runnable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ok = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return ok(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| ok(&dir.join(program))))
}

/// Feeds tasks to the pool (at most `window` waiting for a result) and prints
/// results as they arrive.
struct Feed {
    json: bool,
    keep_order: bool,
    window: usize,
    /// Output for a person's terminal: worker text has its control characters
    /// replaced.
    terminal: bool,
}

impl Feed {
    /// True when every task was done; gives the engine back to be waited for.
    async fn run(
        self,
        mut engine: EngineHandle,
        mut items: mpsc::Receiver<Item>,
        mut records: Records,
    ) -> (bool, EngineHandle) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut in_flight = 0usize;
        let mut reading = true;
        let mut closed = false;
        let mut failed = 0u64;
        let mut held: BTreeMap<u64, PoolResult> = BTreeMap::new();
        let mut next_shown = 1u64;
        loop {
            if !reading && in_flight == 0 && !closed {
                closed = true;
                let _ = engine.commands.send(Command::CloseQueue);
            }
            tokio::select! {
                item = items.recv(), if reading && in_flight < self.window => match item {
                    Some(Item::Task(task)) | Some(Item::TooLong { task, .. }) => {
                        if records.done_before(task.number, &task.input) {
                            continue;
                        }
                        in_flight += 1;
                        let input = String::from_utf8_lossy(&task.input).into_owned();
                        records.submitted(task.number, task.input.clone());
                        let _ = engine.commands.send(Command::Submit {
                            pool: POOL.into(),
                            id: Some(task.number.to_string()),
                            input: Value::String(input),
                        });
                    }
                    Some(Item::ReadError(e)) => {
                        eprintln!("proctor: {e}");
                        failed += 1;
                        reading = false;
                    }
                    None => reading = false,
                },
                event = engine.events.recv() => {
                    let Some(event) = event else { break };
                    if self.json {
                        let _ = crate::json_safe::to_writer(&mut out, &event);
                        let _ = out.write_all(b"\n");
                    }
                    match event.kind {
                        EventKind::Result(result) => {
                            in_flight = in_flight.saturating_sub(1);
                            if !result.ok {
                                failed += 1;
                            }
                            let seq = result.task.parse().unwrap_or(0);
                            match records.finished(seq, &result) {
                                Ok(None) => {}
                                Ok(Some(halt)) => {
                                    eprintln!(
                                        "proctor: --halt {}: {} of {} finished tasks failed; \
                                         no new task starts",
                                        records.halted.as_deref().unwrap_or_default(),
                                        records.failed,
                                        records.finished
                                    );
                                    reading = false;
                                    if halt == Halt::Now {
                                        let _ = engine.commands.send(Command::StopAll);
                                    }
                                }
                                Err(e) => {
                                    // The joblog is the record --resume relies on:
                                    // stop rather than run on unrecorded.
                                    eprintln!("proctor: {e}");
                                    failed += 1;
                                    reading = false;
                                    let _ = engine.commands.send(Command::StopAll);
                                }
                            }
                            if !self.json {
                                let seq = result.task.parse().unwrap_or(0);
                                held.insert(seq, result);
                                let halted = records.halted.is_some();
                                self.show(&mut out, &mut held, &mut next_shown, halted);
                            }
                        }
                        EventKind::Error { message } => eprintln!("proctor: {message}"),
                        EventKind::Failed { worker, error } if !self.json => {
                            eprintln!("proctor: {}: {}", safe(&worker), safe(&error));
                        }
                        EventKind::PoolState { state, detail, .. } if !self.json => {
                            eprintln!("proctor: the pool is {state}: {detail}");
                        }
                        EventKind::Interrupted { .. } => reading = false,
                        _ => {}
                    }
                    if engine.events.is_empty() && out.flush().is_err() {
                        // stdout is gone: nobody is watching, so stop.
                        let _ = engine.commands.send(Command::StopAll);
                        reading = false;
                    }
                }
            }
        }
        let _ = out.flush();
        // On stderr even with --json: stdout holds only events.
        if records.skipped > 0 {
            eprintln!(
                "proctor: --resume: skipped {} task(s) that already succeeded",
                records.skipped
            );
        }
        if failed > 0 && !self.json {
            match &records.halted {
                Some(rule) => eprintln!(
                    "proctor: {failed} task(s) not done ({} failed, the rest cancelled by --halt {rule})",
                    records.failed.saturating_sub(records.cancelled)
                ),
                None => eprintln!("proctor: {failed} task(s) not done"),
            }
        }
        (failed == 0 && records.halted.is_none() && !reading, engine)
    }

    /// Prints held results: all of them, or with `--keep-order` those next in input order.
    /// Once `--halt` stopped the run, the tasks it cancelled are counted, not listed.
    fn show(
        &self,
        out: &mut impl Write,
        held: &mut BTreeMap<u64, PoolResult>,
        next: &mut u64,
        halted: bool,
    ) {
        loop {
            let key = if self.keep_order {
                *next
            } else {
                match held.keys().next() {
                    Some(k) => *k,
                    None => return,
                }
            };
            let Some(result) = held.remove(&key) else {
                return;
            };
            *next = key + 1;
            match (&result.output, &result.error) {
                (Some(Value::String(text)), _) => self.line(out, text),
                (Some(other), _) => self.line(out, &other.to_string()),
                (None, Some(error)) if result.ok => self.line(out, error),
                (None, Some(_)) if halted && result.status == "cancelled" => {}
                (None, Some(error)) => eprintln!(
                    "proctor: task {} {}: {}",
                    result.task,
                    result.status,
                    safe(error)
                ),
                (None, None) => {}
            }
        }
    }

    fn line(&self, out: &mut impl Write, text: &str) {
        let shown = if self.terminal {
            safe(text)
        } else {
            text.to_string()
        };
        let _ = out.write_all(shown.as_bytes());
        let _ = out.write_all(b"\n");
    }
}

/// Worker text with control characters in caret notation, for a terminal (the
/// one neutraliser every front end uses).
fn safe(text: &str) -> String {
    crate::engine::output::neutral(text).into_owned()
}
