//! `--bar` / `--eta`: one progress line on stderr, redrawn in place, while plain
//! output goes on. Drawn only when stderr is a terminal (a log file gets no
//! carriage returns), at most ten times a second; cleared before anything else
//! is written to the terminal, so it never splits a task's output.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::engine::QueueStats;

/// Least time between two redraws.
const REDRAW: Duration = Duration::from_millis(100);
/// Cells of the `--bar` gauge.
const BAR_CELLS: usize = 20;

/// What to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Show {
    pub bar: bool,
    pub eta: bool,
}

/// The line on stderr and when it was last drawn.
pub struct Progress {
    show: Show,
    started: Instant,
    last_drawn: Option<Instant>,
    /// The line is on the terminal now (to be cleared before other writes).
    on_screen: bool,
    latest: Option<(QueueStats, bool)>,
}

impl Progress {
    /// `None` unless asked for and stderr is a terminal.
    pub fn new(show: Show) -> Option<Progress> {
        use std::io::IsTerminal;
        ((show.bar || show.eta) && std::io::stderr().is_terminal()).then(|| Progress {
            show,
            started: Instant::now(),
            last_drawn: None,
            on_screen: false,
            latest: None,
        })
    }

    /// New counts (a `queue` event); `closed` says the total is known.
    pub fn update(&mut self, stats: QueueStats, closed: bool) {
        self.latest = Some((stats, closed));
        if self.last_drawn.is_some_and(|at| at.elapsed() < REDRAW) {
            return;
        }
        self.draw();
    }

    /// Takes the line off the terminal before other text is written there.
    pub fn clear(&mut self) {
        if std::mem::take(&mut self.on_screen) {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
    }

    /// The last counts, left on the terminal with a newline.
    pub fn finish(&mut self) {
        self.draw();
        if std::mem::take(&mut self.on_screen) {
            let _ = std::io::stderr().write_all(b"\n");
        }
    }

    fn draw(&mut self) {
        let Some((stats, closed)) = self.latest else {
            return;
        };
        let text = line(stats, closed, self.started.elapsed(), self.show);
        let _ = std::io::stderr().write_all(format!("\r{text}\x1b[K").as_bytes());
        self.on_screen = true;
        self.last_drawn = Some(Instant::now());
    }
}

/// The progress line: `[####......] 40% 4/10 done · 1 failed · 2 running · ETA 3s`.
pub fn line(stats: QueueStats, closed: bool, elapsed: Duration, show: Show) -> String {
    let finished = stats.done + stats.failed + stats.stopped;
    let total = closed.then_some(finished + stats.running + stats.depth);
    let mut parts = Vec::new();
    if show.bar {
        parts.push(match total {
            Some(total) => {
                let share = if total == 0 {
                    1.0
                } else {
                    finished as f64 / total as f64
                };
                let full = (share * BAR_CELLS as f64).round() as usize;
                format!(
                    "[{}{}] {:>3.0}%",
                    "#".repeat(full),
                    ".".repeat(BAR_CELLS - full.min(BAR_CELLS)),
                    share * 100.0
                )
            }
            None => "[reading tasks…]".to_string(),
        });
    }
    parts.push(match total {
        Some(total) => format!("{finished}/{total} done"),
        None => format!("{finished} done"),
    });
    let mut text = parts.join(" ");
    if stats.failed > 0 {
        text.push_str(&format!(" · {} failed", stats.failed));
    }
    text.push_str(&format!(" · {} running", stats.running));
    if show.eta {
        text.push_str(&format!(" · ETA {}", eta(finished, total, elapsed)));
    }
    text
}

/// Time left at the rate so far: `?` until a task has finished or while the
/// total is unknown.
fn eta(finished: usize, total: Option<usize>, elapsed: Duration) -> String {
    let Some(total) = total else {
        return "?".into();
    };
    if finished == 0 {
        return "?".into();
    }
    let left = elapsed.as_secs_f64() / finished as f64 * total.saturating_sub(finished) as f64;
    let secs = left.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(depth: usize, running: usize, done: usize, failed: usize) -> QueueStats {
        QueueStats {
            depth,
            running,
            done,
            failed,
            stopped: 0,
        }
    }

    const BOTH: Show = Show {
        bar: true,
        eta: true,
    };

    #[test]
    fn the_line_shows_the_share_done_and_the_time_left() {
        let got = line(stats(4, 2, 3, 1), true, Duration::from_secs(8), BOTH);
        assert_eq!(
            got,
            "[########............]  40% 4/10 done · 1 failed · 2 running · ETA 12s"
        );
        let eta_only = Show {
            bar: false,
            eta: true,
        };
        let got = line(stats(0, 0, 10, 0), true, Duration::from_secs(5), eta_only);
        assert_eq!(got, "10/10 done · 0 running · ETA 0s");
    }

    #[test]
    fn an_unknown_total_has_no_share_and_no_eta() {
        let got = line(stats(3, 1, 2, 0), false, Duration::from_secs(1), BOTH);
        assert_eq!(got, "[reading tasks…] 2 done · 1 running · ETA ?");
    }

    #[test]
    fn long_waits_read_in_minutes_and_hours() {
        assert_eq!(eta(1, Some(2), Duration::from_secs(90)), "1m30s");
        assert_eq!(eta(1, Some(3), Duration::from_secs(3600)), "2h00m");
        assert_eq!(eta(0, Some(3), Duration::from_secs(1)), "?");
    }
}
