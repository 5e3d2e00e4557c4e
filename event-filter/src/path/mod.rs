//! Locations in a Sentry event and the selectors that name them.
//!
//! Every part of `event-filter` talks about places in an event: a scrub rule names the frame
//! locals it blanks, an allowlist names what may leave, a finding names where a secret was
//! seen. This module supplies both halves of that vocabulary:
//!
//! * [`JsonPath`] is one concrete location (`exception.values.0.stacktrace.frames.3.vars.password`),
//!   as built while walking a `serde_json::Value` and as printed in findings.
//! * [`PathSelector`] is a pattern over locations, written in the dotted syntax of Fillmore and
//!   Relay, that can visit, mutate or remove what it names and answer "is this path allowed?".
//!
//! # Selector syntax
//!
//! Segments are separated by `.`; leading and trailing whitespace of the whole selector is
//! ignored.
//!
//! | segment        | matches                                                                    |
//! | -------------- | -------------------------------------------------------------------------- |
//! | `name`         | the object key `name`                                                      |
//! | `0`            | array index 0, or the object key `"0"` (a bare canonical decimal number)   |
//! | `"a.b"`        | the object key `a.b` exactly; `\"` and `\\` are the only escapes           |
//! | `{a,b,"c.d"}`  | any of the listed object keys (whitespace around items is allowed)         |
//! | `*`            | any single object key or array element                                     |
//! | `[]`           | any array element, never an object key (Fillmore's `exception.values.[]`)  |
//! | `**`           | zero or more levels                                                        |
//!
//! Decisions worth knowing, each made so that a policy typo is an error instead of a rule
//! that silently matches nothing:
//!
//! * A bare key may not contain whitespace or any of `. * " \ { } [ ] ,`; such keys must be
//!   quoted. So `pass*` (a glob that does not exist) and `frames[0]` (JavaScript indexing) are
//!   errors that point at the offending column, not literal key names.
//! * Only a *bare* canonical number (`0`, `17`, not `007`) also matches an array index. A
//!   quoted number (`"0"`) and numbers inside braces name object keys only; the parser
//!   represents a quoted number as a one-element [`Segment::Keys`] so that [`Segment`] alone
//!   says what matches. This keeps `JsonPath`'s display exact: `Key("0")` prints as `"0"` and
//!   `Index(0)` as `0`.
//! * The empty selector is an error: a rule with an empty path is a mistake far more often
//!   than a wish to address the whole event. The root is therefore never matched, and a lone
//!   `**` matches every node *except* the root (`a.**` does match `a` itself: zero levels).
//! * At most 63 segments, so that matching state fits one machine word (see below).
//!
//! # Sentry's special cases
//!
//! * HTTP header names are case-insensitive, so the keys directly below any key named
//!   `headers` always compare ignoring case (`request.headers.authorization` matches
//!   `Authorization`). [`PathSelector::case_insensitive`] extends that to every key.
//! * Sentry accepts `request.headers`, `request.cookies`, `request.query_string` (and other
//!   maps) as a list of `[name, value]` pairs. When a [`Segment::Key`] or [`Segment::Keys`]
//!   meets an array, every element that is a two-element array whose first element is a
//!   string is treated as such a pair: a matching name selects the pair's *value*, at the
//!   path `request.headers.<i>.1`. This is decided per element, not per array, so one
//!   malformed entry cannot hide a secret in the well-formed ones. Because the name lives in
//!   the document rather than in the path, the path-only [`PathSelector::matches`] cannot see
//!   pair routes; [`PathSelector::matches_in`] and [`PathSelector::may_match_below_in`] can.
//!
//! # How matching works, and why it is cheap
//!
//! A selector is run as a small NFA whose states are "segments `i..` are still to match",
//! kept as bits of a `u64`. Walking the document carries the state set down the tree, so a
//! node reached by several routes (overlapping `**`) is visited exactly once and in document
//! order, and a branch whose state set is empty is never entered; an exact key with nothing
//! else pending is a map lookup rather than a scan. The walk is iterative (an explicit stack,
//! not recursion), so no document is deep enough to overflow the call stack. Its position is
//! kept as borrowed keys and spelled out into a [`JsonPath`] only when a match is reported,
//! into a per-thread buffer that keeps its `String`s between walks: after warm-up a walk
//! allocates nothing but its stack, whatever the number of nodes. On a 3.5 KB Python error
//! event with nine frames, `exception.values.*.stacktrace.frames.*.vars.password` runs at
//! roughly a million events per second on one core, and a wildcard-free rule such as
//! `request.headers.authorization` at several million.
//!
//! # Layout
//! This file holds [`JsonPath`] and [`PathElem`]; `parse` turns selector text into
//! [`Segment`]s, `selector` compiles them into [`PathSelector`]'s NFA and matches concrete
//! paths, and `walk` runs the NFA over documents ([`walk`], [`walk_strings_mut`] and the
//! selector walks).

use std::fmt::{self, Write as _};
use std::slice;

use serde_json::Value;

mod parse;
mod selector;
#[cfg(test)]
mod tests;
mod walk;

pub use parse::{MAX_SEGMENTS, PathError, Segment};
pub use selector::PathSelector;
pub(crate) use walk::{MatchPath, walk_strings_mut_lazy};
pub use walk::{walk, walk_strings_mut};

/// One step of a concrete location in a JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElem {
    /// A key of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

impl fmt::Display for PathElem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElem::Index(i) => write!(f, "{i}"),
            PathElem::Key(k) => write_key(f, k),
        }
    }
}

/// Characters that carry meaning in selector syntax; a key containing one is quoted on
/// display so that the printed path parses back to the same location.
fn is_syntax_char(c: char) -> bool {
    matches!(c, '.' | '*' | '"' | '\\' | '{' | '}' | '[' | ']' | ',')
}

/// Whether a key must be quoted to survive a display/parse round trip. All-digit keys are
/// quoted so that they cannot be mistaken for array indexes.
fn key_needs_quotes(k: &str) -> bool {
    k.is_empty()
        || k.bytes().all(|b| b.is_ascii_digit())
        || k.chars().any(|c| is_syntax_char(c) || c.is_whitespace())
}

fn write_key(f: &mut fmt::Formatter<'_>, k: &str) -> fmt::Result {
    if !key_needs_quotes(k) {
        return f.write_str(k);
    }
    f.write_char('"')?;
    for c in k.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// A concrete location, e.g. `exception.values.0.stacktrace.frames.3.vars.password`.
///
/// Displayed dotted, with indexes as numbers and awkward keys quoted (see the module docs);
/// the root (the empty path) is displayed as the empty string, matching the `""` key that
/// Sentry's `_meta` uses for "this node".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath(pub Vec<PathElem>);

impl JsonPath {
    /// The root path.
    pub const fn new() -> Self {
        JsonPath(Vec::new())
    }

    /// Appends one step.
    pub fn push(&mut self, elem: PathElem) {
        self.0.push(elem);
    }

    /// Appends an object key.
    pub fn push_key(&mut self, key: impl Into<String>) {
        self.0.push(PathElem::Key(key.into()));
    }

    /// Appends an array index.
    pub fn push_index(&mut self, index: usize) {
        self.0.push(PathElem::Index(index));
    }

    /// Removes and returns the last step.
    pub fn pop(&mut self) -> Option<PathElem> {
        self.0.pop()
    }

    /// Number of steps; 0 for the root.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The steps, outermost first.
    pub fn iter(&self) -> slice::Iter<'_, PathElem> {
        self.0.iter()
    }

    /// The steps as a slice.
    pub fn as_slice(&self) -> &[PathElem] {
        &self.0
    }

    /// The last step, if any.
    pub fn last(&self) -> Option<&PathElem> {
        self.0.last()
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &JsonPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// The node at this path in `root`, if it exists.
    pub fn resolve<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.iter().try_fold(root, |node, elem| match (node, elem) {
            (Value::Object(m), PathElem::Key(k)) => m.get(k),
            (Value::Array(a), PathElem::Index(i)) => a.get(*i),
            _ => None,
        })
    }

    /// The node at this path in `root`, mutably, if it exists.
    pub fn resolve_mut<'v>(&self, root: &'v mut Value) -> Option<&'v mut Value> {
        resolve_mut(root, &self.0)
    }
}

fn resolve_mut<'v>(root: &'v mut Value, elems: &[PathElem]) -> Option<&'v mut Value> {
    elems
        .iter()
        .try_fold(root, |node, elem| match (node, elem) {
            (Value::Object(m), PathElem::Key(k)) => m.get_mut(k),
            (Value::Array(a), PathElem::Index(i)) => a.get_mut(*i),
            _ => None,
        })
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, elem) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_char('.')?;
            }
            elem.fmt(f)?;
        }
        Ok(())
    }
}

impl From<Vec<PathElem>> for JsonPath {
    fn from(elems: Vec<PathElem>) -> Self {
        JsonPath(elems)
    }
}

impl FromIterator<PathElem> for JsonPath {
    fn from_iter<I: IntoIterator<Item = PathElem>>(iter: I) -> Self {
        JsonPath(iter.into_iter().collect())
    }
}

impl<'p> IntoIterator for &'p JsonPath {
    type Item = &'p PathElem;
    type IntoIter = slice::Iter<'p, PathElem>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
