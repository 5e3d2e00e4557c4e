//! Parameter scrubbing for `ScrubQuery`, `ScrubCookies` and `StripUrl`: query strings,
//! `Cookie` headers, their object and pair-list forms, and URLs.

use std::borrow::Cow;

use super::{ActionError, FILTERED, Outcome, pair_kind};
use serde_json::{Map, Value};

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
pub(super) fn scrub_query_string(text: &str, names: &[String]) -> Option<String> {
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
pub(super) fn scrub_cookie_header(text: &str, names: &[String]) -> Option<String> {
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
pub(super) fn scrub_map(map: &mut Map<String, Value>, names: &[String]) -> Outcome {
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
pub(super) fn scrub_pairs(
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
pub(super) fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Strips a `scheme://` URL: user-info out, query values masked, fragment out. The authority
/// ends at the first `/`, `?` or `#` (as in RFC 3986 and Python's `urlsplit`), and the
/// user-info is everything up to its last `@`.
pub(super) fn strip_url(text: &str) -> Option<String> {
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
