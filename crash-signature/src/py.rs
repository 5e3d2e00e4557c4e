//! The few pieces of Python's semantics that siggen's output depends on.
//!
//! siggen reads a processed crash as Python objects (what `json.load` gives) and builds
//! signature text with `str()`, f-strings, `str.strip()`, `in`, `int()` and friends. To give
//! the same text for the same JSON, this module answers those questions for a
//! [`serde_json::Value`] as CPython 3.11 does: which values are truthy, what `str()` prints,
//! which characters are whitespace, how `int()` reads a string, what `x in y` means for each
//! type, and which exception (and message) an operation on the wrong type raises, since siggen
//! reports a failed rule with that message in its notes.
//!
//! Known gaps, all outside Socorro's processed-crash schema: JSON objects iterate and print in
//! sorted key order here (serde_json's map) where Python keeps insertion order; integers beyond
//! 64 bits arrive as floats; `int()` reads ASCII digits only; `repr()` of non-ASCII text treats
//! only the common non-printable characters as such.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Number, Value};

pub(crate) mod json;

/// A Python exception raised inside a rule: siggen notes it as `Rule failed: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyErr {
    pub(crate) kind: ErrKind,
    pub(crate) message: String,
}

/// The exception classes siggen treats differently from the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrKind {
    /// `KeyError` or `IndexError`, which `SignatureGenerationRule` catches itself.
    Lookup,
    /// Anything else (`AttributeError`, `TypeError`, ...).
    Other,
}

impl PyErr {
    pub(crate) fn other(message: impl Into<String>) -> Self {
        PyErr {
            kind: ErrKind::Other,
            message: message.into(),
        }
    }

    pub(crate) fn lookup(message: impl Into<String>) -> Self {
        PyErr {
            kind: ErrKind::Lookup,
            message: message.into(),
        }
    }

    /// `AttributeError` for calling `method` on `value`.
    pub(crate) fn no_attribute(value: &Value, method: &str) -> Self {
        PyErr::other(format!(
            "'{}' object has no attribute '{method}'",
            type_name(value)
        ))
    }

    /// `TypeError` for iterating over `value`.
    pub(crate) fn not_iterable(value: &Value) -> Self {
        PyErr::other(format!("'{}' object is not iterable", type_name(value)))
    }
}

impl fmt::Display for PyErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Python's name for the type `json.load` gives this value.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `bool(value)`.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `dict.get(key)`: `None` for a missing key and for JSON `null` alike.
pub(crate) fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// `value.get(...)` on something that must be a dict.
pub(crate) fn as_dict(value: &Value) -> Result<&Map<String, Value>, PyErr> {
    value
        .as_object()
        .ok_or_else(|| PyErr::no_attribute(value, "get"))
}

/// `value.<method>(...)` on something that must be a str.
pub(crate) fn as_str<'a>(value: &'a Value, method: &str) -> Result<&'a str, PyErr> {
    value
        .as_str()
        .ok_or_else(|| PyErr::no_attribute(value, method))
}

/// `str(value)`, which is also what an f-string prints.
pub(crate) fn to_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// `str(value)` where a missing value is `None`.
pub(crate) fn to_str_opt(value: Option<&Value>) -> String {
    value.map_or_else(|| "None".to_string(), to_str)
}

/// `repr(value)`.
pub(crate) fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => number_str(n),
        Value::String(s) => repr_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", repr_str(k), repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

fn number_str(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        float_repr(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// `repr(float)`: the shortest digits that read back to the same float, in positional
/// notation for decimal exponents from -4 to 15 and scientific notation otherwise.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// `repr(str)`: single quotes unless the text has one and no double quote.
pub(crate) fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable()` for one character: exact for ASCII, the common cases beyond it.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !matches!(u,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f | 0x3000
        | 0xe000..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xf0000..)
}

/// `str.isspace()` for one character (also what `\s` matches in a `str` pattern).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.strip()`.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `str.splitlines()`.
pub(crate) fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\u{b}'
                | '\u{c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        lines.push(&s[start..i]);
        let mut end = i + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            end += 1;
        }
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// `int(text, radix)` for a string: the sign and the digits without leading zeros, or `None`
/// for a `ValueError`. Surrounding whitespace, a sign, single underscores between digits and
/// (base 16) a `0x` prefix are accepted, as Python does.
pub(crate) fn parse_int(text: &str, radix: u32) -> Option<(bool, String)> {
    let mut s = strip(text);
    let negative = s.starts_with('-');
    if negative || s.starts_with('+') {
        s = &s[1..];
    }
    let mut underscore_ok = false;
    if radix == 16 && (s.starts_with("0x") || s.starts_with("0X")) {
        s = &s[2..];
        underscore_ok = true;
    }
    let mut digits = String::new();
    let mut last_underscore = false;
    for c in s.chars() {
        if c == '_' {
            if !underscore_ok || last_underscore {
                return None;
            }
            last_underscore = true;
            continue;
        }
        c.to_digit(radix)?;
        digits.push(c.to_ascii_lowercase());
        underscore_ok = true;
        last_underscore = false;
    }
    if digits.is_empty() || last_underscore {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    Some((negative && digits != "0", digits.to_string()))
}

/// `int(value)`, or `None` where Python raises `TypeError` or `ValueError`. Values beyond
/// `i128` saturate (they only ever meet small bounds and list indexes).
pub(crate) fn int(value: &Value) -> Option<i128> {
    match value {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Some(i128::from(u))
            } else {
                let f = n.as_f64()?;
                // `as` truncates toward zero and saturates, like int() within i128's range.
                (!f.is_nan()).then_some(f as i128)
            }
        }
        Value::String(s) => {
            let (negative, digits) = parse_int(s, 10)?;
            let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
            Some(if negative { -magnitude } else { magnitude })
        }
        _ => None,
    }
}

/// `needle in container` for a str needle.
pub(crate) fn contains(container: &Value, needle: &str) -> Result<bool, PyErr> {
    match container {
        Value::String(s) => Ok(s.contains(needle)),
        Value::Array(items) => Ok(items.iter().any(|v| v.as_str() == Some(needle))),
        Value::Object(map) => Ok(map.contains_key(needle)),
        other => Err(PyErr::other(format!(
            "argument of type '{}' is not iterable",
            type_name(other)
        ))),
    }
}

/// `list(value)`: what a `for` loop over `value` sees (a list's items, a dict's keys, a str's
/// characters).
pub(crate) fn iterate(value: &Value) -> Result<Vec<Cow<'_, Value>>, PyErr> {
    match value {
        Value::Array(items) => Ok(items.iter().map(Cow::Borrowed).collect()),
        Value::String(s) => Ok(s
            .chars()
            .map(|c| Cow::Owned(Value::String(c.to_string())))
            .collect()),
        Value::Object(map) => Ok(map
            .keys()
            .map(|k| Cow::Owned(Value::String(k.clone())))
            .collect()),
        other => Err(PyErr::not_iterable(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_repr() {
        for (f, want) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (123456.5, "123456.5"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1e22, "1e+22"),
            (1234567890123456.0, "1234567890123456.0"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn str_and_repr_follow_python() {
        assert_eq!(to_str(&json!(null)), "None");
        assert_eq!(to_str(&json!(true)), "True");
        assert_eq!(to_str(&json!(12)), "12");
        assert_eq!(to_str(&json!(12.0)), "12.0");
        assert_eq!(to_str(&json!("x")), "x");
        assert_eq!(
            to_str(&json!(["a", 1, null, {"k": "it's"}])),
            "['a', 1, None, {'k': \"it's\"}]"
        );
        assert_eq!(repr_str("a\tb\u{1}\\"), "'a\\tb\\x01\\\\'");
    }

    #[test]
    fn int_parses_as_python() {
        assert_eq!(int(&json!(" 1_000 ")), Some(1000));
        assert_eq!(int(&json!("-7")), Some(-7));
        assert_eq!(int(&json!("1__0")), None);
        assert_eq!(int(&json!("_1")), None);
        assert_eq!(int(&json!("0x10")), None);
        assert_eq!(int(&json!(2.9)), Some(2));
        assert_eq!(int(&json!(true)), Some(1));
        assert_eq!(int(&json!(null)), None);
        assert_eq!(parse_int("0x_00Ff", 16), Some((false, "ff".into())));
        assert_eq!(parse_int("-0", 16), Some((false, "0".into())));
        assert_eq!(parse_int("0x", 16), None);
    }

    #[test]
    fn whitespace_and_lines_follow_python() {
        assert_eq!(strip("\u{1c} a \u{a0}"), "a");
        assert_eq!(splitlines("a\r\nb\rc\u{1e}d\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(splitlines("\n"), vec![""]);
    }
}
