//! The `extra` part: one JSON object of annotations, its shape checked by a bounded scan
//! before it is parsed, and never turned into a value tree.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::parse::{SubmissionError, SubmissionLimits};

/// The annotations of an `extra` JSON part: a flat object of strings (other values are kept
/// as their JSON text). Its shape is checked by a scan first, so the parse that follows only
/// ever sees a bounded number of keys and levels, and no value tree is built.
pub(super) fn parse_extra(
    bytes: &[u8],
    limits: &SubmissionLimits,
) -> Result<Vec<(String, String)>, SubmissionError> {
    scan_json(bytes, limits)?;
    let text = std::str::from_utf8(bytes).map_err(|_| SubmissionError::InvalidJson)?;
    let first = text.trim_start().as_bytes().first();
    let object: BTreeMap<String, &RawValue> = match serde_json::from_str(text) {
        Ok(object) => object,
        Err(_) if first != Some(&b'{') && serde_json::from_str::<&RawValue>(text).is_ok() => {
            return Err(SubmissionError::InvalidJsonValue);
        }
        Err(_) => return Err(SubmissionError::InvalidJson),
    };
    let mut out = Vec::with_capacity(object.len());
    for (key, raw) in object {
        let raw = raw.get();
        let value = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).map_err(|_| SubmissionError::InvalidJson)?
        } else {
            raw.to_string()
        };
        if value.len() > limits.max_field_value {
            return Err(SubmissionError::FieldValueTooLong {
                limit: limits.max_field_value,
            });
        }
        out.push((key, value));
    }
    Ok(out)
}

/// One pass over JSON text counting nesting, top-level keys and string lengths, stopping at
/// the first that is past its limit. Malformed JSON passes (the parse reports it).
fn scan_json(bytes: &[u8], limits: &SubmissionLimits) -> Result<(), SubmissionError> {
    let mut depth = 0usize;
    let mut keys = 0usize;
    let mut top_is_object = false;
    let mut expect_key = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                let is_key = depth == 1 && expect_key;
                let limit = if is_key {
                    limits.max_field_name
                } else {
                    limits.max_field_value
                };
                let start = at + 1;
                at = start;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                    if at - start > limit {
                        return Err(if is_key {
                            SubmissionError::FieldNameTooLong { limit }
                        } else {
                            SubmissionError::FieldValueTooLong { limit }
                        });
                    }
                }
                if is_key {
                    expect_key = false;
                    keys += 1;
                    if keys > limits.max_annotations {
                        return Err(SubmissionError::TooManyAnnotations {
                            limit: limits.max_annotations,
                        });
                    }
                }
            }
            open @ (b'{' | b'[') => {
                depth += 1;
                if depth > limits.max_json_depth {
                    return Err(SubmissionError::JsonTooDeep {
                        limit: limits.max_json_depth,
                    });
                }
                if depth == 1 {
                    top_is_object = open == b'{';
                    expect_key = top_is_object;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = top_is_object,
            _ => {}
        }
        at += 1;
    }
    Ok(())
}
