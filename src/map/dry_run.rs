//! `--dry-run`: the command of every task, one a line and quoted for a POSIX
//! shell, so it can be read, diffed or pasted; nothing is started.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use super::driver::Settings;
use super::source::Item;
use super::tasks::Tasks;
use super::template::Fill;
use crate::engine::Outcome;
use crate::spec::Program;

/// Prints every task's command. `{%}` shows the slot the task would get if
/// tasks took turns (1..=-j). A task that cannot run fails the run.
pub fn print(tasks: Tasks, settings: &Settings) -> Outcome {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut ok = true;
    for item in tasks.items() {
        let line = match item {
            Item::Task(task) => {
                let slots = settings.max_parallel.max(1) as u64;
                let fill = Fill {
                    number: task.number,
                    slot: ((task.number - 1) % slots + 1) as usize,
                    values: &task.values,
                };
                command_line(&settings.template.render(fill))
            }
            Item::TooLong { task, len } => {
                eprintln!(
                    "proctor: task {} is {len} bytes long: too long for an argument",
                    task.number
                );
                ok = false;
                continue;
            }
            Item::ReadError(message) => {
                eprintln!("proctor: {message}");
                ok = false;
                break;
            }
        };
        if out
            .write_all(&line)
            .and_then(|()| out.write_all(b"\n"))
            .is_err()
        {
            break; // stdout is gone (`| head`): nothing more to show
        }
    }
    let _ = out.flush();
    Outcome {
        ok,
        interrupted: None,
    }
}

/// The words of `program`, each quoted only if the shell would change it.
pub fn command_line(program: &Program) -> Vec<u8> {
    let words: Vec<&[u8]> = match program {
        Program::Argv(words) => words.iter().map(|w| w.as_bytes()).collect(),
        Program::ArgvOs(words) => words.iter().map(|w| w.as_bytes()).collect(),
        Program::Shell(script) => vec![b"/bin/sh".as_slice(), b"-c", script.as_bytes()],
    };
    let mut line = Vec::new();
    for (i, word) in words.into_iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        quote_into(word, &mut line);
    }
    line
}

/// `it's` → `'it'\''s'`; plain words (`a.txt`, `-n`, `x=1`) stay bare.
pub fn quote_into(word: &[u8], out: &mut Vec<u8>) {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_-+=.,/:@%^".contains(b);
    if !word.is_empty() && word.iter().all(plain) {
        out.extend_from_slice(word);
        return;
    }
    out.push(b'\'');
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        let program = Program::Argv(vec![
            "echo".into(),
            "a b".into(),
            "it's".into(),
            "".into(),
            "x=1".into(),
            "$(id)".into(),
        ]);
        assert_eq!(
            String::from_utf8(command_line(&program)).unwrap(),
            "echo 'a b' 'it'\\''s' '' x=1 '$(id)'"
        );
    }
}
