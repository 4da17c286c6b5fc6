//! The allowed range of every numeric setting, in one place: the workload file and
//! the command-line flags check the same bounds with the same words.

use std::time::Duration;

/// Most workers running at once (`max_parallel`, `-j`).
pub const MAX_PARALLEL: usize = 10_000;
/// Longest `timeout` / `stuck_after`: one year.
pub const MAX_SECONDS: f64 = 31_536_000.0;
/// Longest stop grace period: one hour.
pub const MAX_GRACE_MS: u64 = 3_600_000;
/// Longest job name: its log file `NAME.out.log`, with every byte percent-encoded
/// in the worst case and a `#N` worker suffix, must still fit NAME_MAX (255 bytes).
pub const MAX_NAME_BYTES: usize = 64;

/// What a CPU percentage must be.
pub const PERCENT_EXPECTED: &str = "a percentage in 0..=100";

/// A CPU percentage in `0..=100` (NaN and infinities are out of range).
pub fn percent(v: f64, shown: &str) -> Result<f64, String> {
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "'{shown}' is out of range: expected {PERCENT_EXPECTED}"
        ))
    }
}

/// What a timeout or stuck-after duration must be.
pub fn seconds_expected() -> String {
    format!("a number of seconds greater than 0 and at most {MAX_SECONDS}")
}

/// A duration in `(0, MAX_SECONDS]`.
pub fn positive_seconds(d: Duration, shown: &str) -> Result<Duration, String> {
    if !d.is_zero() && d.as_secs_f64() <= MAX_SECONDS {
        Ok(d)
    } else {
        Err(format!(
            "'{shown}' is out of range: expected {}",
            seconds_expected()
        ))
    }
}

/// A stop grace period in `0..=MAX_GRACE_MS`.
pub fn grace(d: Duration, shown: &str) -> Result<Duration, String> {
    if d <= Duration::from_millis(MAX_GRACE_MS) {
        Ok(d)
    } else {
        Err(format!(
            "'{shown}' is out of range: expected at most {}s",
            MAX_GRACE_MS / 1000
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_refuses_nan_infinity_and_out_of_range() {
        for v in [f64::NAN, f64::INFINITY, -5.0, 100.5, 1000.0] {
            assert!(percent(v, "x").unwrap_err().contains("0..=100"), "{v}");
        }
        assert_eq!(percent(0.0, "0"), Ok(0.0));
        assert_eq!(percent(100.0, "100"), Ok(100.0));
    }

    #[test]
    fn seconds_must_be_above_zero_and_at_most_a_year() {
        assert!(positive_seconds(Duration::ZERO, "0").is_err());
        assert!(positive_seconds(Duration::from_secs(40_000_000), "x").is_err());
        assert!(positive_seconds(Duration::from_millis(1), "1ms").is_ok());
        assert!(grace(Duration::ZERO, "0").is_ok());
        assert!(grace(Duration::from_secs(3601), "3601").is_err());
    }
}
