//! Checked JSON values: the framework. Each kind (see `kinds.rs`) says what it
//! accepts; everything else is rejected with a message naming the bad value and
//! what was expected.
//!
//! Every check runs inside the `Visitor` that serde_json calls for the value, so
//! serde_json stamps the error with the line and column of that value.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Quotes a user's value for a message: `'…'`, control characters escaped, long
/// values cut.
pub(super) fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut out = String::from("'");
    for (n, c) in s.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// What a JSON value turned out to be, for "found …" messages.
pub(super) enum Found<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(&'a str),
    Array,
    Object,
}

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Null => f.write_str("null"),
            Found::Bool(b) => write!(f, "boolean '{b}'"),
            Found::Int(n) => write!(f, "number '{n}'"),
            Found::Float(x) => write!(f, "number '{x:?}'"),
            Found::Text(s) => write!(f, "string {}", quote(s)),
            Found::Array => f.write_str("an array"),
            Found::Object => f.write_str("an object"),
        }
    }
}

/// The error for a value of the wrong JSON type.
pub(super) fn wrong<E: de::Error>(found: Found<'_>, expected: &str) -> E {
    E::custom(format!("found {found}: expected {expected}"))
}

/// One kind of checked value. Each method handles one JSON type; the defaults
/// reject it, so a kind implements only the types it accepts.
pub(super) trait Expect<'de>: Sized {
    type Value;

    /// What the field takes, e.g. "a whole number in 1..=10000".
    fn expected(&self) -> String;

    fn null<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(wrong(Found::Null, &self.expected()))
    }
    fn boolean<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(wrong(Found::Bool(v), &self.expected()))
    }
    fn int<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Err(wrong(Found::Int(v), &self.expected()))
    }
    fn float<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(wrong(Found::Float(v), &self.expected()))
    }
    fn text<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Err(wrong(Found::Text(v), &self.expected()))
    }
    fn array<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(wrong(Found::Array, &self.expected()))
    }
    fn object<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(wrong(Found::Object, &self.expected()))
    }
}

/// Adapts an [`Expect`] kind to serde: it is both the seed and the visitor.
pub(super) struct Visit<K>(pub K);

impl<'de, K: Expect<'de>> DeserializeSeed<'de> for Visit<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, K: Expect<'de>> Visitor<'de> for Visit<K> {
    type Value = K::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.expected())
    }
    fn visit_unit<E: de::Error>(self) -> Result<K::Value, E> {
        self.0.null()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<K::Value, E> {
        self.0.boolean(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<K::Value, E> {
        self.0.int(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<K::Value, E> {
        self.0.int(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<K::Value, E> {
        self.0.float(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<K::Value, E> {
        self.0.text(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<K::Value, A::Error> {
        self.0.array(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<K::Value, A::Error> {
        self.0.object(map)
    }
}

/// The message for a key that is not one of `known`, with a suggestion when one
/// is close.
pub(super) fn unknown_field(key: &str, known: &[&str]) -> String {
    let mut message = format!(
        "unknown field {}, expected one of {}",
        quote(key),
        known.join(", ")
    );
    let lower = key.to_ascii_lowercase();
    let close = known
        .iter()
        .map(|k| (distance(&lower, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    if let Some((_, best)) = close {
        message.push_str(&format!(" (did you mean '{best}'?)"));
    }
    message
}

/// Levenshtein distance between two short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_and_cuts() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("a\nb\0"), "'a\\nb\\u{0}'");
        assert!(quote(&"x".repeat(100)).ends_with("…'"));
    }

    #[test]
    fn suggestions_come_from_close_names() {
        let known = ["cmd", "shell", "count"];
        assert!(unknown_field("cmdd", &known).ends_with("(did you mean 'cmd'?)"));
        assert!(unknown_field("Count", &known).ends_with("(did you mean 'count'?)"));
        assert!(!unknown_field("zzzzzz", &known).contains("did you mean"));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
