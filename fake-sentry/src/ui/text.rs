//! Turning captured values into bounded display text. Pages never show an unbounded string:
//! payloads can hold megabytes in one field.

use serde_json::Value;

/// Longest value shown in a table cell before it is cut.
pub const MAX_CELL_CHARS: usize = 2000;
/// Longest summary in the list.
pub const MAX_SUMMARY_CHARS: usize = 300;
/// Most rows a flattened payload table shows.
pub const MAX_FIELD_ROWS: usize = 500;
/// Largest pretty-printed payload a detail page embeds; bigger ones are cut (the raw link has
/// the whole payload).
pub const MAX_PRETTY_BYTES: usize = 1 << 20;

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// A JSON value as one line of text: strings as they are, anything else as compact JSON.
pub fn value_text(value: &Value) -> String {
    let text = match value {
        Value::String(s) => return truncate(s, MAX_CELL_CHARS),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    };
    truncate(&text, MAX_CELL_CHARS)
}

/// The string at `key`, if it is one.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The value at `key` as text, when present and not null.
pub fn text_at(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => Some(value_text(v)),
    }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` (what a table has room for).
pub fn short_time(rfc3339: &str) -> String {
    let date_time = rfc3339.replace('T', " ");
    truncate(&date_time, 19).trim_end_matches('…').to_string()
}

/// A Sentry timestamp (float seconds or RFC 3339 text) as seconds since the epoch.
pub fn timestamp_secs(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .or_else(|| crate::item::parse_rfc3339(s)),
        _ => None,
    }
}

/// A timestamp value as RFC 3339 text (or the value as given when it is not a time).
pub fn timestamp_text(value: &Value) -> String {
    match timestamp_secs(value) {
        Some(secs) => crate::store::format_ms((secs * 1000.0) as i64),
        None => value_text(value),
    }
}

/// Milliseconds with a unit that reads well.
pub fn duration_text(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// `[key, value]` rows of an object, or of a list of `[key, value]` pairs (how SDKs send tags
/// and headers); anything else gives no rows.
pub fn pairs(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(map) => map
            .iter()
            .take(MAX_FIELD_ROWS)
            .map(|(k, v)| (truncate(k, MAX_CELL_CHARS), value_text(v)))
            .collect(),
        Value::Array(list) => list
            .iter()
            .take(MAX_FIELD_ROWS)
            .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([k, v]) => Some((value_text(k), value_text(v))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every leaf of `value` with its dotted path, depth first, at most [`MAX_FIELD_ROWS`].
pub fn flatten(value: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut stack = vec![(String::new(), value)];
    while let Some((path, node)) = stack.pop() {
        if rows.len() >= MAX_FIELD_ROWS {
            break;
        }
        match node {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map.iter().rev() {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    stack.push((child, v));
                }
            }
            Value::Array(list) if !list.is_empty() => {
                for (i, v) in list.iter().enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), v));
                }
            }
            leaf => rows.push((truncate(&path, MAX_CELL_CHARS), value_text(leaf))),
        }
    }
    rows
}

/// Pretty JSON, cut at [`MAX_PRETTY_BYTES`] with a note.
pub fn pretty_json(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if text.len() <= MAX_PRETTY_BYTES {
        return text;
    }
    let mut cut = MAX_PRETTY_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n… cut at {MAX_PRETTY_BYTES} bytes; the raw link has all {} bytes",
        &text[..cut],
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn pairs_reads_objects_and_pair_lists() {
        assert_eq!(
            pairs(&json!([["a", "1"], ["b", 2], "junk"])),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            pairs(&json!({"k": true})),
            vec![("k".into(), "true".into())]
        );
    }

    #[test]
    fn flatten_gives_paths_in_document_order() {
        let rows = flatten(&json!({"a": {"b": 1, "c": [true, null]}, "d": "x"}));
        assert_eq!(
            rows,
            vec![
                ("a.b".into(), "1".into()),
                ("a.c[0]".into(), "true".into()),
                ("a.c[1]".into(), "null".into()),
                ("d".into(), "x".into()),
            ]
        );
    }

    #[test]
    fn timestamps_read_floats_and_rfc3339() {
        assert_eq!(timestamp_secs(&json!(1.5)), Some(1.5));
        assert_eq!(timestamp_secs(&json!("1970-01-01T00:00:02Z")), Some(2.0));
        assert_eq!(timestamp_secs(&json!({})), None);
    }
}
