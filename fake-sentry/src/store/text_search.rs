//! Text search over stored items: whether a summary or payload contains some text, ignoring
//! ASCII case (as SQLite's `LIKE` does), as the SQL function `contains_text(haystack, needle)`.
//!
//! A search reads every payload it cannot rule out by the other filters, so the matching is
//! what its cost comes down to once the pages are read. `LIKE '%text%'` compares pattern
//! characters one by one and stops at the first NUL byte (so it never saw past the start of a
//! binary attachment); this searches the whole value with aho-corasick's vectorised prefilters.
//! The matcher is built once per statement and kept as SQLite auxiliary data of the needle.

use aho_corasick::AhoCorasick;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

/// The SQL function's name.
pub const SQL_FUNCTION: &str = "contains_text";

/// Registers [`SQL_FUNCTION`] on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        SQL_FUNCTION,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let matcher = ctx.get_or_create_aux(1, |needle| -> Result<_, BadNeedle> {
                let needle = match needle {
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
                    _ => return Err(BadNeedle),
                };
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([needle])
                    .map_err(|_| BadNeedle)
            })?;
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => matcher.is_match(bytes),
                _ => false,
            })
        },
    )
}

#[derive(Debug, thiserror::Error)]
#[error("{SQL_FUNCTION} needs text to search for")]
struct BadNeedle;

/// The condition that the item's summary or payload contains the text bound to `placeholder`.
pub fn sql_condition(placeholder: &str) -> String {
    format!("({SQL_FUNCTION}(summary, {placeholder}) OR {SQL_FUNCTION}(payload, {placeholder}))")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: rusqlite::types::Value, needle: &str) -> bool {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.query_row(
            &format!("SELECT {SQL_FUNCTION}(?1, ?2)"),
            rusqlite::params![haystack, needle],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn matches_substrings_ignoring_ascii_case_only() {
        use rusqlite::types::Value::{Blob, Null, Text};
        assert!(contains(Text("ZeroDivisionError: x".into()), "division"));
        assert!(contains(Text("abc".into()), "ABC"));
        assert!(!contains(Text("abc".into()), "abd"));
        // Like LIKE, only ASCII letters fold.
        assert!(!contains(Text("ÉCOLE".into()), "école"));
        assert!(contains(Text("école".into()), "éCOLE"));
        // Pattern characters of LIKE are plain text here.
        assert!(contains(Text("100% done".into()), "0% d"));
        assert!(!contains(Text("100 done".into()), "1_0"));
        // Binary payloads are searched past their NUL bytes.
        assert!(contains(
            Blob(b"MDMP\0\0\0\x01 libxul.so".to_vec()),
            "LIBXUL"
        ));
        assert!(!contains(Null, "x"));
    }

    #[test]
    fn an_empty_needle_matches_everything_as_like_does() {
        assert!(contains(rusqlite::types::Value::Text("".into()), ""));
        assert!(contains(rusqlite::types::Value::Text("abc".into()), ""));
    }
}
