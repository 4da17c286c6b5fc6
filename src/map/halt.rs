//! `--halt`: when map mode stops starting tasks because too many failed.

use std::fmt;

/// The forms `--halt` accepts, for error messages and help.
pub const ACCEPTED: &str = "use 'never', 'now,fail=N', 'soon,fail=N', or a percentage such \
as 'soon,fail=10%' (N at least 1, the percentage over 0 and at most 100)";

/// A percentage rule is judged only once this many tasks have finished, so one
/// early failure does not read as "100 % failed".
pub const MIN_FINISHED_FOR_PERCENT: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Terminate running tasks too.
    Now,
    /// Let running tasks finish; start no new ones.
    Soon,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This many tasks failed.
    Count(u64),
    /// This percentage of the finished tasks failed.
    Percent(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaltRule {
    pub when: When,
    pub threshold: Threshold,
}

impl HaltRule {
    /// Parses `never`, `now,fail=N`, `soon,fail=N`, `…,fail=P%` or `fail=…` (= soon).
    /// `Ok(None)` means never halt.
    pub fn parse(text: &str) -> Result<Option<HaltRule>, String> {
        let bad = || format!("--halt '{text}' is not a rule: {ACCEPTED}");
        let t = text.trim().to_ascii_lowercase();
        if t == "never" {
            return Ok(None);
        }
        let (when, condition) = match t.split_once(',') {
            Some(("now", rest)) => (When::Now, rest),
            Some(("soon", rest)) => (When::Soon, rest),
            Some(_) => return Err(bad()),
            None => (When::Soon, t.as_str()),
        };
        let value = condition.trim().strip_prefix("fail=").ok_or_else(bad)?;
        let threshold = match value.strip_suffix('%') {
            Some(pct) => match pct.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => Threshold::Percent(p),
                _ => return Err(bad()),
            },
            None => match value.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Threshold::Count(n),
                _ => return Err(bad()),
            },
        };
        Ok(Some(HaltRule { when, threshold }))
    }

    /// True when `failed` of `finished` tasks meet the rule.
    pub fn is_met(&self, failed: u64, finished: u64) -> bool {
        match self.threshold {
            Threshold::Count(n) => failed >= n,
            Threshold::Percent(p) => {
                failed > 0
                    && finished >= MIN_FINISHED_FOR_PERCENT
                    && failed as f64 * 100.0 >= p * finished as f64
            }
        }
    }
}

impl fmt::Display for HaltRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = match self.when {
            When::Now => "now",
            When::Soon => "soon",
        };
        match self.threshold {
            Threshold::Count(n) => write!(f, "{when},fail={n}"),
            Threshold::Percent(p) => write!(f, "{when},fail={p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> HaltRule {
        HaltRule::parse(text).unwrap().unwrap()
    }

    #[test]
    fn every_accepted_form_parses() {
        assert_eq!(HaltRule::parse("never"), Ok(None));
        assert_eq!(
            rule("now,fail=1"),
            HaltRule {
                when: When::Now,
                threshold: Threshold::Count(1)
            }
        );
        assert_eq!(
            rule("soon,fail=10%"),
            HaltRule {
                when: When::Soon,
                threshold: Threshold::Percent(10.0)
            }
        );
        assert_eq!(rule("fail=3").when, When::Soon);
        assert_eq!(rule(" NOW,fail=2 ").to_string(), "now,fail=2");
        assert_eq!(rule("soon,fail=12.5%").to_string(), "soon,fail=12.5%");
    }

    #[test]
    fn bad_rules_name_the_accepted_forms() {
        for bad in [
            "",
            "later,fail=1",
            "now",
            "now,fail=0",
            "now,fail=-1",
            "now,fail=x",
            "soon,fail=0%",
            "soon,fail=150%",
            "soon,success=1",
            "now,fail=1,extra",
        ] {
            let err = HaltRule::parse(bad).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
            assert!(err.contains("now,fail=N"), "{err}");
        }
    }

    #[test]
    fn count_rules_trigger_at_the_count() {
        let r = rule("now,fail=2");
        assert!(!r.is_met(1, 10));
        assert!(r.is_met(2, 2));
    }

    #[test]
    fn percent_rules_need_a_few_finished_tasks() {
        let r = rule("soon,fail=50%");
        assert!(!r.is_met(1, 1), "one early failure is not 100 %");
        assert!(!r.is_met(1, 3));
        assert!(r.is_met(2, 3));
        assert!(r.is_met(5, 10));
        assert!(!r.is_met(4, 10));
        assert!(!r.is_met(0, 10));
    }
}
