//! Kent compatibility: the JSON shapes of Kent 2.2's API, byte for byte.
//!
//! Kent is a Flask app; its `jsonify` writes compact JSON with sorted keys, escapes every
//! non-ASCII character (`ensure_ascii`) and ends the body with a newline. Consumers such as
//! n8n's `KentHelper` and Mozilla's tests read `events[].summary`, `payload.body.*` and
//! `payload.header.type`, so those shapes are kept exactly; everything richer lives elsewhere.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use crate::store::ItemRecord;

/// Serialises like Flask's `jsonify`: sorted keys, compact, ASCII only, trailing newline.
pub fn to_kent_json(value: &Value) -> String {
    let compact = sorted(value).to_string();
    let mut out = String::with_capacity(compact.len() + 1);
    for ch in compact.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            // Non-ASCII only occurs inside JSON strings, where \u escapes are valid.
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.push('\n');
    out
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A response with Kent's JSON encoding.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, to_kent_json(value)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The payload of an item as a JSON value: the decoded JSON when it is JSON of at most
/// `max_tree_bytes` (a value tree takes about ten times its text), otherwise a description
/// with the bytes as UTF-8 text or base64 (Kent answers 500 here instead).
pub fn payload_value(record: &ItemRecord, max_tree_bytes: usize) -> Value {
    if record.is_json
        && record.payload.len() <= max_tree_bytes
        && let Ok(value) = serde_json::from_slice::<Value>(&record.payload)
    {
        return value;
    }
    let (encoding, data) = match std::str::from_utf8(&record.payload) {
        Ok(text) => ("utf-8", text.to_string()),
        Err(_) => (
            "base64",
            base64::engine::general_purpose::STANDARD.encode(&record.payload),
        ),
    };
    json!({
        "content_type": record.summary.content_type,
        "data": data,
        "encoding": encoding,
        "filename": record.summary.filename,
        "size": record.payload.len(),
    })
}

/// `GET /api/event/{id}` for one item; JSON payloads over `max_tree_bytes` are given as text.
pub fn event_json(
    record: &ItemRecord,
    envelope_header: Option<Value>,
    max_tree_bytes: usize,
) -> Value {
    json!({
        "event_id": record.summary.id,
        "payload": {
            "body": payload_value(record, max_tree_bytes),
            "envelope_header": envelope_header,
            "header": record.header,
        },
        "project_id": record.summary.project_id,
    })
}

/// `GET /api/eventlist/` from `(id, project_id, summary)` rows, oldest first.
pub fn eventlist_json(rows: &[(String, u64, String)]) -> Value {
    let events: Vec<Value> = rows
        .iter()
        .map(|(id, project, summary)| json!({"event_id": id, "project_id": project, "summary": summary}))
        .collect();
    json!({ "events": events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_flask_jsonify_bytes() {
        let value = json!({"b": 1, "a": {"z": [1, "é😀"], "y": null}});
        assert_eq!(
            to_kent_json(&value),
            "{\"a\":{\"y\":null,\"z\":[1,\"\\u00e9\\ud83d\\ude00\"]},\"b\":1}\n"
        );
    }
}
