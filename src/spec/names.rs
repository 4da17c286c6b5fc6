//! Names from the command line: `NAME=COMMAND`, and the program a shell script
//! starts with (`cat /dev/urandom | base64` is `cat`, not `sh`).

use super::bounds::MAX_NAME_BYTES;
use super::split_words;

/// Splits a leading `NAME=` off a command line: `web=python3 -m http.server` is
/// `("web", "python3 -m http.server")`. NAME is letters, digits and `_-.:@+`, at
/// most [`MAX_NAME_BYTES`] bytes, and the command right after `=` is non-empty and
/// starts with no space. Anything else (a quote, `/`, `$`, `env FOO=bar cmd`) is
/// not a name, so quoting the first word (`'FOO=bar' cmd`) keeps it a command.
pub fn split_cli_name(cmdline: &str) -> Option<(&str, &str)> {
    let (name, rest) = cmdline.split_once('=')?;
    let name_ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.:@+".contains(c));
    let rest_ok = rest.chars().next().is_some_and(|c| !c.is_whitespace());
    (name_ok && rest_ok).then_some((name, rest))
}

/// Words that run the next word rather than being the program themselves.
const PREFIXES: &[&str] = &["exec", "env", "command", "nohup", "time", "builtin", "!"];

/// Built-ins that only prepare the shell: the program comes in a later command.
const SETUP: &[&str] = &[
    "trap", "cd", "set", "ulimit", "umask", "export", "unset", "readonly", ":",
];

/// The basename of the first program a shell script runs, past variable
/// assignments, `exec`-like prefixes and set-up built-ins (`trap`, `cd`, …);
/// `None` when it cannot tell (a `$VAR` program, a subshell, a loop).
pub fn shell_program(script: &str) -> Option<String> {
    for command in script.split(|c: char| ";&|\n".contains(c)) {
        let words = split_words(command)
            .unwrap_or_else(|_| command.split_whitespace().map(str::to_string).collect());
        let Some(first) = words
            .iter()
            .find(|w| !is_assignment(w) && !PREFIXES.contains(&w.as_str()) && !w.starts_with('-'))
        else {
            continue;
        };
        if SETUP.contains(&first.as_str()) {
            continue;
        }
        if first.contains(|c: char| "$`(){}[]<>".contains(c)) || is_keyword(first) {
            return None;
        }
        let base = first.rsplit('/').next().unwrap_or(first);
        return (!base.is_empty()).then(|| base.to_string());
    }
    None
}

fn is_keyword(word: &str) -> bool {
    ["for", "while", "until", "if", "case", "select", "function"].contains(&word)
}

/// `FOO=bar` before a command sets the command's environment.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_name_names_the_job() {
        assert_eq!(
            split_cli_name("web=python3 -m http.server"),
            Some(("web", "python3 -m http.server"))
        );
        assert_eq!(split_cli_name("db-1=x=y"), Some(("db-1", "x=y")));
        for not_a_name in [
            "env FOO=bar cmd",
            "'FOO=bar' cmd",
            "\\FOO=bar cmd",
            "web= python3",
            "web=",
            "=cmd",
            "/bin/x=y z",
            "a b=c",
            "$X=1 cmd",
        ] {
            assert_eq!(split_cli_name(not_a_name), None, "{not_a_name}");
        }
    }

    #[test]
    fn a_script_is_named_after_its_first_program() {
        let cases = [
            ("cat /dev/urandom | base64", Some("cat")),
            ("  /usr/bin/yes|head", Some("yes")),
            ("FOO=1 BAR=2 exec python3 -m http.server", Some("python3")),
            ("exec env -i FOO=1 ./server --port 80", Some("server")),
            ("sleep 1; echo done", Some("sleep")),
            ("'my tool' --x", Some("my tool")),
            ("$CMD arg", None),
            ("(cd x && make)", None),
            ("trap '' TERM; cd /tmp && exec yes flood", Some("yes")),
            ("for i in 1 2; do sleep $i; done", None),
            ("python3 -c 'print(1); print(2)'", Some("python3")),
            ("FOO=1", None),
        ];
        for (script, name) in cases {
            assert_eq!(shell_program(script).as_deref(), name, "{script}");
        }
    }
}
