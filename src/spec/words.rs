//! POSIX shell-word splitting (quotes, backslashes) without ever running a shell.

/// Splits a command line into argv words the way `sh` would, without expansion.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    shell_words::split(line).map_err(|e| format!("cannot split '{line}' into words: {e}"))
}
