//! The text helpers of [`UiLimits`]: every cut a page makes goes through one setting, as a
//! method of the settings themselves. The settings (what each bounds, their defaults and the
//! `--ui-limit` syntax) live in [`crate::config`], which the UI depends on and not the reverse.

use serde_json::Value;

use super::text::{timestamp_secs, truncate};

pub use crate::config::UiLimits;

impl UiLimits {
    /// `text` cut to what a table cell shows.
    pub fn cell(&self, text: &str) -> String {
        truncate(text, self.cell_chars)
    }

    /// A JSON value as one line of text for a cell: strings as they are, anything else as
    /// compact JSON.
    pub fn value_text(&self, value: &Value) -> String {
        match value {
            Value::String(s) => self.cell(s),
            Value::Null => "null".to_string(),
            other => self.cell(&other.to_string()),
        }
    }

    /// The value at `key` as cell text, when present and not null.
    pub fn text_at(&self, value: &Value, key: &str) -> Option<String> {
        match value.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.value_text(v)),
        }
    }

    /// A timestamp value as RFC 3339 text (or as cell text when it is not a time).
    pub fn timestamp_text(&self, value: &Value) -> String {
        match timestamp_secs(value) {
            Some(secs) => crate::store::format_ms((secs * 1000.0) as i64),
            None => self.value_text(value),
        }
    }

    /// `[key, value]` rows of an object, or of a list of `[key, value]` pairs (how SDKs send
    /// tags and headers); anything else gives no rows.
    pub fn pairs(&self, value: &Value) -> Vec<(String, String)> {
        match value {
            Value::Object(map) => map
                .iter()
                .take(self.field_rows)
                .map(|(k, v)| (self.cell(k), self.value_text(v)))
                .collect(),
            Value::Array(list) => list
                .iter()
                .take(self.field_rows)
                .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => Some((self.value_text(k), self.value_text(v))),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every leaf of `value` with its dotted path, depth first, at most `field_rows` of them.
    pub fn flatten(&self, value: &Value) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        let mut stack = vec![(String::new(), value)];
        while let Some((path, node)) = stack.pop() {
            if rows.len() >= self.field_rows {
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
                leaf => rows.push((self.cell(&path), self.value_text(leaf))),
            }
        }
        rows
    }

    /// Pretty JSON, cut at `pretty_json_bytes` with a note.
    pub fn pretty_json(&self, value: &Value) -> String {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        let max = self.pretty_json_bytes;
        if text.len() <= max {
            return text;
        }
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{}\n… cut at {max} bytes; the raw link has all {} bytes",
            &text[..cut],
            text.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BadUiLimit, UiLimit};
    use serde_json::json;

    fn limits(settings: &[&str]) -> Result<UiLimits, BadUiLimit> {
        let parsed: Vec<UiLimit> = settings
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?;
        UiLimits::with(&parsed)
    }

    #[test]
    fn text_helpers_cut_at_the_settings() {
        let set = limits(&["cell_chars=3", "field_rows=2", "pretty_json_bytes=10"]).unwrap();
        assert_eq!(set.value_text(&json!("abcdef")), "abc…");
        assert_eq!(set.value_text(&json!([1, 2])), "[1,…");
        assert_eq!(set.text_at(&json!({"k": null}), "k"), None);
        let rows = set.pairs(&json!({"alpha": 1, "beta": 2, "gamma": 3}));
        assert_eq!(
            rows,
            vec![("alp…".into(), "1".into()), ("bet…".into(), "2".into())]
        );
        assert_eq!(set.flatten(&json!({"a": [1, 2, 3]})).len(), 2);
        let pretty = set.pretty_json(&json!({"key": "value"}));
        assert!(pretty.starts_with("{\n  \"key\""), "{pretty}");
        assert!(pretty.contains("cut at 10 bytes"), "{pretty}");
    }

    #[test]
    fn pairs_reads_objects_and_pair_lists() {
        assert_eq!(
            UiLimits::default().pairs(&json!([["a", "1"], ["b", 2], "junk"])),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            UiLimits::default().pairs(&json!({"k": true})),
            vec![("k".into(), "true".into())]
        );
    }

    #[test]
    fn flatten_gives_paths_in_document_order() {
        let rows =
            UiLimits::default().flatten(&json!({"a": {"b": 1, "c": [true, null]}, "d": "x"}));
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
}
