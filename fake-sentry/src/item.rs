//! What one captured item is: its decoded payload and the fields the API filters and lists by.
//!
//! Decoding is best effort and never refuses an item: JSON item types are parsed as JSON, events
//! are additionally checked against `sentry-types` (a mismatch is a note, not an error, because
//! real SDKs send shapes that crate rejects), and binary or unknown types are kept as bytes.

use serde_json::{Map, Value};

use crate::prune::{self, Spec};

mod logs;
mod trace;

pub use logs::{
    DEFAULT_MAX_LOG_ENTRIES, LEVELS, LogEntries, entries as log_entries, levels_from,
    normalize_level,
};
pub use trace::{MAX_TRACES_PER_ITEM, TraceLink, normalize_span_id, normalize_trace_id};
pub(crate) use trace::{earlier, later};

/// Item types whose payload is JSON.
const JSON_TYPES: &[&str] = &[
    "event",
    "transaction",
    "security",
    "raw_security",
    "nel",
    "user_report",
    "feedback",
    "session",
    "sessions",
    "client_report",
    "check_in",
    "log",
    "span",
    "trace_metric",
    "replay_event",
    "profile",
    "metric_buckets",
];

/// The parts of an event or transaction that [`describe`] reads.
static EVENT_FIELDS: Spec = Spec::Keys(&[
    ("event_id", Spec::All),
    ("level", Spec::All),
    ("platform", Spec::All),
    ("release", Spec::All),
    ("environment", Spec::All),
    (
        "sdk",
        Spec::Keys(&[("name", Spec::All), ("version", Spec::All)]),
    ),
    ("timestamp", Spec::All),
    ("start_timestamp", Spec::All),
    ("transaction", Spec::All),
    ("contexts", Spec::Keys(&[("trace", TRACE_CONTEXT)])),
    // Each span pruned to its times: the listing shows their count, the trace its extent.
    (
        "spans",
        Spec::Keys(&[("start_timestamp", Spec::All), ("timestamp", Spec::All)]),
    ),
    ("error", Spec::All),
    (
        "exception",
        Spec::Keys(&[
            (
                "values",
                Spec::Keys(&[("type", Spec::All), ("value", Spec::All)]),
            ),
            // The legacy list form.
            ("type", Spec::All),
            ("value", Spec::All),
        ]),
    ),
    (
        "message",
        Spec::Keys(&[("formatted", Spec::All), ("message", Spec::All)]),
    ),
    (
        "logentry",
        Spec::Keys(&[("formatted", Spec::All), ("message", Spec::All)]),
    ),
    ("csp-report", Spec::All),
    ("effectiveDirective", Spec::All),
    ("violated-directive", Spec::All),
]);

/// What the trace of an item is read from: `contexts.trace` (see `item/trace.rs`).
const TRACE_CONTEXT: Spec = Spec::Keys(&[
    ("trace_id", Spec::All),
    ("span_id", Spec::All),
    ("parent_span_id", Spec::All),
    ("op", Spec::All),
]);

/// The top-level fields [`describe`] reads of an item type whose summary needs nothing else
/// (profiles, replays, unknown types): such items can be tens of megabytes, and a full
/// `serde_json::Value` of them would take ten times that in memory.
static LISTING_FIELDS: Spec = Spec::Fields(&[
    ("event_id", Spec::All),
    ("level", Spec::All),
    ("platform", Spec::All),
    ("release", Spec::All),
    ("environment", Spec::All),
    (
        "attrs",
        Spec::Fields(&[("release", Spec::All), ("environment", Spec::All)]),
    ),
    (
        "sdk",
        Spec::Fields(&[("name", Spec::All), ("version", Spec::All)]),
    ),
    ("timestamp", Spec::All),
    // The traces of profiles and replays (see `item/trace.rs`).
    ("transaction", Spec::Fields(&[("trace_id", Spec::All)])),
    (
        "transactions",
        Spec::FirstOf(
            MAX_TRACES_PER_ITEM,
            &Spec::Fields(&[("trace_id", Spec::All)]),
        ),
    ),
    (
        "contexts",
        Spec::Fields(&[("trace", Spec::Fields(&[("trace_id", Spec::All)]))]),
    ),
    ("trace_ids", Spec::FirstOf(MAX_TRACES_PER_ITEM, &Spec::All)),
]);

/// Item types whose summary reads more than [`LISTING_FIELDS`]; all are small (at most
/// `--max-event-item`, 1 MiB, by default), so they are parsed whole.
fn summary_reads_the_whole_payload(item_type: &str) -> bool {
    matches!(
        item_type,
        "security"
            | "raw_security"
            | "nel"
            | "session"
            | "sessions"
            | "client_report"
            | "check_in"
            | "log"
            | "span"
            | "trace_metric"
            | "feedback"
            | "user_report"
    )
}

/// Decoded view of one item, ready to be stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemMeta {
    pub event_id: Option<String>,
    pub level: Option<String>,
    pub platform: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub sdk_name: Option<String>,
    pub sdk_version: Option<String>,
    pub summary: String,
    /// Event time, seconds since the Unix epoch.
    pub timestamp: Option<f64>,
    /// Whether the payload is JSON (it was parsed as such).
    pub is_json: bool,
    /// Why the payload could not be decoded, when it should have been.
    pub decode_error: Option<String>,
    /// The traces the item takes part in, its own first (see `item/trace.rs`); empty when it
    /// names none and its envelope names none either.
    pub traces: Vec<TraceLink>,
    /// A `log` item's entries, as many as `--max-log-entries` (see `item/logs.rs`).
    pub logs: LogEntries,
}

/// Where `sentry-types` cannot read an event (informational: real SDKs send shapes that crate
/// rejects, such as JavaScript's float span timestamps). Computed when an item is shown, not at
/// ingest, because it is a second full parse.
pub fn schema_note(item_type: &str, payload: &[u8]) -> Option<String> {
    if !matches!(item_type, "event" | "transaction") {
        return None;
    }
    serde_json::from_slice::<sentry_types::protocol::v7::Event<'_>>(payload)
        .err()
        .map(|err| format!("sentry-types cannot read this {item_type}: {err}"))
}

/// Whether items of this type are expected to carry JSON.
pub fn is_json_type(item_type: &str) -> bool {
    JSON_TYPES.contains(&item_type)
}

/// Context an item inherits from its envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvelopeContext<'a> {
    pub header: Option<&'a Map<String, Value>>,
    pub client: Option<&'a str>,
}

/// Decodes one item and extracts its listing fields; JSON may nest as deep as serde_json allows.
pub fn describe(
    item_type: &str,
    item_header: &Map<String, Value>,
    payload: &[u8],
    envelope: EnvelopeContext<'_>,
) -> ItemMeta {
    describe_within(
        item_type,
        item_header,
        payload,
        envelope,
        sentry_envelope::SERDE_JSON_MAX_DEPTH,
        DEFAULT_MAX_LOG_ENTRIES,
    )
}

/// [`describe`], with JSON nested deeper than `max_json_depth` (`--max-json-depth`) refused
/// before it is parsed: the item keeps its bytes and gets a decode error, as for invalid JSON;
/// a `log` item keeps its first `max_log_entries` entries (`--max-log-entries`).
pub fn describe_within(
    item_type: &str,
    item_header: &Map<String, Value>,
    payload: &[u8],
    envelope: EnvelopeContext<'_>,
    max_json_depth: usize,
    max_log_entries: usize,
) -> ItemMeta {
    let mut meta = ItemMeta::default();
    let mut json = None;
    let looks_json = matches!(
        payload.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    );
    let wants_json = is_json_type(item_type)
        || item_header
            .get("content_type")
            .and_then(Value::as_str)
            .is_some_and(|ct| ct.contains("json"));
    if wants_json || (item_type != "attachment" && looks_json) {
        let parsed = match sentry_envelope::check_json_depth(payload, max_json_depth) {
            Err(too_deep) => Err(too_deep.to_string()),
            Ok(()) => match item_type {
                // The hot path: keep only what the listing needs, not the stack frames.
                "event" | "transaction" => prune::parse(payload, &EVENT_FIELDS),
                // An attachment's content is the application's, not a Sentry payload: it is
                // checked (so that the UI can lay it out as JSON), never read for fields.
                "attachment" => prune::check(payload).map(|()| Value::Null),
                t if summary_reads_the_whole_payload(t) => serde_json::from_slice::<Value>(payload),
                _ => prune::parse(payload, &LISTING_FIELDS),
            }
            .map_err(|err| err.to_string()),
        };
        match parsed {
            Ok(value) => json = Some(value),
            Err(err) if wants_json => meta.decode_error = Some(format!("invalid JSON: {err}")),
            Err(_) => {}
        }
    }
    meta.is_json = json.is_some();
    let body = json.as_ref().and_then(Value::as_object);
    let env_header = envelope.header;
    let trace = env_header
        .and_then(|h| h.get("trace"))
        .and_then(Value::as_object);

    meta.event_id = body
        .and_then(|b| str_at(b, &["event_id"]))
        .or_else(|| {
            matches!(
                item_type,
                "event" | "transaction" | "attachment" | "feedback"
            )
            .then(|| env_header.and_then(|h| str_at(h, &["event_id"])))
            .flatten()
        })
        .map(normalize_event_id);
    meta.level = body.and_then(|b| str_at(b, &["level"]));
    meta.platform = body.and_then(|b| str_at(b, &["platform"]));
    meta.release = body
        .and_then(|b| str_at(b, &["release"]).or_else(|| str_at(b, &["attrs", "release"])))
        .or_else(|| trace.and_then(|t| str_at(t, &["release"])))
        .or_else(|| str_at(item_header, &["sentry_release"]));
    meta.environment = body
        .and_then(|b| str_at(b, &["environment"]).or_else(|| str_at(b, &["attrs", "environment"])))
        .or_else(|| trace.and_then(|t| str_at(t, &["environment"])))
        .or_else(|| str_at(item_header, &["sentry_environment"]));
    let sdk = body
        .and_then(|b| b.get("sdk"))
        .or_else(|| env_header.and_then(|h| h.get("sdk")))
        .and_then(Value::as_object);
    meta.sdk_name = sdk.and_then(|s| str_at(s, &["name"]));
    meta.sdk_version = sdk.and_then(|s| str_at(s, &["version"]));
    if meta.sdk_name.is_none()
        && let Some(client) = envelope.client
    {
        let (name, version) = client.split_once('/').unwrap_or((client, ""));
        meta.sdk_name = Some(name.to_string());
        meta.sdk_version = (!version.is_empty()).then(|| version.to_string());
    }
    meta.timestamp = body
        .and_then(|b| b.get("timestamp"))
        .and_then(parse_timestamp);
    meta.summary = summarize(item_type, item_header, payload.len(), json.as_ref(), &meta);
    meta.traces = trace::links(item_type, body, trace);
    if item_type == "log"
        && let Some(body) = body
    {
        meta.logs = logs::entries(body, &meta, max_log_entries);
    }
    meta
}

/// Sentry event ids are 32 hex digits; some clients send them with dashes or in upper case.
pub fn normalize_event_id(id: String) -> String {
    if id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        id.replace('-', "").to_ascii_lowercase()
    } else {
        id.to_ascii_lowercase()
    }
}

fn str_at(map: &Map<String, Value>, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut current = map;
    for key in parents {
        current = current.get(*key)?.as_object()?;
    }
    match current.get(*last)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sentry timestamps are either float seconds or RFC 3339 strings.
pub fn parse_timestamp(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_rfc3339(s),
        _ => None,
    }
}

/// Parses RFC 3339, also accepting the zone-less form some SDKs send (taken as UTC).
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()?;
    Some(parsed.unix_timestamp_nanos() as f64 / 1e9)
}

fn first_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(max_chars).collect();
    if line.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// A one-line human summary. Events follow Kent's rules (exception, then message, then CSP
/// directive); other types get a summary of their own where Kent says "no summary".
fn summarize(
    item_type: &str,
    header: &Map<String, Value>,
    size: usize,
    body: Option<&Value>,
    meta: &ItemMeta,
) -> String {
    if let Some(err) = &meta.decode_error {
        return first_line(&format!("{item_type}: could not decode: {err}"), 200);
    }
    let obj = body.and_then(Value::as_object);
    let text = match item_type {
        "event" | "transaction" if obj.is_some() => obj.and_then(|o| event_summary(item_type, o)),
        "security" | "raw_security" | "nel" => body.and_then(security_summary),
        "attachment" => Some(format!(
            "attachment {} ({size} bytes)",
            header
                .get("filename")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
        )),
        "session" => obj.map(|o| {
            format!(
                "session {} {}",
                str_at(o, &["status"]).unwrap_or_else(|| "?".into()),
                str_at(o, &["attrs", "release"]).unwrap_or_default()
            )
        }),
        "sessions" => obj.map(|o| {
            let n = o
                .get("aggregates")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("sessions: {n} aggregates")
        }),
        "client_report" => obj.map(|o| {
            let discarded: u64 = o
                .get("discarded_events")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|d| d.get("quantity")?.as_u64()).sum())
                .unwrap_or(0);
            format!("client report: {discarded} discarded")
        }),
        "check_in" => obj.map(|o| {
            format!(
                "check-in {}: {}",
                str_at(o, &["monitor_slug"]).unwrap_or_else(|| "?".into()),
                str_at(o, &["status"]).unwrap_or_else(|| "?".into())
            )
        }),
        "log" | "span" | "trace_metric" => obj.map(|o| container_summary(item_type, o)),
        "feedback" => obj
            .and_then(|o| str_at(o, &["contexts", "feedback", "message"]))
            .map(|m| format!("feedback: {m}")),
        "user_report" => obj
            .and_then(|o| str_at(o, &["comments"]))
            .map(|m| format!("user report: {m}")),
        _ => None,
    };
    let text = text.unwrap_or_else(|| match body {
        Some(_) => item_type.to_string(),
        None => format!("{item_type} ({size} bytes)"),
    });
    first_line(&text, 200)
}

fn event_summary(item_type: &str, event: &Map<String, Value>) -> Option<String> {
    if item_type == "transaction" {
        let name = str_at(event, &["transaction"]).unwrap_or_else(|| "(unnamed)".into());
        let spans = event
            .get("spans")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        return Some(format!("transaction: {name} ({spans} spans)"));
    }
    if let Some(error) = str_at(event, &["error"]) {
        return Some(error);
    }
    // Sentry lists chained exceptions innermost first; the last one is what was raised.
    let exception = event
        .get("exception")
        .and_then(|e| e.get("values").or(Some(e)))
        .and_then(Value::as_array)
        .and_then(|values| values.last())
        .and_then(Value::as_object);
    if let Some(exc) = exception {
        let ty = str_at(exc, &["type"]).unwrap_or_default();
        let value = str_at(exc, &["value"]).unwrap_or_default();
        return Some(match (ty.is_empty(), value.is_empty()) {
            (false, false) => format!("{ty}: {value}"),
            (false, true) => ty,
            _ => value,
        });
    }
    let message = match event.get("message") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(m)) => str_at(m, &["formatted"]).or_else(|| str_at(m, &["message"])),
        _ => None,
    };
    message
        .or_else(|| str_at(event, &["logentry", "formatted"]))
        .or_else(|| str_at(event, &["logentry", "message"]))
        .or_else(|| security_summary(&Value::Object(event.clone())))
}

fn security_summary(body: &Value) -> Option<String> {
    let report = body
        .get("csp-report")
        .or_else(|| body.get("body"))
        .unwrap_or(body);
    let directive = report
        .get("violated-directive")
        .or_else(|| report.get("effectiveDirective"))
        .or_else(|| report.get("effective-directive"))
        .and_then(Value::as_str)?;
    Some(format!("csp-report: {directive}"))
}

fn container_summary(item_type: &str, container: &Map<String, Value>) -> String {
    let items = container.get("items").and_then(Value::as_array);
    let count = items.map_or(0, Vec::len);
    let first = items.and_then(|i| i.first()).and_then(Value::as_object);
    let label = match item_type {
        "log" => first.and_then(|l| {
            let level = str_at(l, &["level"]).unwrap_or_default();
            Some(
                format!("{level} {}", str_at(l, &["body"])?)
                    .trim()
                    .to_string(),
            )
        }),
        "span" => first.and_then(|s| str_at(s, &["name"])),
        _ => first.and_then(|m| str_at(m, &["name"])),
    };
    let noun = match item_type {
        "log" => "log",
        "span" => "span",
        _ => "metric",
    };
    match (label, count) {
        (Some(label), 1) => format!("{noun}: {label}"),
        (Some(label), n) => format!("{noun}: {label} (+{} more)", n - 1),
        (None, n) => format!("{n} {noun} items"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn describe_json(item_type: &str, body: Value) -> ItemMeta {
        describe(
            item_type,
            &Map::new(),
            body.to_string().as_bytes(),
            EnvelopeContext::default(),
        )
    }

    #[test]
    fn event_summaries_follow_kent_order() {
        let meta = describe_json(
            "event",
            json!({"event_id": "AB12CD34-0000-0000-0000-000000000000", "level": "error",
                   "exception": {"values": [{"type": "KeyError", "value": "cause"},
                                            {"type": "ValueError", "value": "boom"}]},
                   "message": "ignored", "sdk": {"name": "sentry.python", "version": "2.75.0"},
                   "timestamp": "2026-11-26T00:00:00Z"}),
        );
        assert_eq!(meta.summary, "ValueError: boom");
        assert_eq!(
            meta.event_id.as_deref(),
            Some("ab12cd34000000000000000000000000")
        );
        assert_eq!(meta.sdk_name.as_deref(), Some("sentry.python"));
        assert_eq!(meta.timestamp, Some(1_795_651_200.0));
        assert_eq!(
            describe_json("event", json!({"message": "hello"})).summary,
            "hello"
        );
        assert_eq!(
            describe_json("event", json!({"logentry": {"formatted": "fmt"}})).summary,
            "fmt"
        );
    }

    #[test]
    fn other_types_get_real_summaries() {
        assert_eq!(
            describe_json(
                "transaction",
                json!({"transaction": "GET /", "spans": [{}, {}]})
            )
            .summary,
            "transaction: GET / (2 spans)"
        );
        assert_eq!(
            describe_json(
                "security",
                json!({"csp-report": {"violated-directive": "script-src"}})
            )
            .summary,
            "csp-report: script-src"
        );
        assert_eq!(
            describe_json(
                "log",
                json!({"items": [{"level": "info", "body": "hi"}, {}]})
            )
            .summary,
            "log: info hi (+1 more)"
        );
        assert_eq!(
            describe_json(
                "check_in",
                json!({"monitor_slug": "nightly", "status": "ok"})
            )
            .summary,
            "check-in nightly: ok"
        );
    }

    #[test]
    fn invalid_json_is_a_decode_error_not_a_failure() {
        let meta = describe(
            "event",
            &Map::new(),
            b"{not json",
            EnvelopeContext::default(),
        );
        assert!(meta.decode_error.unwrap().starts_with("invalid JSON"));
        assert!(meta.summary.starts_with("event: could not decode"));
    }

    #[test]
    fn binary_items_are_described_by_size() {
        let meta = describe(
            "replay_recording",
            &Map::new(),
            &[0, 159, 146, 150],
            EnvelopeContext::default(),
        );
        assert_eq!(meta.summary, "replay_recording (4 bytes)");
        assert!(meta.decode_error.is_none());
    }

    #[test]
    fn json_deeper_than_the_limit_is_a_decode_error_and_not_parsed() {
        let payload = br#"{"event_id":"0123456789abcdef0123456789abcdef","extra":{"a":[[1]]}}"#;
        let ctx = EnvelopeContext::default();
        let within = describe_within(
            "event",
            &Map::new(),
            payload,
            ctx,
            4,
            DEFAULT_MAX_LOG_ENTRIES,
        );
        assert!(within.is_json);
        assert_eq!(within.decode_error, None);

        let deeper = describe_within(
            "event",
            &Map::new(),
            payload,
            ctx,
            3,
            DEFAULT_MAX_LOG_ENTRIES,
        );
        assert!(!deeper.is_json);
        assert_eq!(
            deeper.decode_error.as_deref(),
            Some("invalid JSON: JSON nests deeper than 3 levels")
        );
        // Nothing was read from it.
        assert_eq!(deeper.event_id, None);
    }

    #[test]
    fn envelope_context_fills_gaps() {
        let header: Map<String, Value> = serde_json::from_value(json!({
            "event_id": "0123456789abcdef0123456789abcdef",
            "trace": {"release": "r1", "environment": "prod"}
        }))
        .unwrap();
        let ctx = EnvelopeContext {
            header: Some(&header),
            client: Some("sentry.rust/0.49.5"),
        };
        let meta = describe("attachment", &Map::new(), b"raw", ctx);
        assert_eq!(
            meta.event_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(meta.release.as_deref(), Some("r1"));
        assert_eq!(meta.environment.as_deref(), Some("prod"));
        assert_eq!(meta.sdk_name.as_deref(), Some("sentry.rust"));
        assert_eq!(meta.sdk_version.as_deref(), Some("0.49.5"));
    }
}
