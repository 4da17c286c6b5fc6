//! `proctor -f Procfile` runs foreman-style `name: command` lines with the `.env`
//! beside it, each job with its own PORT.

mod common;

#[test]
fn a_procfile_with_its_env_runs_like_foreman() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Procfile"),
        "# two processes\nweb: echo web on $PORT with $GREETING\nworker: echo worker on $PORT; exit 3\n",
    )
    .expect("Procfile");
    std::fs::write(dir.path().join(".env"), "GREETING=\"hello there\"\n").expect(".env");
    let procfile = dir.path().join("Procfile");
    let run = common::run(&["-f", procfile.to_str().expect("utf-8")]);
    assert_eq!(run.output_of("web"), ["web on 5000 with hello there"]);
    assert_eq!(run.output_of("worker"), ["worker on 5100"]);
    assert_eq!(run.exit_of("worker")["code"], 3);
    assert_eq!(run.code(), Some(1));
}

#[test]
fn a_bad_procfile_line_is_refused_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let procfile = dir.path().join("Procfile");
    std::fs::write(&procfile, "web: echo ok\nthis is not a process\n").expect("Procfile");
    let run = common::run(&["-f", procfile.to_str().expect("utf-8")]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("Procfile:2:1"), "{}", run.stderr);
    assert!(run.events.is_empty(), "nothing started");
}
