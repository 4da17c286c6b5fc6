//! `--header :`: each input's first record names its values, and the template
//! may say `{name}` (or `{name.}`, `{name/}`, `{name//}`, `{name/.}`) for the
//! value in that column. Names are turned into `{N}` before the template is parsed.

/// The one header form proctor reads (parallel also takes a regular expression).
pub const FIRST_LINE: &str = ":";

/// The forms a named placeholder may take, as `{N…}` does.
const FORMS: [&str; 5] = ["", ".", "/", "//", "/."];

/// `words` with every `{name…}` replaced by `{N…}`, N the name's column.
pub fn rename(words: &[String], names: &[Vec<u8>]) -> Result<Vec<String>, String> {
    let names: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    for (i, name) in names.iter().enumerate() {
        if let Some(before) = names[..i].iter().position(|n| n == name) {
            return Err(format!(
                "--header: columns {} and {} are both named '{name}'; give each column \
                 its own name",
                before + 1,
                i + 1
            ));
        }
    }
    Ok(words.iter().map(|w| rename_word(w, &names)).collect())
}

fn rename_word(word: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    'scan: while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let inner = &rest[open + 1..];
        for (i, name) in names.iter().enumerate() {
            let Some(after) = inner.strip_prefix(name.as_str()) else {
                continue;
            };
            for form in FORMS {
                if name.is_empty() {
                    break;
                }
                if let Some(tail) = after.strip_prefix(form).and_then(|t| t.strip_prefix('}')) {
                    out.push_str(&format!("{{{}{form}}}", i + 1));
                    rest = tail;
                    continue 'scan;
                }
            }
        }
        out.push('{');
        rest = inner;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    #[test]
    fn names_become_column_numbers_in_every_form() {
        let words = vec![
            "cp".into(),
            "{src}".into(),
            "{dst/}x{src.}".into(),
            "{}".into(),
        ];
        let got = rename(&words, &names(&["src", "dst"])).unwrap();
        assert_eq!(got, ["cp", "{1}", "{2/}x{1.}", "{}"]);
    }

    #[test]
    fn other_braces_stay_as_they_were() {
        let words = vec![
            "awk".into(),
            "{print $1}".into(),
            "{srcx}".into(),
            "{".into(),
        ];
        let got = rename(&words, &names(&["src"])).unwrap();
        assert_eq!(got, ["awk", "{print $1}", "{srcx}", "{"]);
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let err = rename(&["echo".into()], &names(&["a", "a"])).unwrap_err();
        assert!(err.contains("'a'"), "{err}");
    }
}
