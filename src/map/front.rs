//! Who shows a map run: the terminal UI, JSON Lines events, or the tasks' own
//! output (plain), chosen from the flags and whether stdin and stdout are terminals.

use std::io::IsTerminal;

use super::tasks::Inputs;
use crate::cli::MapArgs;

/// Who shows the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    Ui,
    /// JSON Lines events (`--json`, `--headless`).
    Json,
    /// The tasks' own output (`plain.rs`).
    Plain,
}

/// JSON with `--json`/`--headless`; plain output when asked for one of its
/// options, when stdout is not a terminal, or when the run needs the terminal
/// for itself; else the terminal UI.
pub fn front(args: &MapArgs, inputs: &Inputs) -> Result<Front, String> {
    let plain_flags = [
        (args.plain, "--plain"),
        (args.group, "--group"),
        (args.line_buffer, "--line-buffer"),
        (args.ungroup, "--ungroup"),
        (args.tag, "--tag"),
        (args.tagstring.is_some(), "--tagstring"),
        (args.results.is_some(), "--results"),
        (args.bar, "--bar"),
        (args.eta, "--eta"),
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
