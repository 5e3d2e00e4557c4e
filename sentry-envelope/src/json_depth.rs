//! A nesting limit for JSON that can be set below serde_json's own.
//!
//! serde_json refuses documents nested deeper than 128 levels while parsing, and can only turn
//! that check off, not lower it. A server that wants a lower limit scans the bytes first: the
//! scan keeps one counter, skips strings, and stops at the first bracket past the limit, so it
//! costs one pass and no memory whatever the document holds.

/// How deep serde_json lets a document nest; a limit at or above it needs no scan.
pub const SERDE_JSON_MAX_DEPTH: usize = 128;

/// A document nests deeper than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("JSON nests deeper than {limit} levels")]
pub struct JsonTooDeep {
    pub limit: usize,
}

/// Checks that `bytes` nests at most `max_depth` arrays and objects deep. Only nesting is
/// checked: whether `bytes` is valid JSON is the parser's concern. Returns at once when
/// `max_depth` is at least [`SERDE_JSON_MAX_DEPTH`], which serde_json enforces itself.
pub fn check_json_depth(bytes: &[u8], max_depth: usize) -> Result<(), JsonTooDeep> {
    if max_depth >= SERDE_JSON_MAX_DEPTH {
        return Ok(());
    }
    let too_deep = JsonTooDeep { limit: max_depth };
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(too_deep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn a_document_at_the_limit_passes_and_one_level_more_does_not() {
        assert_eq!(check_json_depth(nested(5).as_bytes(), 5), Ok(()));
        assert_eq!(
            check_json_depth(nested(6).as_bytes(), 5),
            Err(JsonTooDeep { limit: 5 })
        );
        assert_eq!(check_json_depth(b"{\"a\":{\"b\":[1]}}", 3), Ok(()));
        assert!(check_json_depth(b"{\"a\":{\"b\":[1]}}", 2).is_err());
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let doc = br#"{"a":"[[[[{{{{\"[[[[","b":["\\",{"c":"]]]]"}]}"#;
        assert_eq!(check_json_depth(doc, 3), Ok(()));
        assert!(check_json_depth(doc, 2).is_err());
    }

    #[test]
    fn siblings_do_not_add_up() {
        let doc = "[".to_owned() + &vec!["[[]]"; 1000].join(",") + "]";
        assert_eq!(check_json_depth(doc.as_bytes(), 3), Ok(()));
        assert!(check_json_depth(doc.as_bytes(), 2).is_err());
    }

    #[test]
    fn the_scan_stops_at_the_first_level_past_the_limit() {
        // An unterminated document a million levels deep fails as soon as level 3 opens.
        let doc = "[".repeat(1_000_000);
        assert_eq!(
            check_json_depth(doc.as_bytes(), 2),
            Err(JsonTooDeep { limit: 2 })
        );
    }

    #[test]
    fn at_serde_json_s_own_limit_nothing_is_scanned() {
        let doc = nested(10_000);
        assert_eq!(
            check_json_depth(doc.as_bytes(), SERDE_JSON_MAX_DEPTH),
            Ok(())
        );
        // …because serde_json refuses it anyway.
        assert!(serde_json::from_str::<serde_json::Value>(&doc).is_err());
    }
}
