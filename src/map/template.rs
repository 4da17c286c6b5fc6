//! The command template of map mode: parsing it once, and filling in one task.
//!
//! Placeholders are replaced inside argv words, never by a shell: `{}` the task,
//! `{#}` its number, `{.}` the task without extension, `{/}` its basename. With
//! `--shell` the words form one `/bin/sh -c` script whose placeholders refer to
//! positional parameters, and the values are passed as arguments (see `shell.rs`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::spec::Program;

mod shell;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// `{}`
    Input,
    /// `{#}`
    Number,
    /// `{.}`
    NoExtension,
    /// `{/}`
    Basename,
}

/// A parsed template, ready to fill in for each task.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    words: Vec<Vec<Part>>,
    /// `--shell`: the script, and the placeholder each positional parameter carries.
    shell: Option<(String, Vec<Part>)>,
}

impl Template {
    /// Parses the template words; without any placeholder the task is appended as
    /// one more argument (as xargs does).
    pub fn parse(words: &[String], shell: bool) -> Result<Template, String> {
        let empty = || {
            "the command template is empty: give a command after `--`, e.g. \
             `proctor map -- echo {}`"
                .to_string()
        };
        let first = words.first().ok_or_else(empty)?;
        if first.trim().is_empty() && (!shell || words.iter().all(|w| w.trim().is_empty())) {
            return Err(empty());
        }
        let text = words;
        let mut words: Vec<Vec<Part>> = text.iter().map(|w| parse_word(w)).collect();
        let has_placeholder = words.iter().flatten().any(|p| !matches!(p, Part::Text(_)));
        if !has_placeholder {
            words.push(vec![Part::Input]);
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
        Ok(Template { words, shell })
    }

    /// The program for task number `number` with input `input`.
    pub fn render(&self, number: u64, input: &[u8]) -> Program {
        let words: Vec<Vec<u8>> = match &self.shell {
            // sh -c SCRIPT sh VALUE…: `$0` is "sh", the values are `$1`, `$2`, …
            Some((script, params)) => ["/bin/sh", "-c", script, "sh"]
                .iter()
                .map(|w| w.as_bytes().to_vec())
                .chain(
                    params
                        .iter()
                        .map(|p| fill(std::slice::from_ref(p), number, input)),
                )
                .collect(),
            None => self
                .words
                .iter()
                .map(|parts| fill(parts, number, input))
                .collect(),
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

/// One word with its placeholders replaced by the task's values, byte for byte.
fn fill(parts: &[Part], number: u64, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Text(text) => out.extend_from_slice(text.as_bytes()),
            Part::Input => out.extend_from_slice(input),
            Part::Number => out.extend_from_slice(number.to_string().as_bytes()),
            Part::NoExtension => out.extend_from_slice(without_extension(input)),
            Part::Basename => out.extend_from_slice(basename(input)),
        }
    }
    out
}

/// Splits one word into text and placeholders; any other `{…}` is plain text.
fn parse_word(word: &str) -> Vec<Part> {
    const PLACEHOLDERS: [(&str, Part); 4] = [
        ("{}", Part::Input),
        ("{#}", Part::Number),
        ("{.}", Part::NoExtension),
        ("{/}", Part::Basename),
    ];
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = word;
    'scan: while !rest.is_empty() {
        for (token, part) in &PLACEHOLDERS {
            if let Some(after) = rest.strip_prefix(token) {
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(part.clone());
                rest = after;
                continue 'scan;
            }
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
    parts
}

/// `dir/name.tar.gz` → `dir/name.tar`; a leading dot (`.bashrc`) is no extension.
fn without_extension(input: &[u8]) -> &[u8] {
    let name_start = input.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match input[name_start..].iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &input[..name_start + dot],
        _ => input,
    }
}

/// The part after the last `/` (trailing slashes ignored, as `basename` does).
fn basename(input: &[u8]) -> &[u8] {
    let Some(last) = input.iter().rposition(|&b| b != b'/') else {
        return &input[..input.len().min(1)]; // "/" stays "/", "" stays ""
    };
    let trimmed = &input[..=last];
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    fn argv(template: &[&str], number: u64, input: &str) -> Vec<String> {
        let t = Template::parse(&words(template), false).unwrap();
        match t.render(number, input.as_bytes()) {
            Program::Argv(words) => words,
            other => panic!("expected argv, got {other:?}"),
        }
    }

    #[test]
    fn placeholders_are_replaced_inside_words() {
        assert_eq!(
            argv(
                &["conv", "{}", "out/{/.}", "--n={#}", "{.}.png", "{/}"],
                7,
                "img/a.b.jpg"
            ),
            [
                "conv",
                "img/a.b.jpg",
                "out/{/.}",
                "--n=7",
                "img/a.b.png",
                "a.b.jpg"
            ]
        );
    }

    #[test]
    fn no_placeholder_appends_the_task() {
        assert_eq!(argv(&["echo", "-n"], 1, "x y"), ["echo", "-n", "x y"]);
        // Braces that are not placeholders stay as they are.
        assert_eq!(
            argv(&["awk", "{print $1}"], 1, "f"),
            ["awk", "{print $1}", "f"]
        );
    }

    #[test]
    fn values_are_never_split_or_interpreted() {
        let task = "a b; rm -rf / $(id) 'q' \"d\"";
        assert_eq!(argv(&["printf", "%s\\n", "{}"], 1, task)[2], task);
    }

    #[test]
    fn extension_and_basename_edge_cases() {
        assert_eq!(without_extension(b"a.tar.gz"), b"a.tar");
        assert_eq!(without_extension(b".bashrc"), b".bashrc");
        assert_eq!(without_extension(b"dir.d/file"), b"dir.d/file");
        assert_eq!(without_extension(b"dir/x."), b"dir/x");
        assert_eq!(basename(b"/a/b/c.txt"), b"c.txt");
        assert_eq!(basename(b"a/b/"), b"b");
        assert_eq!(basename(b"plain"), b"plain");
        assert_eq!(basename(b"/"), b"/");
        assert_eq!(basename(b""), b"");
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

    #[test]
    fn shell_mode_passes_values_as_parameters_never_as_script_text() {
        let t = Template::parse(&words(&["echo", "{}", "|", "wc -c"]), true).unwrap();
        assert_eq!(t.render(3, b"a'b"), sh("echo \"${1}\" | wc -c", &["a'b"]));
        // `{#}` is a placeholder too, so the task is not appended.
        let t = Template::parse(&words(&["echo {#}:"]), true).unwrap();
        assert_eq!(t.render(3, b"x y"), sh("echo \"${1}\":", &["3"]));
        let t = Template::parse(&words(&["echo"]), true).unwrap();
        assert_eq!(t.render(3, b"x y"), sh("echo \"${1}\"", &["x y"]));
        let err = Template::parse(&words(&["echo '{}'"]), true).unwrap_err();
        assert!(err.contains("single quotes"), "{err}");
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_exact() {
        let t = Template::parse(&words(&["cat", "{}"]), false).unwrap();
        assert_eq!(
            t.render(1, b"\xff.txt"),
            Program::ArgvOs(vec!["cat".into(), OsString::from_vec(b"\xff.txt".to_vec())])
        );
        let t = Template::parse(&words(&["cat {}"]), true).unwrap();
        assert_eq!(
            t.render(1, b"\xff"),
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
            let err = Template::parse(&words(bad), false).unwrap_err();
            assert!(err.contains("empty"), "{err}");
        }
        assert!(Template::parse(&words(&["", "echo"]), true).is_ok());
        assert!(Template::parse(&words(&[" "]), true).is_err());
    }
}
