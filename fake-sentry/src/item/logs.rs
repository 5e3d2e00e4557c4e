//! The entries of a `log` item, read at ingest from the payload [`super::describe`] already
//! parsed whole: one [`LogEntry`] per element of `items`, at most `--max-log-entries` of them
//! (the rest are counted, not kept), each with its level, body, trace, service and attributes.
//!
//! Everything is bounded by what was received: the item itself is at most `--max-event-item`
//! bytes, and every text here is a copy of part of it. Levels are folded to Sentry's six
//! (`warning` is `warn`, `critical` is `fatal`); a level that is none of them is kept as sent,
//! cut to [`MAX_LEVEL_CHARS`].

use serde_json::{Map, Value};

use super::{ItemMeta, normalize_span_id, normalize_trace_id, parse_timestamp};

/// How many entries of one item are kept by default (`--max-log-entries`).
pub const DEFAULT_MAX_LOG_ENTRIES: usize = 1000;

/// Characters of a level kept when it is not one of Sentry's.
pub const MAX_LEVEL_CHARS: usize = 32;

/// Sentry's log levels, least severe first, with the lowest severity number of each.
pub const LEVELS: [(&str, i64); 6] = [
    ("trace", 1),
    ("debug", 5),
    ("info", 9),
    ("warn", 13),
    ("error", 17),
    ("fatal", 21),
];

/// One log entry, ready to be stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogEntry {
    /// Seconds since the Unix epoch, as sent; `None` when it had none (the store then uses the
    /// time it was received).
    pub timestamp: Option<f64>,
    /// One of [`LEVELS`], or what was sent.
    pub level: String,
    /// `severity_number` as sent, else the level's.
    pub severity_number: Option<i64>,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// The `service.name` attribute.
    pub service_name: Option<String>,
    /// The `sentry.release` attribute, else the item's release.
    pub release: Option<String>,
    /// The `sentry.environment` attribute, else the item's environment.
    pub environment: Option<String>,
    /// The attributes as sent (`{"key": {"value": ..., "type": ...}}`), as JSON text.
    pub attributes: String,
    /// The body and every attribute's value, one a line: what text search looks in.
    pub search_text: String,
}

/// The entries of one `log` item, and how many past the limit were not kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogEntries {
    pub entries: Vec<LogEntry>,
    pub dropped: u64,
}

/// A level as stored: one of [`LEVELS`] for any spelling of it, else the text cut short.
pub fn normalize_level(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "warning" => "warn".into(),
        "critical" => "fatal".into(),
        "err" => "error".into(),
        _ => lower.chars().take(MAX_LEVEL_CHARS).collect(),
    }
}

/// The level a severity number falls in (1-4 trace, ..., 21-24 fatal).
pub fn level_of_severity(number: i64) -> Option<&'static str> {
    LEVELS
        .iter()
        .rev()
        .find(|(_, lowest)| number >= *lowest && number <= 24)
        .map(|(name, _)| *name)
}

/// The levels at least as severe as `min` (one of [`LEVELS`]); `None` for another level.
pub fn levels_from(min: &str) -> Option<Vec<&'static str>> {
    let min = normalize_level(min);
    let at = LEVELS.iter().position(|(name, _)| *name == min)?;
    Some(LEVELS[at..].iter().map(|(name, _)| *name).collect())
}

fn attribute_value(attribute: &Value) -> &Value {
    match attribute {
        Value::Object(map) if map.contains_key("value") => &map["value"],
        other => other,
    }
}

fn attribute_text(attributes: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    attributes?
        .get(key)
        .map(attribute_value)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One entry of the container.
fn entry(raw: &Map<String, Value>, meta: &ItemMeta) -> LogEntry {
    let attributes = raw.get("attributes").and_then(Value::as_object);
    let severity_number = raw.get("severity_number").and_then(Value::as_i64);
    let level = match raw.get("level").and_then(Value::as_str) {
        Some(level) if !level.trim().is_empty() => normalize_level(level),
        _ => severity_number
            .and_then(level_of_severity)
            .unwrap_or("info")
            .to_string(),
    };
    let severity_number = severity_number.or_else(|| {
        LEVELS
            .iter()
            .find(|(name, _)| *name == level)
            .map(|(_, n)| *n)
    });
    let body = raw.get("body").map(value_text).unwrap_or_default();
    let mut search_text = body.clone();
    for value in attributes.into_iter().flat_map(|a| a.values()) {
        search_text.push('\n');
        search_text.push_str(&value_text(attribute_value(value)));
    }
    LogEntry {
        timestamp: raw
            .get("timestamp")
            .and_then(parse_timestamp)
            .filter(|t| t.is_finite()),
        level,
        severity_number,
        body,
        trace_id: raw
            .get("trace_id")
            .and_then(Value::as_str)
            .and_then(normalize_trace_id),
        span_id: raw
            .get("span_id")
            .and_then(Value::as_str)
            .and_then(normalize_span_id),
        service_name: attribute_text(attributes, "service.name"),
        release: attribute_text(attributes, "sentry.release").or_else(|| meta.release.clone()),
        environment: attribute_text(attributes, "sentry.environment")
            .or_else(|| meta.environment.clone()),
        attributes: attributes
            .map(|a| serde_json::to_string(a).unwrap_or_else(|_| "{}".into()))
            .unwrap_or_else(|| "{}".into()),
        search_text,
    }
}

/// The entries of a `log` item's payload (`body`, parsed), the first `max` kept.
pub fn entries(body: &Map<String, Value>, meta: &ItemMeta, max: usize) -> LogEntries {
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return LogEntries::default();
    };
    let objects = items.iter().filter_map(Value::as_object);
    let total = objects.clone().count();
    LogEntries {
        entries: objects.take(max).map(|raw| entry(raw, meta)).collect(),
        dropped: total.saturating_sub(max) as u64,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn levels_fold_and_severities_fill_in() {
        assert_eq!(normalize_level("WARNING"), "warn");
        assert_eq!(level_of_severity(17), Some("error"));
        assert_eq!(level_of_severity(0), None);
        assert_eq!(levels_from("warning"), Some(vec!["warn", "error", "fatal"]));
        assert_eq!(levels_from("loud"), None);
        let body = json!({"items": [
            {"body": "a", "severity_number": 14, "timestamp": 1.5,
             "trace_id": "0AF7651916CD43DD8448EB211C80319C",
             "attributes": {"service.name": {"value": "svc", "type": "string"},
                            "n": {"value": 3, "type": "integer"}}},
            {"body": "b", "level": "x".repeat(100)},
            "not an entry",
            {"body": "c"}
        ]});
        let meta = ItemMeta {
            release: Some("r@1".into()),
            ..ItemMeta::default()
        };
        let found = entries(body.as_object().unwrap(), &meta, 2);
        assert_eq!(found.dropped, 1);
        let first = &found.entries[0];
        assert_eq!(first.level, "warn");
        assert_eq!(first.severity_number, Some(14));
        assert_eq!(
            first.trace_id.as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(first.service_name.as_deref(), Some("svc"));
        assert_eq!(first.release.as_deref(), Some("r@1"));
        // Attribute values in key order.
        assert_eq!(first.search_text, "a\n3\nsvc");
        assert_eq!(found.entries[1].level.len(), MAX_LEVEL_CHARS);
    }
}
