//! The path forms of a value (`{.}`, `{/}`, `{//}`), on bytes, as `basename` and
//! `dirname` compute them.

/// `dir/name.tar.gz` → `dir/name.tar`; a leading dot (`.bashrc`) is no extension.
pub fn without_extension(input: &[u8]) -> &[u8] {
    let name_start = input.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match input[name_start..].iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &input[..name_start + dot],
        _ => input,
    }
}

/// The part after the last `/` (trailing slashes ignored, as `basename` does).
pub fn basename(input: &[u8]) -> &[u8] {
    let Some(last) = input.iter().rposition(|&b| b != b'/') else {
        return &input[..input.len().min(1)]; // "/" stays "/", "" stays ""
    };
    let trimmed = &input[..=last];
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// The part before the last `/` (as `dirname` does): `a/b/c` → `a/b`, `c` → `.`,
/// `/c` → `/`, `a/b/` → `a`.
pub fn dirname(input: &[u8]) -> &[u8] {
    let Some(last) = input.iter().rposition(|&b| b != b'/') else {
        return if input.is_empty() { b"." } else { b"/" };
    };
    let Some(slash) = input[..=last].iter().rposition(|&b| b == b'/') else {
        return b".";
    };
    match input[..slash].iter().rposition(|&b| b != b'/') {
        Some(end) => &input[..=end],
        None => b"/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn dirname_edge_cases() {
        assert_eq!(dirname(b"a/b/c.txt"), b"a/b");
        assert_eq!(dirname(b"c.txt"), b".");
        assert_eq!(dirname(b"/c"), b"/");
        assert_eq!(dirname(b"a/b/"), b"a");
        assert_eq!(dirname(b"a//b"), b"a");
        assert_eq!(dirname(b"/"), b"/");
        assert_eq!(dirname(b""), b".");
    }
}
