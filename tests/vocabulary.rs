//! One vocabulary: every command word is parsed by the control stream, offered by
//! `proctor ctl`, and documented in the README with its description.

use clap::CommandFactory;
use proctor::control::parse_line;
use proctor::engine::command::WORDS;

#[test]
fn every_word_parses_to_the_command_of_that_name() {
    for word in WORDS {
        let mut line = serde_json::json!({
            "cmd": word.name, "worker": "a", "signal": "USR1", "n": 2,
            "job": {"cmd": ["true"]}, "pool": "p", "input": 1,
        });
        // Only the command that names a process of a tree takes a pid.
        if word.name == "signal_descendant" {
            line["pid"] = 42.into();
        }
        let command = parse_line(&line.to_string())
            .unwrap_or_else(|e| panic!("'{}' does not parse: {e}", word.name));
        assert_eq!(command.word(), word.name);
        assert_eq!(command.desc(), word.desc);
    }
    let unknown = parse_line(r#"{"cmd":"fly"}"#).unwrap_err();
    for word in WORDS {
        assert!(unknown.contains(word.name), "{unknown}");
    }
}

#[test]
fn proctor_ctl_offers_every_word() {
    let cli = proctor::cli::Cli::command();
    let ctl = cli.find_subcommand("ctl").expect("a ctl subcommand");
    for word in WORDS {
        let name = word.name.replace('_', "-");
        assert!(
            ctl.find_subcommand(&name).is_some(),
            "proctor ctl has no '{name}'"
        );
    }
}

#[test]
fn the_readme_documents_every_word_with_its_description() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("### The control stream")
        .expect("a control stream section");
    let section = &readme[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    for word in WORDS {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", word.name)))
            .unwrap_or_else(|| panic!("README has no row for '{}'", word.name));
        assert!(row.ends_with(&format!("| {} |", word.desc)), "{row}");
    }
}
