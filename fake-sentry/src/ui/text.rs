//! Turning captured values into display text: cutting, times, durations. The cuts that follow a
//! setting (cell widths, row counts) are methods of [`super::limits::UiLimits`].

use serde_json::Value;

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// The string at `key`, if it is one.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
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
    fn timestamps_read_floats_and_rfc3339() {
        assert_eq!(timestamp_secs(&json!(1.5)), Some(1.5));
        assert_eq!(timestamp_secs(&json!("1970-01-01T00:00:02Z")), Some(2.0));
        assert_eq!(timestamp_secs(&json!({})), None);
    }
}
