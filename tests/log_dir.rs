//! `--log-dir`: one file per worker and stream, never shared by two workers, never
//! reached through a symlink, and a log that cannot be opened is reported.

mod common;

use common::run;

#[test]
fn names_that_used_to_collide_get_their_own_log_files() {
    let names = ["a/b", "a_b", "é", "ü", "x:y", "x?y", "x%3Ay", "plain"];
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let jobs: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({"name": n, "cmd": ["printf", "%s\\n", n]}))
        .collect();
    let file = dir.path().join("w.json");
    std::fs::write(&file, serde_json::json!({ "jobs": jobs }).to_string()).unwrap();
    let r = run(&[
        "--log-dir",
        logs.to_str().unwrap(),
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert!(r.of("error").is_empty(), "{:?}", r.of("error"));
    let mut found = 0;
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        if let Some(stem) = file.strip_suffix(".out.log") {
            // Each log holds exactly its own worker's output.
            assert!(
                names.iter().any(|n| text == format!("{n}\n")),
                "{file} holds {text:?}"
            );
            assert!(!stem.contains('/'), "{file}");
            found += 1;
        } else {
            assert!(
                file.ends_with(".err.log") && text.is_empty(),
                "{file}: {text:?}"
            );
        }
    }
    assert_eq!(found, names.len());
    for (name, file) in [("a/b", "a%2Fb"), ("é", "%C3%A9"), ("x%3Ay", "x%253Ay")] {
        let text = std::fs::read_to_string(logs.join(format!("{file}.out.log"))).unwrap();
        assert_eq!(text, format!("{name}\n"));
    }
}

#[test]
fn a_symlink_planted_in_the_log_dir_is_not_followed_and_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    std::os::unix::fs::symlink(&target, logs.join("victim.out.log")).unwrap();
    let file = dir.path().join("w.json");
    let job = serde_json::json!({"jobs": [{"name": "victim", "cmd": ["echo", "overwrite"]}]});
    std::fs::write(&file, job.to_string()).unwrap();
    let r = run(&[
        "--log-dir",
        logs.to_str().unwrap(),
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    let errors = r.of("error");
    assert!(
        errors.iter().any(|e| {
            let m = e["message"].as_str().unwrap_or_default();
            m.contains("victim.out.log") && m.contains("symlink")
        }),
        "{errors:?}"
    );
    // The worker still ran, and its output is still delivered.
    assert_eq!(r.output_of("victim"), ["overwrite"]);
    assert_eq!(r.exit_of("victim")["code"], 0);
}
