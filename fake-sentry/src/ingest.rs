//! Turning ingest requests into stored envelopes.
//!
//! Every endpoint (envelope, store, security, minidump, Spotlight's stream) ends up as one
//! [`NewEnvelope`] with one or more items, so the API and UI treat them alike. The functions
//! here are plain: they take the request parts and the limits and return what to store or why
//! the request is refused; the handlers in [`crate::server`] only move bytes.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::auth::{self, Auth};
use crate::config::Limits;
use crate::data_policy::DataPolicy;
use crate::decode::{self, ContentEncoding};
use crate::envelope;
use crate::error::IngestError;
use crate::in_flight::RequestCharge;
use crate::item::{self, EnvelopeContext};
use crate::store::{NewEnvelope, NewItem};

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
        content_encoding: req
            .header(http::header::CONTENT_ENCODING)
            .map(str::to_string),
        header,
        body: req.body.clone(),
        decoded_size,
        http_headers: headers_json(&req.headers),
        items,
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

/// `POST /api/{project}/envelope/` and Spotlight's `POST /stream`. The content type is not
/// consulted: Relay treats text/plain, form-urlencoded and multipart bodies as envelopes too
/// (browsers use them to skip the CORS preflight).
pub fn ingest_envelope(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let raw = decoded_body(req, limits)?;
    let parsed = parse_envelope(&raw, limits, &req.charge)?;
    let auth = auth::extract(&req.headers, &req.query, parsed.dsn());
    authorize(&auth, required_keys)?;
    let framing = parsed.framing_errors();
    if !framing.is_empty() {
        return Err(IngestError::BadRequest {
            detail: "invalid event envelope".into(),
            causes: framing,
        });
    }
    let mut sessions = 0;
    for item in &parsed.items {
        check_item_size(limits, &item.item_type, item.payload.len())?;
        sessions += usize::from(item.item_type == "session");
    }
    if sessions > limits.max_sessions {
        return Err(IngestError::TooLarge(format!(
            "envelope has {sessions} sessions, more than the limit of {}",
            limits.max_sessions
        )));
    }
    let envelope_event_id = parsed
        .event_id()
        .map(|id| item::normalize_event_id(id.to_string()));
    let envelope::Envelope {
        header,
        items: parsed_items,
    } = parsed;
    let context = EnvelopeContext {
        header: Some(&header),
        client: auth.client.as_deref(),
    };
    let items: Vec<NewItem> = parsed_items
        .into_iter()
        .map(|it| NewItem {
            meta: item::describe_within(
                &it.item_type,
                &it.header,
                &it.payload,
                context,
                limits.max_json_depth,
            ),
            item_type: it.item_type,
            header: Some(it.header),
            payload: it.payload,
            audit: None,
        })
        .collect();
    let event_id = envelope_event_id.or_else(|| {
        items
            .iter()
            .find(|i| matches!(i.item_type.as_str(), "event" | "transaction"))
            .and_then(|i| i.meta.event_id.clone())
    });
    let mut envelope = new_envelope(req, auth, Some(header), raw.len(), items);
    if req.endpoint == Endpoint::Stream {
        envelope.project_id = stream_project(envelope.header.as_ref());
    }
    Ok(Ingested { envelope, event_id })
}

/// Audits (and with `--scrub`, scrubs) every JSON item of a captured envelope in place,
/// charging the value trees the audit builds (up to 100 MiB items) before they are built.
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
        item.audit = policy.check_payload(&item.payload);
    }
    Ok(())
}

/// Frames an envelope within the limits, charging every item's header tree and bookkeeping to
/// the request as it goes: a body of a million tiny items stops at the first item past
/// `max_items_per_envelope` having charged no more than the items before it.
fn parse_envelope(
    raw: &[u8],
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<envelope::Envelope, IngestError> {
    let parse_limits = envelope::ParseLimits {
        max_items: limits.max_items_per_envelope,
        max_header_bytes: limits.max_envelope_header,
        max_item_header_bytes: limits.max_item_header,
        max_json_depth: limits.max_json_depth,
    };
    envelope::parse_with(raw, &parse_limits, |bytes| charge.add(bytes)).map_err(|err| match err {
        envelope::ParseError::Envelope(err) => err.into(),
        // Framing stopped at the first item past the limit: how many follow is not known.
        envelope::ParseError::TooManyItems { limit } => IngestError::TooLarge(format!(
            "envelope has at least {} items, more than the limit of {limit} \
             (--max-items-per-envelope)",
            limit.saturating_add(1)
        )),
        envelope::ParseError::Account(budget) => budget.into(),
    })
}

/// Bytes of memory a JSON value parsed from `n` bytes may take, at most (see
/// [`envelope::HEADER_TREE_FACTOR`]); charged before parsing a whole body into a tree.
fn json_tree_bytes(n: usize) -> usize {
    n.saturating_mul(envelope::HEADER_TREE_FACTOR)
}

/// Spotlight ignores projects; keep the one named by the envelope's DSN when there is one.
fn stream_project(header: Option<&Map<String, Value>>) -> u64 {
    header
        .and_then(|h| h.get("dsn"))
        .and_then(Value::as_str)
        .and_then(|dsn| dsn.rsplit('/').find(|s| !s.is_empty()))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
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
    envelope::check_json_depth(body, max_depth).map_err(|too_deep| IngestError::BadRequest {
        detail: format!("invalid {what}"),
        causes: vec![format!("invalid JSON: {too_deep} (--max-json-depth)")],
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
    store_event(req, auth, json_bytes, limits)
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
    envelope::check_json_depth(&decoded, limits.max_json_depth).map_err(|too_deep| {
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
            meta,
            audit: None,
        });
    }
    if items.is_empty() {
        return Err(IngestError::bad_request("security report list is empty"));
    }
    let event_id = items.first().and_then(|i| i.meta.event_id.clone());
    Ok(Ingested {
        envelope: new_envelope(req, auth, None, decoded.len(), items),
        event_id,
    })
}

fn is_minidump(bytes: &[u8]) -> bool {
    bytes.starts_with(b"MDMP") || bytes.starts_with(b"PMDM")
}

/// A minidump part may itself be compressed (Relay accepts gzip and zstd containers).
fn unwrap_minidump(
    bytes: Vec<u8>,
    limits: &Limits,
    charge: &RequestCharge,
) -> Result<Vec<u8>, IngestError> {
    let encoding = if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(ContentEncoding::Gzip)
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(ContentEncoding::Zstd)
    } else {
        None
    };
    let bytes = match encoding {
        Some(enc) => decode::decode_body_charged(&bytes, &[enc], limits.max_attachment, charge)?,
        None => bytes,
    };
    if !is_minidump(&bytes) {
        return Err(IngestError::BadRequest {
            detail: "invalid minidump".into(),
            causes: vec!["upload_file_minidump does not start with the MDMP signature".into()],
        });
    }
    Ok(bytes)
}

/// The keys of a bracket path (`[a][b]` of a field named `sentry[a][b]`), read up to
/// `max_depth`: `None` as soon as the path has more keys than that, so a name nesting 60,000
/// levels costs no more than one nesting `max_depth + 1`.
fn bracket_keys(path: &str, max_depth: usize) -> Option<Vec<&str>> {
    let mut keys = Vec::new();
    for key in path
        .split('[')
        .map(|k| k.trim_end_matches(']'))
        .filter(|k| !k.is_empty())
    {
        if keys.len() >= max_depth {
            return None;
        }
        keys.push(key);
    }
    Some(keys)
}

/// Sets `event[a][b]…` from a form field named `sentry[a][b]`, whose path has at most
/// `max_depth` keys; a deeper one is refused rather than built into a tree that serialising
/// (and dropping) would recurse through until the stack overflows.
fn set_bracket_path(
    event: &mut Map<String, Value>,
    path: &str,
    value: &str,
    max_depth: usize,
) -> Result<(), IngestError> {
    let keys = bracket_keys(path, max_depth).ok_or_else(|| IngestError::BadRequest {
        detail: "invalid minidump form".into(),
        causes: vec![format!(
            "a sentry[...] field name nests more than {max_depth} levels (--max-form-depth)"
        )],
    })?;
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    let mut current = event;
    for key in parents {
        let entry = current
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return Ok(());
        };
        current = next;
    }
    current.insert(last.to_string(), Value::String(value.to_string()));
    Ok(())
}

struct FormPart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

fn invalid_form(cause: String) -> IngestError {
    IngestError::BadRequest {
        detail: "invalid multipart body".into(),
        causes: vec![cause],
    }
}

/// Reads the parts of a multipart body, checking while reading: the part count (stopping at
/// the one past `max_form_fields`), each part's headers (`max_part_header`) and each part's
/// data (`max_attachment` for files, `max_form_field` for other fields), chunk by chunk.
async fn read_multipart(
    body: Bytes,
    boundary: &str,
    limits: &Limits,
) -> Result<Vec<FormPart>, IngestError> {
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits.max_decompressed as u64)
            .per_field(limits.max_attachment as u64),
    );
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    let invalid = |err: multer::Error| invalid_form(err.to_string());
    while let Some(mut field) = multipart.next_field().await.map_err(invalid)? {
        if parts.len() >= limits.max_form_fields {
            return Err(IngestError::TooLarge(format!(
                "the multipart form has more than {} parts (--max-form-fields)",
                limits.max_form_fields
            )));
        }
        let header_bytes: usize = field
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > limits.max_part_header {
            return Err(IngestError::TooLarge(format!(
                "a multipart part has {header_bytes} bytes of headers, more than {} \
                 (--max-part-header)",
                limits.max_part_header
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let (limit, flag) = if filename.is_some() || name == "upload_file_minidump" {
            (limits.max_attachment, "--max-attachment")
        } else {
            (limits.max_form_field, "--max-form-field")
        };
        let mut first: Option<Bytes> = None;
        let mut gathered = bytes::BytesMut::new();
        let mut size = 0usize;
        while let Some(chunk) = field.chunk().await.map_err(invalid)? {
            size = size.saturating_add(chunk.len());
            if size > limit {
                return Err(IngestError::TooLarge(format!(
                    "the multipart field {:?} is larger than {limit} bytes ({flag})",
                    crate::error::truncate_text(name, 64)
                )));
            }
            match first.take() {
                None if gathered.is_empty() => first = Some(chunk),
                previous => {
                    if let Some(previous) = previous {
                        gathered.extend_from_slice(&previous);
                    }
                    gathered.extend_from_slice(&chunk);
                }
            }
        }
        let data = first.unwrap_or_else(|| gathered.freeze());
        parts.push(FormPart {
            name,
            filename,
            content_type,
            data,
        });
    }
    Ok(parts)
}

/// `POST /api/{project}/minidump/`: a multipart upload with `upload_file_minidump` and Sentry
/// event fields (`sentry` JSON or `sentry[...]` fields), or a raw minidump body. Other files
/// become attachments and other fields land in the event's `extra`, as in Relay.
pub async fn ingest_minidump(
    req: &IngestRequest,
    limits: &Limits,
    required_keys: &[String],
) -> Result<Ingested, IngestError> {
    let auth = authenticated(req, required_keys)?;
    let decoded = decoded_body(req, limits)?;
    let decoded_size = decoded.len();
    let media_type = req.media_type();
    let mut event = Map::new();
    let mut extra = Map::new();
    let mut attachments: Vec<(String, Option<String>, &'static str, Vec<u8>)> = Vec::new();
    let mut minidump = None;
    if media_type == "multipart/form-data" {
        let boundary = req
            .header(http::header::CONTENT_TYPE)
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| IngestError::bad_request("multipart body without a boundary"))?;
        // The multipart reader works on its own copy of the body, and the parts kept are
        // copied once more (`decoded_body` charged the body and one copy).
        req.charge.add(decoded_size.saturating_mul(2))?;
        let parts = read_multipart(Bytes::from(decoded), &boundary, limits).await?;
        // The event's fields as a tree: one map per level of a bracket path, besides their
        // values (which the copies above cover).
        req.charge.add(
            parts
                .len()
                .saturating_mul(limits.max_form_depth.saturating_add(1))
                .saturating_mul(128),
        )?;
        for part in parts {
            match (part.name.as_str(), &part.filename) {
                ("upload_file_minidump", _) => {
                    let name = part
                        .filename
                        .clone()
                        .unwrap_or_else(|| "minidump.dmp".into());
                    minidump = Some((
                        name,
                        unwrap_minidump(part.data.to_vec(), limits, &req.charge)?,
                    ));
                }
                ("sentry", None) => {
                    req.charge.add(json_tree_bytes(part.data.len()))?;
                    let fields =
                        parse_json_object(&part.data, "sentry form field", limits.max_json_depth)?;
                    event.extend(fields);
                }
                (name, None) if name.starts_with("sentry[") => {
                    set_bracket_path(
                        &mut event,
                        &name["sentry".len()..],
                        &String::from_utf8_lossy(&part.data),
                        limits.max_form_depth,
                    )?;
                }
                (_, Some(filename)) => {
                    check_item_size(limits, "attachment", part.data.len())?;
                    attachments.push((
                        filename.clone(),
                        part.content_type,
                        "event.attachment",
                        part.data.to_vec(),
                    ));
                }
                (name, None) if name.starts_with("__sentry") => {
                    attachments.push((
                        name.to_string(),
                        part.content_type,
                        "event.attachment",
                        part.data.to_vec(),
                    ));
                }
                (name, None) => {
                    extra.insert(
                        name.to_string(),
                        Value::String(String::from_utf8_lossy(&part.data).into_owned()),
                    );
                }
            }
        }
    } else {
        minidump = Some((
            "minidump.dmp".into(),
            unwrap_minidump(decoded, limits, &req.charge)?,
        ));
    }
    let (dump_name, dump) = minidump.ok_or_else(|| IngestError::BadRequest {
        detail: "invalid minidump".into(),
        causes: vec!["missing upload_file_minidump".into()],
    })?;
    check_item_size(limits, "attachment", dump.len())?;
    if !extra.is_empty() {
        let target = event
            .entry("extra")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = target {
            map.extend(extra);
        }
    }
    let event_id = match event.get("event_id").and_then(Value::as_str) {
        Some(id) => item::normalize_event_id(id.to_string()),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    event.insert("event_id".into(), json!(event_id));
    event.entry("platform").or_insert(json!("native"));
    event.entry("level").or_insert(json!("fatal"));
    let context = EnvelopeContext {
        header: None,
        client: auth.client.as_deref(),
    };
    let payload = serde_json::to_vec(&Value::Object(event)).unwrap_or_default();
    let mut meta = item::describe("event", &Map::new(), &payload, context);
    if meta.summary == "event" {
        meta.summary = format!("minidump {dump_name} ({} bytes)", dump.len());
    }
    let mut items = vec![NewItem {
        item_type: "event".into(),
        header: Some(
            json!({"type": "event"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        payload,
        meta,
        audit: None,
    }];
    attachments.insert(
        0,
        (
            dump_name,
            Some("application/x-dmp".into()),
            "event.minidump",
            dump,
        ),
    );
    for (filename, content_type, attachment_type, data) in attachments {
        let mut header = Map::new();
        header.insert("type".into(), json!("attachment"));
        header.insert("filename".into(), json!(filename));
        header.insert("attachment_type".into(), json!(attachment_type));
        header.insert("length".into(), json!(data.len()));
        if let Some(ct) = content_type {
            header.insert("content_type".into(), json!(ct));
        }
        let mut meta = item::describe("attachment", &header, &data, context);
        meta.event_id = Some(event_id.clone());
        items.push(NewItem {
            item_type: "attachment".into(),
            header: Some(header),
            payload: data,
            meta,
            audit: None,
        });
    }
    Ok(Ingested {
        envelope: new_envelope(req, auth, None, decoded_size, items),
        event_id: Some(event_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bracket_fields_build_nested_objects() {
        let mut event = Map::new();
        set_bracket_path(&mut event, "[tags][build]", "42", 2).unwrap();
        set_bracket_path(&mut event, "[release]", "1.0", 2).unwrap();
        assert_eq!(
            Value::Object(event),
            json!({"tags": {"build": "42"}, "release": "1.0"})
        );
    }

    #[test]
    fn bracket_paths_deeper_than_the_limit_are_refused_while_read() {
        let mut event = Map::new();
        assert!(set_bracket_path(&mut event, "[a][b][c]", "x", 2).is_err());
        assert!(event.is_empty(), "nothing of a refused path is built");
        assert_eq!(bracket_keys("[a][b]", 2), Some(vec!["a", "b"]));
        assert_eq!(bracket_keys(&"[a]".repeat(60_000), 32), None);
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

    #[test]
    fn stream_project_comes_from_the_envelope_dsn() {
        let header = json!({"dsn": "http://k@localhost:8969/5"});
        assert_eq!(stream_project(header.as_object()), 5);
        assert_eq!(stream_project(None), 0);
    }
}
