//! Procfiles, as foreman, honcho and overmind read them: one `name: command` a
//! line, each command run by `/bin/sh -c`, with the variables of a `.env` file
//! beside the Procfile added to every job's environment and `PORT` set per job
//! (5000, 5100, … in the order of the file, as foreman does).

use std::collections::BTreeMap;

use super::load::SpecError;
use super::{JobSpec, Program, Workload};

/// First `PORT`; each later job gets 100 more.
const BASE_PORT: u32 = 5000;

/// True when a workload path names a Procfile (`Procfile`, `Procfile.dev`, `x.procfile`).
pub fn is_procfile(path: &std::path::Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name == "Procfile" || name.starts_with("Procfile.") || name.ends_with(".procfile")
}

/// Parses a Procfile; `dotenv` is the text of the `.env` beside it, if any.
pub fn parse(
    text: &str,
    origin: &str,
    dotenv: Option<(&str, &str)>,
) -> Result<Workload, SpecError> {
    let env = match dotenv {
        Some((text, origin)) => parse_dotenv(text, origin)?,
        None => BTreeMap::new(),
    };
    let mut jobs: Vec<JobSpec> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = (n + 1, 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, command)) = trimmed.split_once(':') else {
            return Err(SpecError::located(
                origin,
                at,
                None,
                "expected `name: command` (a Procfile line)",
            ));
        };
        let (name, command) = (name.trim(), command.trim());
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !name_ok {
            return Err(SpecError::located(
                origin,
                at,
                None,
                &format!(
                    "the process name '{name}' must be 1 to 64 letters, digits, '_', '-' or '.'"
                ),
            ));
        }
        if command.is_empty() {
            return Err(SpecError::located(
                origin,
                at,
                None,
                &format!("'{name}' has no command after the ':'"),
            ));
        }
        if jobs.iter().any(|j| j.name == name) {
            return Err(SpecError::located(
                origin,
                at,
                None,
                &format!("the process name '{name}' is used twice"),
            ));
        }
        let mut job = JobSpec::new(name, Program::Shell(command.to_string()));
        job.explicit_name = true;
        job.env = env.clone();
        let port = BASE_PORT + 100 * jobs.len() as u32;
        job.env
            .entry("PORT".into())
            .or_insert_with(|| port.to_string());
        jobs.push(job);
    }
    if jobs.is_empty() {
        return Err(SpecError::located(
            origin,
            (1, 1),
            None,
            "the Procfile names no process: expected lines such as `web: python3 -m http.server`",
        ));
    }
    Ok(Workload {
        max_parallel: Some(jobs.len()),
        stop_grace: std::time::Duration::from_millis(super::load::DEFAULT_GRACE_MS),
        jobs,
    })
}

/// `KEY=VALUE` lines (an `export ` prefix, `#` comments and quotes allowed).
fn parse_dotenv(text: &str, origin: &str) -> Result<BTreeMap<String, String>, SpecError> {
    let mut env = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(SpecError::located(
                origin,
                (n + 1, 1),
                None,
                "expected KEY=VALUE (a .env line)",
            ));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) || key.contains('\0') {
            return Err(SpecError::located(
                origin,
                (n + 1, 1),
                None,
                &format!("'{key}' is not a variable name"),
            ));
        }
        env.insert(key.to_string(), unquote(value.trim()));
    }
    Ok(env)
}

/// `"a b"` and `'a b'` lose their quotes; double quotes know `\n`, `\"` and `\\`.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('\\', Some('n')) => {
                    out.push('\n');
                    chars.next();
                }
                ('\\', Some(e @ ('"' | '\\'))) => {
                    out.push(e);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: a ` #` starts a comment.
    value
        .split_once(" #")
        .map_or(value, |(v, _)| v.trim_end())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_shell_jobs_with_ports_and_the_env() {
        let w = parse(
            "# services\nweb: python3 -m http.server $PORT\n\nworker:  sh -c 'echo hi' \n",
            "Procfile",
            Some((
                "export A=1\nB=\"x y\\n\"\nC='$literal' \nD=plain # note\n",
                ".env",
            )),
        )
        .expect("parses");
        assert_eq!(w.jobs.len(), 2);
        assert_eq!(w.jobs[0].name, "web");
        assert_eq!(
            w.jobs[0].program,
            Program::Shell("python3 -m http.server $PORT".into())
        );
        assert_eq!(w.jobs[1].program, Program::Shell("sh -c 'echo hi'".into()));
        assert_eq!(w.jobs[0].env.get("PORT").map(String::as_str), Some("5000"));
        assert_eq!(w.jobs[1].env.get("PORT").map(String::as_str), Some("5100"));
        let env = &w.jobs[1].env;
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert_eq!(env.get("B").map(String::as_str), Some("x y\n"));
        assert_eq!(env.get("C").map(String::as_str), Some("$literal"));
        assert_eq!(env.get("D").map(String::as_str), Some("plain"));
        assert_eq!(w.max_parallel, Some(2));
    }

    #[test]
    fn bad_lines_name_their_place() {
        let err = parse("web: ok\nnot a process line\n", "Procfile", None).unwrap_err();
        assert!(err.to_string().contains("Procfile:2:1"), "{err}");
        let err = parse("web: a\nweb: b\n", "Procfile", None).unwrap_err();
        assert!(err.to_string().contains("used twice"), "{err}");
        let err = parse("bad name: a\n", "Procfile", None).unwrap_err();
        assert!(err.to_string().contains("'bad name'"), "{err}");
        let err = parse("web:\n", "Procfile", None).unwrap_err();
        assert!(err.to_string().contains("no command"), "{err}");
        let err = parse("# nothing\n", "Procfile", None).unwrap_err();
        assert!(err.to_string().contains("names no process"), "{err}");
        let err = parse("web: a\n", "Procfile", Some(("NOVALUE\n", ".env"))).unwrap_err();
        assert!(err.to_string().contains(".env:1:1"), "{err}");
    }
}
