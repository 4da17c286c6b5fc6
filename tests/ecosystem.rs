//! Shell completions and the man page are generated from the same clap
//! definition as `--help`, for every shell clap supports.

mod common;

use std::process::Command;

fn proctor(args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .args(args)
        .output()
        .expect("run proctor")
}

#[test]
fn completions_generate_for_every_shell_and_know_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = proctor(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        // fish writes long options without their dashes (`-l max-parallel`).
        for word in ["map", "ctl", "attach", "max-parallel"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bad = proctor(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn bash_can_load_the_completion_script() {
    let out = proctor(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("proctor.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p proctor",
            script.display()
        ))
        .output()
        .expect("bash");
    assert!(check.status.success(), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains("proctor"));
}

#[test]
fn the_man_page_is_roff_with_the_options() {
    let out = proctor(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH proctor 1"), "{page}");
    for option in ["max\\-parallel", "log\\-dir", "detach"] {
        assert!(page.contains(option), "the man page lacks {option}");
    }
}
