//! Checking an event against a policy without changing it: the auditor.
//!
//! A finding is anything the policy says must not leave: a value a rule would change, a
//! detector hit listed under `[audit]`, or (with an allowlist) a path the service may not send.
//! Findings carry the path, what matched, and a redacted excerpt, never the value in full.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use crate::detect::find_all;
use crate::excerpt::{excerpt_of, redact};
use crate::path::{JsonPath, PathSelector, walk};
use crate::policy::Policy;
use crate::scrub::Scrubber;

/// What kind of check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A scrubbing rule would change this value.
    Rule,
    /// An audit detector matched inside this value.
    Detector,
    /// The path is not on the allowlist.
    NotAllowed,
}

/// One problem found in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub kind: FindingKind,
    /// The rule or detector name; `allowlist` for paths not allowed.
    pub name: String,
    /// The matched value, redacted: its first two characters and its length.
    pub excerpt: String,
}

/// Audits events against a policy.
#[derive(Debug, Clone)]
pub struct Auditor {
    scrubber: Scrubber,
}

/// Whether an allow selector matches the path or one of its ancestors (allowing `request`
/// allows everything in it). Matching looks at the document, so header pairs sent as
/// `[name, value]` lists match by name.
fn allowed(allow: &[PathSelector], event: &Value, at: &JsonPath) -> bool {
    let mut prefix = at.clone();
    loop {
        if allow.iter().any(|s| s.matches_in(event, &prefix)) {
            return true;
        }
        if prefix.pop().is_none() || prefix.is_empty() {
            return false;
        }
    }
}

impl Auditor {
    pub fn new(policy: Policy) -> Self {
        Self {
            scrubber: Scrubber::new(policy),
        }
    }

    pub fn policy(&self) -> &Policy {
        self.scrubber.policy()
    }

    /// Every finding in `event`, in the order rules, detectors, allowlist.
    pub fn audit(&self, event: &Value) -> Vec<Finding> {
        let mut scrubbed = event.clone();
        let report = self.scrubber.scrub(&mut scrubbed);
        self.audit_scrubbed(event, report.changes)
    }

    /// The findings of `event` when its scrub under this policy is already known (`changes`
    /// from [`Scrubber::scrub`] of a copy): callers that keep the scrubbed copy scrub once.
    pub fn audit_scrubbed(
        &self,
        event: &Value,
        changes: Vec<crate::scrub::Change>,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        for change in changes {
            findings.push(Finding {
                path: change.path(),
                kind: FindingKind::Rule,
                name: change
                    .detector
                    .map_or_else(|| change.rule.to_string(), Cow::into_owned),
                excerpt: change.excerpt.to_string(),
            });
        }
        let detectors = &self.policy().audit.detectors;
        if !detectors.is_empty() {
            walk(event, &mut |at, value| {
                let Value::String(text) = value else {
                    return;
                };
                for (index, hit) in find_all(detectors, text) {
                    findings.push(Finding {
                        path: at.to_string(),
                        kind: FindingKind::Detector,
                        name: detectors
                            .get(index)
                            .map(|d| d.name_of(hit).to_string())
                            .unwrap_or_default(),
                        excerpt: redact(text.get(hit.start..hit.end).unwrap_or_default()),
                    });
                }
            });
        }
        if let Some(allow) = &self.policy().audit.allow {
            walk(event, &mut |at, value| {
                let leaf = match value {
                    Value::Object(map) => map.is_empty(),
                    Value::Array(items) => items.is_empty(),
                    _ => true,
                };
                if leaf && !at.is_empty() && !allowed(allow, event, at) {
                    findings.push(Finding {
                        path: at.to_string(),
                        kind: FindingKind::NotAllowed,
                        name: "allowlist".into(),
                        excerpt: excerpt_of(value),
                    });
                }
            });
        }
        findings
    }
}
