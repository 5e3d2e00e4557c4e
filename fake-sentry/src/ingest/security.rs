//! Browser security reports: CSP, Expect-CT, Expect-Staple, HPKP and the Reporting API.

use serde_json::{Map, Value, json};

use super::{
    IngestRequest, Ingested, authenticated, check_item_size, decoded_body, json_kind,
    json_tree_bytes, keep_in_body_if_unchanged, new_envelope, with_decoded,
};
use crate::config::Limits;
use crate::error::IngestError;
use crate::item::{self, EnvelopeContext};
use crate::store::NewItem;

/// `POST /api/{project}/security/` and `/csp-report/`: a legacy `{"csp-report": …}` object (or
/// Expect-CT, Expect-Staple, HPKP report), or a Reporting API list with one report per element.
pub fn ingest_security(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let auth = authenticated(req, required_keys)?;
    let decoded = decoded_body(req, limits)?;
    if decoded.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::bad_request("empty security report"));
    }
    // The tree costs many times the body; the re-serialised reports are covered by what
    // `decoded_body` charged for item copies.
    req.charge.add(json_tree_bytes(decoded.len()))?;
    sentry_envelope::check_json_depth(&decoded, limits.max_json_depth).map_err(|too_deep| {
        IngestError::BadRequest {
            detail: "invalid security report".into(),
            causes: vec![format!("invalid JSON: {too_deep} (--max-json-depth)")],
        }
    })?;
    let value: Value = serde_json::from_slice(&decoded).map_err(|err| IngestError::BadRequest {
        detail: "invalid security report".into(),
        causes: vec![format!("invalid JSON: {err}")],
    })?;
    let reports = match value {
        Value::Array(list) => list,
        Value::Object(_) => vec![value],
        other => {
            return Err(IngestError::BadRequest {
                detail: "invalid security report".into(),
                causes: vec![format!(
                    "expected a JSON object or array, got {}",
                    json_kind(&other)
                )],
            });
        }
    };
    let mut header = Map::new();
    header.insert("type".into(), json!("security"));
    for (query_key, header_key) in [
        ("sentry_release", "sentry_release"),
        ("sentry_environment", "sentry_environment"),
    ] {
        if let Some(v) = req.query.get(query_key) {
            header.insert(header_key.into(), json!(v));
        }
    }
    let context = EnvelopeContext {
        header: None,
        client: auth.client.as_deref(),
    };
    if reports.len() > limits.max_items_per_envelope {
        return Err(IngestError::TooLarge(format!(
            "security report list has more than {} reports (--max-items-per-envelope)",
            limits.max_items_per_envelope
        )));
    }
    let mut items = Vec::with_capacity(reports.len());
    for report in reports {
        let payload = serde_json::to_vec(&report).unwrap_or_default();
        check_item_size(limits, "security", payload.len())?;
        let mut meta = item::describe("security", &header, &payload, context);
        // Each report is its own event, unlike Kent where a list shares one id.
        meta.event_id = Some(uuid::Uuid::new_v4().simple().to_string());
        items.push(NewItem {
            item_type: "security".into(),
            header: Some(header.clone()),
            payload,
            in_body: None,
            meta,
            audit: None,
        });
    }
    if items.is_empty() {
        return Err(IngestError::bad_request("security report list is empty"));
    }
    keep_in_body_if_unchanged(&mut items, &decoded);
    let event_id = items.first().and_then(|i| i.meta.event_id.clone());
    Ok(Ingested {
        envelope: with_decoded(new_envelope(req, auth, None, decoded.len(), items), decoded),
        event_id,
    })
}
