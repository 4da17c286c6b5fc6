//! Command-line flags and subcommands (clap derive). `proctor --help` is generated
//! from the doc comments here, so they are the user-facing documentation.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::spec::bounds;

/// Launch, watch and stop worker processes: a pool with a queue, live per-core load,
/// signals, terminate/kill/pause/restart/join, and output that never blocks.
#[derive(Debug, Parser)]
#[command(
    name = "proctor",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
#[command(
    after_help = "Exit status: 0 every worker exited 0; 1 some worker failed, was \
signalled or could not start; 2 usage or workload error; 128+N interrupted by signal N \
(129/130/143: SIGHUP/SIGINT/SIGTERM)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub map: Option<Sub>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Run one command template over many inputs (like Pool.map, xargs -P, GNU parallel).
    #[command(
        after_help = "Inputs: the words after ':::' (`proctor map -- echo {} ::: a b c`), \
FILEs after '::::' or -a, else stdin, one value per line. Several inputs multiply (`::: a b \
::: 1 2` runs a 1, a 2, b 1, b 2); ':::+' and '::::+' link an input to the one before \
(a 1, b 2). Values are bytes: any encoding reaches the worker unchanged; a trailing CR is \
dropped (not with -0); empty lines are skipped unless --allow-empty. Task N runs as worker \
`task-N` (retries as `task-N.retry1`, ...), stdin from /dev/null, with PROCTOR_SEQ=N and \
PROCTOR_SLOT (its slot, 1..=-j) in its environment.

Output: on a terminal, the terminal UI. Otherwise (or with --plain) each task's stdout and \
stderr go to proctor's stdout and stderr byte for byte, one task at a time (--group), \
whole lines as they come (--line-buffer) or bytes as they come (--ungroup); failures and \
the summary go to stderr. --json or --headless print JSON Lines events instead (a `task` \
event per finished task). Unknown flags and placeholders are refused (exit 2): nothing is \
ever run that was not asked for.

Exit status: 0 every task succeeded; 1 some task failed, or the run halted; 2 usage error \
(nothing started); 130/143 interrupted by SIGINT/SIGTERM."
    )]
    Map(Box<MapArgs>),
    /// Command or query a running proctor through its control socket.
    Ctl(crate::ctl::args::CtlArgs),
    /// Print a shell completion script: `proctor completions bash > /etc/bash_completion.d/proctor`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `proctor man | man -l -`.
    Man,
    /// Print the JSON Schema of the workload file (for editors: name it in a
    /// workload's "$schema").
    Schema,
    /// Run as another proctor's agent on this host: the control protocol on
    /// stdin/stdout (`ssh -T HOST proctor agent --stdio`). When the link ends, or
    /// no line comes for the lease, it stops every worker it started and exits.
    Agent {
        /// Speak the protocol on stdin/stdout (the only transport).
        #[arg(long, required = true)]
        stdio: bool,
        /// How long the link may stay silent (the client sends a blank line as a
        /// heartbeat) before the agent stops everything and exits.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_positive)]
        lease: Duration,
        /// At most N workers at once on this host (default: its logical CPUs);
        /// the driving proctor places no more than the host's slots anyway.
        #[arg(short = 'j', long = "max-parallel", value_name = "N", value_parser = parse_max_parallel)]
        max_parallel: Option<usize>,
    },
    /// Open the terminal UI on a running proctor (headless or not); quitting
    /// detaches and leaves its work running.
    Attach {
        /// The instance (default: the one PROCTOR_SOCKET names, else the only one running, else `default`).
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job command lines, one per argument, split like a POSIX shell would split
    /// them (quotes, backslashes) and executed without a shell. A leading
    /// NAME= names the job: "web=python3 -m http.server".
    #[arg(value_name = "COMMAND")]
    pub commands: Vec<String>,

    /// Load jobs from a JSON workload file (combined with any COMMANDs).
    #[arg(short = 'f', long = "file", value_name = "WORKLOAD.json")]
    pub file: Option<PathBuf>,

    /// Run each COMMAND with /bin/sh -c instead of splitting it into words.
    #[arg(long)]
    pub shell: bool,

    /// No terminal UI: JSON Lines events on stdout (as --headless).
    #[arg(long, conflicts_with = "plain")]
    pub json: bool,

    /// No terminal UI: each worker's lines prefixed with its name (its stdout on
    /// stdout, its stderr on stderr), lifecycle lines and the summary on stderr.
    /// The default when stdout is not a terminal.
    #[arg(long, conflicts_with = "headless")]
    pub plain: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by plain runs and map mode.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// At most N workers run at once (default: the workload's max_parallel, else the
    /// number of logical CPUs).
    #[arg(short = 'j', long = "max-parallel", value_name = "N", value_parser = parse_max_parallel)]
    pub max_parallel: Option<usize>,

    /// No terminal UI: JSON Lines events on stdout (when stdout is not a terminal,
    /// proctor prints plain output unless this or --json is given).
    #[arg(long)]
    pub headless: bool,

    /// In headless mode, whether worker output lines appear as `output` events.
    #[arg(long, value_enum, default_value_t = OutputMode::Events)]
    pub output: OutputMode,

    /// Also append each worker's stdout and stderr to DIR/NAME.out.log and DIR/NAME.err.log.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Lines of output kept in memory per worker.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub ring_lines: u32,

    /// Memory for all workers' kept output together, in MiB; each worker gets an equal
    /// share (at least 64 KiB), so many chatty workers cannot exhaust memory.
    #[arg(long, value_name = "MIB", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub output_memory: u32,

    /// Grace period between the stop signal and SIGKILL (overrides the workload's stop_grace_ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
    pub stop_grace: Option<Duration>,

    /// When proctor stops everything: `dependencies` stops dependents before what they
    /// depend on (each job's stop ladder waits for its dependents); `parallel` stops all at once.
    #[arg(long, value_enum, default_value_t = StopOrderArg::Dependencies)]
    pub stop_order: StopOrderArg,

    /// Sampling interval for CPU, memory and stuck detection, 100ms..60s (e.g. 500ms, 1s, 2.5s).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,

    /// Headless: emit a `sample` event every interval.
    #[arg(long)]
    pub sample_events: bool,

    /// Flag a worker as stuck after this long with no output and under --stuck-cpu CPU
    /// (off by default; a job's stuck_after_s turns it on for that job).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive)]
    pub stuck_after: Option<Duration>,

    /// CPU % (of one core, whole tree) under which a worker counts as idle, 0..=100.
    #[arg(long, value_name = "PCT", default_value = "1", value_parser = parse_percent)]
    pub stuck_cpu: f64,

    /// Headless: read JSON Lines commands from FILE ('-' = stdin); the queue stays
    /// open until it ends.
    #[arg(long, value_name = "FILE")]
    pub control: Option<PathBuf>,

    /// This instance's name on the control socket (default: `default`, or `pid-PID`
    /// when a live instance has that); `proctor ctl --name NAME` reaches it.
    #[arg(long = "name", value_name = "NAME")]
    pub instance: Option<String>,

    /// Start in the background (headless, its own session, output to files in the
    /// runtime directory), print the instance's name and return; reach it with
    /// `proctor attach` and `proctor ctl`. Its queue stays open until joined.
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// Every output line is an `output` event.
    Events,
    /// Output is kept in buffers and log files only.
    None,
}

/// `proctor map --exit-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExitStatusArg {
    /// 1 when any task failed.
    Any,
    /// GNU parallel's: the number of failed tasks (1..=101, 101 meaning more than
    /// 100), or the status of the task that met the --halt rule.
    Count,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    /// The command, then its inputs: `echo {} ::: a b`, `cp {1} {2} ::: x y ::: d1 d2`.
    /// Placeholders: `{}` the task, `{.}` without extension, `{/}` basename, `{//}`
    /// directory, `{/.}` basename without extension, `{N}` (and `{N.}`…) its Nth
    /// value, `{#}` its number, `{%}` its slot. No placeholder appends the values.
    /// `:::` words (groups multiply), `:::+` linked to the group before, `::::`
    /// FILEs, `::::+` linked FILEs. proctor's flags go before the command.
    #[arg(value_name = "TEMPLATE", required = true, trailing_var_arg = true)]
    pub template: Vec<OsString>,

    /// Read values from FILE, one per line ('-' = stdin); repeat for more inputs,
    /// which multiply like `::::` files (default: stdin, when no `:::`/`::::`).
    #[arg(
        short = 'a',
        long = "arg-file",
        visible_alias = "tasks",
        value_name = "FILE"
    )]
    pub arg_files: Vec<PathBuf>,

    /// Records end with NUL instead of newline (for `find -print0`); nothing is stripped.
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Split each record into values {1}…{n} where REGEX matches (e.g. '\t', ',').
    #[arg(long, value_name = "REGEX")]
    pub colsep: Option<String>,

    /// Put N records into each task: `{}` is all of them, {1}…{N} each one.
    #[arg(short = 'n', long = "max-args", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_args: u32,

    /// Put as many values into each task as fit on one command line (-n N caps
    /// them); a word with {} and other text is repeated per value (`pre{}post`).
    #[arg(short = 'X', long = "context-replace")]
    pub context_replace: bool,

    /// Cut stdin into blocks (--block, --recend) and feed each to one task's
    /// stdin, instead of passing values as arguments.
    #[arg(long)]
    pub pipe: bool,

    /// With --pipe: about this many bytes per block (K, M, G; default 1M),
    /// extended to the end of the record that reaches it.
    #[arg(long, value_name = "SIZE", requires = "pipe")]
    pub block: Option<String>,

    /// With --pipe: what ends a record (default '\n'; \n, \t, \r, \0 are
    /// understood; '' cuts blocks at exactly --block bytes).
    #[arg(long, value_name = "STR", requires = "pipe")]
    pub recend: Option<String>,

    /// Print the commands that would run, one a line, shell-quoted; start nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Also write each task's output to DIR/N/stdout and DIR/N/stderr, and its
    /// number to DIR/N/seq (N is the task number; directories are created).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,

    /// Start a task at most once per DURATION (e.g. 0.5s, 2s), retries included.
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    pub delay: Option<Duration>,

    /// `:` takes each input's first line as the names of its values, which
    /// the template may then use as `{name}` (also `{name.}`, `{name/}`…).
    #[arg(long, value_name = ":")]
    pub header: Option<String>,

    /// Run the tasks in random order (all input is read first; {#} and task
    /// numbers count in the order they run).
    #[arg(long)]
    pub shuf: bool,

    /// Print JSON Lines events instead of the tasks' output (as --headless does).
    #[arg(long, conflicts_with = "plain")]
    pub json: bool,

    /// Print the tasks' output even when stdout is a terminal (no terminal UI).
    #[arg(long)]
    pub plain: bool,

    /// Plain output: each task's output in one piece once it ends (the default).
    #[arg(long, conflicts_with_all = ["line_buffer", "ungroup"])]
    pub group: bool,

    /// Plain output: whole lines as they come, tasks interleaved line by line.
    #[arg(long, conflicts_with = "ungroup")]
    pub line_buffer: bool,

    /// Plain output: bytes as they come (lines of tasks may mix).
    #[arg(short = 'u', long)]
    pub ungroup: bool,

    /// Plain output: a progress line on stderr (tasks done of all, a gauge),
    /// redrawn in place while stderr is a terminal.
    #[arg(long)]
    pub bar: bool,

    /// Plain output: like --bar, with the time left at the rate so far.
    #[arg(long)]
    pub eta: bool,

    /// Plain output: start each line with the task's values and a tab.
    #[arg(long)]
    pub tag: bool,

    /// Plain output: start each line with STR (placeholders filled in) and a tab.
    #[arg(long, value_name = "STR")]
    pub tagstring: Option<String>,

    /// Run the template with /bin/sh -c; placeholders become positional parameters
    /// ("$1"…), so values are data, never code. Placeholders in '…' are refused.
    #[arg(long)]
    pub shell: bool,

    /// Run tasks on these hosts (like GNU parallel's --sshlogin): NAME,NAME,...
    /// where each NAME is a host of --hosts-file or an ssh destination, and
    /// `local` is this machine (with -j slots). Each host is one ssh connection
    /// running `proctor agent --stdio`.
    #[arg(short = 'S', long = "hosts", value_name = "NAME,...")]
    pub hosts: Option<String>,

    /// Hosts with their settings (JSON: [{"name", "ssh", "ssh_args", "slots",
    /// "proctor", "workdir"}]); without --hosts, every host in it is used.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<PathBuf>,

    /// Re-queue a failed task up to N times (N+1 attempts at most; parallel's
    /// `--retries N` is proctor's `--retries N-1`). Default 0; with --pool, 2 (a
    /// task whose worker dies under it is retried).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// What the exit status says when tasks failed: `any` is 1, `count` is the
    /// number of failed tasks (at most 101) or, after --halt, the failing task's status.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = ExitStatusArg::Any)]
    pub exit_status: ExitStatusArg,

    /// Terminate a task that runs longer than this (e.g. 30s, 1.5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive)]
    pub timeout: Option<Duration>,

    /// Stop starting tasks once N tasks failed (`soon,fail=N`; running ones finish)
    /// or also terminate the running ones (`now,fail=N`). N may be a percentage of
    /// the finished tasks (`soon,fail=10%`, judged from the 3rd finished task on).
    #[arg(long, value_name = "RULE")]
    pub halt: Option<String>,

    /// Print each task's output in input order: a task's output is held until
    /// every earlier task has finished (past 8 MiB in a temporary file in $TMPDIR).
    #[arg(short = 'k', long)]
    pub keep_order: bool,

    /// Write one JSON object per finished task to FILE, as it finishes (the file
    /// is started afresh unless --resume is given).
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,

    /// Skip tasks whose number and input already succeeded according to --joblog,
    /// and append to it.
    #[arg(long, requires = "joblog")]
    pub resume: bool,

    /// Treat empty input lines (and empty ':::' words) as tasks (skipped by default).
    #[arg(long)]
    pub allow_empty: bool,

    /// Pool mode: start N long-lived workers from the command and feed each of
    /// them many tasks (see the README's "Pools"), instead of one process per task.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub pool: Option<u32>,

    /// Pool mode: replace a worker after K tasks.
    #[arg(long, value_name = "K", requires = "pool",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tasks: Option<u32>,

    /// Pool mode: `jsonl` (tasks as JSON lines on stdin, results on fd 3) or
    /// `lines` (one line in, one line out on stdout).
    #[arg(long, value_name = "NAME", requires = "pool", default_value = "jsonl")]
    pub protocol: String,

    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_max_parallel(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if (1..=bounds::MAX_PARALLEL as i64).contains(&n) => Ok(n as usize),
        Ok(n) => Err(format!(
            "'{n}' is out of range: use 1..={}",
            bounds::MAX_PARALLEL
        )),
        Err(_) => Err(format!(
            "'{text}' is not a number: use a whole number such as 4"
        )),
    }
}

/// Parses `500ms`, `1s`, `2.5s`, `1m` or a plain number of seconds.
pub fn parse_any_duration(text: &str) -> Result<Duration, String> {
    crate::sample::parse_duration(text)
}

/// A duration above zero and at most a year, as the workload file's
/// `timeout_s` and `stuck_after_s` (zero would end or flag every worker at once).
fn parse_positive(text: &str) -> Result<Duration, String> {
    bounds::positive_seconds(parse_any_duration(text)?, text)
}

/// A CPU percentage in 0..=100, as the workload file's `stuck_cpu_pct`.
fn parse_percent(text: &str) -> Result<f64, String> {
    let v: f64 = text.trim().parse().map_err(|_| {
        format!(
            "'{text}' is not a number: expected {}",
            bounds::PERCENT_EXPECTED
        )
    })?;
    bounds::percent(v, text)
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = parse_any_duration(text)?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(60) {
        return Err(format!("'{text}' is out of range: use 100ms..60s"));
    }
    Ok(d)
}

/// A delay between task starts: at most an hour (0 is no delay).
fn parse_delay(text: &str) -> Result<Duration, String> {
    let d = parse_any_duration(text)?;
    if d > Duration::from_secs(3600) {
        return Err(format!("'{text}' is out of range: use 0s..3600s"));
    }
    Ok(d)
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    bounds::grace(parse_any_duration(text)?, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_form() {
        assert_eq!(parse_any_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_any_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_any_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_any_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_any_duration("fast").unwrap_err().contains("'fast'"));
        assert!(parse_interval("50ms").unwrap_err().contains("100ms..60s"));
        assert!(parse_positive("0s").unwrap_err().contains("greater than 0"));
        assert!(parse_positive("400d").is_err());
        assert!(parse_positive("9000h").unwrap_err().contains("at most"));
        assert_eq!(parse_positive("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_grace("2h").unwrap_err().contains("3600s"));
    }

    #[test]
    fn stuck_cpu_is_a_percentage() {
        for bad in ["-5", "nan", "NaN", "inf", "-inf", "1000", "100.1", "x", ""] {
            assert!(parse_percent(bad).is_err(), "{bad}");
            assert!(parse_percent(bad).unwrap_err().contains("0..=100"), "{bad}");
        }
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("2.5"), Ok(2.5));
        assert_eq!(parse_percent("100"), Ok(100.0));
    }

    #[test]
    fn max_parallel_rejects_zero_and_negative() {
        assert!(
            parse_max_parallel("0")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_max_parallel("-3")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(parse_max_parallel("4"), Ok(4));
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

/// `--stop-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StopOrderArg {
    Dependencies,
    Parallel,
}
