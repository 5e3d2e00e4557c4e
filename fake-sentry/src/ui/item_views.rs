//! Views of the item types that are not error events: a transaction's span waterfall, a log
//! table, client reports, sessions, CSP reports, check-ins and feedback as field tables, and a
//! safe preview (text or hex) of binary and unknown payloads.

use std::collections::HashMap;

use serde_json::Value;

use super::limits::UiLimits;
use super::text::{duration_text, str_at, timestamp_secs};

/// One bar of the waterfall. Offsets are percentages of the transaction's duration, drawn as
/// SVG attributes (not inline styles, which the CSP forbids).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    pub op: String,
    pub description: String,
    pub status: String,
    pub duration: String,
    pub offset_pct: String,
    pub width_pct: String,
    /// Depth in the span tree (0 for the root), indents the label through a CSS class.
    pub depth: u32,
    pub is_root: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WaterfallView {
    pub name: String,
    pub op: String,
    pub duration: String,
    pub spans: Vec<SpanRow>,
    pub omitted: usize,
}

fn pct(value: f64) -> String {
    format!("{:.3}%", value.clamp(0.0, 100.0))
}

/// The span waterfall of a transaction: the root (from `contexts.trace`) then the spans by start
/// time, each indented under its parent.
pub fn waterfall(l: &UiLimits, tx: &Value) -> WaterfallView {
    let trace = tx
        .pointer("/contexts/trace")
        .cloned()
        .unwrap_or(Value::Null);
    let start = tx.get("start_timestamp").and_then(timestamp_secs);
    let end = tx.get("timestamp").and_then(timestamp_secs);
    let spans = tx
        .get("spans")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut view = WaterfallView {
        name: l.text_at(tx, "transaction").unwrap_or_default(),
        op: l.text_at(&trace, "op").unwrap_or_default(),
        duration: match (start, end) {
            (Some(s), Some(e)) => duration_text((e - s) * 1000.0),
            _ => String::new(),
        },
        spans: Vec::new(),
        omitted: spans.len().saturating_sub(l.spans),
    };
    let (Some(start), Some(end)) = (start, end) else {
        return view;
    };
    // Spans can outlive their transaction; the scale covers all of them.
    let mut timed: Vec<(f64, f64, &Value)> = spans
        .iter()
        .take(l.spans)
        .filter_map(|s| {
            let s_start = s.get("start_timestamp").and_then(timestamp_secs)?;
            let s_end = s
                .get("timestamp")
                .and_then(timestamp_secs)
                .unwrap_or(s_start);
            Some((s_start, s_end.max(s_start), s))
        })
        .collect();
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let scale_end = timed.iter().map(|t| t.1).fold(end, f64::max);
    let total = (scale_end - start).max(1e-9);
    let mut depth: HashMap<String, u32> = HashMap::new();
    if let Some(root) = str_at(&trace, "span_id") {
        depth.insert(root.to_string(), 0);
    }
    view.spans.push(SpanRow {
        op: view.op.clone(),
        description: view.name.clone(),
        status: l.text_at(&trace, "status").unwrap_or_default(),
        duration: duration_text((end - start) * 1000.0),
        offset_pct: pct(0.0),
        width_pct: pct((end - start) / total * 100.0),
        depth: 0,
        is_root: true,
    });
    for (s_start, s_end, span) in timed {
        let level = str_at(span, "parent_span_id")
            .and_then(|p| depth.get(p))
            .map_or(1, |d| d + 1)
            .min(12);
        if let Some(id) = str_at(span, "span_id") {
            depth.insert(id.to_string(), level);
        }
        view.spans.push(SpanRow {
            op: l.text_at(span, "op").unwrap_or_default(),
            description: l.text_at(span, "description").unwrap_or_default(),
            status: l.text_at(span, "status").unwrap_or_default(),
            duration: duration_text((s_end - s_start) * 1000.0),
            offset_pct: pct((s_start - start) / total * 100.0),
            // A zero-length span still gets a visible sliver.
            width_pct: pct(((s_end - s_start) / total * 100.0).max(0.2)),
            depth: level,
            is_root: false,
        });
    }
    view
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub time: String,
    pub level: String,
    pub body: String,
    pub attributes: String,
    pub trace_id: String,
}

/// The records of a log container, as many as [`UiLimits::logs`] allows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogTable {
    pub rows: Vec<LogRow>,
    /// Records beyond the limit, left out.
    pub omitted: usize,
}

/// A log container's records (`{"items": [...]}`).
pub fn log_rows(l: &UiLimits, payload: &Value) -> LogTable {
    let records = payload
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let rows = records
        .iter()
        .take(l.logs)
        .map(|record| {
            let attributes = match record.get("attributes") {
                Some(Value::Object(map)) => map
                    .iter()
                    .take(l.field_rows)
                    .map(|(k, v)| {
                        // Attributes are `{"value": …, "type": …}` objects on the wire.
                        let v = v.get("value").unwrap_or(v);
                        format!("{k}={}", l.value_text(v))
                    })
                    .collect::<Vec<_>>()
                    .join("  "),
                _ => String::new(),
            };
            LogRow {
                time: record
                    .get("timestamp")
                    .map(|v| l.timestamp_text(v))
                    .unwrap_or_default(),
                level: l.text_at(record, "level").unwrap_or_default(),
                body: l.text_at(record, "body").unwrap_or_default(),
                attributes: l.cell(&attributes),
                trace_id: l.text_at(record, "trace_id").unwrap_or_default(),
            }
        })
        .collect();
    LogTable {
        rows,
        omitted: records.len().saturating_sub(l.logs),
    }
}

/// A titled table: columns and rows of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Tables of a client report: discarded events (reason, category, quantity), and any other
/// outcome list the SDK sent.
pub fn client_report_tables(l: &UiLimits, report: &Value) -> Vec<Table> {
    [
        "discarded_events",
        "rate_limited_events",
        "filtered_events",
        "filtered_sampling_events",
    ]
    .into_iter()
    .filter_map(|key| {
        let list = report.get(key)?.as_array()?;
        Some(Table {
            title: key.replace('_', " "),
            columns: vec!["reason".into(), "category".into(), "quantity".into()],
            rows: list
                .iter()
                .take(l.field_rows)
                .map(|o| {
                    ["reason", "category", "quantity"]
                        .iter()
                        .map(|k| l.text_at(o, k).unwrap_or_default())
                        .collect()
                })
                .collect(),
        })
    })
    .collect()
}

/// Session aggregates (`sessions` items) as a table.
pub fn session_aggregates(l: &UiLimits, sessions: &Value) -> Option<Table> {
    let list = sessions.get("aggregates")?.as_array()?;
    let columns = ["started", "did", "exited", "errored", "abnormal", "crashed"];
    Some(Table {
        title: "aggregates".into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: list
            .iter()
            .take(l.field_rows)
            .map(|a| {
                columns
                    .iter()
                    .map(|k| l.text_at(a, k).unwrap_or_default())
                    .collect()
            })
            .collect(),
    })
}

/// The object a table of fields should show for an item: the CSP report inside a security
/// report, the feedback context of a feedback event, the payload otherwise.
pub fn fields_of<'a>(item_type: &str, payload: &'a Value) -> &'a Value {
    let inner = match item_type {
        "security" | "raw_security" => payload
            .get("csp-report")
            .or_else(|| payload.pointer("/body"))
            .or_else(|| payload.get("expect-ct-report"))
            .or_else(|| payload.get("known-pins")),
        "feedback" => payload.pointer("/contexts/feedback"),
        _ => None,
    };
    inner.unwrap_or(payload)
}

/// Every field of `value` as `path = value` rows.
pub fn field_rows(l: &UiLimits, value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(_) | Value::Array(_) => l.flatten(value),
        other => vec![(String::new(), l.value_text(other))],
    }
}

/// One line of a hex dump: offset, hex bytes, printable characters.
#[derive(Debug, Clone, PartialEq)]
pub struct HexLine {
    pub offset: String,
    pub hex: String,
    pub ascii: String,
}

/// How a payload that is not JSON is shown: as text when it is text, else as a hex dump.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinaryPreview {
    pub text: Option<String>,
    pub hex: Vec<HexLine>,
    /// Whether the preview shows only the start of the payload.
    pub cut: bool,
}

/// Text when the payload is UTF-8 without control bytes, a hex dump otherwise.
pub fn binary_preview(l: &UiLimits, payload: &[u8]) -> BinaryPreview {
    let text_end = payload.len().min(l.text_preview_bytes);
    // Cut at a character boundary: a multi-byte character may straddle the limit.
    let head = match std::str::from_utf8(&payload[..text_end]) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&payload[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    if let Some(text) = head
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return BinaryPreview {
            text: Some(text.to_string()),
            hex: Vec::new(),
            cut: text.len() < payload.len(),
        };
    }
    let shown = &payload[..payload.len().min(l.hex_preview_bytes)];
    BinaryPreview {
        text: None,
        hex: shown
            .chunks(16)
            .enumerate()
            .map(|(i, chunk)| HexLine {
                offset: format!("{:08x}", i * 16),
                hex: chunk
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                ascii: chunk
                    .iter()
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            b as char
                        } else {
                            '.'
                        }
                    })
                    .collect(),
            })
            .collect(),
        cut: shown.len() < payload.len(),
    }
}

/// Headers of an item or envelope as rows (values as JSON text).
pub fn header_rows(l: &UiLimits, header: Option<&Value>) -> Vec<(String, String)> {
    header.map(|v| l.pairs(v)).unwrap_or_default()
}

/// A check-in's key facts first, then the rest.
pub fn check_in_rows(l: &UiLimits, check_in: &Value) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = ["monitor_slug", "status", "duration", "environment"]
        .into_iter()
        .filter_map(|k| l.text_at(check_in, k).map(|v| (k.to_string(), v)))
        .collect();
    rows.extend(field_rows(l, check_in).into_iter().filter(|(k, _)| {
        !matches!(
            k.as_str(),
            "monitor_slug" | "status" | "duration" | "environment"
        )
    }));
    rows.truncate(l.field_rows);
    rows.iter_mut().for_each(|(k, _)| *k = l.cell(k));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waterfall_nests_and_scales_spans() {
        let tx = json!({
            "transaction": "GET /", "start_timestamp": 100.0, "timestamp": 101.0,
            "contexts": {"trace": {"span_id": "r", "op": "http.server"}},
            "spans": [
                {"span_id": "b", "parent_span_id": "a", "start_timestamp": 100.5, "timestamp": 100.75, "op": "db"},
                {"span_id": "a", "parent_span_id": "r", "start_timestamp": "1970-01-01T00:01:40.250Z", "timestamp": 100.8, "op": "fn"}
            ]
        });
        let view = waterfall(&UiLimits::default(), &tx);
        assert_eq!(view.duration, "1.00 s");
        let ops: Vec<_> = view
            .spans
            .iter()
            .map(|s| (s.op.as_str(), s.depth))
            .collect();
        assert_eq!(ops, [("http.server", 0), ("fn", 1), ("db", 2)]);
        assert_eq!(view.spans[2].offset_pct, "50.000%");
        assert_eq!(view.spans[2].width_pct, "25.000%");
    }

    #[test]
    fn previews_pick_text_or_hex() {
        assert_eq!(
            binary_preview(&UiLimits::default(), b"hello\nworld")
                .text
                .as_deref(),
            Some("hello\nworld")
        );
        let hex = binary_preview(&UiLimits::default(), b"MDMP\x93\xa7\x00\x01");
        assert!(hex.text.is_none() && !hex.cut);
        let lines = hex.hex;
        assert_eq!(lines[0].hex, "4d 44 4d 50 93 a7 00 01");
        assert_eq!(lines[0].ascii, "MDMP....");
    }

    #[test]
    fn logs_show_attribute_values() {
        let rows = log_rows(
            &UiLimits::default(),
            &json!({"items": [{"timestamp": 1.0, "level": "info", "body": "hi",
            "attributes": {"a": {"value": 1, "type": "integer"}}}]}),
        );
        assert_eq!(rows.rows[0].attributes, "a=1");
        assert_eq!(rows.rows[0].body, "hi");
    }

    #[test]
    fn what_is_shown_follows_the_limits() {
        let limits = UiLimits {
            spans: 2,
            logs: 3,
            text_preview_bytes: 5,
            hex_preview_bytes: 20,
            field_rows: 2,
            ..UiLimits::default()
        };
        let spans: Vec<Value> = (0..4)
            .map(|i| json!({"span_id": format!("s{i}"), "start_timestamp": 100.0, "timestamp": 100.5}))
            .collect();
        let tx = json!({"start_timestamp": 100.0, "timestamp": 101.0, "spans": spans});
        let view = waterfall(&limits, &tx);
        // The root plus two spans; two left out.
        assert_eq!((view.spans.len(), view.omitted), (3, 2));
        let records: Vec<Value> = (0..5).map(|i| json!({"body": i})).collect();
        let logs = log_rows(&limits, &json!({"items": records}));
        assert_eq!((logs.rows.len(), logs.omitted), (3, 2));
        let text = binary_preview(&limits, b"hello world");
        assert_eq!((text.text.as_deref(), text.cut), (Some("hello"), true));
        let hex = binary_preview(&limits, &[0u8; 40]);
        assert_eq!((hex.hex.len(), hex.cut), (2, true));
        assert_eq!(
            field_rows(&limits, &json!({"a": 1, "b": 2, "c": 3})).len(),
            2
        );
        let all = UiLimits::default();
        assert_eq!(waterfall(&all, &tx).spans.len(), 5);
        assert_eq!(binary_preview(&all, &[0u8; 40]).hex.len(), 3);
    }
}
