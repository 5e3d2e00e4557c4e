//! Text search over stored items: whether an item's summary or payload contains some text,
//! ignoring ASCII case (as SQLite's `LIKE` does).
//!
//! Every item a search returns was checked here, in Rust, in the listing's order, until the page
//! is full: a payload is read (through [`item_payload`]) only when the summary did not already
//! match. Which items get checked is `search_index`'s business: in a file, the trigram index's
//! candidates (items that hold some of [`TextQuery::trigrams`]) and whatever it does not cover yet; in memory,
//! or for a text of fewer than three characters, every row the other filters select. Matching
//! searches the whole value with aho-corasick's vectorised prefilters, binary attachments past
//! their NUL bytes included.

use aho_corasick::AhoCorasick;
use rusqlite::Connection;

use super::minidumps::search_text_of;
use super::payload::item_payload;
use super::records::ItemSummary;

/// Most trigrams of a text the index is asked about (each costs a look at how common it is):
/// a few of the rarer ones narrow a search as much as all of them.
const MAX_TRIGRAMS: usize = 32;

/// The text one search looks for.
pub(super) struct TextQuery {
    text: String,
    matcher: AhoCorasick,
}

impl TextQuery {
    pub(super) fn new(text: &str) -> Self {
        let matcher = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([text])
            .expect("a single literal pattern always builds");
        Self {
            text: text.to_string(),
            matcher,
        }
    }

    /// Its trigrams, each as an FTS5 string (quoted, so that nothing in it is query syntax),
    /// for a table with the trigram tokenizer: every text this one is in holds all of them, so
    /// the items that hold any selection of them are a superset of the matches. The tokenizer
    /// folds case (Unicode's simple folding, which includes ASCII's), so the superset holds
    /// for [`TextQuery::is_in`]'s ASCII folding too. At most [`MAX_TRIGRAMS`], spread over the
    /// text, each once. `None` when there is none (fewer than three characters) or the text
    /// holds a NUL, which ends an FTS5 string.
    pub(super) fn trigrams(&self) -> Option<Vec<String>> {
        if self.text.contains('\0') {
            return None;
        }
        let chars: Vec<char> = self.text.chars().collect();
        let mut trigrams: Vec<String> = Vec::new();
        for window in chars.windows(3) {
            let quoted = format!("\"{}\"", String::from_iter(window).replace('"', "\"\""));
            if !trigrams.contains(&quoted) {
                trigrams.push(quoted);
            }
        }
        if trigrams.len() > MAX_TRIGRAMS {
            let last = trigrams.len() - 1;
            trigrams = (0..MAX_TRIGRAMS)
                .map(|n| trigrams[n * last / (MAX_TRIGRAMS - 1)].clone())
                .collect();
        }
        (!trigrams.is_empty()).then_some(trigrams)
    }

    /// Whether `haystack` contains the text (an empty text is in everything, as with `LIKE`).
    pub(super) fn is_in(&self, haystack: &[u8]) -> bool {
        self.matcher.is_match(haystack)
    }

    /// Whether the item's summary or stored payload contains the text, or, for an event sent
    /// with a minidump, what processing found in the dump (functions, files, modules).
    pub(super) fn matches(&self, conn: &Connection, item: &ItemSummary) -> rusqlite::Result<bool> {
        if self.is_in(item.summary.as_bytes()) {
            return Ok(true);
        }
        if item_payload(conn, item.seq)?.is_some_and(|payload| self.is_in(&payload)) {
            return Ok(true);
        }
        if item.item_type == "event" {
            return Ok(search_text_of(conn, item.seq)?.is_some_and(|text| self.is_in(&text)));
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: &[u8], needle: &str) -> bool {
        TextQuery::new(needle).is_in(haystack)
    }

    #[test]
    fn matches_substrings_ignoring_ascii_case_only() {
        assert!(contains(b"ZeroDivisionError: x", "division"));
        assert!(contains(b"abc", "ABC"));
        assert!(!contains(b"abc", "abd"));
        // Like LIKE, only ASCII letters fold.
        assert!(!contains("ÉCOLE".as_bytes(), "école"));
        assert!(contains("école".as_bytes(), "éCOLE"));
        // Pattern characters of LIKE are plain text here.
        assert!(contains(b"100% done", "0% d"));
        assert!(!contains(b"100 done", "1_0"));
        // Binary payloads are searched past their NUL bytes.
        assert!(contains(b"MDMP\0\0\0\x01 libxul.so", "LIBXUL"));
    }

    #[test]
    fn trigrams_are_quoted_once_each_and_skip_what_fts5_cannot_ask() {
        let query = |text: &str| TextQuery::new(text).trigrams().map(|t| t.join(" "));
        assert_eq!(query("abcd").as_deref(), Some(r#""abc" "bcd""#));
        assert_eq!(query("aaaa").as_deref(), Some(r#""aaa""#), "each once");
        assert_eq!(query(r#"a"b"#).as_deref(), Some(r#""a""b""#));
        assert_eq!(query("école").as_deref(), Some(r#""éco" "col" "ole""#));
        assert_eq!(query("ab"), None);
        assert_eq!(query("a\0bc"), None);
        let text = "abcdefghijklmnopqrstuvwxyz".repeat(2).to_uppercase() + "0123456789";
        let long = TextQuery::new(&text).trigrams().expect("trigrams");
        assert_eq!(long.len(), MAX_TRIGRAMS);
        assert_eq!(
            (long[0].as_str(), long[31].as_str()),
            (r#""ABC""#, r#""789""#)
        );
    }

    #[test]
    fn an_empty_needle_matches_everything_as_like_does() {
        assert!(contains(b"", ""));
        assert!(contains(b"abc", ""));
    }
}
