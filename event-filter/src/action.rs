//! What a rule does to a value it selects: remove, mask, keyed hash, query-string and cookie
//! scrubbing, URL stripping and regex replacement.
//!
//! The methods follow the anchors: `Mask` writes `[Filtered]` as sentry-sdk's `EventScrubber`
//! does; `MaskKeep` and `Hash` are Relay's `mask` and `hash` redaction methods; `ScrubQuery`
//! and `ScrubCookies` are Fillmore's `build_scrub_query_string` / `build_scrub_cookies`, which
//! accept an unparsed string, an object or a list of pairs.
//!
//! Guarantees, relied on by the scrubber and checked by property tests:
//! - **No panics**, whatever the value or the ranges: bad input is an [`ActionError`], and an
//!   error leaves the value (or text) exactly as it was.
//! - **Idempotence**: applying an action to its own output changes nothing (the second
//!   application reports [`Outcome::Unchanged`]). `Hash` gets this by leaving values that
//!   already look like one of its hashes (`hmac-sha256:` and 16 lowercase hex digits) alone;
//!   `Replace` by repeating the replacement until the text settles (at most
//!   [`REPLACE_MAX_PASSES`] passes) and failing with [`ActionError::ReplaceDoesNotSettle`]
//!   when it does not (a pattern that matches its own replacement, such as `a` → `aa`).
//! - **Nothing sensitive in errors**: messages name the action, the kind of value and the
//!   offending positions, never the text being scrubbed.
//! - **No recursion**: trees are walked with explicit stacks, so deeply nested values cannot
//!   overflow the stack.
//!
//! Characters are Unicode scalar values (`char`s), so `MaskKeep` keeps and counts characters,
//! not bytes.
//!
//! ```
//! use event_filter::action::{Action, Outcome};
//! use serde_json::json;
//!
//! let mut card = json!("4111 1111 1111 1234");
//! let action = Action::MaskKeep { keep: 4, from_end: true, mask_char: '*' };
//! assert_eq!(action.apply(&mut card).unwrap(), Outcome::Changed);
//! assert_eq!(card, "***************1234");
//! // Idempotent: a second application changes nothing.
//! assert_eq!(action.apply(&mut card).unwrap(), Outcome::Unchanged);
//!
//! let mut query = json!("token=abc&page=2");
//! Action::ScrubQuery { names: vec!["token".into()] }.apply(&mut query).unwrap();
//! assert_eq!(query, "token=[Filtered]&page=2");
//! ```

use std::borrow::Cow;
use std::ops::Range;

use hmac::{Hmac, Mac};
use regex::Regex;
use serde_json::{Map, Value};
use sha2::Sha256;

/// The text `Mask`, `ScrubQuery`, `ScrubCookies` and `StripUrl` write (as sentry-sdk does).
pub const FILTERED: &str = "[Filtered]";
/// The default mask character of `MaskKeep` (as Relay's `mask`).
pub const DEFAULT_MASK_CHAR: char = '*';
/// What every `Hash` output starts with; 16 lowercase hex digits follow.
pub const HASH_PREFIX: &str = "hmac-sha256:";
/// How many hex digits of the HMAC a `Hash` output keeps.
pub const HASH_HEX_DIGITS: usize = 16;
/// The most passes `Replace` makes over one text before giving up on it settling.
pub const REPLACE_MAX_PASSES: usize = 4;

/// What a rule does to a value it selects.
#[derive(Debug, Clone)]
pub enum Action {
    /// Delete the key (or array element). The caller performs the removal; `apply` reports
    /// [`Outcome::Remove`]. On ranges it deletes the ranges' text.
    Remove,
    /// Replace the whole value with a fixed string (default [`FILTERED`], as sentry-sdk
    /// writes).
    Mask { text: String },
    /// Keep the first `keep` characters (or the last when `from_end`), replace every other
    /// character with `mask_char` (default [`DEFAULT_MASK_CHAR`]); the length in characters
    /// is kept (Relay's mask).
    MaskKeep {
        keep: usize,
        from_end: bool,
        mask_char: char,
    },
    /// Replace with [`HASH_PREFIX`] + the first 16 hex digits of HMAC-SHA256(key, canonical
    /// text of the value), so equal values stay correlatable without being readable. Values
    /// that already look like such a hash are left alone, which makes it idempotent.
    Hash { key: Vec<u8> },
    /// Mask the values of the named query-string parameters (all of them when `names` is
    /// empty) with [`FILTERED`]. The value may be an unparsed query string (`a=1&b=2`, with or
    /// without a leading `?`; everything else is kept byte-for-byte), an object `{"a": "1"}`,
    /// or Sentry's list of pairs `[["a", "1"], ...]`. Names in a string compare
    /// case-sensitively after percent-decoding (`+` is a space); keys of the object and pair
    /// forms are already decoded and compare as they are.
    ScrubQuery { names: Vec<String> },
    /// Same for cookies: a `Cookie` header string `a=1; b=2`, an object, or a pair list.
    /// Names compare case-sensitively, without decoding.
    ScrubCookies { names: Vec<String> },
    /// For URL strings (`scheme://...`): remove the user-info (`user:pass@`), replace every
    /// query-string value with [`FILTERED`] keeping the parameter names, and remove the
    /// fragment. Other strings are unchanged.
    StripUrl,
    /// Regex replacement over string values (`$1` / `${name}` group references allowed),
    /// repeated until the text settles.
    Replace { pattern: Regex, with: String },
}

/// What [`Action::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The caller must remove the value (only [`Action::Remove`] asks for it).
    Remove,
    /// The value was changed in place.
    Changed,
    /// Nothing needed changing.
    Unchanged,
}

/// What [`Action::apply_ranges_mapped`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangesApplied {
    /// [`Outcome::Changed`] or [`Outcome::Unchanged`] (never `Remove`).
    pub outcome: Outcome,
    /// Where each input range's replacement now sits in the new text, in the same order (an
    /// empty range where `Remove` deleted text). Applying the action again with these ranges
    /// changes nothing.
    pub ranges: Vec<Range<usize>>,
}

/// Why an action could not be applied. Messages never contain the value being scrubbed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The action has no meaning for this kind of value.
    #[error("cannot apply {action} to {kind}")]
    UnsupportedValue {
        action: &'static str,
        kind: &'static str,
    },
    /// An array given to `scrub_query` / `scrub_cookies` is not a list of `[name, value]`
    /// pairs.
    #[error(
        "cannot apply {action} to an array that is not a list of [name, value] pairs \
         (element {index} is {kind})"
    )]
    NotAPairList {
        action: &'static str,
        index: usize,
        kind: &'static str,
    },
    /// `Hash` was given an empty key.
    #[error("hash key is empty")]
    EmptyHashKey,
    /// The HMAC could not be keyed.
    #[error("hash key is not usable for HMAC-SHA256")]
    InvalidHashKey,
    /// A range starts after it ends.
    #[error("range {index} ({start}..{end}) starts after it ends")]
    RangeReversed {
        index: usize,
        start: usize,
        end: usize,
    },
    /// A range reaches past the end of the text.
    #[error("range {index} ({start}..{end}) ends past the end of the text ({len} bytes)")]
    RangeOutOfBounds {
        index: usize,
        start: usize,
        end: usize,
        len: usize,
    },
    /// A range cuts a UTF-8 character in two.
    #[error("range {index} ({start}..{end}) does not fall on character boundaries")]
    RangeNotOnCharBoundary {
        index: usize,
        start: usize,
        end: usize,
    },
    /// Ranges are out of order or overlap.
    #[error(
        "range {index} ({start}..{end}) starts before the previous range ends ({previous_end}); \
         ranges must be sorted and must not overlap"
    )]
    RangesOverlap {
        index: usize,
        start: usize,
        end: usize,
        previous_end: usize,
    },
    /// `Replace` kept changing its own output.
    #[error(
        "replace /{pattern}/ with {with:?} did not settle after {passes} passes \
         (the pattern matches its own replacement, so the action would not be idempotent)"
    )]
    ReplaceDoesNotSettle {
        pattern: String,
        with: String,
        passes: usize,
    },
}

impl Action {
    /// `Mask` with the default text, [`FILTERED`].
    pub fn mask() -> Self {
        Self::Mask {
            text: FILTERED.to_owned(),
        }
    }

    /// `MaskKeep` with the default mask character, [`DEFAULT_MASK_CHAR`].
    pub fn mask_keep(keep: usize, from_end: bool) -> Self {
        Self::MaskKeep {
            keep,
            from_end,
            mask_char: DEFAULT_MASK_CHAR,
        }
    }

    /// The action's name as policies spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::Mask { .. } => "mask",
            Self::MaskKeep { .. } => "mask_keep",
            Self::Hash { .. } => "hash",
            Self::ScrubQuery { .. } => "scrub_query",
            Self::ScrubCookies { .. } => "scrub_cookies",
            Self::StripUrl => "strip_url",
            Self::Replace { .. } => "replace",
        }
    }

    /// Whether applying the action again to its own output changes nothing. True for every
    /// action: `Hash` leaves values that already look like its hashes alone, and `Replace`
    /// repeats until its output settles or fails with
    /// [`ActionError::ReplaceDoesNotSettle`].
    pub fn is_idempotent(&self) -> bool {
        match self {
            Self::Remove
            | Self::Mask { .. }
            | Self::MaskKeep { .. }
            | Self::Hash { .. }
            | Self::ScrubQuery { .. }
            | Self::ScrubCookies { .. }
            | Self::StripUrl
            | Self::Replace { .. } => true,
        }
    }

    /// Checks the action's own settings (an empty hash key is an error). [`Action::apply`]
    /// and [`Action::apply_ranges`] call it first, so a misconfigured action fails on every
    /// value, null included.
    pub fn validate(&self) -> Result<(), ActionError> {
        match self {
            Self::Hash { key } if key.is_empty() => Err(ActionError::EmptyHashKey),
            _ => Ok(()),
        }
    }

    /// Applies the action to a whole selected value.
    ///
    /// Strings are handled per action. Numbers and booleans are treated as their text for
    /// `Mask`, `MaskKeep` and `Hash` (the result is a string; `MaskKeep` leaves a value whose
    /// every character is kept as it is). Objects and arrays: `Mask` and `Hash` replace the
    /// whole subtree (`Hash` over its canonical compact JSON with sorted keys), `MaskKeep`
    /// applies to every string and number leaf, `ScrubQuery` / `ScrubCookies` take the object
    /// and pair-list forms, `StripUrl` / `Replace` apply to every string leaf (numbers and
    /// booleans are not strings for them and stay). Null is always unchanged.
    ///
    /// On error the value is left exactly as it was.
    pub fn apply(&self, value: &mut Value) -> Result<Outcome, ActionError> {
        self.validate()?;
        if value.is_null() {
            return Ok(Outcome::Unchanged);
        }
        match self {
            Self::Remove => Ok(Outcome::Remove),
            Self::Mask { text } => {
                if value.as_str() == Some(text.as_str()) {
                    Ok(Outcome::Unchanged)
                } else {
                    replace_value(value, text.clone());
                    Ok(Outcome::Changed)
                }
            }
            Self::MaskKeep { .. } => match value {
                Value::Bool(b) => {
                    let text = if *b { "true" } else { "false" };
                    Ok(set_if_some(value, self.transform_text(text)?))
                }
                _ => rewrite_leaves(value, true, &mut |text| self.transform_text(text)),
            },
            Self::Hash { key } => match value {
                Value::String(s) => {
                    let new = self.transform_text(s)?;
                    Ok(set_if_some(value, new))
                }
                Value::Bool(b) => {
                    let hashed = keyed_hash(key, if *b { "true" } else { "false" })?;
                    *value = Value::String(hashed);
                    Ok(Outcome::Changed)
                }
                Value::Number(n) => {
                    let hashed = keyed_hash(key, &n.to_string())?;
                    *value = Value::String(hashed);
                    Ok(Outcome::Changed)
                }
                Value::Array(_) | Value::Object(_) => {
                    let hashed = keyed_hash(key, &canonical_json(value))?;
                    replace_value(value, hashed);
                    Ok(Outcome::Changed)
                }
                Value::Null => Ok(Outcome::Unchanged),
            },
            Self::ScrubQuery { names } | Self::ScrubCookies { names } => match value {
                Value::String(s) => {
                    let new = self.transform_text(s)?;
                    Ok(set_if_some(value, new))
                }
                Value::Object(map) => Ok(scrub_map(map, names)),
                Value::Array(items) => scrub_pairs(items, names, self.name()),
                other => Err(ActionError::UnsupportedValue {
                    action: self.name(),
                    kind: kind_of(other),
                }),
            },
            Self::StripUrl | Self::Replace { .. } => {
                rewrite_leaves(value, false, &mut |text| self.transform_text(text))
            }
        }
    }

    /// Applies the action only to byte ranges of `text` (detector hits), leaving the rest
    /// intact. The ranges must be sorted, non-overlapping (adjacent is fine), within the text
    /// and on character boundaries; anything else is an error, and an error leaves the text
    /// as it was. Empty ranges are allowed and do nothing.
    ///
    /// `Remove` deletes each range's text; `Mask` replaces it with the mask text; `MaskKeep`
    /// masks it keeping `keep` of its characters; `Hash` replaces it with its hash; the
    /// others apply their string transformation to the range's text alone. The outcome is
    /// [`Outcome::Changed`] or [`Outcome::Unchanged`], never `Remove`.
    pub fn apply_ranges(
        &self,
        text: &mut String,
        ranges: &[Range<usize>],
    ) -> Result<Outcome, ActionError> {
        self.apply_ranges_mapped(text, ranges)
            .map(|applied| applied.outcome)
    }

    /// [`Action::apply_ranges`], also telling where each replacement ended up in the new text
    /// (for `_meta`-style remarks, or to check idempotence).
    pub fn apply_ranges_mapped(
        &self,
        text: &mut String,
        ranges: &[Range<usize>],
    ) -> Result<RangesApplied, ActionError> {
        self.validate()?;
        validate_ranges(text, ranges)?;
        let mut out = String::with_capacity(text.len());
        let mut mapped = Vec::with_capacity(ranges.len());
        let mut changed = false;
        let mut last = 0;
        for (index, range) in ranges.iter().enumerate() {
            out.push_str(slice(text, last..range.start, index)?);
            let piece = slice(text, range.clone(), index)?;
            last = range.end;
            let start = out.len();
            if piece.is_empty() {
                mapped.push(start..start);
                continue;
            }
            let replacement = match self {
                Self::Remove => Some(String::new()),
                _ => self.transform_text(piece)?,
            };
            match replacement {
                Some(new) if new != piece => {
                    changed = true;
                    out.push_str(&new);
                }
                _ => out.push_str(piece),
            }
            mapped.push(start..out.len());
        }
        if !changed {
            return Ok(RangesApplied {
                outcome: Outcome::Unchanged,
                ranges: mapped,
            });
        }
        out.push_str(slice(text, last..text.len(), ranges.len())?);
        *text = out;
        Ok(RangesApplied {
            outcome: Outcome::Changed,
            ranges: mapped,
        })
    }

    /// The action's transformation of one piece of text: `None` when it stays as it is.
    /// `Remove` has no text form and leaves it (callers handle it).
    fn transform_text(&self, text: &str) -> Result<Option<String>, ActionError> {
        let new = match self {
            Self::Remove => None,
            Self::Mask { text: mask } => (text != mask).then(|| mask.clone()),
            Self::MaskKeep {
                keep,
                from_end,
                mask_char,
            } => mask_keep(text, *keep, *from_end, *mask_char),
            Self::Hash { key } => {
                if looks_like_hash(text) {
                    None
                } else {
                    Some(keyed_hash(key, text)?)
                }
            }
            Self::ScrubQuery { names } => scrub_query_string(text, names),
            Self::ScrubCookies { names } => scrub_cookie_header(text, names),
            Self::StripUrl => strip_url(text),
            Self::Replace { pattern, with } => replace_settled(pattern, with, text)?,
        };
        Ok(new.filter(|new| new != text))
    }
}

/// Whether `text` already is a `Hash` output: [`HASH_PREFIX`] and exactly 16 lowercase hex
/// digits.
pub fn looks_like_hash(text: &str) -> bool {
    text.strip_prefix(HASH_PREFIX).is_some_and(|digits| {
        digits.len() == HASH_HEX_DIGITS
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The canonical text `Hash` uses for objects and arrays: compact JSON, object keys sorted by
/// their UTF-8 bytes (whatever order the map keeps them in), strings escaped as serde_json
/// does. Built without recursion.
pub fn canonical_json(value: &Value) -> String {
    enum Token<'a> {
        Value(&'a Value),
        Literal(&'static str),
        Key(&'a str),
    }
    let mut out = String::new();
    let mut stack = vec![Token::Value(value)];
    while let Some(token) = stack.pop() {
        match token {
            Token::Literal(s) => out.push_str(s),
            Token::Key(key) => {
                push_json_string(&mut out, key);
                out.push(':');
            }
            Token::Value(Value::Null) => out.push_str("null"),
            Token::Value(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            Token::Value(Value::Number(n)) => out.push_str(&n.to_string()),
            Token::Value(Value::String(s)) => push_json_string(&mut out, s),
            Token::Value(Value::Array(items)) => {
                out.push('[');
                stack.push(Token::Literal("]"));
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push(Token::Value(item));
                    if i > 0 {
                        stack.push(Token::Literal(","));
                    }
                }
            }
            Token::Value(Value::Object(map)) => {
                out.push('{');
                stack.push(Token::Literal("}"));
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (key, item)) in entries.into_iter().enumerate().rev() {
                    stack.push(Token::Value(item));
                    stack.push(Token::Key(key));
                    if i > 0 {
                        stack.push(Token::Literal(","));
                    }
                }
            }
        }
    }
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn keyed_hash(key: &[u8], text: &str) -> Result<String, ActionError> {
    if key.is_empty() {
        return Err(ActionError::EmptyHashKey);
    }
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| ActionError::InvalidHashKey)?;
    mac.update(text.as_bytes());
    let digest = mac.finalize().into_bytes();
    let head: Vec<u8> = digest.iter().copied().take(HASH_HEX_DIGITS / 2).collect();
    Ok(format!("{HASH_PREFIX}{}", hex::encode(head)))
}

fn mask_keep(text: &str, keep: usize, from_end: bool, mask_char: char) -> Option<String> {
    let count = text.chars().count();
    if count <= keep {
        return None;
    }
    let masked = count - keep;
    let out: String = text
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let kept = if from_end { i >= masked } else { i < keep };
            if kept { c } else { mask_char }
        })
        .collect();
    (out != text).then_some(out)
}

/// Whether a parameter or cookie called `name` is selected by `names` (empty: all).
fn selected(names: &[String], name: &str) -> bool {
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Decodes a form-encoded name: `+` is a space, `%XX` a byte; malformed escapes stay literal
/// and invalid UTF-8 becomes U+FFFD.
fn form_decode(name: &str) -> Cow<'_, str> {
    if !name.contains(['%', '+']) {
        return Cow::Borrowed(name);
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|h| hex_value(*h));
                let lo = bytes.get(i + 2).and_then(|l| hex_value(*l));
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi * 16 + lo);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Masks the selected values of an unparsed query string, keeping everything else
/// byte-for-byte. A parameter without `=` has no value and stays; a selected empty value
/// is masked like any other.
fn scrub_query_string(text: &str, names: &[String]) -> Option<String> {
    let (prefix, query) = match text.strip_prefix('?') {
        Some(query) => ("?", query),
        None => ("", text),
    };
    let mut out = String::with_capacity(text.len() + FILTERED.len());
    out.push_str(prefix);
    let mut changed = false;
    for (i, segment) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match segment.split_once('=') {
            Some((name, value)) if value != FILTERED && selected(names, &form_decode(name)) => {
                out.push_str(name);
                out.push('=');
                out.push_str(FILTERED);
                changed = true;
            }
            _ => out.push_str(segment),
        }
    }
    changed.then_some(out)
}

fn is_cookie_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Masks the selected values of a `Cookie` header. A value is everything after the first
/// `=` up to the next `;` (so it may contain `=`); the spaces around it are kept.
fn scrub_cookie_header(text: &str, names: &[String]) -> Option<String> {
    let mut out = String::with_capacity(text.len() + FILTERED.len());
    let mut changed = false;
    for (i, segment) in text.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        let Some((name, value)) = segment.split_once('=') else {
            out.push_str(segment);
            continue;
        };
        let core = value.trim_matches(is_cookie_space);
        if core == FILTERED || !selected(names, name.trim_matches(is_cookie_space)) {
            out.push_str(segment);
            continue;
        }
        let lead = value.len() - value.trim_start_matches(is_cookie_space).len();
        let trail_start = lead + core.len();
        out.push_str(name);
        out.push('=');
        out.push_str(value.get(..lead).unwrap_or_default());
        out.push_str(FILTERED);
        out.push_str(value.get(trail_start..).unwrap_or_default());
        changed = true;
    }
    changed.then_some(out)
}

/// Masks the selected values of a query or cookie object. Null values stay.
fn scrub_map(map: &mut Map<String, Value>, names: &[String]) -> Outcome {
    let mut outcome = Outcome::Unchanged;
    for (name, value) in map.iter_mut() {
        if selected(names, name) && mask_param_value(value) {
            outcome = Outcome::Changed;
        }
    }
    outcome
}

/// Masks the selected values of a `[[name, value], ...]` list, after checking that every
/// element is such a pair (so an error changes nothing).
fn scrub_pairs(
    items: &mut [Value],
    names: &[String],
    action: &'static str,
) -> Result<Outcome, ActionError> {
    for (index, item) in items.iter().enumerate() {
        let is_pair = matches!(item.as_array(), Some(pair) if pair.len() == 2 && pair.first().is_some_and(Value::is_string));
        if !is_pair {
            return Err(ActionError::NotAPairList {
                action,
                index,
                kind: pair_kind(item),
            });
        }
    }
    let mut outcome = Outcome::Unchanged;
    for item in items.iter_mut() {
        if let Some([Value::String(name), value]) = item.as_array_mut().map(Vec::as_mut_slice)
            && selected(names, name)
            && mask_param_value(value)
        {
            outcome = Outcome::Changed;
        }
    }
    Ok(outcome)
}

/// Sets a parameter value to [`FILTERED`]; returns whether it changed. Null stays null.
fn mask_param_value(value: &mut Value) -> bool {
    if value.is_null() || value.as_str() == Some(FILTERED) {
        return false;
    }
    *value = Value::String(FILTERED.to_owned());
    true
}

/// Whether `scheme` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Strips a `scheme://` URL: user-info out, query values masked, fragment out. The authority
/// ends at the first `/`, `?` or `#` (as in RFC 3986 and Python's `urlsplit`), and the
/// user-info is everything up to its last `@`.
fn strip_url(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    if !is_scheme(scheme) {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at_checked(authority_end)?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let without_fragment = after.split_once('#').map_or(after, |(kept, _)| kept);
    let (path, query) = match without_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (without_fragment, None),
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(host);
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        match scrub_query_string(query, &[]) {
            Some(scrubbed) => out.push_str(&scrubbed),
            None => out.push_str(query),
        }
    }
    (out != text).then_some(out)
}

/// Replaces until the text stops changing; fails if it has not after
/// [`REPLACE_MAX_PASSES`] passes.
fn replace_settled(pattern: &Regex, with: &str, text: &str) -> Result<Option<String>, ActionError> {
    let mut current: Cow<'_, str> = Cow::Borrowed(text);
    for _ in 0..REPLACE_MAX_PASSES {
        let next = match pattern.replace_all(&current, with) {
            Cow::Borrowed(_) => None,
            Cow::Owned(next) => Some(next),
        };
        match next {
            Some(next) if next != *current => current = Cow::Owned(next),
            _ => {
                return Ok(match current {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(new) => Some(new),
                });
            }
        }
    }
    Err(ActionError::ReplaceDoesNotSettle {
        pattern: pattern.as_str().to_owned(),
        with: with.to_owned(),
        passes: REPLACE_MAX_PASSES,
    })
}

/// Replaces `value` with a string, dropping the old subtree without recursion (dropping a
/// deeply nested `Value` the ordinary way can overflow the stack).
fn replace_value(value: &mut Value, text: String) {
    let old = std::mem::replace(value, Value::String(text));
    let mut stack = vec![old];
    while let Some(node) = stack.pop() {
        match node {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, item)| item)),
            _ => {}
        }
    }
}

fn set_if_some(value: &mut Value, new: Option<String>) -> Outcome {
    match new {
        Some(new) => {
            *value = Value::String(new);
            Outcome::Changed
        }
        None => Outcome::Unchanged,
    }
}

/// Rewrites the string leaves (and number leaves, as their text, when `numbers`) of a tree
/// with `f`, without recursion. All new texts are computed before anything is written, so an
/// error leaves the tree as it was.
fn rewrite_leaves(
    value: &mut Value,
    numbers: bool,
    f: &mut dyn FnMut(&str) -> Result<Option<String>, ActionError>,
) -> Result<Outcome, ActionError> {
    let mut replacements: Vec<(usize, String)> = Vec::new();
    let mut leaf = 0usize;
    let mut stack: Vec<&Value> = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::String(s) => {
                if let Some(new) = f(s)? {
                    replacements.push((leaf, new));
                }
                leaf += 1;
            }
            Value::Number(n) if numbers => {
                if let Some(new) = f(&n.to_string())? {
                    replacements.push((leaf, new));
                }
                leaf += 1;
            }
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    if replacements.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let mut pending = replacements.into_iter().peekable();
    let mut leaf = 0usize;
    let mut stack: Vec<&mut Value> = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::String(_) => {}
            Value::Number(_) if numbers => {}
            Value::Array(items) => {
                stack.extend(items.iter_mut());
                continue;
            }
            Value::Object(map) => {
                stack.extend(map.values_mut());
                continue;
            }
            _ => continue,
        }
        if let Some((_, new)) = pending.next_if(|(at, _)| *at == leaf) {
            *node = Value::String(new);
        }
        leaf += 1;
    }
    Ok(Outcome::Changed)
}

fn validate_ranges(text: &str, ranges: &[Range<usize>]) -> Result<(), ActionError> {
    let mut previous_end = 0;
    for (index, range) in ranges.iter().enumerate() {
        let (start, end) = (range.start, range.end);
        if start > end {
            return Err(ActionError::RangeReversed { index, start, end });
        }
        if end > text.len() {
            return Err(ActionError::RangeOutOfBounds {
                index,
                start,
                end,
                len: text.len(),
            });
        }
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(ActionError::RangeNotOnCharBoundary { index, start, end });
        }
        if start < previous_end {
            return Err(ActionError::RangesOverlap {
                index,
                start,
                end,
                previous_end,
            });
        }
        previous_end = end;
    }
    Ok(())
}

/// A checked slice; ranges are validated first, so the error is only a safety net.
fn slice(text: &str, range: Range<usize>, index: usize) -> Result<&str, ActionError> {
    let (start, end) = (range.start, range.end);
    text.get(range)
        .ok_or(ActionError::RangeNotOnCharBoundary { index, start, end })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn pair_kind(item: &Value) -> &'static str {
    match item.as_array() {
        Some(pair) if pair.len() != 2 => "an array that is not a [name, value] pair",
        Some(_) => "a pair whose name is not a string",
        None => kind_of(item),
    }
}

#[cfg(test)]
// One-element range slices are the natural way to pass a single detector hit.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn query(list: &[&str]) -> Action {
        Action::ScrubQuery { names: names(list) }
    }

    fn cookies(list: &[&str]) -> Action {
        Action::ScrubCookies { names: names(list) }
    }

    fn hash(key: &str) -> Action {
        Action::Hash {
            key: key.as_bytes().to_vec(),
        }
    }

    fn replace(pattern: &str, with: &str) -> Action {
        Action::Replace {
            pattern: Regex::new(pattern).expect("test pattern compiles"),
            with: with.to_owned(),
        }
    }

    /// Applies and returns (outcome, new value).
    fn applied(action: &Action, value: Value) -> (Outcome, Value) {
        let mut value = value;
        let outcome = action.apply(&mut value).expect("action applies");
        (outcome, value)
    }

    fn ranged(action: &Action, text: &str, ranges: &[Range<usize>]) -> (Outcome, String) {
        let mut text = text.to_owned();
        let outcome = action
            .apply_ranges(&mut text, ranges)
            .expect("ranges apply");
        (outcome, text)
    }

    fn all_actions() -> Vec<Action> {
        vec![
            Action::Remove,
            Action::mask(),
            Action::mask_keep(2, false),
            hash("k"),
            query(&[]),
            cookies(&[]),
            Action::StripUrl,
            replace(r"\d", "#"),
        ]
    }

    #[test]
    fn names_are_the_policy_spellings() {
        let spelled: Vec<&str> = all_actions().iter().map(Action::name).collect();
        assert_eq!(
            spelled,
            [
                "remove",
                "mask",
                "mask_keep",
                "hash",
                "scrub_query",
                "scrub_cookies",
                "strip_url",
                "replace"
            ]
        );
        assert!(all_actions().iter().all(Action::is_idempotent));
    }

    #[test]
    fn null_is_always_unchanged() {
        for action in all_actions() {
            assert_eq!(
                applied(&action, Value::Null),
                (Outcome::Unchanged, Value::Null)
            );
        }
    }

    #[test]
    fn remove_asks_the_caller_and_leaves_the_value() {
        for value in [
            json!("x"),
            json!(1),
            json!(false),
            json!({"a": 1}),
            json!([1]),
        ] {
            assert_eq!(
                applied(&Action::Remove, value.clone()),
                (Outcome::Remove, value)
            );
        }
    }

    #[test]
    fn mask_replaces_any_value_with_filtered() {
        for value in [
            json!("hunter2"),
            json!(""),
            json!(42),
            json!(true),
            json!({"a": [1]}),
        ] {
            assert_eq!(
                applied(&Action::mask(), value),
                (Outcome::Changed, json!("[Filtered]"))
            );
        }
        assert_eq!(
            applied(&Action::mask(), json!("[Filtered]")),
            (Outcome::Unchanged, json!("[Filtered]"))
        );
        let custom = Action::Mask {
            text: "[redacted]".into(),
        };
        assert_eq!(applied(&custom, json!("x")).1, json!("[redacted]"));
    }

    #[test]
    fn mask_keep_email_keeps_the_first_characters() {
        let (outcome, value) = applied(&Action::mask_keep(2, false), json!("jane.doe@example.com"));
        assert_eq!(outcome, Outcome::Changed);
        assert_eq!(value, json!("ja******************"));
        assert_eq!(
            value.as_str().map(str::len),
            Some("jane.doe@example.com".len())
        );
    }

    #[test]
    fn mask_keep_credit_card_keeps_the_last_four() {
        let action = Action::mask_keep(4, true);
        assert_eq!(
            applied(&action, json!("4111 1111 1111 1234")).1,
            json!("***************1234")
        );
        // A number becomes its masked text.
        assert_eq!(
            applied(&action, json!(4111111111111234u64)).1,
            json!("************1234")
        );
        // Nothing to mask: the number stays a number.
        assert_eq!(
            applied(&action, json!(1234)),
            (Outcome::Unchanged, json!(1234))
        );
        let hashes = Action::MaskKeep {
            keep: 4,
            from_end: true,
            mask_char: '#',
        };
        assert_eq!(applied(&hashes, json!("4111-1111")).1, json!("#####1111"));
    }

    #[test]
    fn mask_keep_counts_characters_not_bytes() {
        let (_, value) = applied(&Action::mask_keep(3, false), json!("Grüße, 東京"));
        assert_eq!(value, json!("Grü******"));
        let (_, value) = applied(&Action::mask_keep(2, true), json!("Grüße, 東京"));
        assert_eq!(value, json!("*******東京"));
        let bullets = Action::MaskKeep {
            keep: 1,
            from_end: false,
            mask_char: '•',
        };
        assert_eq!(applied(&bullets, json!("añb")).1, json!("a••"));
    }

    #[test]
    fn mask_keep_walks_string_and_number_leaves() {
        let event = json!({"user": {"email": "a@b.co", "id": 12345, "admin": true, "none": null},
                           "tags": ["ab", "xyz"]});
        let (outcome, value) = applied(&Action::mask_keep(1, false), event);
        assert_eq!(outcome, Outcome::Changed);
        assert_eq!(
            value,
            json!({"user": {"email": "a*****", "id": "1****", "admin": true, "none": null},
                   "tags": ["a*", "x**"]})
        );
        // A boolean on its own is treated as its text.
        assert_eq!(
            applied(&Action::mask_keep(1, false), json!(true)).1,
            json!("t***")
        );
    }

    #[test]
    fn hash_is_stable_keyed_and_formatted() {
        let action = hash("secret-key");
        let (outcome, first) = applied(&action, json!("jane@example.com"));
        assert_eq!(outcome, Outcome::Changed);
        let (_, second) = applied(&action, json!("jane@example.com"));
        assert_eq!(first, second, "same key and value give the same hash");
        let text = first.as_str().unwrap_or_default();
        assert!(looks_like_hash(text), "{text}");
        assert_eq!(text.len(), HASH_PREFIX.len() + HASH_HEX_DIGITS);
        let (_, other_key) = applied(&hash("other-key"), json!("jane@example.com"));
        assert_ne!(first, other_key, "the key matters");
        let (_, other_value) = applied(&action, json!("john@example.com"));
        assert_ne!(first, other_value);
    }

    #[test]
    fn hash_matches_hmac_sha256_of_the_text() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") starts f7bc83f430538424.
        let (_, value) = applied(
            &hash("key"),
            json!("The quick brown fox jumps over the lazy dog"),
        );
        assert_eq!(value, json!("hmac-sha256:f7bc83f430538424"));
    }

    #[test]
    fn hash_of_numbers_booleans_and_trees() {
        let action = hash("k");
        assert_eq!(
            applied(&action, json!(42)).1,
            applied(&action, json!("42")).1
        );
        assert_eq!(
            applied(&action, json!(false)).1,
            applied(&action, json!("false")).1
        );
        let tree = json!({"b": [true, null, 1.5], "a": "x\n\"y\""});
        let canonical = r#"{"a":"x\n\"y\"","b":[true,null,1.5]}"#;
        assert_eq!(canonical_json(&tree), canonical);
        assert_eq!(
            applied(&action, tree).1,
            applied(&action, json!(canonical)).1
        );
        let mut map_a = Map::new();
        map_a.insert("z".into(), json!(1));
        map_a.insert("a".into(), json!(2));
        let mut map_b = Map::new();
        map_b.insert("a".into(), json!(2));
        map_b.insert("z".into(), json!(1));
        assert_eq!(
            applied(&action, Value::Object(map_a)).1,
            applied(&action, Value::Object(map_b)).1
        );
    }

    #[test]
    fn hash_leaves_hashes_alone_and_rejects_an_empty_key() {
        let action = hash("k");
        let (_, once) = applied(&action, json!({"password": "hunter2"}));
        let (outcome, twice) = applied(&action, once.clone());
        assert_eq!((outcome, &twice), (Outcome::Unchanged, &once));
        // Not quite a hash: hashed.
        assert_eq!(
            applied(&action, json!("hmac-sha256:ABCDEF0123456789")).0,
            Outcome::Changed
        );
        assert_eq!(
            applied(&action, json!("hmac-sha256:abc")).0,
            Outcome::Changed
        );
        let empty = Action::Hash { key: Vec::new() };
        let mut value = json!("x");
        assert_eq!(empty.apply(&mut value), Err(ActionError::EmptyHashKey));
        assert_eq!(value, json!("x"));
        assert_eq!(
            empty.apply(&mut Value::Null),
            Err(ActionError::EmptyHashKey)
        );
        let mut text = String::from("abc");
        assert_eq!(
            empty.apply_ranges(&mut text, &[0..1]),
            Err(ActionError::EmptyHashKey)
        );
        assert_eq!(ActionError::EmptyHashKey.to_string(), "hash key is empty");
    }

    #[test]
    fn python_sdk_query_string() {
        let (outcome, value) = applied(&query(&["token"]), json!("token=abc&page=2"));
        assert_eq!(outcome, Outcome::Changed);
        assert_eq!(value, json!("token=[Filtered]&page=2"));
        assert_eq!(
            applied(&query(&["token"]), json!("page=2&other=1")),
            (Outcome::Unchanged, json!("page=2&other=1"))
        );
    }

    #[test]
    fn query_string_keeps_everything_else_byte_for_byte() {
        let raw = "?q=caf%C3%A9+au+lait&empty=&flag&&token=a%3Db&sort=-date&token=2";
        let (_, value) = applied(&query(&["token"]), json!(raw));
        assert_eq!(
            value,
            json!("?q=caf%C3%A9+au+lait&empty=&flag&&token=[Filtered]&sort=-date&token=[Filtered]")
        );
        // All parameters: every value, empty ones too; a bare name has no value and stays.
        let (_, value) = applied(&query(&[]), json!(raw));
        assert_eq!(
            value,
            json!(
                "?q=[Filtered]&empty=[Filtered]&flag&&token=[Filtered]&sort=[Filtered]&token=[Filtered]"
            )
        );
    }

    #[test]
    fn query_names_compare_after_percent_decoding_and_case_sensitively() {
        let (_, value) = applied(
            &query(&["token", "api key"]),
            json!("%74oken=1&api+key=2&api%20key=3&Token=4"),
        );
        assert_eq!(
            value,
            json!("%74oken=[Filtered]&api+key=[Filtered]&api%20key=[Filtered]&Token=4")
        );
        // Malformed escapes stay literal and never panic.
        let (_, value) = applied(&query(&["%zz"]), json!("%zz=1&%=2&%e2%82=3"));
        assert_eq!(value, json!("%zz=[Filtered]&%=2&%e2%82=3"));
        let (_, value) = applied(&query(&["é"]), json!("%C3%A9=1"));
        assert_eq!(value, json!("%C3%A9=[Filtered]"));
    }

    #[test]
    fn js_sdk_query_pairs_and_object_form() {
        let pairs = json!([
            ["token", "abc"],
            ["page", "2"],
            ["token", "def"],
            ["n", null]
        ]);
        assert_eq!(
            applied(&query(&["token", "n"]), pairs),
            (
                Outcome::Changed,
                json!([
                    ["token", "[Filtered]"],
                    ["page", "2"],
                    ["token", "[Filtered]"],
                    ["n", null]
                ])
            )
        );
        let object = json!({"token": "abc", "page": "2", "ids": ["1", "2"]});
        assert_eq!(
            applied(&query(&["token", "ids"]), object).1,
            json!({"token": "[Filtered]", "page": "2", "ids": "[Filtered]"})
        );
        assert_eq!(
            applied(&query(&[]), json!({"a": 1, "b": "x"})).1,
            json!({"a": "[Filtered]", "b": "[Filtered]"})
        );
        assert_eq!(
            applied(&query(&[]), json!([])),
            (Outcome::Unchanged, json!([]))
        );
    }

    #[test]
    fn query_rejects_other_values_without_touching_them() {
        let mut number = json!(3);
        let err = query(&[]).apply(&mut number).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("cannot apply scrub_query to a number")
        );
        let mut bad = json!([["token", "abc"], ["page"]]);
        let before = bad.clone();
        let err = query(&["token"]).apply(&mut bad);
        assert_eq!(
            err,
            Err(ActionError::NotAPairList {
                action: "scrub_query",
                index: 1,
                kind: "an array that is not a [name, value] pair"
            })
        );
        assert_eq!(bad, before, "an error changes nothing");
        let mut bad = json!([[1, "x"]]);
        let message = cookies(&[]).apply(&mut bad).err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "cannot apply scrub_cookies to an array that is not a list of [name, value] \
                 pairs (element 0 is a pair whose name is not a string)"
            )
        );
        let mut flag = json!(true);
        assert!(cookies(&[]).apply(&mut flag).is_err());
    }

    #[test]
    fn cookie_header_with_spaces_and_equals_in_values() {
        let header = "sessionid=abc123; csrftoken=x=y==;theme=dark;  _ga=GA1.2.3=4 ; flag";
        let (outcome, value) = applied(&cookies(&["sessionid", "csrftoken", "_ga"]), json!(header));
        assert_eq!(outcome, Outcome::Changed);
        assert_eq!(
            value,
            json!("sessionid=[Filtered]; csrftoken=[Filtered];theme=dark;  _ga=[Filtered] ; flag")
        );
        // Case-sensitive names.
        assert_eq!(
            applied(&cookies(&["SessionId"]), json!(header)).0,
            Outcome::Unchanged
        );
        assert_eq!(
            applied(&cookies(&[]), json!("a=1; b=\"quoted value\"")).1,
            json!("a=[Filtered]; b=[Filtered]")
        );
    }

    #[test]
    fn cookie_object_and_pairs() {
        assert_eq!(
            applied(
                &cookies(&["sessionid"]),
                json!({"sessionid": "abc", "theme": "dark"})
            )
            .1,
            json!({"sessionid": "[Filtered]", "theme": "dark"})
        );
        assert_eq!(
            applied(
                &cookies(&["sessionid"]),
                json!([["sessionid", "abc"], ["theme", "dark"]])
            )
            .1,
            json!([["sessionid", "[Filtered]"], ["theme", "dark"]])
        );
    }

    #[test]
    fn strip_url_user_info_query_and_fragment() {
        let cases = [
            (
                "https://user:pass@example.com:8443/path/to?token=abc&page=2#section",
                "https://example.com:8443/path/to?token=[Filtered]&page=[Filtered]",
            ),
            (
                "http://admin:s3cr3t@[2001:db8::1]:8080/api?key=1",
                "http://[2001:db8::1]:8080/api?key=[Filtered]",
            ),
            ("http://[::1]:9000/health", "http://[::1]:9000/health"),
            ("https://example.com/#/inbox?id=7", "https://example.com/"),
            ("https://me%40corp:p%40ss@host?x", "https://host?x"),
            ("https://u:p@w@host/users/@me", "https://host/users/@me"),
            (
                "postgres://app:hunter2@db:5432/prod",
                "postgres://db:5432/prod",
            ),
            ("https://example.com/a?", "https://example.com/a?"),
            (
                "https://example.com/a?q=a+b&e=",
                "https://example.com/a?q=[Filtered]&e=[Filtered]",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                applied(&Action::StripUrl, json!(input)).1,
                json!(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn strip_url_leaves_other_strings_and_values() {
        for text in [
            "not a url",
            "mailto:jane@example.com",
            "/relative/path?token=1",
            "1http://x@y",
            "ht tp://x@y",
            "",
        ] {
            assert_eq!(
                applied(&Action::StripUrl, json!(text)),
                (Outcome::Unchanged, json!(text))
            );
        }
        assert_eq!(
            applied(&Action::StripUrl, json!(5)),
            (Outcome::Unchanged, json!(5))
        );
        let tree = json!({"url": "https://u:p@h/x?a=1", "n": 1, "list": ["ftp://a@b/#f", "plain"]});
        assert_eq!(
            applied(&Action::StripUrl, tree).1,
            json!({"url": "https://h/x?a=[Filtered]", "n": 1, "list": ["ftp://b/", "plain"]})
        );
    }

    #[test]
    fn replace_with_groups() {
        let action = replace(r"(?P<user>[\w.+-]+)@([\w-]+)\.(\w+)", "$user@[domain].$3");
        assert_eq!(
            applied(&action, json!("from jane.doe@example.com and bob@corp.org")).1,
            json!("from jane.doe@[domain].com and bob@[domain].org")
        );
        let card = replace(
            r"\b(\d{4})[ -]?\d{4}[ -]?\d{4}[ -]?(\d{4})\b",
            "${1}-xxxx-xxxx-$2",
        );
        assert_eq!(
            applied(
                &card,
                json!({"note": "card 4111 1111 1111 1234 ok", "n": 4111111111111234u64})
            )
            .1,
            json!({"note": "card 4111-xxxx-xxxx-1234 ok", "n": 4111111111111234u64})
        );
        assert_eq!(applied(&card, json!("nothing")).0, Outcome::Unchanged);
    }

    #[test]
    fn replace_runs_to_a_fixed_point_or_fails() {
        // One pass would leave "ab"; settling makes the action idempotent.
        assert_eq!(applied(&replace("ab", "b"), json!("aab")).1, json!("b"));
        let growing = replace("a", "aa");
        let mut value = json!({"x": "ok", "y": "banana"});
        let before = value.clone();
        let err = growing.apply(&mut value);
        assert!(matches!(
            err,
            Err(ActionError::ReplaceDoesNotSettle {
                passes: REPLACE_MAX_PASSES,
                ..
            })
        ));
        assert_eq!(value, before, "an error leaves the whole tree as it was");
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            !message.contains("banana"),
            "errors never show the value: {message}"
        );
        let empty_match = replace("x*", "y");
        assert!(empty_match.apply(&mut json!("abc")).is_err());
        // A pattern that only removes settles.
        assert_eq!(
            applied(&replace(r"\s+", ""), json!("a b\tc")).1,
            json!("abc")
        );
    }

    #[test]
    fn ranges_remove_mask_and_keep() {
        let text = "mail jane@example.com or call +1 555 0100";
        let email = 5..21;
        let phone = 30..41;
        let ranges = [email.clone(), phone.clone()];
        assert_eq!(
            ranged(&Action::Remove, text, &ranges),
            (Outcome::Changed, "mail  or call ".to_owned())
        );
        assert_eq!(
            ranged(&Action::mask(), text, &ranges).1,
            "mail [Filtered] or call [Filtered]"
        );
        assert_eq!(
            ranged(&Action::mask_keep(2, false), text, &ranges).1,
            "mail ja************** or call +1*********"
        );
        assert_eq!(
            ranged(&Action::mask_keep(4, true), text, &ranges).1,
            "mail ************.com or call *******0100"
        );
        let (_, hashed) = ranged(&hash("k"), text, &[email]);
        assert!(
            hashed.starts_with("mail hmac-sha256:") && hashed.ends_with(" or call +1 555 0100")
        );
        assert_eq!(
            ranged(&Action::mask(), text, &[]),
            (Outcome::Unchanged, text.to_owned())
        );
        assert_eq!(
            ranged(&Action::mask(), text, &[3..3]),
            (Outcome::Unchanged, text.to_owned())
        );
    }

    #[test]
    fn ranges_apply_string_transformations_to_their_text() {
        let text = "GET https://u:p@api.example.com/v1?key=s3cret#x failed";
        let url = 4..47;
        assert_eq!(
            ranged(&Action::StripUrl, text, &[url]).1,
            "GET https://api.example.com/v1?key=[Filtered] failed"
        );
        let text = "query was token=abc&page=2 (cached)";
        assert_eq!(
            ranged(&query(&["token"]), text, &[10..26]).1,
            "query was token=[Filtered]&page=2 (cached)"
        );
        assert_eq!(
            ranged(&replace(r"\d", "#"), "id 123 and 456", &[3..6]).1,
            "id ### and 456"
        );
    }

    #[test]
    fn ranges_on_non_ascii_text() {
        let text = "Grüße: jürgen@exämple.de!";
        let start = text.find('j').unwrap_or_default();
        let end = text.len() - 1;
        let (_, masked) = ranged(&Action::mask_keep(1, false), text, &[start..end]);
        assert_eq!(masked, "Grüße: j****************!");
        let mut mapped_text = text.to_owned();
        let applied = Action::mask()
            .apply_ranges_mapped(&mut mapped_text, &[0.."Grüße".len(), start..end])
            .expect("valid ranges");
        assert_eq!(mapped_text, "[Filtered]: [Filtered]!");
        assert_eq!(applied.ranges, vec![0..10, 12..22]);
    }

    #[test]
    fn invalid_ranges_are_errors() {
        let text = "añb";
        let reversed = Range { start: 2, end: 1 };
        let cases: [(&[Range<usize>], ActionError); 4] = [
            (
                &[reversed],
                ActionError::RangeReversed {
                    index: 0,
                    start: 2,
                    end: 1,
                },
            ),
            (
                &[0..9],
                ActionError::RangeOutOfBounds {
                    index: 0,
                    start: 0,
                    end: 9,
                    len: 4,
                },
            ),
            (
                &[0..2],
                ActionError::RangeNotOnCharBoundary {
                    index: 0,
                    start: 0,
                    end: 2,
                },
            ),
            (
                &[1..3, 0..1],
                ActionError::RangesOverlap {
                    index: 1,
                    start: 0,
                    end: 1,
                    previous_end: 3,
                },
            ),
        ];
        for (ranges, expected) in cases {
            for action in all_actions() {
                let mut owned = text.to_owned();
                assert_eq!(
                    action.apply_ranges(&mut owned, ranges),
                    Err(expected.clone())
                );
                assert_eq!(owned, text);
            }
        }
        // Adjacent ranges are fine.
        assert_eq!(
            ranged(&Action::mask(), "abcd", &[0..2, 2..4]).1,
            "[Filtered][Filtered]"
        );
        let message = ActionError::RangesOverlap {
            index: 1,
            start: 0,
            end: 1,
            previous_end: 3,
        }
        .to_string();
        assert!(message.contains("sorted"), "{message}");
    }

    #[test]
    fn deep_trees_do_not_overflow_the_stack() {
        let depth = 50_000;
        for action in [
            Action::mask(),
            Action::mask_keep(1, false),
            hash("k"),
            query(&[]),
            Action::StripUrl,
            replace(r"\d", "#"),
        ] {
            let mut value = json!("leaf 1234");
            for _ in 0..depth {
                value = Value::Array(vec![value]);
            }
            // `scrub_query` rejects a nested array as a pair list; the others succeed.
            let result = action.apply(&mut value);
            assert_eq!(
                result.is_ok(),
                action.name() != "scrub_query",
                "{}",
                action.name()
            );
            dismantle(value);
        }
    }

    /// Drops a deep value without recursion.
    fn dismantle(value: Value) {
        let mut stack = vec![value];
        while let Some(node) = stack.pop() {
            match node {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn arb_text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[a-zA-Z0-9 =&;%?+@:/#.\\[\\]\"é東-]{0,24}",
                "[a-z]{0,3}(=[a-z0-9+%=]{0,4})?(&[a-z]{0,3}(=[a-z0-9+%]{0,4})?){0,4}",
                "[a-z]{1,4}=[a-z= ]{0,5}(; ?[a-z]{1,4}=[a-z=]{0,4}){0,3}",
                "(https?|ftp)://([a-z:@]{0,6}@)?(\\[[0-9a-f:]{2,8}\\]|[a-z.]{1,8})(:[0-9]{1,4})?(/[a-z@]{0,5})?(\\?[a-z=&#]{0,10})?(#[a-z=?]{0,5})?",
                Just("[Filtered]".to_owned()),
                Just("hmac-sha256:0123456789abcdef".to_owned()),
            ]
        }

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                arb_text().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec(("[a-z]{1,3}|token|page", inner.clone()), 0..6)
                        .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                    prop::collection::vec(("[a-z]{1,3}|token", inner), 0..4).prop_map(|pairs| {
                        Value::Array(
                            pairs
                                .into_iter()
                                .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
                                .collect(),
                        )
                    }),
                ]
            })
        }

        fn arb_names() -> impl Strategy<Value = Vec<String>> {
            prop::collection::vec("[a-c]|token|page|", 0..3)
        }

        fn arb_action() -> impl Strategy<Value = Action> {
            let patterns = [
                (r"\d", "#"),
                (r"(\w+)@(\w+)", "$1@x"),
                ("ab", "b"),
                ("a", "aa"),
                ("x*", "y"),
                (r"\s+", ""),
                ("é", "e"),
                ("(?i)token=[^&]*", "token=[Filtered]"),
            ];
            prop_oneof![
                Just(Action::Remove),
                "[a-z\\[\\]]{0,10}".prop_map(|text| Action::Mask { text }),
                (
                    0usize..6,
                    any::<bool>(),
                    prop_oneof![Just('*'), Just('•'), Just('a')]
                )
                    .prop_map(|(keep, from_end, mask_char)| Action::MaskKeep {
                        keep,
                        from_end,
                        mask_char
                    }),
                prop::collection::vec(any::<u8>(), 1..8).prop_map(|key| Action::Hash { key }),
                arb_names().prop_map(|names| Action::ScrubQuery { names }),
                arb_names().prop_map(|names| Action::ScrubCookies { names }),
                Just(Action::StripUrl),
                prop::sample::select(patterns.to_vec()).prop_map(|(p, w)| replace(p, w)),
            ]
        }

        /// Sorted, non-overlapping ranges on char boundaries of `text`, picked from `picks`.
        fn ranges_from(text: &str, picks: &[usize]) -> Vec<Range<usize>> {
            let mut bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            bounds.push(text.len());
            let mut chosen: Vec<usize> = picks
                .iter()
                .filter_map(|p| bounds.get(p % bounds.len()).copied())
                .collect();
            chosen.sort_unstable();
            chosen
                .chunks_exact(2)
                .filter_map(|pair| match pair {
                    [a, b] => Some(*a..*b),
                    _ => None,
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn apply_is_idempotent_and_atomic(action in arb_action(), value in arb_json()) {
                let mut once = value.clone();
                match action.apply(&mut once) {
                    Ok(first) => {
                        let mut twice = once.clone();
                        let second = action.apply(&mut twice);
                        prop_assert_eq!(&twice, &once);
                        let expected = if first == Outcome::Remove { Outcome::Remove } else { Outcome::Unchanged };
                        prop_assert_eq!(second, Ok(expected));
                        if first == Outcome::Unchanged || first == Outcome::Remove {
                            prop_assert_eq!(&once, &value);
                        } else {
                            prop_assert_ne!(&once, &value);
                        }
                    }
                    Err(_) => prop_assert_eq!(&once, &value),
                }
            }

            #[test]
            fn apply_on_strings_is_idempotent(action in arb_action(), text in arb_text()) {
                let mut once = Value::String(text);
                if action.apply(&mut once).is_ok() {
                    let mut twice = once.clone();
                    let second = action.apply(&mut twice);
                    prop_assert!(matches!(second, Ok(Outcome::Unchanged | Outcome::Remove)));
                    prop_assert_eq!(twice, once);
                }
            }

            #[test]
            fn arbitrary_ranges_never_panic(
                action in arb_action(),
                text in arb_text(),
                raw in prop::collection::vec((0usize..40, 0usize..40), 0..5),
            ) {
                let ranges: Vec<Range<usize>> = raw.into_iter().map(|(a, b)| a..b).collect();
                let mut owned = text.clone();
                if action.apply_ranges(&mut owned, &ranges).is_err() {
                    prop_assert_eq!(owned, text);
                }
            }

            #[test]
            fn ranges_are_idempotent(
                action in arb_action(),
                text in arb_text(),
                picks in prop::collection::vec(any::<usize>(), 0..8),
            ) {
                let ranges = ranges_from(&text, &picks);
                let mut once = text.clone();
                match action.apply_ranges_mapped(&mut once, &ranges) {
                    Ok(applied) => {
                        prop_assert_eq!(applied.ranges.len(), ranges.len());
                        prop_assert_eq!(applied.outcome == Outcome::Changed, once != text);
                        let mut twice = once.clone();
                        let again = action.apply_ranges_mapped(&mut twice, &applied.ranges);
                        prop_assert_eq!(twice, once);
                        prop_assert_eq!(again.map(|a| (a.outcome, a.ranges)), Ok((Outcome::Unchanged, applied.ranges)));
                    }
                    Err(_) => prop_assert_eq!(once, text),
                }
            }

            #[test]
            fn masking_hides_everything_but_the_kept_characters(
                text in arb_text(),
                picks in prop::collection::vec(any::<usize>(), 0..8),
                keep in 0usize..5,
                from_end in any::<bool>(),
                mask_text in "[a-z\\[\\]]{0,10}",
            ) {
                let ranges = ranges_from(&text, &picks);
                let keep_action = Action::MaskKeep { keep, from_end, mask_char: '•' };
                let mut kept = text.clone();
                let applied = keep_action.apply_ranges_mapped(&mut kept, &ranges);
                prop_assert!(applied.is_ok());
                let mapped = applied.map(|a| a.ranges).unwrap_or_default();
                let mut masked = text.clone();
                let mask_applied = Action::Mask { text: mask_text.clone() }.apply_ranges_mapped(&mut masked, &ranges);
                let mask_mapped = mask_applied.map(|a| a.ranges).unwrap_or_default();
                let mut last = (0, 0, 0);
                for ((original, new), mask_new) in ranges.iter().zip(&mapped).zip(&mask_mapped) {
                    // Text between ranges is untouched.
                    prop_assert_eq!(text.get(last.0..original.start), kept.get(last.1..new.start));
                    prop_assert_eq!(text.get(last.0..original.start), masked.get(last.2..mask_new.start));
                    last = (original.end, new.end, mask_new.end);
                    let before: Vec<char> = text.get(original.clone()).unwrap_or_default().chars().collect();
                    let after: Vec<char> = kept.get(new.clone()).unwrap_or_default().chars().collect();
                    prop_assert_eq!(before.len(), after.len());
                    let masked_count = before.len().saturating_sub(keep);
                    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                        let is_kept = if from_end { i >= masked_count } else { i < keep };
                        if is_kept { prop_assert_eq!(a, b) } else { prop_assert_eq!(*a, '•') }
                    }
                    let mask_piece = masked.get(mask_new.clone()).unwrap_or_default();
                    if original.is_empty() {
                        prop_assert_eq!(mask_piece, "");
                    } else {
                        prop_assert_eq!(mask_piece, mask_text.as_str());
                    }
                }
                prop_assert_eq!(text.get(last.0..), kept.get(last.1..));
                prop_assert_eq!(text.get(last.0..), masked.get(last.2..));
            }

            #[test]
            fn hash_output_is_well_formed(key in prop::collection::vec(any::<u8>(), 1..16), value in arb_json()) {
                let action = Action::Hash { key };
                let mut hashed = value.clone();
                let outcome = action.apply(&mut hashed);
                prop_assert!(outcome.is_ok());
                match &hashed {
                    Value::String(s) => prop_assert!(looks_like_hash(s)),
                    Value::Null => prop_assert!(value.is_null()),
                    other => prop_assert!(false, "hash left {:?}", other),
                }
            }

            #[test]
            fn query_scrubbing_keeps_unselected_parameters(raw in "[a-z]{0,3}(=[a-z0-9+%=]{0,4})?(&(token|[a-z]{0,3})(=[a-z0-9+%]{0,4})?){0,5}") {
                let mut value = Value::String(raw.clone());
                prop_assert!(query(&["token"]).apply(&mut value).is_ok());
                let new = value.as_str().unwrap_or_default().to_owned();
                let before: Vec<&str> = raw.split('&').collect();
                let after: Vec<&str> = new.split('&').collect();
                prop_assert_eq!(before.len(), after.len());
                for (b, a) in before.iter().zip(&after) {
                    if b.starts_with("token=") {
                        prop_assert_eq!(*a, "token=[Filtered]");
                    } else {
                        prop_assert_eq!(a, b);
                    }
                }
            }

            #[test]
            fn strip_url_output_has_no_user_info_or_fragment(text in arb_text()) {
                let mut value = Value::String(text.clone());
                prop_assert!(Action::StripUrl.apply(&mut value).is_ok());
                let new = value.as_str().unwrap_or_default();
                if let Some((scheme, rest)) = new.split_once("://") && is_scheme(scheme) {
                    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                    prop_assert!(!rest.get(..authority_end).unwrap_or_default().contains('@'));
                    prop_assert!(!rest.contains('#'));
                } else {
                    prop_assert_eq!(new, text.as_str());
                }
            }
        }
    }
}
