//! The store endpoint: one JSON event per request, plain or in a legacy wrapping.

use serde_json::{Map, Value};

use super::{
    IngestRequest, Ingested, authenticated, check_item_size, decoded_body, ingest_envelope,
    json_kind_of_non_object, json_tree_bytes, keep_in_body_if_unchanged, new_envelope,
    parse_json_object, with_decoded,
};
use crate::auth::Auth;
use crate::config::Limits;
use crate::decode;
use crate::error::IngestError;
use crate::in_flight::RequestCharge;
use crate::item::{self, EnvelopeContext};
use crate::store::NewItem;

/// `POST /api/{project}/store/`: one JSON event, possibly in a legacy base64/zlib wrapping, or
/// an envelope when the content type says so.
pub fn ingest_store(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    if req.media_type() == "application/x-sentry-envelope" {
        return ingest_envelope(req, limits, required_keys);
    }
    let auth = authenticated(req, required_keys)?;
    let decoded = decoded_body(req, limits)?;
    if decoded.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::bad_request("empty event payload"));
    }
    // JSON that is not an object (`[…]`, `42`, `"…"`) is no legacy encoding either: say what
    // it is instead of reporting that base64 and zlib decoding failed. Checked without building
    // a tree, which for a body of `[0,0,…]` would take 16 times its size.
    if let Some(kind) = json_kind_of_non_object(&decoded) {
        return Err(IngestError::BadRequest {
            detail: "invalid event payload".into(),
            causes: vec![format!("expected a JSON object, got {kind}")],
        });
    }
    let json_bytes = legacy_event_json(&decoded, limits, &req.charge)?;
    let mut ingested = store_event(req, auth, json_bytes, limits)?;
    keep_in_body_if_unchanged(&mut ingested.envelope.items, &decoded);
    ingested.envelope = with_decoded(ingested.envelope, decoded);
    Ok(ingested)
}

/// Undoes the base64 and zlib wrappings old raven clients put around store bodies.
fn legacy_event_json(
    body: &[u8],
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<Vec<u8>, IngestError> {
    decode::decode_legacy_store_body_charged(body, limits.max_decompressed, charge).map_err(|err| {
        match err {
            decode::DecodeError::Budget(budget) => budget.into(),
            err => IngestError::BadRequest {
                detail: "invalid event payload".into(),
                causes: vec![err.to_string()],
            },
        }
    })
}

fn store_event(
    req: &IngestRequest,
    auth: Auth,
    json_bytes: Vec<u8>,
    limits: &Limits,
) -> Result<Ingested, IngestError> {
    // Events and transactions share one limit, checked before the payload becomes a tree.
    check_item_size(limits, "event", json_bytes.len())?;
    // The tree, the copy without NaN that may be parsed instead, and the payload written back.
    req.charge
        .add(json_tree_bytes(json_bytes.len()).saturating_add(2 * json_bytes.len()))?;
    let mut event = parse_json_object(&json_bytes, "event payload", limits.max_json_depth)?;
    let item_type = match event.get("type").and_then(Value::as_str) {
        Some("transaction") => "transaction",
        _ => "event",
    };
    let event_id = match event.get("event_id").and_then(Value::as_str) {
        Some(id) => item::normalize_event_id(id.to_string()),
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            event.insert("event_id".into(), Value::String(id.clone()));
            id
        }
    };
    let payload = serde_json::to_vec(&Value::Object(event)).unwrap_or(json_bytes.clone());
    let context = EnvelopeContext {
        header: None,
        client: auth.client.as_deref(),
    };
    let meta = item::describe(item_type, &Map::new(), &payload, context);
    let items = vec![NewItem {
        item_type: item_type.to_string(),
        header: None,
        payload,
        in_body: None,
        meta,
        audit: None,
    }];
    Ok(Ingested {
        envelope: new_envelope(req, auth, None, json_bytes.len(), items),
        event_id: Some(event_id),
    })
}

/// `GET /api/{project}/store/?sentry_data=…`: the image-beacon form of store.
pub fn ingest_store_get(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let auth = authenticated(req, required_keys)?;
    let data = req
        .query
        .get("sentry_data")
        .ok_or_else(|| IngestError::bad_request("missing sentry_data query parameter"))?;
    let json_bytes = legacy_event_json(data.as_bytes(), limits, &req.charge)?;
    store_event(req, auth, json_bytes, limits)
}
