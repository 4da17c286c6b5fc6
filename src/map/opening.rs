//! Opening a map run's inputs and template as the input options shape them:
//! `--colsep`, `--header :`, `--shuf`, `-n` and `-X`, and the combinations of
//! them that are refused.

use super::source::Reading;
use super::tasks::{Inputs, Tasks};
use super::template::Template;
use super::{header, pack};
use crate::cli::MapArgs;

/// The tasks and the template, as `--header`, `--shuf`, `-n` and `-X` shape them.
pub fn open_tasks(
    args: &MapArgs,
    inputs: &Inputs,
    reading: &Reading,
    template_words: Vec<String>,
) -> Result<(Tasks, Template), String> {
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
    Ok((tasks, template))
}

pub fn colsep(text: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::Regex::new(text)
        .map_err(|e| format!("--colsep '{text}' is not a regular expression: {e}"))
}
