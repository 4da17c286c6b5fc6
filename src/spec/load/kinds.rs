//! The kinds of checked values a workload file holds: bounded numbers, flags,
//! checked strings, choices, signals and stdin.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::de;

use super::value::{Expect, quote};
use crate::spec::StdinSpec;

/// A whole number in `lo..=hi` (a float with no fraction, such as `1e3`, counts).
pub(super) struct Whole<T> {
    pub lo: T,
    pub hi: T,
}

impl<'de, T> Expect<'de> for Whole<T>
where
    T: Copy + PartialOrd + fmt::Display + TryFrom<i128>,
{
    type Value = T;

    fn expected(&self) -> String {
        format!("a whole number in {}..={}", self.lo, self.hi)
    }
    fn int<E: de::Error>(self, v: i128) -> Result<T, E> {
        match T::try_from(v) {
            Ok(x) if x >= self.lo && x <= self.hi => Ok(x),
            _ => Err(E::custom(format!(
                "'{v}' is out of range: expected {}..={}",
                self.lo, self.hi
            ))),
        }
    }
    fn float<E: de::Error>(self, v: f64) -> Result<T, E> {
        let (lo, hi) = (self.lo, self.hi);
        if v.fract() != 0.0 {
            Err(E::custom(format!(
                "'{v:?}' is not a whole number: expected {lo}..={hi}"
            )))
        } else if v.abs() < 1e18 {
            self.int(v as i128)
        } else {
            Err(E::custom(format!(
                "'{v:?}' is out of range: expected {lo}..={hi}"
            )))
        }
    }
}

/// A number of seconds in `(0, MAX_SECONDS]`, as a `Duration`.
pub(super) struct Seconds;

impl<'de> Expect<'de> for Seconds {
    type Value = Duration;

    fn expected(&self) -> String {
        crate::spec::bounds::seconds_expected()
    }
    fn int<E: de::Error>(self, v: i128) -> Result<Duration, E> {
        self.float(v as f64)
    }
    fn float<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if v > 0.0 && v <= crate::spec::bounds::MAX_SECONDS {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(E::custom(format!(
                "'{}' is out of range: expected {}",
                Number(v),
                self.expected()
            )))
        }
    }
}

/// A CPU percentage in `0..=100`.
pub(super) struct Percent;

impl<'de> Expect<'de> for Percent {
    type Value = f64;

    fn expected(&self) -> String {
        crate::spec::bounds::PERCENT_EXPECTED.into()
    }
    fn int<E: de::Error>(self, v: i128) -> Result<f64, E> {
        self.float(v as f64)
    }
    fn float<E: de::Error>(self, v: f64) -> Result<f64, E> {
        crate::spec::bounds::percent(v, &Number(v).to_string()).map_err(E::custom)
    }
}

/// Shows `3` rather than `3.0` for whole numbers that came in as integers.
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// `true` or `false`.
pub(super) struct Flag;

impl<'de> Expect<'de> for Flag {
    type Value = bool;

    fn expected(&self) -> String {
        "true or false".into()
    }
    fn boolean<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// A string, turned into a value by `check` (whose error is the whole message).
pub(super) struct Text<T, F> {
    pub what: &'static str,
    pub check: F,
    pub out: PhantomData<T>,
}

/// A [`Text`] kind described by `what` and checked by `check`.
pub(super) fn text<T, F>(what: &'static str, check: F) -> Text<T, F>
where
    F: FnOnce(&str) -> Result<T, String>,
{
    Text {
        what,
        check,
        out: PhantomData,
    }
}

impl<'de, T, F> Expect<'de> for Text<T, F>
where
    F: FnOnce(&str) -> Result<T, String>,
{
    type Value = T;

    fn expected(&self) -> String {
        self.what.into()
    }
    fn text<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.check)(v).map_err(E::custom)
    }
}

/// Rejects an empty string or one holding NUL (which no argv, path or
/// environment entry can carry).
pub(super) fn not_empty(v: &str, what: &str) -> Result<(), String> {
    if v.is_empty() {
        Err(format!("'' is empty: expected {what}"))
    } else {
        no_nul(v, what)
    }
}

/// Rejects a string holding NUL.
pub(super) fn no_nul(v: &str, what: &str) -> Result<(), String> {
    if v.contains('\0') {
        Err(format!(
            "{} contains a NUL character: expected {what} without NUL",
            quote(v)
        ))
    } else {
        Ok(())
    }
}

/// One of a fixed set of words, e.g. `"on-failure"`.
pub(super) fn choice<T: Copy>(
    what: &'static str,
    options: &'static [(&'static str, T)],
) -> Text<T, impl FnOnce(&str) -> Result<T, String>> {
    text(what, move |v: &str| {
        options
            .iter()
            .find(|(name, _)| *name == v)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                format!(
                    "{} is not {what}: expected one of {}",
                    quote(v),
                    names.join(", ")
                )
            })
    })
}

/// A signal: a name (`"TERM"`, `"SIGINT"`) or a number.
pub(super) struct Signal;

impl<'de> Expect<'de> for Signal {
    type Value = i32;

    fn expected(&self) -> String {
        "a signal name such as 'TERM' or a signal number".into()
    }
    fn int<E: de::Error>(self, v: i128) -> Result<i32, E> {
        crate::signals::parse_signal(&v.to_string()).map_err(E::custom)
    }
    fn text<E: de::Error>(self, v: &str) -> Result<i32, E> {
        crate::signals::parse_signal(v).map_err(E::custom)
    }
}

/// Standard input: `null` or `"null"` (/dev/null), `"inherit"`, or a file path.
pub(super) struct Stdin;

impl<'de> Expect<'de> for Stdin {
    type Value = StdinSpec;

    fn expected(&self) -> String {
        "null, 'null', 'inherit' or a file path".into()
    }
    fn null<E: de::Error>(self) -> Result<StdinSpec, E> {
        Ok(StdinSpec::Null)
    }
    fn text<E: de::Error>(self, v: &str) -> Result<StdinSpec, E> {
        match v {
            "null" => Ok(StdinSpec::Null),
            "inherit" => Ok(StdinSpec::Inherit),
            _ => {
                not_empty(v, &self.expected()).map_err(E::custom)?;
                Ok(StdinSpec::File(PathBuf::from(v)))
            }
        }
    }
}
