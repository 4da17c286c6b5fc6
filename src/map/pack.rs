//! `-X`: as many values to a task as fit on one command line. The kernel's
//! limit (ARG_MAX) covers the arguments and the environment together, so the
//! budget is half of what the environment leaves: room for the template, the
//! `PROCTOR_*` variables and the pointers the kernel counts besides.

/// Bytes of values (with their overhead) one `-X` task may carry.
pub fn budget() -> usize {
    // SAFETY: sysconf only reads a configuration value; no pointers involved.
    let max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    let max = usize::try_from(max)
        .ok()
        .filter(|&m| m > 0)
        .unwrap_or(128 * 1024);
    let env: usize = std::env::vars_os()
        .map(|(k, v)| k.len() + v.len() + 2 + POINTER)
        .sum();
    (max.saturating_sub(env) / 2).max(4096)
}

/// What each value costs beyond its own bytes: its NUL, its pointer in argv,
/// and the text `-X` repeats around it (`context`).
pub fn per_value(context: usize) -> usize {
    1 + POINTER + context
}

const POINTER: usize = std::mem::size_of::<usize>();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_and_is_never_tiny() {
        let b = budget();
        assert!(b >= 4096);
        // SAFETY: as above.
        let max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) } as usize;
        assert!(b <= max / 2);
        assert_eq!(per_value(0), 9);
    }
}
