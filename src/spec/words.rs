//! POSIX shell-word splitting (quotes, backslashes) without ever running a shell.
//!
//! The rules are those `sh` uses to cut a command line into words, and nothing
//! else: no parameter, command or arithmetic expansion, no globbing, no operators,
//! no comments. `$HOME`, `*`, `;`, `|`, `#` and `$(x)` are plain characters.

use std::iter::Peekable;
use std::str::CharIndices;

/// Splits a command line into argv words the way `sh` would, without expansion.
///
/// - blanks (space, tab, newline, carriage return) separate words;
/// - `'…'` keeps everything literally, backslashes included;
/// - `"…"` keeps everything literally except `\$`, `` \` ``, `\"`, `\\` (the
///   backslash is dropped) and backslash-newline (both are dropped);
/// - outside quotes a backslash makes the next character literal, and
///   backslash-newline joins lines;
/// - `''` and `""` make an empty word.
///
/// The error says what is wrong (an unterminated quote, a trailing backslash)
/// and where, counting characters from 1.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                single_quoted(&mut chars, &mut word).ok_or_else(|| unterminated(line, at, c))?;
            }
            '"' => {
                in_word = true;
                double_quoted(&mut chars, &mut word).ok_or_else(|| unterminated(line, at, c))?;
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, next)) => {
                    in_word = true;
                    word.push(next);
                }
                None => {
                    return Err(format!(
                        "trailing backslash: the '\\' at character {} escapes nothing \
                         (write '\\\\' for a literal backslash)",
                        position(line, at)
                    ));
                }
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Reads up to the closing `'`; `None` if there is none.
fn single_quoted(chars: &mut Peekable<CharIndices<'_>>, word: &mut String) -> Option<()> {
    loop {
        match chars.next()? {
            (_, '\'') => return Some(()),
            (_, c) => word.push(c),
        }
    }
}

/// Reads up to the closing `"`, honouring the backslash escapes `sh` honours
/// there; `None` if there is no closing quote.
fn double_quoted(chars: &mut Peekable<CharIndices<'_>>, word: &mut String) -> Option<()> {
    loop {
        match chars.next()? {
            (_, '"') => return Some(()),
            (_, '\\') => match chars.peek()? {
                (_, '$' | '`' | '"' | '\\') => {
                    let (_, c) = chars.next()?;
                    word.push(c);
                }
                (_, '\n') => {
                    chars.next();
                }
                _ => word.push('\\'),
            },
            (_, c) => word.push(c),
        }
    }
}

fn unterminated(line: &str, at: usize, quote: char) -> String {
    format!(
        "unterminated quote: the {quote} at character {} is never closed",
        position(line, at)
    )
}

/// 1-based character position of the byte offset `at`.
fn position(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(split("  sleep \t 1\n2  "), ["sleep", "1", "2"]);
        assert!(split("").is_empty());
        assert!(split(" \t\n").is_empty());
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            split(r"echo 'a  b' 'c\d' '$HOME'"),
            ["echo", "a  b", r"c\d", "$HOME"]
        );
        assert_eq!(split(r#"'say "hi"'"#), [r#"say "hi""#]);
    }

    #[test]
    fn double_quotes_escape_only_dollar_backtick_quote_backslash_newline() {
        assert_eq!(
            split(r#"echo "a \$b \`c\` \"d\" \\ \n \x""#),
            ["echo", r#"a $b `c` "d" \ \n \x"#]
        );
        assert_eq!(split("\"a\\\nb\""), ["ab"]);
        assert_eq!(split(r#""it's""#), ["it's"]);
    }

    #[test]
    fn backslash_outside_quotes_escapes_the_next_character() {
        assert_eq!(split(r"a\ b c\\d \'e\'"), ["a b", r"c\d", "'e'"]);
        assert_eq!(split("one\\\ntwo three"), ["onetwo", "three"]);
        assert_eq!(split("a \\\n b"), ["a", "b"]);
    }

    #[test]
    fn quotes_join_with_neighbouring_text_and_make_empty_words() {
        assert_eq!(split(r#"pre'mid'"post"x"#), ["premidpostx"]);
        assert_eq!(split(r#"a '' "" b"#), ["a", "", "", "b"]);
    }

    #[test]
    fn nothing_is_expanded_or_interpreted() {
        assert_eq!(
            split("echo $HOME *.rs ; rm -rf / | cat && x $(id) `id` #c > f"),
            [
                "echo", "$HOME", "*.rs", ";", "rm", "-rf", "/", "|", "cat", "&&", "x", "$(id)",
                "`id`", "#c", ">", "f"
            ]
        );
        assert_eq!(split("a;b"), ["a;b"]);
        assert_eq!(split("~/bin/x"), ["~/bin/x"]);
    }

    #[test]
    fn unicode_words_survive() {
        assert_eq!(split("échò 'ünï côdé'"), ["échò", "ünï côdé"]);
    }

    #[test]
    fn unterminated_quotes_are_errors_that_say_where() {
        let e = split_words(r#"echo "hi"#).unwrap_err();
        assert!(e.contains("unterminated quote"), "{e}");
        assert!(e.contains("character 6"), "{e}");
        let e = split_words("é 'x").unwrap_err();
        assert!(
            e.contains("unterminated quote: the ' at character 3"),
            "{e}"
        );
        assert!(split_words(r#""a\""#).is_err());
    }

    #[test]
    fn trailing_backslash_is_an_error() {
        let e = split_words(r"echo a\").unwrap_err();
        assert!(e.contains("trailing backslash"), "{e}");
    }
}
