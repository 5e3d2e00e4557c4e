//! What `Hash` computes: a keyed HMAC-SHA256 over a value's text, with objects and arrays
//! written as canonical JSON, and the test that makes `Hash` idempotent.

use super::{ActionError, HASH_HEX_DIGITS, HASH_PREFIX};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

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

pub(super) fn keyed_hash(key: &[u8], text: &str) -> Result<String, ActionError> {
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
