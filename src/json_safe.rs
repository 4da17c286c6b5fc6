//! JSON that is safe to print in a terminal: besides what JSON itself escapes (C0
//! controls, `"` and `\`), DEL, the C1 controls (U+0080–U+009F; U+009B is a CSI in
//! terminals that honour 8-bit controls) and bidirectional overrides, isolates and
//! marks are written as `\uXXXX`. A JSON parser still reads the original text.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

/// True for characters that could change what a terminal shows beyond the text.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// serde_json's compact output, with the characters of [`is_unsafe`] escaped.
#[derive(Debug, Default, Clone, Copy)]
pub struct SafeFormatter;

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Most text is plain ASCII below DEL: nothing to look for, byte by byte.
        if fragment.bytes().all(|b| b < 0x7f) {
            return CompactFormatter.write_string_fragment(writer, fragment);
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Every such character is in the Basic Multilingual Plane: one escape.
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        CompactFormatter.write_string_fragment(writer, &fragment[start..])
    }
}

/// Writes `value` as one line of terminal-safe JSON (no newline added).
pub fn to_writer<W: Write, T: ?Sized + Serialize>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, SafeFormatter);
    value.serialize(&mut ser)
}

/// `value` as terminal-safe JSON bytes.
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_are_escaped_and_parse_back() {
        let text =
            "a\u{9b}31m\u{7f}b\u{202e}c\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}\u{85}é€\u{1f600}";
        let bytes = to_vec(&text).unwrap();
        let json = std::str::from_utf8(&bytes).unwrap();
        assert!(!json.chars().any(is_unsafe), "{json}");
        assert!(
            json.contains("\\u009b") && json.contains("\\u202e"),
            "{json}"
        );
        let back: String = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        let value = serde_json::json!({"line": "héllo \"q\" \t\u{1b}[0m ünï"});
        assert_eq!(to_vec(&value).unwrap(), serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn the_edges_of_each_range_are_escaped() {
        for c in [
            '\u{7e}', '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
        for c in ['\u{7f}', '\u{80}', '\u{9f}', '\u{202a}', '\u{2069}'] {
            assert!(is_unsafe(c), "{c:?}");
        }
    }
}
