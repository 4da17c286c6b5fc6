//! proctor's binary: parse the command line, pick a front end, map the result to an
//! exit status. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use proctor::cli::{Cli, Sub};
use proctor::engine::{self, Outcome};
use proctor::{headless, map, setup, tui};

/// Exit status for usage and workload errors (as clap uses for bad flags).
const EXIT_USAGE: u8 = 2;
/// Exit status when proctor itself could not run (threads, terminal).
const EXIT_INTERNAL: u8 = 3;

fn main() -> ExitCode {
    if let Some(code) = proctor::contain::keeper::main_if_keeper() {
        return code;
    }
    let cli = parse_cli();
    if let Some(Sub::Agent {
        lease,
        max_parallel,
        ..
    }) = &cli.map
    {
        return agent(*lease, *max_parallel);
    }
    if let Some(Sub::Ctl(args)) = &cli.map {
        return match proctor::ctl::client::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("proctor ctl: {}", e.message);
                ExitCode::from(e.status)
            }
        };
    }
    let (common, subcommand) = match &cli.map {
        Some(Sub::Map(args)) => (&args.common, Some("map")),
        _ => (&cli.run.common, None),
    };
    if common.detach {
        return match proctor::ctl::detach::detach(common.instance.as_deref(), subcommand) {
            Ok(name) => {
                println!("{name}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("proctor: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    match &cli.map {
        Some(Sub::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "proctor", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Sub::Schema) => {
            use std::io::Write;
            let text = proctor::spec::schema::pretty();
            return match std::io::stdout().lock().write_all(text.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("proctor: cannot write the schema: {e}");
                    ExitCode::from(EXIT_INTERNAL)
                }
            };
        }
        Some(Sub::Man) => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            return match clap_mangen::Man::new(command).render(&mut out) {
                Ok(()) => ExitCode::SUCCESS,
                // `proctor man | head`: the reader had enough.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("proctor: cannot write the man page: {e}");
                    ExitCode::from(EXIT_INTERNAL)
                }
            };
        }
        _ => {}
    }
    if let Some(Sub::Attach { name }) = &cli.map {
        return match proctor::ctl::attach::attach(name.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("proctor attach: {}", e.message);
                ExitCode::from(e.status)
            }
        };
    }
    if let Some(Sub::Map(args)) = &cli.map {
        let instance = match proctor::ctl::claim(args.common.instance.as_deref()) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("proctor: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        proctor::contain::init();
        return match map::run(args, instance) {
            Ok(ended) => match ended.failed_status {
                Some(status) if !ended.outcome.ok && ended.outcome.interrupted.is_none() => {
                    ExitCode::from(status)
                }
                _ => exit_status(ended.outcome),
            },
            Err(e) => {
                eprintln!("proctor: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let (plan, common) = match setup::plan_run(&cli.run) {
        Ok(plan) => (plan, &cli.run.common),
        Err(e) => {
            eprintln!("proctor: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let json = common.headless || cli.run.json;
    let plain = cli.run.plain || (!json && !std::io::stdout().is_terminal());
    let headless = json || plain;
    let detached = proctor::ctl::detach::is_detached();
    if plan.jobs.is_empty() && headless && common.control.is_none() && !detached {
        eprintln!(
            "proctor: nothing to run: give COMMANDs, -f WORKLOAD.json, or --control FILE (headless)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let control = match common
        .control
        .as_deref()
        .map(headless::open_control)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("proctor: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let instance = match proctor::ctl::claim(common.instance.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("proctor: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut config = plan.config;
    if detached {
        // Launches come later through the socket; `ctl join` closes the queue.
        config.close_queue = false;
    }
    if !headless {
        // The UI keeps the queue open for launches and reads output from the store.
        config.close_queue = false;
        config.output_events = false;
    }
    proctor::contain::init();
    let engine = match engine::start(config, plan.jobs) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("proctor: cannot start the engine: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let _socket = match proctor::ctl::serve(instance, &engine) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proctor: {e}");
            drop(engine); // stops what it started
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let result = if headless {
        let format = if json {
            headless::Format::Json
        } else {
            headless::Format::Plain
        };
        headless::run(engine, control, format)
    } else {
        tui::run(engine)
    };
    match result {
        Ok(outcome) => exit_status(outcome),
        Err(e) => {
            eprintln!("proctor: {e}");
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}

/// Parses the command line; `--version` also says which containment level this
/// machine allows (probed only when asked).
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let asked = std::env::args_os()
        .skip(1)
        .any(|a| a == "--version" || a == "-V");
    let mut command = Cli::command();
    if asked {
        let version = format!(
            "{}\ncontainment: {}\nos: {}",
            env!("CARGO_PKG_VERSION"),
            proctor::contain::probe(),
            proctor::sample::host::os()
        );
        command = command.version(&*String::leak(version));
    }
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `proctor agent --stdio`: 0 when the link closed, 1 when it was lost.
fn agent(lease: std::time::Duration, max_parallel: Option<usize>) -> ExitCode {
    use proctor::agent::{self, AgentEnd};
    match agent::run(lease, max_parallel) {
        Ok(AgentEnd::Closed | AgentEnd::EngineEnded) => ExitCode::SUCCESS,
        Ok(AgentEnd::Lost(why)) => {
            eprintln!("proctor agent: {why}");
            ExitCode::from(agent::EXIT_LINK_LOST)
        }
        Err(e) => {
            eprintln!("proctor agent: {e}");
            ExitCode::from(agent::EXIT_INTERNAL)
        }
    }
}

/// 0 all ok, 1 some worker failed, 128+N when interrupted by signal N.
fn exit_status(outcome: Outcome) -> ExitCode {
    match outcome.interrupted {
        Some(sig) => ExitCode::from(128 + sig as u8),
        None if outcome.ok => ExitCode::SUCCESS,
        None => ExitCode::from(1),
    }
}
