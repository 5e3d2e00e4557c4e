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

use regex::Regex;
use serde_json::Value;

mod hash;
mod params;
#[cfg(test)]
mod tests;

use hash::keyed_hash;
pub use hash::{canonical_json, looks_like_hash};
use params::{scrub_cookie_header, scrub_map, scrub_pairs, scrub_query_string, strip_url};

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
                    set_text(value, text);
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

/// Makes `value` the string `text`. A string keeps its buffer when `text` fits in it, so
/// masking a value allocates nothing; anything else is replaced as by [`replace_value`].
fn set_text(value: &mut Value, text: &str) {
    match value {
        Value::String(s) if s.capacity() >= text.len() => {
            s.clear();
            s.push_str(text);
        }
        Value::Array(_) | Value::Object(_) => replace_value(value, text.to_owned()),
        _ => *value = Value::String(text.to_owned()),
    }
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
