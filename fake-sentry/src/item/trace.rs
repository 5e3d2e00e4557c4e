//! Which traces an item belongs to, read at ingest from the fields [`super::describe`] already
//! parsed: an event's or transaction's `contexts.trace`, the entries of a `log` or span (v2)
//! container, a profile's transactions, a replay's trace ids, a check-in's trace context, and
//! else the envelope header's dynamic sampling context (`trace.trace_id`).
//!
//! Everything is bounded: a container's entries are read once (it was parsed whole for its
//! summary anyway), at most [`MAX_TRACES_PER_ITEM`] distinct traces are kept per item, and ids
//! that are not hex of the right length are dropped rather than stored.

use serde_json::{Map, Value};

use super::parse_timestamp;

/// The most distinct traces one item is recorded in; the entries of any further trace are not
/// findable by trace (a container of that many traces is not something an SDK sends).
pub const MAX_TRACES_PER_ITEM: usize = 64;

/// One trace an item takes part in, with what the trace list needs of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceLink {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// The item's own span: a transaction's root span, the span an error or a check-in
    /// happened in, a lone span's id (16 lower-case hex digits).
    pub span_id: Option<String>,
    /// The span a transaction (or a lone span) was called from.
    pub parent_span_id: Option<String>,
    /// A transaction's name, a lone span's name.
    pub name: Option<String>,
    /// A transaction's (or a lone span's) operation.
    pub op: Option<String>,
    /// Earliest start of the item's spans in this trace (seconds since the Unix epoch).
    pub start: Option<f64>,
    /// Latest end of the item's spans in this trace.
    pub end: Option<f64>,
    /// Spans the item holds in this trace: a transaction's child spans, a container's spans.
    pub spans: u32,
    /// Entries the item holds in this trace: a container's logs or spans; 1 otherwise.
    pub entries: u32,
}

/// A trace id as stored: 32 hex digits (a UUID's dashes removed), lower case; `None` for
/// anything else, including the all-zero id some SDKs send when tracing is off.
pub fn normalize_trace_id(text: &str) -> Option<String> {
    let id: String = if text.len() == 36 {
        text.chars().filter(|c| *c != '-').collect()
    } else {
        text.to_string()
    };
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0'))
        .then(|| id.to_ascii_lowercase())
}

/// A span id as stored: 16 hex digits, lower case.
pub fn normalize_span_id(text: &str) -> Option<String> {
    (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

fn string<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn span_id(map: &Map<String, Value>, key: &str) -> Option<String> {
    string(map, key).and_then(normalize_span_id)
}

fn trace_context(body: &Map<String, Value>) -> Option<&Map<String, Value>> {
    body.get("contexts")?.get("trace")?.as_object()
}

/// The earlier of two optional times (either, when one is missing).
pub(crate) fn earlier(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The later of two optional times (either, when one is missing).
pub(crate) fn later(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn time(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key)
        .and_then(parse_timestamp)
        .filter(|t| t.is_finite())
}

/// Item types that are not telemetry of a trace, even when their envelope names one.
fn never_in_a_trace(item_type: &str) -> bool {
    matches!(item_type, "session" | "sessions" | "client_report")
}

/// The traces of one item. `body` is the (pruned) payload `describe` parsed; `dsc` the
/// envelope header's `trace`.
pub(super) fn links(
    item_type: &str,
    body: Option<&Map<String, Value>>,
    dsc: Option<&Map<String, Value>>,
) -> Vec<TraceLink> {
    let mut links = Links::default();
    if let Some(body) = body {
        match item_type {
            "event" | "transaction" | "check_in" | "feedback" | "user_report" => {
                event_link(item_type, body, &mut links)
            }
            "log" => container(body, false, &mut links),
            "span" => {
                if body.get("items").is_some_and(Value::is_array) {
                    container(body, true, &mut links)
                } else {
                    span_entry(body, &mut links)
                }
            }
            "profile" => {
                if let Some(id) = body.get("transaction").and_then(Value::as_object) {
                    links.add_id(string(id, "trace_id"));
                }
                for tx in body
                    .get("transactions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    links.add_id(string(tx, "trace_id"));
                }
            }
            "replay_event" => {
                if let Some(trace) = trace_context(body) {
                    links.add_id(string(trace, "trace_id"));
                }
                for id in body
                    .get("trace_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    links.add_id(id.as_str());
                }
            }
            _ => {}
        }
    }
    if links.0.is_empty() && !never_in_a_trace(item_type) {
        links.add_id(dsc.and_then(|t| string(t, "trace_id")));
    }
    links.0
}

#[derive(Default)]
struct Links(Vec<TraceLink>);

impl Links {
    /// The link for `trace_id`, made if there is room.
    fn entry(&mut self, trace_id: Option<&str>) -> Option<&mut TraceLink> {
        let id = normalize_trace_id(trace_id?)?;
        match self.0.iter().position(|l| l.trace_id == id) {
            Some(at) => self.0.get_mut(at),
            None if self.0.len() < MAX_TRACES_PER_ITEM => {
                self.0.push(TraceLink {
                    trace_id: id,
                    ..TraceLink::default()
                });
                self.0.last_mut()
            }
            None => None,
        }
    }

    fn add_id(&mut self, trace_id: Option<&str>) {
        if let Some(link) = self.entry(trace_id) {
            link.entries = link.entries.saturating_add(1);
        }
    }
}

fn event_link(item_type: &str, body: &Map<String, Value>, links: &mut Links) {
    let Some(trace) = trace_context(body) else {
        return;
    };
    let Some(link) = links.entry(string(trace, "trace_id")) else {
        return;
    };
    link.entries = 1;
    link.span_id = span_id(trace, "span_id");
    link.parent_span_id = span_id(trace, "parent_span_id");
    if item_type != "transaction" {
        return;
    }
    link.name = string(body, "transaction").map(str::to_string);
    link.op = string(trace, "op").map(str::to_string);
    link.start = time(body, "start_timestamp");
    link.end = time(body, "timestamp");
    let spans = body.get("spans").and_then(Value::as_array);
    for span in spans.into_iter().flatten().filter_map(Value::as_object) {
        link.spans = link.spans.saturating_add(1);
        link.start = earlier(link.start, time(span, "start_timestamp"));
        link.end = later(link.end, time(span, "timestamp"));
    }
}

/// A `log` or span (v2) container: `{"items": [...]}`, each entry naming its trace.
fn container(body: &Map<String, Value>, spans: bool, links: &mut Links) {
    let entries = body.get("items").and_then(Value::as_array);
    for entry in entries.into_iter().flatten().filter_map(Value::as_object) {
        if spans {
            span_entry(entry, links);
        } else {
            links.add_id(string(entry, "trace_id"));
        }
    }
}

/// One span (a v2 container's entry, or a lone span item): its trace counts one more span,
/// and a trace of a single span keeps its ids and name.
fn span_entry(span: &Map<String, Value>, links: &mut Links) {
    let Some(link) = links.entry(string(span, "trace_id")) else {
        return;
    };
    link.entries = link.entries.saturating_add(1);
    link.spans = link.spans.saturating_add(1);
    if link.entries == 1 {
        link.span_id = span_id(span, "span_id");
        link.parent_span_id = span_id(span, "parent_span_id");
        link.name = string(span, "name")
            .or_else(|| string(span, "description"))
            .map(str::to_string);
        link.op = string(span, "op").map(str::to_string);
    } else {
        link.span_id = None;
        link.parent_span_id = None;
        link.name = None;
        link.op = None;
    }
    let end = time(span, "end_timestamp").or_else(|| time(span, "timestamp"));
    link.start = earlier(link.start, time(span, "start_timestamp"));
    link.end = later(link.end, end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "0123456789abcdef0123456789abcdef";
    const T2: &str = "fedcba9876543210fedcba9876543210";

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn ids_are_normalised_or_dropped() {
        assert_eq!(normalize_trace_id(&T1.to_uppercase()).as_deref(), Some(T1));
        assert_eq!(
            normalize_trace_id("01234567-89ab-cdef-0123-456789abcdef").as_deref(),
            Some(T1)
        );
        assert_eq!(normalize_trace_id(&"0".repeat(32)), None);
        assert_eq!(normalize_trace_id("xyz"), None);
        assert_eq!(normalize_trace_id(&format!("{T1}0")), None);
        assert_eq!(
            normalize_span_id("ABCDEF0123456789").as_deref(),
            Some("abcdef0123456789")
        );
        assert_eq!(normalize_span_id("abc"), None);
    }

    #[test]
    fn a_transaction_spans_its_spans() {
        let body = object(json!({
            "transaction": "GET /", "start_timestamp": 10.0, "timestamp": 11.0,
            "contexts": {"trace": {"trace_id": T1, "span_id": "aaaaaaaaaaaaaaaa",
                                   "parent_span_id": "BBBBBBBBBBBBBBBB", "op": "http.server"}},
            "spans": [{"start_timestamp": 9.5, "timestamp": 10.5}, {"start_timestamp": 10.2, "timestamp": 11.25}]
        }));
        let links = links("transaction", Some(&body), None);
        assert_eq!(
            links,
            [TraceLink {
                trace_id: T1.into(),
                span_id: Some("aaaaaaaaaaaaaaaa".into()),
                parent_span_id: Some("bbbbbbbbbbbbbbbb".into()),
                name: Some("GET /".into()),
                op: Some("http.server".into()),
                start: Some(9.5),
                end: Some(11.25),
                spans: 2,
                entries: 1,
            }]
        );
    }

    #[test]
    fn a_log_container_names_every_trace_of_its_entries() {
        let body = object(json!({"items": [
            {"trace_id": T1, "body": "a"}, {"trace_id": T2, "body": "b"},
            {"trace_id": T1, "body": "c"}, {"trace_id": "nope"}, {}
        ]}));
        let links = links("log", Some(&body), None);
        let found: Vec<(&str, u32)> = links
            .iter()
            .map(|l| (l.trace_id.as_str(), l.entries))
            .collect();
        assert_eq!(found, [(T1, 2), (T2, 1)]);
    }

    #[test]
    fn the_envelope_trace_is_the_fallback_but_not_for_sessions() {
        let dsc = object(json!({"trace_id": T2}));
        let links_of = |t: &str| links(t, Some(&Map::new()), Some(&dsc));
        assert_eq!(links_of("attachment")[0].trace_id, T2);
        assert_eq!(links_of("profile_chunk")[0].trace_id, T2);
        assert!(links_of("session").is_empty());
        let event = object(json!({"contexts": {"trace": {"trace_id": T1}}}));
        assert_eq!(links("event", Some(&event), Some(&dsc))[0].trace_id, T1);
    }

    #[test]
    fn a_container_of_many_traces_keeps_the_first_ones() {
        let items: Vec<Value> = (0..200)
            .map(|n| json!({"trace_id": format!("{n:032x}"), "span_id": "aaaaaaaaaaaaaaaa"}))
            .collect();
        let body = object(json!({ "items": items }));
        assert_eq!(links("span", Some(&body), None).len(), MAX_TRACES_PER_ITEM);
    }
}
