//! Durations as people type them, shared by the flags and the workload file.

use std::time::Duration;

/// A duration from "500ms", "2.5s", "1m", "1h", or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let err = || {
        format!(
            "invalid duration '{text}': expected a number with an optional unit \
             ms, s, m or h (e.g. 500ms, 2.5s, 1m); a plain number means seconds"
        )
    };
    let trimmed = text.trim();
    let (number, scale) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = trimmed.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (trimmed, 1.0)
    };
    // Digits with at most one '.': f64's parser alone would take "inf", "-1", "1e3".
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let dots = number.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || digits + dots != number.len() {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_name_the_value_and_the_forms() {
        for bad in [
            "", "s", "ms", "-1s", "1.2.3s", "inf", "1e3", "5 m", "10x", "1sec",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(&format!("'{bad}'")), "{err}");
            assert!(err.contains("500ms, 2.5s, 1m"), "{err}");
        }
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        assert!(parse_duration(&format!("{}h", "9".repeat(400))).is_err());
    }
}
