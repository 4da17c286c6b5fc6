//! Opening a map run's inputs and template as the input options shape them:
//! `--colsep`, `--header :`, `--shuf`, `-n` and `-X`, and the combinations of
//! them that are refused.

use std::sync::Arc;

use super::pipe::{self, Blocks, Spool};
use super::source::{Origin, Reading};
use super::tasks::{Inputs, Tasks};
use super::template::{Template, Word};
use super::{header, pack};
use crate::cli::MapArgs;

/// The tasks and the template, as `--header`, `--shuf`, `-n` and `-X` shape them.
pub fn open_tasks(
    args: &MapArgs,
    inputs: &Inputs,
    reading: &Reading,
    template_words: Vec<String>,
) -> Result<(Tasks, Template, Option<Arc<Spool>>), String> {
    if args.pipe {
        return open_pipe(args, inputs, template_words);
    }
    let several = inputs.groups.iter().flatten().count() > 1;
    if args.context_replace && (several || args.colsep.is_some()) {
        return Err(
            "-X packs the values of one input into each command: it does not \
                    go with several inputs or --colsep"
                .into(),
        );
    }
    // -X packs single records itself; -n then only caps how many.
    let batch = if args.context_replace {
        1
    } else {
        args.max_args as usize
    };
    let header = match args.header.as_deref() {
        None => false,
        Some(header::FIRST_LINE) if args.max_args == 1 && !args.context_replace => true,
        Some(header::FIRST_LINE) => {
            return Err(
                "--header does not go with -n or -X: a task of several records \
                        has no one column per name"
                    .into(),
            );
        }
        Some(other) => {
            return Err(format!(
                "--header '{other}' is not supported: use --header : (each input's first \
                 line names its values)"
            ));
        }
    };
    if args.shuf && args.resume {
        return Err(
            "--shuf and --resume do not go together: a shuffled run numbers its tasks \
             afresh each time, so the joblog cannot say which already succeeded"
                .into(),
        );
    }
    let mut tasks = Tasks::open(inputs, reading, batch, header)?;
    let template_words = match header {
        true => header::rename(&template_words, &tasks.names)?,
        false => template_words,
    };
    let values = match args.context_replace {
        true => None,
        false => inputs.values_per_task(reading, batch),
    };
    let mut template = Template::parse(&template_words, args.shell, values)?;
    if args.shuf {
        tasks = tasks.shuffled();
    }
    if args.context_replace {
        template = template.with_context_replace()?;
        let records = match args.max_args {
            1 => usize::MAX,
            n => n as usize,
        };
        let per_value = pack::per_value(template.context_bytes());
        tasks = tasks.packed(pack::budget(), per_value, records);
    }
    Ok((tasks, template, None))
}

/// `--pipe`: stdin's blocks as tasks; the options that shape values do not apply.
fn open_pipe(
    args: &MapArgs,
    inputs: &Inputs,
    template_words: Vec<String>,
) -> Result<(Tasks, Template, Option<Arc<Spool>>), String> {
    let only_stdin =
        matches!(inputs.groups.as_slice(), [g] if matches!(g.as_slice(), [Origin::Stdin]));
    let clashes = [
        (!only_stdin, "':::', '::::' or -a"),
        (args.max_args != 1, "-n"),
        (args.context_replace, "-X"),
        (args.header.is_some(), "--header"),
        (args.colsep.is_some(), "--colsep"),
        (args.null, "-0 (use --recend '\\0')"),
        (args.shuf, "--shuf"),
        (args.resume, "--resume"),
        (args.dry_run, "--dry-run"),
    ];
    if let Some((_, what)) = clashes.iter().find(|(clash, _)| *clash) {
        return Err(format!(
            "--pipe feeds stdin to the tasks in blocks, so it does not go with {what}"
        ));
    }
    let size = match &args.block {
        Some(text) => pipe::parse_size(text)?,
        None => pipe::DEFAULT_BLOCK,
    };
    let recend = pipe::parse_recend(args.recend.as_deref().unwrap_or("\\n"));
    // A block has no values: `{#}` and `{%}` work, the others are refused.
    for word in &template_words {
        if Word::parse(word)?.has_values() {
            return Err(format!(
                "the template word '{word}' takes a value, but with --pipe a task's \
                 input is its stdin: use {{#}} or {{%}}, or read stdin"
            ));
        }
    }
    let template = Template::parse(&template_words, args.shell, Some(0))?;
    let spool = Spool::create(&std::env::temp_dir())?;
    let blocks = Blocks::new(Box::new(std::io::stdin()), spool.clone(), size, recend);
    Ok((Tasks::piped(blocks), template, Some(spool)))
}

pub fn colsep(text: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(text)
        .map_err(|e| format!("--colsep '{text}' is not a regular expression: {e}"))
}
