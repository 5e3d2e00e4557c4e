//! The audit stage: every item a fake-sentry captured, checked against a data policy.
//!
//! It talks to fake-sentry over its HTTP API only (`/api/wait/`, `/api/items/`,
//! `/api/items/{id}/raw`), so it audits a built-in instance and an external one the same way.
//! Each item becomes one [`AuditOutcome`]; a finding names the event, the JSON path and the
//! rule or detector, with a redacted excerpt (event-filter never hands out the value).

use std::time::Duration;

use event_filter::Auditor;
use serde::Deserialize;
use serde_json::Value;

use crate::report::{AuditFinding, AuditOutcome};

/// Items read per page of `/api/items/`.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("fake-sentry at {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("fake-sentry at {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("waited {waited:?} for {wanted} items in fake-sentry, {found} arrived")]
    Timeout {
        waited: Duration,
        wanted: usize,
        found: u64,
    },
}

#[derive(Debug, Deserialize)]
struct ItemSummary {
    id: String,
    #[serde(rename = "type")]
    item_type: String,
    event_id: Option<String>,
    #[serde(default)]
    summary: String,
    seq: i64,
}

#[derive(Debug, Deserialize)]
struct ItemPage {
    items: Vec<ItemSummary>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Wait {
    satisfied: bool,
    count: u64,
}

/// Reads a fake-sentry's captured items and audits them.
pub struct SentryAudit {
    base: String,
    project: Option<u64>,
    /// Only items stored after this sequence number (see [`SentryAudit::skip_existing`]).
    after: Option<i64>,
    client: reqwest::Client,
}

impl SentryAudit {
    /// `base` is fake-sentry's URL (`http://127.0.0.1:PORT`); `project` limits the audit to
    /// one project.
    pub fn new(base: &str, project: Option<u64>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            project,
            after: None,
            client: reqwest::Client::new(),
        }
    }

    /// Leaves out of the wait and the audit everything fake-sentry holds now: a long-lived
    /// fake-sentry (a container with a volume) keeps earlier runs' and other services' items.
    pub async fn skip_existing(&mut self) -> Result<(), AuditError> {
        let path = format!("/api/items/?limit=1{}", self.project_filter());
        let page: ItemPage = self.get_json(&path).await?;
        self.after = page.items.first().map(|i| i.seq);
        Ok(())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, AuditError> {
        let url = format!("{}{path_and_query}", self.base);
        self.get(path_and_query)
            .await?
            .json()
            .await
            .map_err(|source| AuditError::Http { url, source })
    }

    async fn get(&self, path_and_query: &str) -> Result<reqwest::Response, AuditError> {
        let url = format!("{}{path_and_query}", self.base);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|source| AuditError::Http {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(AuditError::Status {
                url,
                status: response.status().as_u16(),
            });
        }
        Ok(response)
    }

    fn project_filter(&self) -> String {
        self.project
            .map(|p| format!("&project={p}"))
            .unwrap_or_default()
    }

    /// The project filter plus, after [`SentryAudit::skip_existing`], the starting point.
    fn wait_filter(&self) -> String {
        let after = self
            .after
            .map(|seq| format!("&after={seq}"))
            .unwrap_or_default();
        format!("{}{after}", self.project_filter())
    }

    /// Waits (server-side long poll, no sleeping here) until `count` items have arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Result<(), AuditError> {
        let path = format!(
            "/api/wait/?count={count}&timeout={}{}",
            timeout.as_secs_f64(),
            self.wait_filter()
        );
        let wait: Wait = self.get_json(&path).await?;
        if wait.satisfied {
            Ok(())
        } else {
            Err(AuditError::Timeout {
                waited: timeout,
                wanted: count,
                found: wait.count,
            })
        }
    }

    async fn items(&self) -> Result<Vec<ItemSummary>, AuditError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = self.after.map(|seq| seq.to_string());
        loop {
            let mut path = format!(
                "/api/items/?order=asc&limit={PAGE}{}",
                self.project_filter()
            );
            if let Some(c) = &cursor {
                path.push_str(&format!("&after={c}"));
            }
            let page: ItemPage = self.get_json(&path).await?;
            let last = page.items.last().map(|i| i.seq);
            let full = page.items.len() >= PAGE || page.next_cursor.is_some();
            all.extend(page.items);
            match (full, last) {
                (true, Some(seq)) => cursor = Some(seq.to_string()),
                _ => return Ok(all),
            }
        }
    }

    /// Audits every captured item with `auditor`.
    pub async fn audit(&self, auditor: &Auditor) -> Result<Vec<AuditOutcome>, AuditError> {
        let mut outcomes = Vec::new();
        for item in self.items().await? {
            let path = format!("/api/items/{}/raw", item.id);
            let url = format!("{}{path}", self.base);
            let bytes = self
                .get(&path)
                .await?
                .bytes()
                .await
                .map_err(|source| AuditError::Http { url, source })?;
            let findings = audit_payload(auditor, &bytes);
            outcomes.push(AuditOutcome {
                item_id: item.id,
                event_id: item.event_id,
                item_type: item.item_type,
                summary: item.summary,
                passed: findings.is_empty(),
                findings,
            });
        }
        Ok(outcomes)
    }
}

/// Audits one item's payload: JSON as it is, text as `{"text": ...}` so detectors still see
/// it, other bytes not at all (binary attachments carry no policy paths).
pub fn audit_payload(auditor: &Auditor, payload: &[u8]) -> Vec<AuditFinding> {
    let document = match serde_json::from_slice::<Value>(payload) {
        Ok(value) => value,
        Err(_) => match std::str::from_utf8(payload) {
            Ok(text) => serde_json::json!({ "text": text }),
            Err(_) => return Vec::new(),
        },
    };
    auditor
        .audit(&document)
        .into_iter()
        .map(|f| AuditFinding {
            path: f.path,
            rule: f.name,
            kind: serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            excerpt: f.excerpt,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_filter::Policy;

    #[test]
    fn findings_name_path_and_rule_without_the_value() {
        let auditor = Auditor::new(Policy::preset("strict").unwrap());
        let findings = audit_payload(
            &auditor,
            br#"{"user": {"email": "alice@example.com"}, "message": "ok"}"#,
        );
        assert!(!findings.is_empty());
        assert!(
            findings.iter().any(|f| f.path == "user.email"),
            "{findings:?}"
        );
        assert!(
            findings
                .iter()
                .all(|f| !f.excerpt.contains("alice@example.com"))
        );
    }

    #[test]
    fn binary_payloads_have_no_findings_and_text_is_checked() {
        let auditor = Auditor::new(Policy::preset("strict").unwrap());
        assert!(audit_payload(&auditor, &[0xff, 0x00, 0xfe]).is_empty());
        let text = audit_payload(&auditor, b"contact bob@example.org please");
        assert!(!text.is_empty());
        assert!(
            text.iter().all(|f| f.path == "text" && f.rule == "email"),
            "{text:?}"
        );
    }
}
