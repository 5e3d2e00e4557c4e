//! Showing a value without revealing it: what changes and findings say was there.
//!
//! An [`Excerpt`] keeps only what its text needs (a string's first two characters and its
//! length, or a container's size), so a scrub records one per change without allocating; the
//! text (`hu… [7 chars]`) is spelled out when it is shown or serialised.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// A redacted description of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excerpt {
    /// A string, or a number as its text: its first two characters and its length in
    /// characters. Texts of four characters or fewer show only their length.
    Text {
        head: [Option<char>; 2],
        chars: usize,
    },
    Null,
    Boolean,
    Array {
        len: usize,
    },
    Object {
        keys: usize,
    },
}

impl Excerpt {
    /// The excerpt of a text.
    pub fn of_text(text: &str) -> Self {
        let mut chars = text.chars();
        let head = [chars.next(), chars.next()];
        Self::Text {
            head,
            chars: head.iter().flatten().count() + chars.count(),
        }
    }

    /// The excerpt of any JSON value.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::String(s) => Self::of_text(s),
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            // Numbers are rare targets; their text is cheap enough to make here.
            Value::Number(n) => Self::of_text(&n.to_string()),
            Value::Array(a) => Self::Array { len: a.len() },
            Value::Object(o) => Self::Object { keys: o.len() },
        }
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Text { chars, .. } if chars <= 4 => write!(f, "[{chars} chars]"),
            Self::Text { head, chars } => {
                for c in head.iter().flatten() {
                    fmt::Write::write_char(f, *c)?;
                }
                write!(f, "… [{chars} chars]")
            }
            Self::Null => f.write_str("null"),
            Self::Boolean => f.write_str("[boolean]"),
            Self::Array { len } => write!(f, "[array of {len}]"),
            Self::Object { keys } => write!(f, "[object with {keys} keys]"),
        }
    }
}

impl Serialize for Excerpt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A text shown without revealing it: two characters, an ellipsis and the length.
pub fn redact(text: &str) -> String {
    Excerpt::of_text(text).to_string()
}

/// A redacted description of any JSON value.
pub fn excerpt_of(value: &Value) -> String {
    Excerpt::of(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn excerpts_read_as_before() {
        let cases = [
            (json!("hunter2"), "hu… [7 chars]"),
            (json!("abcd"), "[4 chars]"),
            (json!(""), "[0 chars]"),
            (json!("ééééé"), "éé… [5 chars]"),
            (json!(1234567), "12… [7 chars]"),
            (json!(null), "null"),
            (json!(true), "[boolean]"),
            (json!([1, 2]), "[array of 2]"),
            (json!({"a": 1}), "[object with 1 keys]"),
        ];
        for (value, text) in cases {
            assert_eq!(excerpt_of(&value), text, "{value}");
            assert_eq!(
                serde_json::to_value(Excerpt::of(&value)).unwrap(),
                json!(text)
            );
        }
        assert_eq!(redact("4111 1111 1111 1111"), "41… [19 chars]");
    }
}
