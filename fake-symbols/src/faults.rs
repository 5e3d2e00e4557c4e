//! Fault injection: the failures a production symbols service has, made deterministic.
//!
//! A [`FaultSpec`] holds a seed and rules. A rule matches requests by path (a regex over the
//! request path) and/or module (the debug file name), fires for the first K matches and/or a
//! seeded share of them, and applies one [`FaultAction`]. Several rules may fire for one
//! request: latencies add up, the first status code wins, body faults combine.
//!
//! Selection never uses wall-clock randomness: the n-th match of rule r fires for a share `s`
//! when `splitmix64(seed, r, n) < s * 2^64`, so a run with the same spec and the same request
//! sequence injects exactly the same faults.

use std::sync::Mutex;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Every fault in force, as the admin API and the start-up file express it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One rule: which requests, how many of them, and what happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Regex searched in the request path (e.g. `^/libfoo\.so/`); any path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Debug file name the request is for (download or symbolication); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Fire only for the first K matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<u64>,
    /// Fire for this share (0.0..=1.0) of matching requests, chosen by the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    pub action: FaultAction,
}

/// What a fired rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Wait before answering.
    Latency { millis: u64 },
    /// Send the body at this many bytes per second.
    SlowStream { bytes_per_sec: u64 },
    /// Answer with this status (404, 429, 500, 502, 503, 504, ...); 429 and 503 may carry
    /// `Retry-After`.
    Status {
        code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Cut the body after `fraction` of it.
    Truncate {
        fraction: f64,
        at: CutAt,
        /// Drop the connection instead of ending the body cleanly (the client sees an
        /// incomplete body; with a known length the `Content-Length` promised the whole file).
        #[serde(default)]
        abort: bool,
    },
    /// Rewrite the content with one of the malformations seen in real sym files.
    Corrupt { corruption: Corruption },
    /// Serve a generated sym file of about `size` bytes for any matching path, streamed
    /// without being stored (the 2022 xul files were ~700 MB).
    Synthetic { size: u64 },
}

/// Where a truncation cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutAt {
    /// Inside a line: the last line has no newline.
    MidLine,
    /// Just after a newline: what is left is a valid, shorter file.
    LineBoundary,
}

/// Malformations of a `.sym` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corruption {
    /// The `MODULE` line names a different debug id.
    WrongModuleId,
    /// `INLINE_ORIGIN <id>` with no name (dump_syms #511).
    InlineOriginNoName,
    /// `INLINE_ORIGIN <id> ` with a whitespace-only name (dump_syms #543).
    InlineOriginBlankName,
    /// The first FUNC's name contains a newline, splitting the record.
    NameSplitByNewline,
    /// The first FUNC's first line record starts 5 bytes before the FUNC (dump_syms #535).
    LineBeforeFunc,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultSpecError {
    #[error("rule {rule}: invalid path regex: {message}")]
    Regex { rule: usize, message: String },
    #[error("rule {rule}: share {share} is outside 0.0..=1.0")]
    Share { rule: usize, share: f64 },
    #[error("rule {rule}: fraction {fraction} is outside 0.0..=1.0")]
    Fraction { rule: usize, fraction: f64 },
    #[error("rule {rule}: status {code} is not a 4xx or 5xx code")]
    Status { rule: usize, code: u16 },
    #[error("rule {rule}: bytes_per_sec must be at least 1")]
    Rate { rule: usize },
    #[error("rule {rule}: synthetic size {size} exceeds the limit of {limit} bytes")]
    SyntheticSize { rule: usize, size: u64, limit: u64 },
    #[error(
        "rule {rule}: latency {millis} ms exceeds the limit of {limit} ms (--max-fault-latency)"
    )]
    Latency {
        rule: usize,
        millis: u64,
        limit: u64,
    },
    #[error("{count} rules exceed the limit of {limit}")]
    TooManyRules { count: usize, limit: usize },
    #[error("rule {rule}: path regex is longer than {limit} bytes")]
    RegexLength { rule: usize, limit: usize },
}

/// Bounds on what a fault spec may ask for, checked when it is set (400 over the admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultLimits {
    /// Largest synthetic sym a rule may generate.
    pub max_synthetic: u64,
    /// Largest delay one request may get, summed over every latency rule that fires for it
    /// (each rule alone must be within it too). Default 10 minutes.
    pub max_latency: Duration,
    /// Most rules in a spec. Default 1,000.
    pub max_rules: usize,
}

/// Longest path regex source accepted (the compiled size is bounded by the regex crate's own
/// default size limit as well).
const MAX_REGEX_BYTES: usize = 4096;

impl Default for FaultLimits {
    fn default() -> Self {
        Self {
            max_synthetic: 4 << 30,
            max_latency: Duration::from_secs(600),
            max_rules: 1000,
        }
    }
}

impl FaultLimits {
    /// Only the synthetic size bounded (the rest at their defaults).
    pub fn with_max_synthetic(max_synthetic: u64) -> Self {
        Self {
            max_synthetic,
            ..Self::default()
        }
    }
}

/// Body faults that fired for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyFaults {
    pub bytes_per_sec: Option<u64>,
    pub truncate: Option<(f64, CutAt, bool)>,
    pub corruptions: Vec<Corruption>,
    pub synthetic_size: Option<u64>,
}

impl BodyFaults {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The faults that fired for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultDecision {
    pub latency: Duration,
    pub status: Option<(u16, Option<u64>)>,
    pub body: BodyFaults,
    /// Indexes of the rules that fired, for the request log.
    pub fired: Vec<usize>,
}

struct CompiledRule {
    rule: FaultRule,
    path: Option<Regex>,
    matched: u64,
}

/// The faults in force plus their per-rule counters.
pub struct FaultPlan {
    inner: Mutex<(FaultSpec, Vec<CompiledRule>)>,
    limits: FaultLimits,
}

impl FaultPlan {
    pub fn new(spec: FaultSpec, limits: FaultLimits) -> Result<Self, FaultSpecError> {
        let compiled = compile(&spec, &limits)?;
        Ok(Self {
            inner: Mutex::new((spec, compiled)),
            limits,
        })
    }

    /// Replaces every rule and resets the counters.
    pub fn set(&self, spec: FaultSpec) -> Result<(), FaultSpecError> {
        let compiled = compile(&spec, &self.limits)?;
        *self.lock() = (spec, compiled);
        Ok(())
    }

    pub fn spec(&self) -> FaultSpec {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultSpec, Vec<CompiledRule>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides which rules fire for a request to `path` about `module`.
    pub fn decide(&self, path: &str, module: Option<&str>) -> FaultDecision {
        let mut guard = self.lock();
        let seed = guard.0.seed;
        let mut decision = FaultDecision::default();
        for (index, compiled) in guard.1.iter_mut().enumerate() {
            let rule = &compiled.rule;
            if compiled.path.as_ref().is_some_and(|re| !re.is_match(path)) {
                continue;
            }
            if rule.module.as_deref().is_some_and(|m| Some(m) != module) {
                continue;
            }
            let n = compiled.matched;
            compiled.matched += 1;
            if rule.first.is_some_and(|k| n >= k) {
                continue;
            }
            if let Some(share) = rule.share
                && !chosen(seed, index as u64, n, share)
            {
                continue;
            }
            decision.fired.push(index);
            match &rule.action {
                FaultAction::Latency { millis } => {
                    // Each rule is within the limit; their sum is capped at it too.
                    decision.latency = decision
                        .latency
                        .saturating_add(Duration::from_millis(*millis))
                        .min(self.limits.max_latency);
                }
                FaultAction::SlowStream { bytes_per_sec } => {
                    decision.body.bytes_per_sec = Some(*bytes_per_sec);
                }
                FaultAction::Status {
                    code,
                    retry_after_secs,
                } => {
                    decision.status.get_or_insert((*code, *retry_after_secs));
                }
                FaultAction::Truncate {
                    fraction,
                    at,
                    abort,
                } => decision.body.truncate = Some((*fraction, *at, *abort)),
                FaultAction::Corrupt { corruption } => decision.body.corruptions.push(*corruption),
                FaultAction::Synthetic { size } => decision.body.synthetic_size = Some(*size),
            }
        }
        decision
    }
}

fn compile(spec: &FaultSpec, limits: &FaultLimits) -> Result<Vec<CompiledRule>, FaultSpecError> {
    if spec.rules.len() > limits.max_rules {
        return Err(FaultSpecError::TooManyRules {
            count: spec.rules.len(),
            limit: limits.max_rules,
        });
    }
    let max_synthetic = limits.max_synthetic;
    let max_latency = u64::try_from(limits.max_latency.as_millis()).unwrap_or(u64::MAX);
    spec.rules
        .iter()
        .enumerate()
        .map(|(rule, r)| {
            if let Some(share) = r.share
                && !(0.0..=1.0).contains(&share)
            {
                return Err(FaultSpecError::Share { rule, share });
            }
            match r.action {
                FaultAction::Status { code, .. } if !(400..=599).contains(&code) => {
                    return Err(FaultSpecError::Status { rule, code });
                }
                FaultAction::Truncate { fraction, .. } if !(0.0..=1.0).contains(&fraction) => {
                    return Err(FaultSpecError::Fraction { rule, fraction });
                }
                FaultAction::SlowStream { bytes_per_sec: 0 } => {
                    return Err(FaultSpecError::Rate { rule });
                }
                FaultAction::Synthetic { size } if size > max_synthetic => {
                    return Err(FaultSpecError::SyntheticSize {
                        rule,
                        size,
                        limit: max_synthetic,
                    });
                }
                FaultAction::Latency { millis } if millis > max_latency => {
                    return Err(FaultSpecError::Latency {
                        rule,
                        millis,
                        limit: max_latency,
                    });
                }
                _ => {}
            }
            if r.path.as_ref().is_some_and(|p| p.len() > MAX_REGEX_BYTES) {
                return Err(FaultSpecError::RegexLength {
                    rule,
                    limit: MAX_REGEX_BYTES,
                });
            }
            let path = r.path.as_deref().map(Regex::new).transpose().map_err(|e| {
                FaultSpecError::Regex {
                    rule,
                    message: e.to_string(),
                }
            })?;
            Ok(CompiledRule {
                rule: r.clone(),
                path,
                matched: 0,
            })
        })
        .collect()
}

/// Whether the n-th match of a rule falls in its share.
fn chosen(seed: u64, rule: u64, n: u64, share: f64) -> bool {
    let x = splitmix64(seed ^ splitmix64(rule ^ splitmix64(n)));
    (x as f64) < share * (u64::MAX as f64)
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: FaultAction) -> FaultRule {
        FaultRule {
            path: None,
            module: None,
            first: None,
            share: None,
            action,
        }
    }

    #[test]
    fn first_k_then_pass() {
        let mut r = rule(FaultAction::Status {
            code: 503,
            retry_after_secs: None,
        });
        r.first = Some(2);
        r.module = Some("xul.pdb".into());
        let plan = FaultPlan::new(
            FaultSpec {
                seed: 0,
                rules: vec![r],
            },
            FaultLimits::with_max_synthetic(u64::MAX),
        )
        .unwrap();
        assert!(plan.decide("/a", Some("other.pdb")).status.is_none());
        assert!(plan.decide("/a", Some("xul.pdb")).status.is_some());
        assert!(plan.decide("/a", Some("xul.pdb")).status.is_some());
        assert!(plan.decide("/a", Some("xul.pdb")).status.is_none());
    }

    #[test]
    fn share_is_seeded_and_close_to_the_rate() {
        let mut r = rule(FaultAction::Latency { millis: 1 });
        r.share = Some(0.25);
        r.path = Some("^/x".into());
        let spec = FaultSpec {
            seed: 7,
            rules: vec![r],
        };
        let run = || {
            let plan =
                FaultPlan::new(spec.clone(), FaultLimits::with_max_synthetic(u64::MAX)).unwrap();
            (0..4000)
                .map(|_| !plan.decide("/x/y", None).fired.is_empty())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let fired = a.iter().filter(|f| **f).count();
        assert!((900..1100).contains(&fired), "{fired}");
    }

    #[test]
    fn spec_parses_from_json_and_rejects_bad_values() {
        let spec: FaultSpec = serde_json::from_str(
            r#"{"seed": 3, "rules": [{"path": "xul", "first": 1, "action": {"kind": "status", "code": 429, "retry_after_secs": 5}},
                {"action": {"kind": "truncate", "fraction": 0.5, "at": "mid_line", "abort": true}},
                {"module": "xul.pdb", "action": {"kind": "corrupt", "corruption": "inline_origin_no_name"}}]}"#,
        )
        .unwrap();
        assert_eq!(spec.rules.len(), 3);
        assert!(FaultPlan::new(spec, FaultLimits::default()).is_ok());
        let bad = FaultSpec {
            seed: 0,
            rules: vec![rule(FaultAction::Status {
                code: 200,
                retry_after_secs: None,
            })],
        };
        assert_eq!(
            FaultPlan::new(bad, FaultLimits::default()).err(),
            Some(FaultSpecError::Status { rule: 0, code: 200 })
        );
    }

    #[test]
    fn latency_rules_are_capped_and_never_overflow() {
        let limits = FaultLimits {
            max_latency: Duration::from_secs(60),
            ..FaultLimits::default()
        };
        let over = FaultSpec {
            seed: 0,
            rules: vec![rule(FaultAction::Latency { millis: u64::MAX })],
        };
        assert_eq!(
            FaultPlan::new(over, limits).err(),
            Some(FaultSpecError::Latency {
                rule: 0,
                millis: u64::MAX,
                limit: 60_000
            })
        );
        // Many rules at the limit: their sum is the limit, and adding them does not panic.
        let many = FaultSpec {
            seed: 0,
            rules: vec![rule(FaultAction::Latency { millis: 60_000 }); 1000],
        };
        let plan = FaultPlan::new(many, limits).unwrap();
        assert_eq!(plan.decide("/x", None).latency, Duration::from_secs(60));
        let too_many = FaultSpec {
            seed: 0,
            rules: vec![rule(FaultAction::Latency { millis: 1 }); 1001],
        };
        assert!(matches!(
            FaultPlan::new(too_many, limits).err(),
            Some(FaultSpecError::TooManyRules { count: 1001, .. })
        ));
    }
}
