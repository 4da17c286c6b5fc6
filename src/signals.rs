//! Signal names and numbers: parsing what users type, naming what the OS reports.
//!
//! One table serves the CLI, the workload file, the headless control stream and
//! the terminal UI's signal menu, so they always agree.

/// Every standard signal proctor lets a person send, in number order.
pub const SIGNALS: &[(i32, &str)] = &[
    (libc::SIGHUP, "HUP"),
    (libc::SIGINT, "INT"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGILL, "ILL"),
    (libc::SIGTRAP, "TRAP"),
    (libc::SIGABRT, "ABRT"),
    (libc::SIGBUS, "BUS"),
    (libc::SIGFPE, "FPE"),
    (libc::SIGKILL, "KILL"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGSEGV, "SEGV"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGPIPE, "PIPE"),
    (libc::SIGALRM, "ALRM"),
    (libc::SIGTERM, "TERM"),
    #[cfg(target_os = "linux")]
    (libc::SIGSTKFLT, "STKFLT"),
    (libc::SIGCHLD, "CHLD"),
    (libc::SIGCONT, "CONT"),
    (libc::SIGSTOP, "STOP"),
    (libc::SIGTSTP, "TSTP"),
    (libc::SIGTTIN, "TTIN"),
    (libc::SIGTTOU, "TTOU"),
    (libc::SIGURG, "URG"),
    (libc::SIGXCPU, "XCPU"),
    (libc::SIGXFSZ, "XFSZ"),
    (libc::SIGVTALRM, "VTALRM"),
    (libc::SIGPROF, "PROF"),
    (libc::SIGWINCH, "WINCH"),
    (libc::SIGIO, "IO"),
    #[cfg(target_os = "linux")]
    (libc::SIGPWR, "PWR"),
    (libc::SIGSYS, "SYS"),
];

/// Every signal whose default action would end proctor and that it can catch and
/// survive long enough to stop its workers first (then it exits 128+N). Left out:
/// KILL and STOP (cannot be caught), faults (ILL, FPE, SEGV, BUS, SYS, TRAP: returning
/// from a handler would repeat the fault; the keeper covers a death by them) and PIPE,
/// which stays ignored so that a closed stdout is an error on write, not a death.
pub fn fatal_signals() -> Vec<i32> {
    let mut out = vec![
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGABRT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGTERM,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
    ];
    #[cfg(target_os = "linux")]
    {
        out.extend([libc::SIGSTKFLT, libc::SIGPWR]);
        out.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    }
    out
}

/// The highest signal number the kernel accepts (real-time signals included).
fn max_signal() -> i32 {
    #[cfg(target_os = "linux")]
    {
        libc::SIGRTMAX()
    }
    #[cfg(not(target_os = "linux"))]
    {
        31
    }
}

/// Parses `TERM`, `SIGTERM`, `sigterm` or `15`. The error says what is accepted.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    let trimmed = text.trim();
    if let Ok(n) = trimmed.parse::<i32>() {
        if n >= 1 && n <= max_signal() {
            return Ok(n);
        }
        return Err(format!(
            "signal number '{trimmed}' is out of range: use 1..={}",
            max_signal()
        ));
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(_, name)| *name == bare)
        .map(|(n, _)| *n)
        .ok_or_else(|| {
            format!(
                "unknown signal '{trimmed}': use a name such as TERM, KILL, HUP, USR1 or a number"
            )
        })
}

/// `SIGKILL` for 9, `SIG34` for a real-time or unknown number.
pub fn signal_name(sig: i32) -> String {
    SIGNALS
        .iter()
        .find(|(n, _)| *n == sig)
        .map(|(_, name)| format!("SIG{name}"))
        .unwrap_or_else(|| format!("SIG{sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_prefixes() {
        assert_eq!(parse_signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("sigkill"), Ok(libc::SIGKILL));
        assert_eq!(parse_signal(" usr1 "), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("9"), Ok(9));
    }

    #[test]
    fn rejects_unknown_and_out_of_range() {
        assert!(
            parse_signal("FOO")
                .unwrap_err()
                .contains("unknown signal 'FOO'")
        );
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("1000").is_err());
    }

    #[test]
    fn names_round_trip() {
        for (n, _) in SIGNALS {
            assert_eq!(parse_signal(&signal_name(*n)), Ok(*n));
        }
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
    }
}
