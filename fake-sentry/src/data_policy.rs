//! The data policy (from `event-filter`) applied to what fake-sentry captures.
//!
//! With `--policy FILE` or `--preset NAME`, every JSON item (events, transactions, logs,
//! feedback, check-ins, ...) is audited as it arrives and its findings are stored with it, so
//! the API and the UI show what a service sent that it should not have. With `--scrub`, the
//! scrubbed version of each item is stored as well (the original stays, as sent), and the
//! forwarder (see [`crate::forward`]) sends the scrubbed version upstream.
//!
//! The work runs on the request task, before the envelope reaches the storage writer, and only
//! what the writer binds (JSON texts, bytes) travels on.

use event_filter::{Auditor, Change, Diagnostic, Finding, Policy, Scrubber};
use serde_json::Value;

/// A policy as fake-sentry applies it.
#[derive(Debug, Clone)]
pub struct DataPolicy {
    /// Where the policy came from: a file path or `preset:NAME`, shown by the API.
    pub origin: String,
    auditor: Auditor,
    scrubber: Scrubber,
    /// Whether scrubbed copies are kept.
    pub scrub: bool,
}

/// What the policy said about one item, serialised for storage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemAudit {
    /// The findings as a JSON array.
    pub findings_json: String,
    pub finding_count: usize,
    /// The scrubbed payload, when scrubbing is on and it changed something.
    pub scrubbed: Option<Vec<u8>>,
    /// What scrubbing changed (and rules that failed), as a JSON object; `None` when scrubbing
    /// is off.
    pub scrub_report_json: Option<String>,
}

impl ItemAudit {
    /// The bytes of text this audit keeps with its item until the item is committed.
    pub fn held_bytes(&self) -> usize {
        self.findings_json.len()
            + self.scrubbed.as_ref().map_or(0, Vec::len)
            + self.scrub_report_json.as_ref().map_or(0, String::len)
    }
}

/// The scrub report as stored: changes plus rule failures.
#[derive(serde::Serialize)]
struct StoredScrubReport<'a> {
    changes: &'a [Change],
    diagnostics: &'a [Diagnostic],
}

impl DataPolicy {
    pub fn new(policy: Policy, origin: impl Into<String>, scrub: bool) -> Self {
        Self {
            origin: origin.into(),
            auditor: Auditor::new(policy.clone()),
            scrubber: Scrubber::new(policy),
            scrub,
        }
    }

    /// Audits (and with scrubbing on, scrubs) one JSON object payload.
    pub fn check_payload(&self, payload: &[u8]) -> Option<ItemAudit> {
        let Ok(value @ Value::Object(_)) = serde_json::from_slice::<Value>(payload) else {
            return None;
        };
        if !self.scrub {
            return Some(Self::audit_of(self.auditor.audit(&value)));
        }
        // The auditor's rule findings are the scrub's changes: scrub once, for both.
        let mut scrubbed = value.clone();
        let report = self.scrubber.scrub(&mut scrubbed);
        let scrub_report_json = serde_json::to_string(&StoredScrubReport {
            changes: &report.changes,
            diagnostics: &report.diagnostics,
        })
        .ok();
        let changed = !report.changes.is_empty() || !report.diagnostics.is_empty();
        let mut audit = Self::audit_of(self.auditor.audit_scrubbed(&value, report.changes));
        if changed {
            audit.scrubbed = serde_json::to_vec(&scrubbed).ok();
        }
        audit.scrub_report_json = scrub_report_json;
        Some(audit)
    }

    fn audit_of(findings: Vec<Finding>) -> ItemAudit {
        ItemAudit {
            findings_json: serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into()),
            finding_count: findings.len(),
            ..ItemAudit::default()
        }
    }

    /// Memory auditing one JSON payload of `len` bytes may take at its peak: its tree (counted
    /// as envelope headers are, see [`sentry_envelope::HEADER_TREE_FACTOR`]), twice with
    /// `--scrub` (the scrubbed copy), plus the scrubbed copy's text. Items are audited one at a
    /// time, so an envelope's peak is its largest JSON item's.
    pub fn audit_memory(&self, len: usize) -> usize {
        let tree = len.saturating_mul(sentry_envelope::HEADER_TREE_FACTOR);
        match self.scrub {
            true => tree.saturating_mul(2).saturating_add(len),
            false => tree,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(scrub: bool) -> DataPolicy {
        DataPolicy::new(Policy::preset("strict").unwrap(), "preset:strict", scrub)
    }

    #[test]
    fn findings_name_the_path_without_the_value() {
        let audit = strict(false)
            .check_payload(br#"{"user":{"email":"alice@example.com"},"level":"error"}"#)
            .unwrap();
        assert!(audit.finding_count >= 1);
        assert!(audit.findings_json.contains("user.email"));
        assert!(!audit.findings_json.contains("alice@example.com"));
        assert_eq!(audit.scrubbed, None);
        assert_eq!(audit.scrub_report_json, None);
    }

    #[test]
    fn scrubbing_keeps_a_changed_copy_and_its_report() {
        let audit = strict(true)
            .check_payload(br#"{"message":"mail alice@example.com now"}"#)
            .unwrap();
        let scrubbed: Value = serde_json::from_slice(audit.scrubbed.as_ref().unwrap()).unwrap();
        assert!(!scrubbed["message"].as_str().unwrap().contains("alice@"));
        assert!(
            audit
                .scrub_report_json
                .unwrap()
                .contains("\"path\":\"message\"")
        );
    }

    #[test]
    fn scrubbing_once_gives_the_same_findings_as_auditing_alone() {
        let payload = br#"{"user":{"email":"a@example.com","ip_address":"10.1.2.3"},
            "request":{"headers":{"Authorization":"Bearer abcdefghijklmnopqrstuvwxyz0123"}},
            "message":"card 4111 1111 1111 1111"}"#;
        let audited = strict(false).check_payload(payload).unwrap();
        let scrubbed = strict(true).check_payload(payload).unwrap();
        assert!(audited.finding_count >= 3, "{}", audited.findings_json);
        assert_eq!(scrubbed.findings_json, audited.findings_json);
        assert_eq!(scrubbed.finding_count, audited.finding_count);
    }

    #[test]
    fn a_clean_item_has_no_findings_and_no_copy() {
        let audit = strict(true).check_payload(br#"{"level":"info"}"#).unwrap();
        assert_eq!(audit.finding_count, 0);
        assert_eq!(audit.findings_json, "[]");
        assert_eq!(audit.scrubbed, None);
        assert!(audit.scrub_report_json.is_some());
    }

    #[test]
    fn non_objects_are_not_audited() {
        assert_eq!(strict(true).check_payload(b"[1,2]"), None);
        assert_eq!(strict(true).check_payload(b"not json"), None);
    }
}
