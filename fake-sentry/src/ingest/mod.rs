//! Turning ingest requests into stored envelopes.
//!
//! Every endpoint (envelope, store, security, minidump, Spotlight's stream) ends up as one
//! [`NewEnvelope`] with one or more items, so the API and UI treat them alike. The functions
//! here are plain: they take the request parts and the limits and return what to store or why
//! the request is refused; the handlers in [`crate::server`] only move bytes.
//!
//! One file per endpoint kind: `envelope` (envelopes and Spotlight's stream), `store` (the
//! store endpoint and its legacy wrappings), `security` (CSP and other browser reports) and
//! `minidump` (multipart crash uploads); this module holds what they share: the request and
//! its answer, authentication, body decoding, the JSON helpers and the item size limits.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value};

use crate::auth::{self, Auth};
use crate::config::Limits;
use crate::data_policy::DataPolicy;
use crate::decode;
use crate::error::IngestError;
use crate::in_flight::RequestCharge;
use crate::store::{BodyPosition, NewEnvelope, NewItem};

mod envelope;
mod minidump;
mod native_payload;
mod security;
mod store;

pub use envelope::ingest_envelope;
pub use minidump::ingest_minidump;
pub use security::ingest_security;
pub use store::{ingest_store, ingest_store_get};

/// The ingest endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Envelope,
    Store,
    Security,
    Minidump,
    Stream,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Store => "store",
            Self::Security => "security",
            Self::Minidump => "minidump",
            Self::Stream => "stream",
        }
    }
}

/// The parts of an ingest request the ingest logic needs.
#[derive(Debug)]
pub struct IngestRequest {
    pub endpoint: Endpoint,
    pub project_id: u64,
    pub headers: HeaderMap,
    pub query: HashMap<String, String>,
    pub body: Bytes,
    pub received_at_ms: i64,
    /// What the request holds of the in-flight memory budget; decoding charges to it.
    pub charge: RequestCharge,
}

impl IngestRequest {
    fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> Option<String> {
        self.header(http::header::CONTENT_TYPE).map(str::to_string)
    }

    /// The media type without parameters, lower case.
    fn media_type(&self) -> String {
        self.header(http::header::CONTENT_TYPE)
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// What ingest decided to store, and the event id to answer with.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub envelope: NewEnvelope,
    pub event_id: Option<String>,
}

/// Checks the key against `--require-key`.
pub fn authorize(auth: &Auth, required: &[String]) -> Result<(), IngestError> {
    if required.is_empty() {
        return Ok(());
    }
    match &auth.public_key {
        Some(key) if required.contains(key) => Ok(()),
        Some(key) => Err(IngestError::Unauthorized(format!("unknown public key {key:?}"))),
        None => Err(IngestError::Unauthorized("missing authorization: no sentry_key in X-Sentry-Auth, Authorization, query string or envelope dsn".into())),
    }
}

/// The credentials of a request that has no envelope header, checked against `--require-key`.
fn authenticated(req: &IngestRequest, required_keys: &[String]) -> Result<Auth, IngestError> {
    let auth = auth::extract(&req.headers, &req.query, None);
    authorize(&auth, required_keys)?;
    Ok(auth)
}

/// The body decompressed, charged to the request's budget as it grows, plus as much again for
/// the item copies parsing it makes.
fn decoded_body(req: &IngestRequest, limits: &Limits) -> Result<Vec<u8>, IngestError> {
    let encodings = decode::parse_content_encoding_limited(
        req.header(http::header::CONTENT_ENCODING),
        limits.max_encodings,
    )?;
    let decoded =
        decode::decode_body_charged(&req.body, &encodings, limits.max_decompressed, &req.charge)?;
    req.charge.add(decoded.len())?;
    Ok(decoded)
}

fn new_envelope(
    req: &IngestRequest,
    auth: Auth,
    header: Option<Map<String, Value>>,
    decoded_size: usize,
    items: Vec<NewItem>,
) -> NewEnvelope {
    NewEnvelope {
        project_id: req.project_id,
        endpoint: req.endpoint.as_str(),
        received_at_ms: req.received_at_ms,
        auth,
        user_agent: req.header(http::header::USER_AGENT).map(str::to_string),
        content_type: req.content_type(),
        // The encoding of the body kept below. A request without a body (the store GET
        // beacon) has none, whatever its header says: the header may name a coding ingest
        // never decoded, and reading the envelope back would then refuse it. The header
        // itself stays in `http_headers`.
        content_encoding: req
            .header(http::header::CONTENT_ENCODING)
            .filter(|_| !req.body.is_empty())
            .map(str::to_string),
        header,
        header_is_first_line: false,
        body: req.body.clone(),
        decoded: None,
        decoded_size,
        http_headers: headers_json(&req.headers),
        items,
    }
}

/// `envelope` with the decoded body ingest made, for the store's compact form, when the body was
/// encoded: an identity body is its own decoded form, and the copy can go at once.
fn with_decoded(mut envelope: NewEnvelope, decoded: impl Into<Bytes>) -> NewEnvelope {
    if envelope.content_encoding.is_some() {
        envelope.decoded = Some(decoded.into());
    }
    envelope
}

/// A single item written back exactly as it came (a store event compact, keys in order, with
/// an `event_id`; a security report likewise) is the decoded body itself: the store keeps it
/// once, there.
pub(super) fn keep_in_body_if_unchanged(items: &mut [NewItem], decoded: &[u8]) {
    if let [item] = items
        && item.payload == decoded
    {
        item.in_body = Some(BodyPosition {
            payload: 0..decoded.len(),
            header_line_before: false,
        });
    }
}

/// The request headers as a JSON object; a header sent several times is joined with `, `.
/// Keys come out sorted, as from a `serde_json::Map`, without building one.
fn headers_json(headers: &HeaderMap) -> String {
    let mut map: BTreeMap<&str, Cow<'_, str>> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match map.entry(name.as_str()) {
            Entry::Occupied(mut existing) => {
                let existing = existing.get_mut().to_mut();
                existing.push_str(", ");
                existing.push_str(&value);
            }
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
        }
    }
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

fn check_item_size(limits: &Limits, item_type: &str, size: usize) -> Result<(), IngestError> {
    let limit = limits.for_item_type(item_type);
    if size > limit {
        return Err(IngestError::TooLarge(format!(
            "envelope exceeded size limits for type '{item_type}': {size} bytes > {limit}"
        )));
    }
    Ok(())
}

/// Audits (and with `--scrub`, scrubs) every JSON item of a captured envelope in place,
/// charging the value trees the audit builds (up to 100 MiB items) before they are built, and
/// what each audit keeps with its item until it is committed (its findings, scrubbed copy and
/// report) as soon as it is made: its size is known only then.
pub(crate) fn audit_items(
    policy: &DataPolicy,
    items: &mut [NewItem],
    charge: &RequestCharge,
) -> Result<(), IngestError> {
    let largest = items
        .iter()
        .filter(|item| item.meta.is_json)
        .map(|item| item.payload.len())
        .max()
        .unwrap_or(0);
    charge.add(policy.audit_memory(largest))?;
    for item in items.iter_mut().filter(|item| item.meta.is_json) {
        let audit = policy.check_payload(&item.payload);
        if let Some(audit) = &audit {
            charge.add(audit.held_bytes())?;
        }
        item.audit = audit;
    }
    Ok(())
}

/// Bytes of memory a JSON value parsed from `n` bytes may take, at most (see
/// [`sentry_envelope::HEADER_TREE_FACTOR`]); charged before parsing a whole body into a tree.
fn json_tree_bytes(n: usize) -> usize {
    n.saturating_mul(sentry_envelope::HEADER_TREE_FACTOR)
}

/// Replaces the `NaN`, `Infinity` and `-Infinity` tokens Python's `json` writes (and
/// `serde_json` refuses) with `null`, outside strings only; Relay does the same for Python
/// clients.
pub fn fix_non_finite_json(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest = &input[i..];
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        if let Some(token) = token {
            out.extend_from_slice(b"null");
            i += token.len();
            continue;
        }
        in_string = b == b'"';
        out.push(b);
        i += 1;
    }
    out
}

/// Parses a JSON object received as a whole request body or form field, refusing nesting
/// deeper than `max_depth` before anything is parsed.
fn parse_json_object(
    body: &[u8],
    what: &str,
    max_depth: usize,
) -> Result<Map<String, Value>, IngestError> {
    sentry_envelope::check_json_depth(body, max_depth).map_err(|too_deep| {
        IngestError::BadRequest {
            detail: format!("invalid {what}"),
            causes: vec![format!("invalid JSON: {too_deep} (--max-json-depth)")],
        }
    })?;
    let value = serde_json::from_slice::<Value>(body).or_else(|first| {
        serde_json::from_slice::<Value>(&fix_non_finite_json(body)).map_err(|_| first)
    });
    match value {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(IngestError::BadRequest {
            detail: format!("invalid {what}"),
            causes: vec![format!("expected a JSON object, got {}", json_kind(&other))],
        }),
        Err(err) => Err(IngestError::BadRequest {
            detail: format!("invalid {what}"),
            causes: vec![format!("invalid JSON: {err}")],
        }),
    }
}

/// What JSON `bytes` are when they are valid JSON but not an object.
fn json_kind_of_non_object(bytes: &[u8]) -> Option<&'static str> {
    let kind = match bytes.iter().find(|b| !b.is_ascii_whitespace())? {
        b'{' => return None,
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => return None,
    };
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .is_ok()
        .then_some(kind)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each audit keeps with its item (findings, scrubbed copy, report) is charged, on top
    /// of the peak of auditing the largest item: a hundred items' scrubbed copies are together
    /// far larger than that peak's share for one.
    #[test]
    fn what_audits_keep_is_charged() {
        let policy = crate::data_policy::DataPolicy::new(
            event_filter::Policy::preset("strict").expect("preset"),
            "preset:strict",
            true,
        );
        let payload = serde_json::json!({
            "message": "alice@example.com paid ".repeat(500),
            "event_id": "00112233445566778899aabbccddeeff",
        })
        .to_string()
        .into_bytes();
        let mut items: Vec<NewItem> = (0..100)
            .map(|_| NewItem {
                item_type: "event".into(),
                header: None,
                payload: payload.clone(),
                in_body: None,
                meta: crate::item::ItemMeta {
                    is_json: true,
                    ..Default::default()
                },
                audit: None,
            })
            .collect();
        let budget = crate::in_flight::InFlightBudget::new(1 << 30);
        let charge = budget.charge();
        audit_items(&policy, &mut items, &charge).expect("audit");
        let kept: usize = items
            .iter()
            .map(|item| item.audit.as_ref().expect("audited").held_bytes())
            .sum();
        assert!(
            kept > 100 * payload.len() / 2,
            "{kept}: scrubbed copies kept"
        );
        assert_eq!(charge.bytes(), policy.audit_memory(payload.len()) + kept);
    }

    #[test]
    fn non_finite_numbers_become_null_outside_strings() {
        let fixed = fix_non_finite_json(
            br#"{"a": NaN, "b": "NaN \" Infinity", "c": [-Infinity, Infinity]}"#,
        );
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            r#"{"a": null, "b": "NaN \" Infinity", "c": [null, null]}"#
        );
    }

    #[test]
    fn headers_are_a_sorted_object_with_repeats_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-b", http::HeaderValue::from_static("2"));
        headers.append("accept", http::HeaderValue::from_static("a"));
        headers.append("x-b", http::HeaderValue::from_static("3"));
        headers.append("x-q", http::HeaderValue::from_static("say \"hi\""));
        assert_eq!(
            headers_json(&headers),
            r#"{"accept":"a","x-b":"2, 3","x-q":"say \"hi\""}"#
        );
    }

    #[test]
    fn non_object_json_is_named_without_a_tree() {
        assert_eq!(json_kind_of_non_object(b" [1,2]"), Some("an array"));
        assert_eq!(json_kind_of_non_object(b"42"), Some("a number"));
        assert_eq!(json_kind_of_non_object(b"null"), Some("null"));
        assert_eq!(json_kind_of_non_object(b"{}"), None);
        assert_eq!(json_kind_of_non_object(b"eJyrVg=="), None);
        assert_eq!(json_kind_of_non_object(b"[1,"), None);
    }
}
