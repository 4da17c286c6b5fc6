//! The command template of map mode: parsing it once, and filling in one task.
//!
//! Placeholders are replaced inside argv words, never by a shell: `{}` the task,
//! `{#}` its number, `{%}` its slot, `{.}` without extension, `{/}` basename,
//! `{//}` directory, `{/.}` basename without extension, and `{N}`, `{N.}`, `{N/}`,
//! `{N//}`, `{N/.}` for the task's Nth value (several sources, `--colsep`, `-n`).
//! Anything else that looks like one of GNU parallel's replacement strings
//! (`{+/}`, `{=…=}`, `{-1}`) is refused, never left literal. With `--shell` the
//! words form one `/bin/sh -c` script whose placeholders refer to positional
//! parameters, and the values are passed as arguments (see `shell.rs`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::spec::Program;

mod path;
mod shell;

use path::{basename, dirname, without_extension};

/// How a value is shown: whole, or a part of it as a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `{}`
    Whole,
    /// `{.}`
    NoExtension,
    /// `{/}`
    Basename,
    /// `{//}`
    Dirname,
    /// `{/.}`
    BasenameNoExtension,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// A task value: `index` 1-based (`{2}`), or `None` for every value (`{}`).
    Value {
        index: Option<usize>,
        form: Form,
    },
    /// `{#}`
    Number,
    /// `{%}`
    Slot,
}

/// What one task fills in: its number, its pool slot and its values.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    pub number: u64,
    pub slot: usize,
    pub values: &'a [Vec<u8>],
}

/// A parsed template, ready to fill in for each task.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    words: Vec<Vec<Part>>,
    /// `--shell`: the script, and the placeholder each positional parameter carries.
    shell: Option<(String, Vec<Part>)>,
    /// `-X`: a word with `{}` and more is repeated once per value.
    context: bool,
}

impl Template {
    /// Parses the template words; without any placeholder the task's values are
    /// appended as more arguments (as xargs does). `values`, when known, is how
    /// many values each task has: `{N}` beyond it is refused.
    pub fn parse(words: &[String], shell: bool, values: Option<usize>) -> Result<Template, String> {
        let empty = || {
            "the command template is empty: give a command after `--`, e.g. \
             `proctor map -- echo {}`"
                .to_string()
        };
        let first = words.first().ok_or_else(empty)?;
        if first.trim().is_empty() && (!shell || words.iter().all(|w| w.trim().is_empty())) {
            return Err(empty());
        }
        if !shell && first.starts_with('-') {
            return Err(format!(
                "the command '{first}' looks like a flag: proctor's own flags go before \
                 `--` (e.g. `proctor map -j4 -- echo {{}} ::: a b`), and the command after it"
            ));
        }
        let text = words;
        let mut words = Vec::with_capacity(text.len() + 1);
        for word in text {
            words.push(parse_word(word)?);
        }
        let parts = || words.iter().flatten();
        let has_placeholder = parts().any(|p| !matches!(p, Part::Text(_)));
        if let (Some(n), Some(index)) = (values, parts().filter_map(Part::index).max())
            && index > n
        {
            return Err(format!(
                "the template uses {{{index}}}, but each task has {n} value(s): give as \
                 many sources (`::: a b ::: 1 2` makes {{1}} and {{2}}), columns \
                 (--colsep) or -n"
            ));
        }
        if !has_placeholder {
            words.push(vec![Part::Value {
                index: None,
                form: Form::Whole,
            }]);
        }
        let shell = if shell {
            let mut script = text.join(" ");
            if !has_placeholder {
                script.push_str(" {}");
            }
            Some(shell::compile(&script)?)
        } else {
            None
        };
        Ok(Template {
            words,
            shell,
            context: false,
        })
    }

    /// `-X`: a word holding `{}` (or `{.}`…) next to other text is repeated once
    /// per value (`pre{}post` → `preapost prebpost`), as parallel's context replace.
    pub fn with_context_replace(mut self) -> Result<Template, String> {
        if self.shell.is_some() {
            return Err("-X fills argv words; with --shell the values are already \
                        parameters of one script: leave one of them out"
                .into());
        }
        self.context = true;
        Ok(self)
    }

    /// Bytes of the words around the values, as repeated for one value by `-X`.
    pub fn context_bytes(&self) -> usize {
        self.words
            .iter()
            .filter(|parts| {
                parts
                    .iter()
                    .any(|p| matches!(p, Part::Value { index: None, .. }))
            })
            .flatten()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                _ => 20,
            })
            .sum()
    }

    /// The program for one task.
    pub fn render(&self, fill: Fill<'_>) -> Program {
        let words: Vec<Vec<u8>> = match &self.shell {
            // sh -c SCRIPT sh VALUE…: `$0` is "sh", the values are `$1`, `$2`, …
            Some((script, params)) => ["/bin/sh", "-c", script, "sh"]
                .iter()
                .map(|w| w.as_bytes().to_vec())
                .chain(
                    params
                        .iter()
                        .map(|p| fill_word(std::slice::from_ref(p), fill)),
                )
                .collect(),
            None => {
                let mut out = Vec::with_capacity(self.words.len());
                for parts in &self.words {
                    match parts.as_slice() {
                        // A word that is only `{}` (or `{.}`…) becomes one word per
                        // value, as GNU parallel passes them.
                        [Part::Value { index: None, form }] => {
                            out.extend(fill.values.iter().map(|v| shown(v, *form).to_vec()))
                        }
                        _ if self.context
                            && parts
                                .iter()
                                .any(|p| matches!(p, Part::Value { index: None, .. })) =>
                        {
                            out.extend(fill.values.iter().map(|v| {
                                let one = Fill {
                                    values: std::slice::from_ref(v),
                                    ..fill
                                };
                                fill_word(parts, one)
                            }))
                        }
                        _ => out.push(fill_word(parts, fill)),
                    }
                }
                out
            }
        };
        match words
            .iter()
            .map(|w| String::from_utf8(w.clone()))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(words) => Program::Argv(words),
            Err(_) => Program::ArgvOs(words.into_iter().map(OsString::from_vec).collect()),
        }
    }
}

/// One word with placeholders, filled in as a whole (`--tagstring`).
#[derive(Debug, Clone, PartialEq)]
pub struct Word(Vec<Part>);

impl Word {
    pub fn parse(text: &str) -> Result<Word, String> {
        parse_word(text).map(Word)
    }

    pub fn fill(&self, fill: Fill<'_>) -> Vec<u8> {
        fill_word(&self.0, fill)
    }

    /// It takes a task's values (`{}`, `{1}`, `{.}`…), not only `{#}` or `{%}`.
    pub fn has_values(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Value { .. }))
    }
}

impl Part {
    fn index(&self) -> Option<usize> {
        match self {
            Part::Value { index, .. } => *index,
            _ => None,
        }
    }
}

/// One word with its placeholders replaced by the task's values, byte for byte.
/// `{}` inside a longer word is every value joined by a space.
fn fill_word(parts: &[Part], fill: Fill<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Text(text) => out.extend_from_slice(text.as_bytes()),
            Part::Value {
                index: Some(i),
                form,
            } => {
                if let Some(v) = fill.values.get(i - 1) {
                    out.extend_from_slice(shown(v, *form));
                }
            }
            Part::Value { index: None, form } => {
                for (k, v) in fill.values.iter().enumerate() {
                    if k > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(shown(v, *form));
                }
            }
            Part::Number => out.extend_from_slice(fill.number.to_string().as_bytes()),
            Part::Slot => out.extend_from_slice(fill.slot.to_string().as_bytes()),
        }
    }
    out
}

fn shown(value: &[u8], form: Form) -> &[u8] {
    match form {
        Form::Whole => value,
        Form::NoExtension => without_extension(value),
        Form::Basename => basename(value),
        Form::Dirname => dirname(value),
        Form::BasenameNoExtension => without_extension(basename(value)),
    }
}

/// The placeholder at the start of `text`, with its length: `None` when `text`
/// does not start with one (`{print $1}` is text), an error for a replacement
/// string proctor does not know.
pub fn placeholder_at(text: &str) -> Option<Result<(Part, usize), String>> {
    let inner = text.strip_prefix('{')?;
    if inner.starts_with('=') {
        return Some(Err(unknown(text.split('}').next().unwrap_or(text))));
    }
    let end = inner.find('}')?;
    let body = &inner[..end];
    let token = &text[..end + 2];
    const MARKS: &str = "0123456789./#%+-=:";
    if !body.chars().all(|c| MARKS.contains(c)) {
        return None;
    }
    let part = match body {
        "#" => Part::Number,
        "%" => Part::Slot,
        _ => {
            let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (number, form) = body.split_at(digits);
            let form = match form {
                "" => Form::Whole,
                "." => Form::NoExtension,
                "/" => Form::Basename,
                "//" => Form::Dirname,
                "/." => Form::BasenameNoExtension,
                _ => return Some(Err(unknown(token))),
            };
            let index = match number {
                "" => None,
                n => match n.parse::<usize>() {
                    Ok(i) if i >= 1 => Some(i),
                    _ => return Some(Err(unknown(token))),
                },
            };
            Part::Value { index, form }
        }
    };
    Some(Ok((part, token.len())))
}

fn unknown(token: &str) -> String {
    format!(
        "the template has '{token}', which proctor does not know: use {{}}, {{.}}, {{/}}, \
         {{//}}, {{/.}}, {{#}}, {{%}} or {{N}} with the same forms ({{1}}, {{2.}}, {{1/}}…); \
         see `proctor map --help`"
    )
}

/// Splits one word into text and placeholders.
fn parse_word(word: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        if let Some(found) = placeholder_at(rest) {
            let (part, len) = found?;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(part);
            rest = &rest[len..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            text.push(c);
        }
        rest = chars.as_str();
    }
    if !text.is_empty() || parts.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    fn one(number: u64, input: &str) -> Vec<Vec<u8>> {
        let _ = number;
        vec![input.as_bytes().to_vec()]
    }

    fn render(t: &Template, number: u64, values: &[Vec<u8>]) -> Program {
        t.render(Fill {
            number,
            slot: 2,
            values,
        })
    }

    fn argv(template: &[&str], number: u64, input: &str) -> Vec<String> {
        argv_of(template, number, &one(number, input))
    }

    fn argv_of(template: &[&str], number: u64, values: &[Vec<u8>]) -> Vec<String> {
        let t = Template::parse(&words(template), false, None).unwrap();
        match render(&t, number, values) {
            Program::Argv(words) => words,
            other => panic!("expected argv, got {other:?}"),
        }
    }

    #[test]
    fn placeholders_are_replaced_inside_words() {
        assert_eq!(
            argv(
                &[
                    "conv", "{}", "out/{/.}", "--n={#}", "{.}.png", "{/}", "{//}", "s{%}"
                ],
                7,
                "img/a.b.jpg"
            ),
            [
                "conv",
                "img/a.b.jpg",
                "out/a.b",
                "--n=7",
                "img/a.b.png",
                "a.b.jpg",
                "img",
                "s2"
            ]
        );
    }

    #[test]
    fn numbered_values_and_every_value() {
        let values = vec![b"d/x.c".to_vec(), b"2".to_vec()];
        assert_eq!(
            argv_of(&["cmd", "{2}", "{1/}", "{1.}", "{}", "<{}>"], 1, &values),
            ["cmd", "2", "x.c", "d/x", "d/x.c", "2", "<d/x.c 2>"]
        );
        assert_eq!(argv_of(&["echo"], 1, &values), ["echo", "d/x.c", "2"]);
    }

    #[test]
    fn unknown_replacement_strings_are_refused() {
        for bad in [
            "{+/}",
            "{..}",
            "{0}",
            "{-1}",
            "x{=s/a/b/=}",
            "{1//.}",
            "{#1}",
        ] {
            let err = Template::parse(&words(&["echo", bad]), false, None).unwrap_err();
            assert!(err.contains("does not know"), "{bad}: {err}");
        }
        let err = Template::parse(&words(&["echo", "{3}"]), false, Some(2)).unwrap_err();
        assert!(err.contains("{3}"), "{err}");
        assert!(Template::parse(&words(&["echo", "{2}"]), false, Some(2)).is_ok());
    }

    #[test]
    fn a_command_that_looks_like_a_flag_is_refused() {
        let err = Template::parse(&words(&["-j2", "echo"]), false, None).unwrap_err();
        assert!(err.contains("looks like a flag"), "{err}");
    }

    #[test]
    fn no_placeholder_appends_the_task() {
        assert_eq!(argv(&["echo", "-n"], 1, "x y"), ["echo", "-n", "x y"]);
        // Braces that are not placeholders stay as they are.
        assert_eq!(
            argv(&["awk", "{print $1}"], 1, "f"),
            ["awk", "{print $1}", "f"]
        );
        assert_eq!(
            argv(&["echo", "{a}", "{", "}"], 1, "f"),
            ["echo", "{a}", "{", "}", "f"]
        );
    }

    #[test]
    fn values_are_never_split_or_interpreted() {
        let task = "a b; rm -rf / $(id) 'q' \"d\"";
        assert_eq!(argv(&["printf", "%s\\n", "{}"], 1, task)[2], task);
    }

    fn sh(script: &str, values: &[&str]) -> Program {
        let mut argv = vec![
            "/bin/sh".to_string(),
            "-c".into(),
            script.into(),
            "sh".into(),
        ];
        argv.extend(values.iter().map(|v| v.to_string()));
        Program::Argv(argv)
    }

    fn shell(template: &[&str]) -> Result<Template, String> {
        Template::parse(&words(template), true, None)
    }

    #[test]
    fn shell_mode_passes_values_as_parameters_never_as_script_text() {
        let t = shell(&["echo", "{}", "|", "wc -c"]).unwrap();
        assert_eq!(
            render(&t, 3, &one(3, "a'b")),
            sh("echo \"${1}\" | wc -c", &["a'b"])
        );
        // `{#}` is a placeholder too, so the task is not appended.
        let t = shell(&["echo {#}:"]).unwrap();
        assert_eq!(render(&t, 3, &one(3, "x y")), sh("echo \"${1}\":", &["3"]));
        let t = shell(&["echo"]).unwrap();
        assert_eq!(render(&t, 3, &one(3, "x y")), sh("echo \"${1}\"", &["x y"]));
        let t = shell(&["echo {2} {1}"]).unwrap();
        let values = vec![b"a".to_vec(), b"$(id)".to_vec()];
        assert_eq!(
            render(&t, 1, &values),
            sh("echo \"${1}\" \"${2}\"", &["$(id)", "a"])
        );
        let err = shell(&["echo '{}'"]).unwrap_err();
        assert!(err.contains("single quotes"), "{err}");
        let err = shell(&["echo {+.}"]).unwrap_err();
        assert!(err.contains("does not know"), "{err}");
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_exact() {
        let t = Template::parse(&words(&["cat", "{}"]), false, None).unwrap();
        let values = vec![b"\xff.txt".to_vec()];
        assert_eq!(
            render(&t, 1, &values),
            Program::ArgvOs(vec!["cat".into(), OsString::from_vec(b"\xff.txt".to_vec())])
        );
        let t = shell(&["cat {}"]).unwrap();
        assert_eq!(
            render(&t, 1, &[b"\xff".to_vec()]),
            Program::ArgvOs(vec![
                "/bin/sh".into(),
                "-c".into(),
                "cat \"${1}\"".into(),
                "sh".into(),
                OsString::from_vec(b"\xff".to_vec())
            ])
        );
    }

    #[test]
    fn empty_templates_are_rejected() {
        for bad in [&[][..], &[""], &["  ", "{}"]] {
            let err = Template::parse(&words(bad), false, None).unwrap_err();
            assert!(err.contains("empty"), "{err}");
        }
        assert!(shell(&["", "echo"]).is_ok());
        assert!(shell(&[" "]).is_err());
    }
}
