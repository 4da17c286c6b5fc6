//! GNU parallel and xargs idioms through the real binary: each invocation and
//! the plain output it must print (written from parallel's documented
//! behaviour where proctor matches it), and every form proctor does not
//! support must exit 2 having started nothing.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn proctor(args: &[&str], stdin: &[u8], dir: &std::path::Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .arg("map")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run proctor map");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for proctor")
}

/// (arguments after `map`, stdin, expected stdout). Every case must exit 0.
const CASES: &[(&[&str], &str, &str)] = &[
    (&["-k", "echo", ":::", "a", "b", "c"], "", "a\nb\nc\n"),
    (&["-k", "--", "echo", ":::", "a", "b"], "", "a\nb\n"),
    (&["-j2", "-k", "echo", ":::", "a", "b"], "", "a\nb\n"),
    (&["-j", "2", "-k", "echo", ":::", "a", "b"], "", "a\nb\n"),
    (&["--max-parallel=2", "-k", "echo", ":::", "a"], "", "a\n"),
    (&["-k", "echo", "{}", ":::", "a", "b"], "", "a\nb\n"),
    (&["-k", "echo", "x{}y", ":::", "a"], "", "xay\n"),
    (
        &["-k", "echo", "{1}", "{2}", ":::", "a", "b", ":::", "1", "2"],
        "",
        "a 1\na 2\nb 1\nb 2\n",
    ),
    (
        &["-k", "echo", "{2}", "{1}", ":::", "a", "b", ":::", "1"],
        "",
        "1 a\n1 b\n",
    ),
    (
        &["-k", "echo", ":::", "a", "b", ":::", "1", "2"],
        "",
        "a 1\na 2\nb 1\nb 2\n",
    ),
    (
        &["-k", "echo", "{}", ":::", "a", "b", ":::", "1"],
        "",
        "a 1\nb 1\n",
    ),
    (
        &["-k", "echo", "{1}{2}", ":::", "a", "b", ":::+", "1", "2"],
        "",
        "a1\nb2\n",
    ),
    (
        &["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"],
        "",
        "a 1\nb 2\nc 1\n",
    ),
    (
        &[
            "-k",
            "echo",
            "{1}-{2}-{3}",
            ":::",
            "a",
            ":::",
            "b",
            ":::",
            "c",
            "d",
        ],
        "",
        "a-b-c\na-b-d\n",
    ),
    (
        &["-k", "echo", "{.}", ":::", "dir/f.tar.gz"],
        "",
        "dir/f.tar\n",
    ),
    (
        &["-k", "echo", "{/}", ":::", "dir/f.tar.gz"],
        "",
        "f.tar.gz\n",
    ),
    (
        &["-k", "echo", "{//}", ":::", "dir/sub/f.c", "f.c"],
        "",
        "dir/sub\n.\n",
    ),
    (
        &["-k", "echo", "{/.}", ":::", "dir/f.tar.gz"],
        "",
        "f.tar\n",
    ),
    (
        &["-k", "echo", "{#}", ":::", "a", "b", "c"],
        "",
        "1\n2\n3\n",
    ),
    (&["-j1", "-k", "echo", "{%}", ":::", "a", "b"], "", "1\n1\n"),
    (
        &["-k", "echo", "{1.}", "{2/}", ":::", "x.c", ":::", "d/y"],
        "",
        "x y\n",
    ),
    (&["-k", "echo"], "a\nb\n", "a\nb\n"),
    (&["-k", "echo", "{}"], "one two\n", "one two\n"),
    (&["-k", "echo"], "a\n\nb\n", "a\nb\n"),
    (&["-k", "echo"], "a\r\nb\r\n", "a\nb\n"),
    (
        &["-k", "-0", "printf", "[%s]"],
        "a b\nc\0d\0",
        "[a b\nc][d]",
    ),
    (&["-k", "--null", "echo"], "x\0", "x\n"),
    (
        &["-k", "--colsep", ",", "echo", "{2}", "{1}"],
        "a,b\nc,d\n",
        "b a\nd c\n",
    ),
    (
        &["-k", "--colsep", "\t", "echo", "{1}+{2}"],
        "a\tb\n",
        "a+b\n",
    ),
    (&["-k", "-n", "2", "echo"], "a\nb\nc\n", "a b\nc\n"),
    (
        &["-k", "-n2", "echo", "{2}", "{1}", ":::", "a", "b", "c", "d"],
        "",
        "b a\nd c\n",
    ),
    (
        &["-k", "--max-args", "3", "echo", ":::", "1", "2", "3", "4"],
        "",
        "1 2 3\n4\n",
    ),
    (&["-k", "echo", "::::", "in.txt"], "", "f1\nf2\n"),
    (&["-k", "-a", "in.txt", "echo"], "", "f1\nf2\n"),
    (&["-k", "--tasks", "in.txt", "echo"], "", "f1\nf2\n"),
    (
        &["-k", "-a", "in.txt", "echo", ":::", "x"],
        "",
        "f1 x\nf2 x\n",
    ),
    (
        &["-k", "echo", "::::", "in.txt", "::::+", "in.txt"],
        "",
        "f1 f1\nf2 f2\n",
    ),
    (
        &["-k", "-a", "-", "echo", ":::", "x", "y"],
        "s\n",
        "s x\ns y\n",
    ),
    (
        &["-k", "--tag", "echo", "hi", ":::", "a", "b"],
        "",
        "a\thi a\nb\thi b\n",
    ),
    (
        &["-k", "--tagstring", "<{#}>", "echo", ":::", "a"],
        "",
        "<1>\ta\n",
    ),
    (
        &["-k", "--tag", "printf", "1\\n2\\n", ":::", "t"],
        "",
        "t\t1\nt\t2\n",
    ),
    (
        &["-k", "printf", "%s", ":::", "no", "newline"],
        "",
        "nonewline",
    ),
    (&["-k", "--line-buffer", "echo", ":::", "a"], "", "a\n"),
    (&["-j1", "--ungroup", "echo", ":::", "a", "b"], "", "a\nb\n"),
    (
        &["-k", "--shell", "echo \"v={}\"", ":::", "a b"],
        "",
        "v=a b\n",
    ),
    (
        &["-k", "--shell", "echo {} | tr a-z A-Z", ":::", "x$(id)"],
        "",
        "X$(ID)\n",
    ),
    (
        &["-k", "sh", "-c", "echo $PROCTOR_SEQ", ":::", "a", "b"],
        "",
        "1\n2\n",
    ),
    (
        &[
            "-j1",
            "-k",
            "sh",
            "-c",
            "echo $PROCTOR_SLOT",
            ":::",
            "a",
            "b",
        ],
        "",
        "1\n1\n",
    ),
    (
        &["--dry-run", "echo", "{}", ":::", "a b", "it's"],
        "",
        "echo 'a b'\necho 'it'\\''s'\n",
    ),
    (
        &["--dry-run", "rm", "{}", ":::", "$(id)"],
        "",
        "rm '$(id)'\n",
    ),
    (
        &["--allow-empty", "-k", "echo", "[{}]"],
        "a\n\n",
        "[a]\n[]\n",
    ),
    (&["-k", "cat", "{}"], "f\n", "f line\n"),
    (
        &[
            "-k", "--header", ":", "echo", "{x}={}", ":::", "x", "a", "b",
        ],
        "",
        "a=a\nb=b\n",
    ),
    (
        &[
            "-k", "--header", ":", "echo", "{b}{a}", ":::", "a", "1", ":::", "b", "2",
        ],
        "",
        "21\n",
    ),
    (
        &[
            "-k",
            "--header",
            ":",
            "--colsep",
            ",",
            "echo",
            "{name/}:{ext}",
        ],
        "name,ext\n/d/f,txt\n",
        "f:txt\n",
    ),
    (
        &["-k", "--delay", "0.01", "echo", ":::", "a", "b"],
        "",
        "a\nb\n",
    ),
    (&["--shuf", "echo", "{#}", "{}", ":::", "a"], "", "1 a\n"),
    (&["--shell", "echo \"v={}\"", ":::", "a"], "", "v=a\n"),
    // -X: as many values as fit, a word with {} and text repeated per value.
    (
        &["-X", "echo", "pre{}post", ":::", "a", "b", "c"],
        "",
        "preapost prebpost precpost\n",
    ),
    (
        &["-X", "-k", "-n", "2", "echo", "{}"],
        "a\nb\nc\n",
        "a b\nc\n",
    ),
    (&["-X", "echo"], "a\nb\n", "a b\n"),
    // --pipe: blocks of stdin to each task's stdin.
    (
        &[
            "--pipe",
            "--block",
            "4",
            "-k",
            "sh",
            "-c",
            "echo {#}: $(cat)",
        ],
        "a\nb\nc\n",
        "1: a b\n2: c\n",
    ),
    (
        &[
            "--pipe",
            "--block",
            "1",
            "--recend",
            ";",
            "-k",
            "sh",
            "-c",
            "cat; echo",
        ],
        "x;y;",
        "x;\ny;\n",
    ),
    // Line endings: CRLF lines lose the CR; with -0 and in ':::' words it stays;
    // empty lines are skipped; a newline inside a ':::' word stays one value.
    (&["-k", "-0", "printf", "[%s]"], "a\r\0b\0", "[a\r][b]"),
    (&["-k", "printf", "[%s]", ":::", "a\r"], "", "[a\r]"),
    (&["-k", "echo", "[{}]"], "a\n\n\r\nb\n", "[a]\n[b]\n"),
    (
        &["-k", "printf", "[%s]\\n", ":::", "two\nlines"],
        "",
        "[two\nlines]\n",
    ),
    (
        &["-k", "--shell", "echo $(({}*2))", ":::", "3", "-2"],
        "",
        "6\n-4\n",
    ),
];

#[test]
fn parallel_invocations_print_what_parallel_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("in.txt"), "f1\nf2\n").expect("write input");
    std::fs::write(dir.path().join("f"), "f line\n").expect("write f");
    let mut failures = Vec::new();
    for (args, stdin, want) in CASES {
        let out = proctor(args, stdin.as_bytes(), dir.path());
        let got = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(0) || got != *want {
            failures.push(format!(
                "{args:?}: exit {:?}, stdout {got:?}, want {want:?}; stderr {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(CASES.len() >= 40);
}

/// Forms proctor does not support, or that would run something else: each is
/// refused with exit 2 before anything runs (the command would create a file).
#[test]
fn unsupported_forms_exit_2_and_run_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[&[&str]] = &[
        &["--foo", "touch", "made", ":::", "a"],
        &["-X", "touch", "made", ":::", "a", ":::", "b"],
        &["-X", "--colsep", ",", "touch", "made", ":::", "a"],
        &["-X", "--shell", "touch made", ":::", "a"],
        &["-X", "--header", ":", "touch", "made", ":::", "a", "b"],
        &["--pipe", "touch", "made{}"],
        &["--pipe", "touch", "made", ":::", "a"],
        &["--pipe", "-n", "2", "touch", "made"],
        &["--pipe", "--block", "5T", "touch", "made"],
        &["--block", "1M", "touch", "made"],
        &["--recend", ";", "touch", "made"],
        &["--json", "--eta", "touch", "made", ":::", "a"],
        &["--headless", "--bar", "touch", "made", ":::", "a"],
        &["--delay", "2h", "touch", "made", ":::", "a"],
        &["--header", "^#", "touch", "made", ":::", "a"],
        &["--header", ":", "-n", "2", "touch", "made", ":::", "a"],
        &[
            "--header", ":", "touch", "{a}", "{a}", ":::", "a", ":::", "a",
        ],
        &[
            "--shuf", "--resume", "--joblog", "log", "touch", "made", ":::", "a",
        ],
        &["--exit-status", "sum", "touch", "made", ":::", "a"],
        &["--", "-j2", "touch", "made", ":::", "a"],
        &["touch", "made{+/}", ":::", "a"],
        &["touch", "made{..}", ":::", "a"],
        &["touch", "made{=s/a/b/=}", ":::", "a"],
        &["touch", "made{-1}", ":::", "a"],
        &["touch", "made{3}", ":::", "a", ":::", "b"],
        &["touch", "made", ":::"],
        &["touch", "made", ":::+", "a"],
        &["touch", "made", "::::"],
        &["touch", "made", "::::", "missing.txt"],
        &["--colsep", "(", "touch", "made", ":::", "a"],
        &["--json", "--tag", "touch", "made", ":::", "a"],
        &["--ungroup", "--tag", "touch", "made", ":::", "a"],
        &["-n", "0", "touch", "made", ":::", "a"],
        &["-a", "-", "touch", "made", "::::", "-"],
        &["--shell", "touch '{}'", ":::", "a"],
    ];
    for args in cases {
        let out = proctor(args, b"", dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} says why");
        assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
        assert!(!dir.path().join("made").exists(), "{args:?} ran something");
    }
}

#[test]
fn input_words_that_are_not_utf8_pass_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let word = std::ffi::OsStr::from_bytes(b"\xff\xfe-x");
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["map", "printf", "%s|", ":::"])
        .arg(word)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"\xff\xfe-x|");
}

#[test]
fn plain_output_keeps_bytes_and_groups_each_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Invalid UTF-8, a long line and no final newline, in two streams.
    let script = "printf '\\377%s' \"$1\"; head -c 300000 /dev/zero | tr '\\0' x; \
                  printf 'e%s' \"$1\" >&2";
    let out = proctor(
        &["-k", "-j3", "sh", "-c", script, "sh", ":::", "1", "2", "3"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let mut want = Vec::new();
    for n in ["1", "2", "3"] {
        want.push(0xff);
        want.extend_from_slice(n.as_bytes());
        want.extend(std::iter::repeat_n(b'x', 300_000));
    }
    assert!(
        out.stdout == want,
        "stdout differs ({} bytes)",
        out.stdout.len()
    );
    assert_eq!(out.stderr, b"e1e2e3");
}

#[test]
fn failures_are_reported_on_stderr_and_fail_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &["-k", "sh", "-c", "echo $1; exit $1", "sh", ":::", "0", "3"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"0\n3\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("task 2 failed: exit code 3"), "{stderr}");
    assert!(stderr.contains("1 of 2 task(s) failed"), "{stderr}");
}

#[test]
fn results_are_written_per_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &[
            "--results",
            "res",
            "sh",
            "-c",
            "echo o$1; echo e$1 >&2",
            "sh",
            ":::",
            "a",
            "b",
        ],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let read = |p: &str| std::fs::read_to_string(dir.path().join("res").join(p)).expect(p);
    assert_eq!(read("1/stdout"), "oa\n");
    assert_eq!(read("1/stderr"), "ea\n");
    assert_eq!(read("2/stdout"), "ob\n");
    assert_eq!(read("2/seq"), "2\n");
}

#[test]
fn dry_run_starts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = proctor(
        &["--dry-run", "touch", "{}", ":::", "made"],
        b"",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"touch made\n");
    assert!(!dir.path().join("made").exists());
}
