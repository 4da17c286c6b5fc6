//! `--shell` templates: values never become script text. Each placeholder is
//! replaced by a reference to a positional parameter (`"${1}"`, or `${1}` inside
//! double quotes) and the values are passed as `sh -c SCRIPT sh VALUE…`, so the
//! shell expands them as data, whatever they contain.
//!
//! A placeholder inside single quotes (where the shell expands nothing, and the text
//! is often code for another program such as awk) is refused. Inside `$((…))` a
//! value would be evaluated as an expression (bash runs `a[$(cmd)]` there), so the
//! script starts with a check that each such value is a whole number, and a task
//! whose value is not one fails with exit status 2 before anything else runs.

use super::Part;

/// Where the scanner is in the script.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    /// Top level, or inside `$(…)` (with its count of open parentheses).
    Plain {
        parens: u32,
    },
    Double,
    Single,
    Backtick,
    Arith {
        parens: u32,
    },
}

/// The script with placeholders replaced by parameter references, and which
/// placeholder each parameter (`$1`, `$2`, …) carries.
pub(super) fn compile(script: &str) -> Result<(String, Vec<Part>), String> {
    let mut out = String::with_capacity(script.len() + 16);
    let mut params: Vec<Part> = Vec::new();
    let mut stack = vec![Ctx::Plain { parens: 0 }];
    // Parameters used inside `$((…))`: checked to be whole numbers first.
    let mut numeric: Vec<usize> = Vec::new();
    let mut rest = script;
    while !rest.is_empty() {
        let ctx = *stack.last().unwrap_or(&Ctx::Plain { parens: 0 });
        if let Some(found) = super::placeholder_at(rest) {
            let (part, len) = found?;
            let (token, after) = rest.split_at(len);
            let n = match params.iter().position(|p| *p == part) {
                Some(i) => i + 1,
                None => {
                    params.push(part);
                    params.len()
                }
            };
            match ctx {
                Ctx::Plain { .. } | Ctx::Backtick => out.push_str(&format!("\"${{{n}}}\"")),
                Ctx::Double => out.push_str(&format!("${{{n}}}")),
                Ctx::Single => return Err(refusal(token, "inside single quotes", script)),
                Ctx::Arith { .. } => {
                    if !numeric.contains(&n) {
                        numeric.push(n);
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
            }
            rest = after;
            continue;
        }
        let taken = step(ctx, rest, &mut stack);
        out.push_str(&rest[..taken]);
        rest = &rest[taken..];
    }
    let checks: String = numeric.iter().map(|&n| whole_number_check(n)).collect();
    Ok((checks + &out, params))
}

/// Script text that ends the task (status 2) unless parameter `n` is a whole
/// number, optionally negative: only digits then reach `$((…))`. The value is
/// only ever expanded in double quotes here, so it stays data.
fn whole_number_check(n: usize) -> String {
    format!(
        "case \"${{{n}#-}}\" in ''|*[!0-9]*) printf 'proctor: %s is used in $((...)) but is \
         not a whole number\\n' \"'${{{n}}}'\" >&2; exit 2;; esac; "
    )
}

fn refusal(token: &str, place: &str, script: &str) -> String {
    format!(
        "the --shell template '{script}' has the placeholder {token} {place}, where the \
         shell cannot pass a task safely: write it bare or in double quotes (e.g. \
         printf '%s\\n' \"{token}\"); every value then reaches the shell as data, never as code"
    )
}

/// Consumes the next piece of `rest` (at least one character), updating the quote
/// context; returns how many bytes it took.
fn step(ctx: Ctx, rest: &str, stack: &mut Vec<Ctx>) -> usize {
    let one = rest.chars().next().map_or(1, char::len_utf8);
    let starts = |s: &str| rest.starts_with(s);
    match ctx {
        Ctx::Single => {
            if starts("'") {
                stack.pop();
            }
            one
        }
        Ctx::Plain { .. } | Ctx::Double | Ctx::Backtick if starts("\\") => {
            // A backslash and the character it escapes.
            1 + rest[1..].chars().next().map_or(0, char::len_utf8)
        }
        _ if starts("$((") => {
            stack.push(Ctx::Arith { parens: 0 });
            3
        }
        _ if starts("$(") => {
            stack.push(Ctx::Plain { parens: 0 });
            2
        }
        Ctx::Arith { parens } => {
            if starts("))") && parens == 0 {
                stack.pop();
                return 2;
            }
            set_parens(stack, rest, parens);
            one
        }
        Ctx::Double => {
            if starts("\"") {
                stack.pop();
            } else if starts("`") {
                stack.push(Ctx::Backtick);
            }
            one
        }
        Ctx::Plain { .. } | Ctx::Backtick => {
            if starts("'") {
                stack.push(Ctx::Single);
            } else if starts("\"") {
                stack.push(Ctx::Double);
            } else if starts("`") {
                if ctx == Ctx::Backtick {
                    stack.pop();
                } else {
                    stack.push(Ctx::Backtick);
                }
            } else if let Ctx::Plain { parens } = ctx {
                // `)` closes the innermost `$(` (never the top level).
                if starts(")") && parens == 0 && stack.len() > 1 {
                    stack.pop();
                } else {
                    set_parens(stack, rest, parens);
                }
            }
            one
        }
    }
}

/// Counts `(` and `)` nested inside a `$(…)` or `$((…))`.
fn set_parens(stack: &mut [Ctx], rest: &str, parens: u32) {
    let parens = if rest.starts_with('(') {
        parens + 1
    } else if rest.starts_with(')') {
        parens.saturating_sub(1)
    } else {
        return;
    };
    if let Some(Ctx::Plain { parens: p } | Ctx::Arith { parens: p }) = stack.last_mut() {
        *p = parens;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Form;
    use super::*;

    fn script(text: &str) -> String {
        compile(text)
            .map(|(s, _)| s)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn placeholders_become_parameter_references() {
        assert_eq!(script("echo {}"), "echo \"${1}\"");
        assert_eq!(script("printf %s \"{}\""), "printf %s \"${1}\"");
        assert_eq!(script("echo x{}y"), "echo x\"${1}\"y");
        assert_eq!(script("echo \"a {} b\""), "echo \"a ${1} b\"");
        assert_eq!(script("echo $(basename {})"), "echo $(basename \"${1}\")");
        assert_eq!(script("echo \"$(cat {})\""), "echo \"$(cat \"${1}\")\"");
        assert_eq!(script("echo `echo {}`"), "echo `echo \"${1}\"`");
        assert_eq!(script("echo \\'{}"), "echo \\'\"${1}\"");
        assert_eq!(script("echo \"it's {}\""), "echo \"it's ${1}\"");
    }

    #[test]
    fn each_placeholder_kind_gets_one_parameter() {
        let (s, params) = compile("cp {} {.}.bak; echo {#} {}").unwrap();
        assert_eq!(s, "cp \"${1}\" \"${2}\".bak; echo \"${3}\" \"${1}\"");
        let value = |form| Part::Value { index: None, form };
        assert_eq!(
            params,
            [value(Form::Whole), value(Form::NoExtension), Part::Number]
        );
    }

    #[test]
    fn arithmetic_takes_checked_whole_numbers() {
        let s = script("echo $(( {} * 2 )) {}");
        assert!(s.starts_with("case \"${1#-}\" in ''|*[!0-9]*)"), "{s}");
        assert!(s.ends_with("esac; echo $(( ${1} * 2 )) \"${1}\""), "{s}");
    }

    #[test]
    fn single_quotes_are_refused() {
        for bad in ["echo '{}'", "awk '{print \"{}\"}'"] {
            let err = compile(bad).unwrap_err();
            assert!(err.contains("{}") && err.contains("double quotes"), "{err}");
        }
        // Quotes that are closed again, or escaped, do not count.
        assert_eq!(script("echo 'a' {} 'b'"), "echo 'a' \"${1}\" 'b'");
        assert_eq!(script("echo $((1+2)) {}"), "echo $((1+2)) \"${1}\"");
        assert_eq!(script("echo $( (echo) ) {}"), "echo $( (echo) ) \"${1}\"");
    }
}
