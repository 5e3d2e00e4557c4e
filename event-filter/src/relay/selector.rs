//! Relay's selector language (`$frame.vars.password && !$string || extra.'a.b'`): parsing, and
//! matching against the path of the value being scrubbed.
//!
//! A selector matches a path from its end: `extra.foo` matches `extra.foo` anywhere in the event,
//! `*` stands for one item and `**` for any number (at most one `**` per path). Keys compare
//! case-insensitively. `$type` items match values of that type, where the type is either the
//! JSON kind (`$string`, `$object`, ...) or the place in Sentry's schema (`$frame`, `$http`, ...).
//! Which values a selector may touch at all depends on the value's pii attribute
//! ([`Pii`]): `false` values never, `maybe` values only through a specific path (no `**`, no
//! JSON kind, schema types only in first place), `true` values through any selector.
//!
//! The grammar accepts what Relay's does: `&&`/`&`, `||`/`|`, `!`/`~`, parentheses, spaces
//! around items and operators, quoted keys with `''` for a quote.

use std::fmt;

use super::schema::{Pii, TypeSet, ValueType};

/// Limits on a selector's size, so a hostile config cannot make parsing or matching deep.
const MAX_SELECTOR_BYTES: usize = 64 * 1024;
const MAX_NESTING: usize = 32;

/// One item of a selector path, in Relay's order (which orders the applications of a config).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Item {
    Type(ValueType),
    Index(usize),
    /// Lower-cased.
    Key(String),
    Wildcard,
    DeepWildcard,
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Selector {
    And(Vec<Selector>),
    Or(Vec<Selector>),
    Not(Box<Selector>),
    Path(Vec<Item>),
}

/// Why a selector does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("invalid selector syntax at byte {0}")]
    Syntax(usize),
    #[error("unknown value type ${0}")]
    UnknownType(String),
    #[error("deep wildcard (**) used more than once in a path")]
    DeepWildcardTwice,
    #[error("a wildcard (*) must be part of a path")]
    LoneWildcard,
    #[error("selector longer than {MAX_SELECTOR_BYTES} bytes")]
    TooLong,
    #[error("selector nested deeper than {MAX_NESTING} levels")]
    TooDeep,
}

/// One step of the path being matched: the key (lower-cased) or index it entered by, and the
/// types of what is there.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub key: Option<String>,
    pub index: Option<usize>,
    pub types: TypeSet,
}

impl Item {
    /// Whether this item matches `step`, for a value whose pii attribute is `pii`, the item
    /// being at position `position` of its path.
    fn matches(&self, pii: Pii, position: usize, step: &Step) -> bool {
        match (self, pii) {
            (_, Pii::False) => false,
            (Item::Wildcard, _) => true,
            (Item::DeepWildcard, pii) => pii == Pii::True,
            (Item::Type(ty), Pii::True) => step.types.contains(*ty),
            (Item::Type(ty), Pii::Maybe) => {
                step.types.contains(*ty) && !ty.is_json_kind() && position == 0
            }
            (Item::Index(index), _) => step.index == Some(*index),
            (Item::Key(key), _) => step.key.as_deref() == Some(key.as_str()),
        }
    }
}

impl Selector {
    /// Whether the selector matches the value at the end of `path` (root first), whose pii
    /// attribute is `pii`.
    pub(super) fn matches(&self, path: &[Step], pii: Pii) -> bool {
        if pii == Pii::False {
            return false;
        }
        match self {
            Selector::And(all) => all.iter().all(|s| s.matches(path, pii)),
            Selector::Or(any) => any.iter().any(|s| s.matches(path, pii)),
            Selector::Not(inner) => !inner.matches(path, pii),
            Selector::Path(items) => path_matches(items, path, pii),
        }
    }
}

/// A path selector against a path, both walked from the end. Items after the `**` match the
/// last steps one to one; the `**` then takes the step above them (and a `maybe` value is never
/// reached through one). Above that, the first item before the `**` is looked for from the top
/// of the path down, and the items after it must match the steps that follow it; any steps left
/// between them and the `**` are the `**`'s too. So `**.password` reaches `extra.password` but
/// not a top-level `password` (the `**` needs a step of its own).
fn path_matches(items: &[Item], path: &[Step], pii: Pii) -> bool {
    if items.len() > path.len() {
        return false;
    }
    let deep = items.iter().position(|i| *i == Item::DeepWildcard);
    let tail_start = deep.map_or(0, |d| d + 1);
    let tail = &items[tail_start..];
    let tail_steps = &path[path.len() - tail.len()..];
    for (offset, (item, step)) in tail.iter().zip(tail_steps).enumerate() {
        if !item.matches(pii, tail_start + offset, step) {
            return false;
        }
    }
    let Some(deep) = deep else {
        // Without `**` only the selector's end is anchored.
        return true;
    };
    let below = &path[..path.len() - tail.len()];
    let Some(deep_step) = below.last() else {
        return false;
    };
    if !items[deep].matches(pii, deep, deep_step) {
        return false;
    }
    let above = &below[..below.len() - 1];
    let head = &items[..deep];
    let Some(first) = head.first() else {
        return true;
    };
    let Some(start) = above.iter().position(|step| first.matches(pii, 0, step)) else {
        return false;
    };
    let run = &above[start..];
    run.len() >= head.len()
        && head
            .iter()
            .zip(run)
            .enumerate()
            .skip(1)
            .all(|(i, (item, step))| item.matches(pii, i, step))
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, SelectorError> {
        if text.len() > MAX_SELECTOR_BYTES {
            return Err(SelectorError::TooLong);
        }
        // Relay's legacy names for "any string" and "any object".
        match text {
            "freeform" | "email" | "sensitive" | "text" => {
                return Ok(Selector::Path(vec![Item::Type(ValueType::String)]));
            }
            "databag" | "container" => {
                return Ok(Selector::Path(vec![Item::Type(ValueType::Object)]));
            }
            _ => {}
        }
        let mut parser = Parser {
            text: text.as_bytes(),
            source: text,
            at: 0,
            depth: 0,
        };
        let selector = parser.or()?;
        parser.spaces();
        if parser.at != parser.text.len() {
            return Err(SelectorError::Syntax(parser.at));
        }
        Ok(selector)
    }
}

struct Parser<'a> {
    text: &'a [u8],
    source: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn spaces(&mut self) {
        while self.text.get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    /// Consumes `long` or else `short` (both operators have a one-character form).
    fn operator(&mut self, long: &[u8], short: u8) -> bool {
        self.spaces();
        if self.text[self.at..].starts_with(long) {
            self.at += long.len();
            true
        } else if self.text.get(self.at) == Some(&short) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SelectorError>,
    ) -> Result<T, SelectorError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SelectorError::TooDeep);
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn or(&mut self) -> Result<Selector, SelectorError> {
        let mut all = vec![self.and()?];
        while self.operator(b"||", b'|') {
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Selector::Or(all)
        })
    }

    fn and(&mut self) -> Result<Selector, SelectorError> {
        let mut all = vec![self.maybe_not()?];
        while self.operator(b"&&", b'&') {
            all.push(self.maybe_not()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Selector::And(all)
        })
    }

    fn maybe_not(&mut self) -> Result<Selector, SelectorError> {
        self.spaces();
        if matches!(self.text.get(self.at), Some(b'!' | b'~')) {
            self.at += 1;
            let inner = self.nested(Self::parenthesis_or_path)?;
            return Ok(Selector::Not(Box::new(inner)));
        }
        self.parenthesis_or_path()
    }

    fn parenthesis_or_path(&mut self) -> Result<Selector, SelectorError> {
        self.spaces();
        if self.text.get(self.at) == Some(&b'(') {
            self.at += 1;
            let inner = self.nested(Self::or)?;
            self.spaces();
            if self.text.get(self.at) != Some(&b')') {
                return Err(SelectorError::Syntax(self.at));
            }
            self.at += 1;
            return Ok(inner);
        }
        self.path()
    }

    fn path(&mut self) -> Result<Selector, SelectorError> {
        let mut items = vec![self.item()?];
        loop {
            let before = self.at;
            self.spaces();
            if self.text.get(self.at) == Some(&b'.') {
                self.at += 1;
                items.push(self.item()?);
            } else {
                self.at = before;
                break;
            }
        }
        if items.iter().filter(|i| **i == Item::DeepWildcard).count() > 1 {
            return Err(SelectorError::DeepWildcardTwice);
        }
        if items == [Item::Wildcard] {
            return Err(SelectorError::LoneWildcard);
        }
        Ok(Selector::Path(items))
    }

    fn item(&mut self) -> Result<Item, SelectorError> {
        self.spaces();
        let start = self.at;
        let rest = &self.text[self.at..];
        match rest.first() {
            Some(b'$') => {
                let len = rest[1..]
                    .iter()
                    .take_while(|c| c.is_ascii_lowercase() || **c == b'_')
                    .count();
                if len == 0 {
                    return Err(SelectorError::Syntax(start));
                }
                let name = &self.source[start + 1..start + 1 + len];
                self.at += 1 + len;
                ValueType::from_selector_name(name)
                    .map(Item::Type)
                    .ok_or_else(|| SelectorError::UnknownType(name.to_string()))
            }
            Some(b'*') if rest.get(1) == Some(&b'*') => {
                self.at += 2;
                Ok(Item::DeepWildcard)
            }
            Some(b'*') => {
                self.at += 1;
                Ok(Item::Wildcard)
            }
            Some(c) if c.is_ascii_digit() => {
                let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                self.at += len;
                self.source[start..start + len]
                    .parse()
                    .map(Item::Index)
                    .map_err(|_| SelectorError::Syntax(start))
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let len = rest
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_')
                    .count();
                self.at += len;
                Ok(Item::Key(self.source[start..start + len].to_lowercase()))
            }
            Some(b'\'') => {
                // A quoted key: any characters, `''` standing for one quote; never empty.
                let mut key = String::new();
                let mut i = self.at + 1;
                loop {
                    match self.text.get(i) {
                        None => return Err(SelectorError::Syntax(start)),
                        Some(b'\'') if self.text.get(i + 1) == Some(&b'\'') => {
                            key.push('\'');
                            i += 2;
                        }
                        Some(b'\'') => break,
                        Some(_) => {
                            let ch = self.source[i..].chars().next().unwrap_or('\u{fffd}');
                            key.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                if key.is_empty() {
                    return Err(SelectorError::Syntax(start));
                }
                self.at = i + 1;
                Ok(Item::Key(key.to_lowercase()))
            }
            _ => Err(SelectorError::Syntax(start)),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, all: &[Selector], op: &str| {
            for (i, s) in all.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                match s {
                    Selector::Path(_) | Selector::Not(_) => write!(f, "{s}")?,
                    _ => write!(f, "({s})")?,
                }
            }
            Ok(())
        };
        match self {
            Selector::And(all) => join(f, all, "&&"),
            Selector::Or(all) => join(f, all, "||"),
            Selector::Not(inner) => match **inner {
                Selector::Path(_) => write!(f, "!{inner}"),
                _ => write!(f, "!({inner})"),
            },
            Selector::Path(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    match item {
                        Item::Type(ty) => write!(f, "${}", ty.selector_name())?,
                        Item::Index(n) => write!(f, "{n}")?,
                        Item::Key(k) => write!(f, "'{}'", k.replace('\'', "''"))?,
                        Item::Wildcard => f.write_str("*")?,
                        Item::DeepWildcard => f.write_str("**")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(path: &[(&'static str, ValueType)]) -> Vec<Step> {
        path.iter()
            .map(|(key, ty)| Step {
                key: key.parse::<usize>().is_err().then(|| key.to_lowercase()),
                index: key.parse().ok(),
                types: TypeSet::of(*ty),
            })
            .collect()
    }

    fn matches(selector: &str, path: &[(&'static str, ValueType)], pii: Pii) -> bool {
        let selector: Selector = selector.parse().unwrap();
        selector.matches(&steps(path), pii)
    }

    #[test]
    fn parses_what_relay_accepts_and_refuses_the_rest() {
        for ok in [
            "a.b",
            "'a&b'",
            "!a && b",
            "~a",
            "a & b | c",
            "x.*",
            "**",
            "'a''b'",
            "a-b",
            "_a",
            "a . b",
            "( a || b ) && !c",
            "$string.foo",
            "a.$string",
            "A.B",
            "$bool",
            "$list",
            "$http.headers.x-custom",
        ] {
            assert!(ok.parse::<Selector>().is_ok(), "{ok}");
        }
        for (bad, error) in [
            ("*", SelectorError::LoneWildcard),
            ("**.a.**", SelectorError::DeepWildcardTwice),
            ("$foo", SelectorError::UnknownType("foo".into())),
            ("1a", SelectorError::Syntax(1)),
            ("a.", SelectorError::Syntax(2)),
            ("(a", SelectorError::Syntax(2)),
            ("''", SelectorError::Syntax(0)),
        ] {
            assert_eq!(bad.parse::<Selector>(), Err(error), "{bad}");
        }
        let deep = "(".repeat(100) + "a" + &")".repeat(100);
        assert_eq!(deep.parse::<Selector>(), Err(SelectorError::TooDeep));
    }

    #[test]
    fn operators_bind_as_in_relay() {
        let parsed: Selector = "a || b && !c".parse().unwrap();
        assert_eq!(parsed.to_string(), "'a' || ('b' && !'c')");
    }

    #[test]
    fn paths_match_from_the_end_and_keys_ignore_case() {
        use ValueType::*;
        let path = [("extra", Object), ("Foo", String)];
        assert!(matches("extra.foo", &path, Pii::True));
        assert!(matches("foo", &path, Pii::True));
        assert!(!matches("bar.extra.foo", &path, Pii::True));
        assert!(matches("*.foo", &path, Pii::True));
        assert!(matches("$string", &path, Pii::True));
        assert!(!matches("$string", &path, Pii::Maybe));
        assert!(matches("extra.foo", &path, Pii::Maybe));
        assert!(!matches("extra.foo", &path, Pii::False));
    }

    #[test]
    fn deep_wildcards_take_any_number_of_steps_but_one() {
        use ValueType::*;
        let path = [
            ("exception", Object),
            ("values", Array),
            ("0", Exception),
            ("stacktrace", Stacktrace),
            ("frames", Array),
            ("3", Frame),
            ("vars", Object),
            ("password", String),
        ];
        assert!(matches("**.password", &path, Pii::True));
        assert!(!matches("**.password", &path, Pii::Maybe));
        assert!(matches("$frame.**", &path, Pii::True));
        assert!(matches("$error.**.vars.password", &path, Pii::True));
        assert!(matches("exception.**.password", &path, Pii::True));
        assert!(!matches(
            "stacktrace.**.frames.3.vars.password",
            &path,
            Pii::True
        ));
        assert!(matches("$frame.vars.password", &path, Pii::True));
        assert!(matches("$frame.vars.password", &path, Pii::Maybe));
        assert!(!matches("password.**", &path, Pii::True));
        // A leading `**` needs a step of its own.
        let shallow = [("extra", Object), ("password", String)];
        assert!(matches("**.password", &shallow, Pii::True));
        assert!(!matches("**.password", &shallow[1..], Pii::True));
    }
}
