//! Fault injection: make ingest answer like an overloaded or strict Sentry so tests can see how
//! an SDK backs off, drops or retries.
//!
//! A rule applies to a share of the requests it matches (optionally one project). Selection is a
//! deterministic counter, not a random draw: a rate of 0.25 faults exactly every fourth matching
//! request, so a test asserting on SDK behaviour is repeatable.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After` and `X-Sentry-Rate-Limits` (empty categories = all).
    RateLimit {
        retry_after_secs: u64,
        #[serde(default)]
        categories: Vec<String>,
    },
    /// 413, as Relay answers an envelope over its size limits.
    TooLarge,
    /// 500.
    ServerError,
    /// 503, as Relay answers when its queue is full.
    Unavailable,
    /// Answer normally, after a delay.
    Delay { millis: u64 },
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Share of matching requests affected, 0.0 to 1.0.
    #[serde(default = "full_rate")]
    pub rate: f64,
    /// Only requests for this project; all projects when absent.
    #[serde(default)]
    pub project: Option<u64>,
}

fn full_rate() -> f64 {
    1.0
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultParseError {
    #[error("unknown fault kind {0:?} (expected 429[=SECS], 413, 500, 503 or delay=MILLIS)")]
    Kind(String),
    #[error("invalid number {0:?} in fault rule")]
    Number(String),
    #[error("fault rate {0} is outside 0.0..=1.0")]
    Rate(f64),
}

impl FromStr for FaultRule {
    type Err = FaultParseError;

    /// `KIND[:RATE][@PROJECT]`, e.g. `429=30:0.5@2`, `delay=250`, `500:0.1`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (spec, project) = match spec.split_once('@') {
            Some((rest, project)) => (rest, Some(parse_number::<u64>(project)?)),
            None => (spec, None),
        };
        let (kind, rate) = match spec.split_once(':') {
            Some((kind, rate)) => (kind, parse_number::<f64>(rate)?),
            None => (spec, 1.0),
        };
        if !(0.0..=1.0).contains(&rate) {
            return Err(FaultParseError::Rate(rate));
        }
        let (name, arg) = match kind.split_once('=') {
            Some((name, arg)) => (name, Some(arg)),
            None => (kind, None),
        };
        let kind = match (name.to_ascii_lowercase().as_str(), arg) {
            ("429", arg) => FaultKind::RateLimit {
                retry_after_secs: arg.map(parse_number).transpose()?.unwrap_or(60),
                categories: Vec::new(),
            },
            ("413", None) => FaultKind::TooLarge,
            ("500", None) => FaultKind::ServerError,
            ("503", None) => FaultKind::Unavailable,
            ("delay", Some(ms)) => FaultKind::Delay {
                millis: parse_number(ms)?,
            },
            _ => return Err(FaultParseError::Kind(kind.to_string())),
        };
        Ok(Self {
            kind,
            rate,
            project,
        })
    }
}

fn parse_number<T: FromStr>(text: &str) -> Result<T, FaultParseError> {
    text.trim()
        .parse()
        .map_err(|_| FaultParseError::Number(text.to_string()))
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimit {
                retry_after_secs, ..
            } => write!(f, "429 rate limited (retry after {retry_after_secs}s)"),
            Self::TooLarge => f.write_str("413 too large"),
            Self::ServerError => f.write_str("500 server error"),
            Self::Unavailable => f.write_str("503 unavailable"),
            Self::Delay { millis } => write!(f, "delay {millis}ms"),
        }
    }
}

/// The header value Relay sends for a rate limit: `secs:cat1;cat2:scope:reason_code`.
pub fn rate_limits_header(retry_after_secs: u64, categories: &[String]) -> String {
    format!(
        "{retry_after_secs}:{}:key:fake_sentry_fault",
        categories.join(";")
    )
}

/// The active rules and how many requests each has seen.
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Mutex<Vec<(FaultRule, u64)>>,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultDecision {
    Pass,
    Delay(Duration),
    Fail(FaultKind),
}

impl FaultPlan {
    pub fn new(rules: Vec<FaultRule>) -> Self {
        let plan = Self::default();
        plan.replace(rules);
        plan
    }

    pub fn replace(&self, rules: Vec<FaultRule>) {
        let mut guard = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        *guard = rules.into_iter().map(|r| (r, 0)).collect();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        let guard = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        guard.iter().map(|(r, _)| r.clone()).collect()
    }

    /// Decides the fate of one ingest request for `project`. Delays add up; the first failing
    /// rule wins.
    pub fn decide(&self, project: u64) -> FaultDecision {
        let mut guard = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut delay = Duration::ZERO;
        for (rule, seen) in guard.iter_mut() {
            if rule.project.is_some_and(|p| p != project) {
                continue;
            }
            *seen += 1;
            // Request n is hit when the running total of `rate` crosses an integer.
            let hit =
                ((*seen as f64) * rule.rate).floor() > ((*seen - 1) as f64 * rule.rate).floor();
            if !hit {
                continue;
            }
            match &rule.kind {
                // Saturating: two rules of `u64::MAX` ms would otherwise overflow (a panic).
                FaultKind::Delay { millis } => {
                    delay = delay.saturating_add(Duration::from_millis(*millis));
                }
                other => return FaultDecision::Fail(other.clone()),
            }
        }
        if delay.is_zero() {
            FaultDecision::Pass
        } else {
            FaultDecision::Delay(delay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_delays_add_up_without_overflowing() {
        let rule = |millis| FaultRule {
            kind: FaultKind::Delay { millis },
            rate: 1.0,
            project: None,
        };
        let plan = FaultPlan::new(vec![rule(u64::MAX), rule(u64::MAX)]);
        assert!(matches!(plan.decide(1), FaultDecision::Delay(_)));
    }

    #[test]
    fn parses_rule_specs() {
        let rule: FaultRule = "429=30:0.5@2".parse().unwrap();
        assert_eq!(
            rule.kind,
            FaultKind::RateLimit {
                retry_after_secs: 30,
                categories: vec![]
            }
        );
        assert_eq!(rule.rate, 0.5);
        assert_eq!(rule.project, Some(2));
        let rule: FaultRule = "delay=250".parse().unwrap();
        assert_eq!(rule.kind, FaultKind::Delay { millis: 250 });
        assert!("418".parse::<FaultRule>().is_err());
        assert!("500:1.5".parse::<FaultRule>().is_err());
        assert!("delay".parse::<FaultRule>().is_err());
    }

    #[test]
    fn rate_is_an_exact_share() {
        let plan = FaultPlan::new(vec!["500:0.25".parse().unwrap()]);
        let failures = (0..100)
            .filter(|_| plan.decide(1) != FaultDecision::Pass)
            .count();
        assert_eq!(failures, 25);
    }

    #[test]
    fn project_rules_leave_other_projects_alone() {
        let plan = FaultPlan::new(vec!["413@7".parse().unwrap()]);
        assert_eq!(plan.decide(1), FaultDecision::Pass);
        assert_eq!(plan.decide(7), FaultDecision::Fail(FaultKind::TooLarge));
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rules: Vec<FaultRule> =
            vec!["429=5".parse().unwrap(), "delay=10:0.5@3".parse().unwrap()];
        let json = serde_json::to_string(&rules).unwrap();
        let back: Vec<FaultRule> = serde_json::from_str(&json).unwrap();
        assert_eq!(rules, back);
    }
}
