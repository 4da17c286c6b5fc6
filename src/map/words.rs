//! The words after `map`'s flags: the command template, then its inputs marked
//! by `:::`, `:::+`, `::::` and `::::+`. Kept as `OsString` until here, so input
//! words that are not UTF-8 pass byte for byte.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::source::Origin;
use super::tasks::Inputs;

/// Starts a group of words; the next group multiplies with it.
pub const WORDS: &str = ":::";
/// Starts words linked to the group before (zipped, not multiplied).
const LINKED_WORDS: &str = ":::+";
/// Each following word is a file of values, a group of its own.
const FILES: &str = "::::";
/// Each following word is a file linked to the group before.
const LINKED_FILES: &str = "::::+";

/// The template words, and the inputs (`-a` files first, then the marked ones).
pub fn split(words: &[OsString], arg_files: &[PathBuf]) -> Result<(Vec<String>, Inputs), String> {
    let marker = |w: &OsString| {
        [WORDS, LINKED_WORDS, FILES, LINKED_FILES]
            .into_iter()
            .find(|m| w == m)
    };
    let end = words.iter().position(|w| marker(w).is_some());
    let (template, rest) = words.split_at(end.unwrap_or(words.len()));
    let template = template
        .iter()
        .map(|w| {
            w.clone().into_string().map_err(|w| {
                format!(
                    "the command template word '{}' is not UTF-8: give such bytes as \
                     values (after ':::', or in a file) instead",
                    w.to_string_lossy()
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut inputs = Inputs::default();
    for path in arg_files {
        inputs.groups.push(vec![Origin::File(path.clone())]);
    }
    let mut current: Option<&str> = None;
    for word in rest {
        if let Some(m) = marker(word) {
            if m == WORDS || m == LINKED_WORDS {
                let origin = Origin::Words(Vec::new());
                add(&mut inputs, origin, m == LINKED_WORDS)?;
            }
            current = Some(m);
            continue;
        }
        match current {
            Some(WORDS) | Some(LINKED_WORDS) => {
                if let Some(Origin::Words(list)) =
                    inputs.groups.last_mut().and_then(|g| g.last_mut())
                {
                    list.push(word.clone().into_vec());
                }
            }
            Some(m) => add(&mut inputs, Origin::File(word.into()), m == LINKED_FILES)?,
            None => {}
        }
    }
    for origin in inputs.groups.iter().flatten() {
        if matches!(origin, Origin::Words(list) if list.is_empty()) {
            return Err(
                "':::' (or ':::+') is followed by no values: give at least one \
                        word after it, or leave it out to read stdin"
                    .into(),
            );
        }
    }
    if rest.last().is_some_and(|w| w == FILES || w == LINKED_FILES) {
        return Err("'::::' is followed by no file: give a file of values after it".into());
    }
    if inputs.groups.is_empty() {
        inputs.groups.push(vec![Origin::Stdin]);
    }
    Ok((template, inputs))
}

fn add(inputs: &mut Inputs, origin: Origin, linked: bool) -> Result<(), String> {
    match inputs.groups.last_mut() {
        Some(group) if linked => group.push(origin),
        None if linked => {
            return Err(
                "':::+' (or '::::+') links values to an input before it, and there is none: \
                 use ':::' (or '::::') for the first input"
                    .into(),
            );
        }
        _ => inputs.groups.push(vec![origin]),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn words(list: &[&str]) -> Origin {
        Origin::Words(list.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    #[test]
    fn markers_make_groups() {
        let (template, inputs) = split(
            &os(&[
                "echo", "{}", ":::", "a", "b", ":::+", "1", "2", "::::", "f", "g", "::::+", "h",
            ]),
            &["x".into()],
        )
        .unwrap();
        assert_eq!(template, ["echo", "{}"]);
        assert_eq!(
            inputs.groups,
            [
                vec![Origin::File("x".into())],
                vec![words(&["a", "b"]), words(&["1", "2"])],
                vec![Origin::File("f".into())],
                vec![Origin::File("g".into()), Origin::File("h".into())],
            ]
        );
    }

    #[test]
    fn no_marker_reads_stdin() {
        let (template, inputs) = split(&os(&["echo"]), &[]).unwrap();
        assert_eq!(template, ["echo"]);
        assert_eq!(inputs.groups, [vec![Origin::Stdin]]);
    }

    #[test]
    fn bad_marker_uses_are_refused() {
        for bad in [
            &["echo", ":::"][..],
            &["echo", ":::+", "a"],
            &["echo", "::::"],
            &["e", ":::", "a", ":::"],
        ] {
            assert!(split(&os(bad), &[]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn input_words_keep_their_bytes() {
        let raw = OsString::from_vec(b"\xff\xfe".to_vec());
        let (_, inputs) = split(&[OsString::from("cat"), ":::".into(), raw], &[]).unwrap();
        assert_eq!(
            inputs.groups,
            [vec![Origin::Words(vec![b"\xff\xfe".to_vec()])]]
        );
    }
}
