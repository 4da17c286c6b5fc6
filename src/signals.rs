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

/// The lowest real-time signal a program may use (glibc keeps the first few for
/// itself, so this is read at run time); `None` where there are none.
fn rt_min() -> Option<i32> {
    #[cfg(target_os = "linux")]
    {
        Some(libc::SIGRTMIN())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Every signal a person can send, standard ones then real-time ones, in number
/// order, with bare names (`TERM`, `RTMIN`, `RTMIN+3`). The signal menu lists these.
pub fn all_signals() -> Vec<(i32, String)> {
    let mut out: Vec<(i32, String)> = SIGNALS.iter().map(|&(n, s)| (n, s.to_string())).collect();
    if let Some(min) = rt_min() {
        out.extend((min..=max_signal()).map(|n| (n, rt_name(n - min))));
    }
    out
}

/// `RTMIN` for the first real-time signal, `RTMIN+N` after it.
fn rt_name(offset: i32) -> String {
    if offset == 0 {
        "RTMIN".into()
    } else {
        format!("RTMIN+{offset}")
    }
}

/// The real-time signal a bare upper-case name means: `RTMIN`, `RTMIN+N`, `RTMAX`,
/// `RTMAX-N`.
fn parse_rt(bare: &str) -> Option<i32> {
    let min = rt_min()?;
    let max = max_signal();
    let n = if let Some(rest) = bare.strip_prefix("RTMIN") {
        match rest.strip_prefix('+') {
            Some(k) => min.checked_add(k.parse::<i32>().ok()?)?,
            None if rest.is_empty() => min,
            None => return None,
        }
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        match rest.strip_prefix('-') {
            Some(k) => max.checked_sub(k.parse::<i32>().ok()?)?,
            None if rest.is_empty() => max,
            None => return None,
        }
    } else {
        return None;
    };
    (min..=max).contains(&n).then_some(n)
}

/// Parses `TERM`, `SIGTERM`, `sigterm`, `RTMIN+2` or `15`. The error says what is
/// accepted.
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
        .or_else(|| parse_rt(bare))
        .ok_or_else(|| {
            format!(
                "unknown signal '{trimmed}': use a name such as TERM, KILL, HUP, USR1, \
                 RTMIN+1 or a number"
            )
        })
}

/// `SIGKILL` for 9, `SIGRTMIN+2` for a real-time signal, `SIG99` for an unknown number.
pub fn signal_name(sig: i32) -> String {
    if let Some((_, name)) = SIGNALS.iter().find(|(n, _)| *n == sig) {
        return format!("SIG{name}");
    }
    match rt_min() {
        Some(min) if (min..=max_signal()).contains(&sig) => format!("SIG{}", rt_name(sig - min)),
        _ => format!("SIG{sig}"),
    }
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
        for (n, name) in all_signals() {
            assert_eq!(parse_signal(&name), Ok(n), "{name}");
            assert_eq!(signal_name(n), format!("SIG{name}"));
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn real_time_signals_by_offset_from_either_end() {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        assert_eq!(parse_signal("RTMIN"), Ok(min));
        assert_eq!(parse_signal("sigrtmin+2"), Ok(min + 2));
        assert_eq!(parse_signal("RTMAX"), Ok(max));
        assert_eq!(parse_signal("RTMAX-1"), Ok(max - 1));
        assert!(parse_signal("RTMIN+99").is_err());
        assert!(parse_signal("RTMINX").is_err());
        let all = all_signals();
        assert_eq!(all.last().map(|(n, _)| *n), Some(max));
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "number order");
    }
}
