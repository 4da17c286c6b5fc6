//! `proctor map --bar --eta` in a real terminal (tmux): the progress line is
//! drawn on stderr and ends at the full count, while stdout (a file) gets the
//! tasks' output untouched; with stderr not a terminal nothing is drawn.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(shell_command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux: install it (e.g. `apt-get install -y tmux`)"
        );
        let tmux = Tmux {
            socket: format!("proctor-bar-{}", std::process::id()),
        };
        let out = tmux.run(&["new-session", "-d", "-x", "120", "-y", "20", shell_command]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    /// Polls the screen until it holds `text`.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.run(&["capture-pane", "-p", "-t", "0"]);
            let screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "timed out waiting for '{text}'; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn the_bar_counts_to_the_end_on_the_terminal_and_stays_out_of_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.txt");
    let bin = env!("CARGO_BIN_EXE_proctor");
    let command = format!(
        "{bin} map --bar --eta -j2 -- sh -c 'sleep 0.1; echo $1' _ ::: 1 2 3 4 5 6 > '{}'; \
         echo proctor-exit=$?; sleep 120",
        out.display()
    );
    let tmux = Tmux::start(&command);
    let screen = tmux.wait_for("proctor-exit=");
    assert!(screen.contains("proctor-exit=0"), "{screen}");
    assert!(
        screen.contains("[####################] 100% 6/6 done · 0 running · ETA 0s"),
        "{screen}"
    );
    let mut lines: Vec<String> = std::fs::read_to_string(&out)
        .expect("output file")
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(lines, ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn without_a_terminal_nothing_is_drawn() {
    let out = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["map", "--bar", "--eta", "-k", "echo", ":::", "a", "b"])
        .stdin(Stdio::null())
        .output()
        .expect("run proctor");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"a\nb\n");
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}
