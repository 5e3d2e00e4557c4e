//! [`PathSelector`]: the parsed segments compiled into a small NFA over `u64` state sets, and
//! matching of concrete paths against it.

use std::fmt;
use std::str::FromStr;

use super::parse::{Parser, PathError, Segment, canonical_index};
use super::walk::Child;
use super::{JsonPath, PathElem};
use serde_json::Value;

/// Whether a key names a headers map, whose own keys are case-insensitive.
pub(super) fn is_headers(key: &str) -> bool {
    key.eq_ignore_ascii_case("headers")
}

/// Key equality; with `ci`, equal when their lowercase forms are (Unicode lowercasing, as
/// Python's `str.lower()` that sentry-sdk's `EventScrubber` compares with: `TO\u{212A}EN`, with
/// the Kelvin sign, is `token` to it). ASCII keys, nearly all of them, compare without allocating.
fn key_eq(pattern: &str, key: &str, ci: bool) -> bool {
    if ci {
        if pattern.is_ascii() && key.is_ascii() {
            pattern.eq_ignore_ascii_case(key)
        } else {
            pattern.to_lowercase() == key.to_lowercase()
        }
    } else {
        pattern == key
    }
}

/// The name of a `[name, value]` pair, if `node` is one.
pub(super) fn pair_name(node: &Value) -> Option<&str> {
    match node.as_array()?.as_slice() {
        [Value::String(name), _] => Some(name),
        _ => None,
    }
}

/// A pattern over [`JsonPath`]s, parsed from the dotted syntax described in the module docs.
///
/// ```text
/// exception.values.*.stacktrace.frames.*.vars.password
/// request.headers.{authorization,cookie}
/// **."connect.sid"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSelector {
    segments: Vec<Segment>,
    /// For each segment, the array index it also matches (bare canonical numbers only).
    indexes: Vec<Option<usize>>,
    /// Bit `i` set when segment `i` is `**`.
    any_depth: u64,
    /// Bit `i` set when segment `i` is `*`.
    any_one: u64,
    /// Bit `i` set when segment `i` is `[]`.
    any_element: u64,
    /// Bit `i` set when segment `i` is `Key` or `Keys` (the ones that can match pair names).
    named: u64,
    source: String,
    pub(super) case_insensitive: bool,
}

impl FromStr for PathSelector {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        let segments = Parser::new(text).parse()?;
        let mut indexes = Vec::with_capacity(segments.len());
        let (mut any_depth, mut any_one, mut any_element, mut named) = (0u64, 0u64, 0u64, 0u64);
        for (i, seg) in segments.iter().enumerate() {
            let bit = 1u64
                .checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
                .unwrap_or(0);
            indexes.push(match seg {
                Segment::Key(k) => canonical_index(k),
                _ => None,
            });
            match seg {
                Segment::AnyDepth => any_depth |= bit,
                Segment::AnyOne => any_one |= bit,
                Segment::AnyElement => any_element |= bit,
                Segment::Key(_) | Segment::Keys(_) => named |= bit,
            }
        }
        Ok(PathSelector {
            segments,
            indexes,
            any_depth,
            any_one,
            any_element,
            named,
            source: text.trim().to_owned(),
            case_insensitive: false,
        })
    }
}

impl fmt::Display for PathSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PathSelector {
    /// The selector text, trimmed.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parsed segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Makes every key comparison ignore case (keys below `headers` always do).
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self
    }

    /// Whether [`case_insensitive`](Self::case_insensitive) is on.
    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// Whether a concrete path is matched by this selector, from the path alone.
    ///
    /// This agrees with [`for_each_match_ref`](Self::for_each_match_ref) for every node of
    /// every document except pair values reached by name (see the module docs); use
    /// [`matches_in`](Self::matches_in) when the document may hold pair lists. The root is
    /// never matched.
    pub fn matches(&self, path: &JsonPath) -> bool {
        let (states, _) = self.run(None, path);
        !path.is_empty() && states & self.final_bit() != 0
    }

    /// Whether some descendant of `path` could still be matched (a prefix test), from the
    /// path alone: an allowlist walk uses it to tell "parent of an allowed path".
    pub fn may_match_below(&self, path: &JsonPath) -> bool {
        let (states, pending) = self.run(None, path);
        states & self.active_mask() != 0 || pending != 0
    }

    /// [`matches`](Self::matches), consulting `root` for `[name, value]` pair names along the
    /// path: exactly the nodes [`for_each_match_ref`](Self::for_each_match_ref) visits.
    pub fn matches_in(&self, root: &Value, path: &JsonPath) -> bool {
        let (states, _) = self.run(Some(root), path);
        !path.is_empty() && states & self.final_bit() != 0
    }

    /// [`may_match_below`](Self::may_match_below), consulting `root` for pair names.
    pub fn may_match_below_in(&self, root: &Value, path: &JsonPath) -> bool {
        let (states, pending) = self.run(Some(root), path);
        states & self.active_mask() != 0 || pending != 0
    }

    // ----- the NFA -----

    /// State bit meaning "every segment matched".
    pub(super) fn final_bit(&self) -> u64 {
        // The parser caps segments at 63, so the shift stays in range.
        1u64.checked_shl(u32::try_from(self.segments.len()).unwrap_or(u32::MAX))
            .unwrap_or(0)
    }

    /// States that still have a segment to match.
    pub(super) fn active_mask(&self) -> u64 {
        self.final_bit().wrapping_sub(1)
    }

    pub(super) fn start(&self) -> u64 {
        self.close(1)
    }

    /// Adds the zero-level route of every `**` in `states`.
    #[inline]
    fn close(&self, mut states: u64) -> u64 {
        loop {
            let next = states | ((states & self.any_depth) << 1);
            if next == states {
                return states;
            }
            states = next;
        }
    }

    /// The (closed) states at a child reached from a node in `states`.
    #[inline]
    pub(super) fn step(&self, states: u64, child: Child<'_>, ci: bool) -> u64 {
        let states = states & self.active_mask();
        // Wildcards are pure bit arithmetic: `**` stays (one more level inside it), `*`
        // advances, `[]` advances on array elements. Only named segments need a loop.
        let mut out = (states & self.any_depth) | ((states & self.any_one) << 1);
        if let Child::Index(_) = child {
            out |= (states & self.any_element) << 1;
        }
        let mut todo = states & self.named;
        while todo != 0 {
            let i = todo.trailing_zeros() as usize;
            todo &= todo - 1;
            let hit = match (self.segments.get(i), child) {
                (Some(Segment::Key(p)), Child::Key(k)) => key_eq(p, k, ci),
                (Some(Segment::Key(_)), Child::Index(j)) => {
                    self.indexes.get(i).copied().flatten() == Some(j)
                }
                (Some(Segment::Keys(ps)), Child::Key(k)) => ps.iter().any(|p| key_eq(p, k, ci)),
                _ => false,
            };
            if hit {
                // i < 63 because it is below the final bit.
                out |= 1 << (i + 1);
            }
        }
        self.close(out)
    }

    /// The (closed) states at the value of pair `node`, an element of an array in `states`,
    /// reached through the pair's name; 0 when `node` is not a pair or no name matches.
    #[inline]
    pub(super) fn pair_states(&self, states: u64, node: &Value, ci: bool) -> u64 {
        let mut todo = states & self.named & self.active_mask();
        if todo == 0 {
            return 0;
        }
        let Some(name) = pair_name(node) else {
            return 0;
        };
        let mut out = 0u64;
        while todo != 0 {
            let i = todo.trailing_zeros() as usize;
            todo &= todo - 1;
            let hit = match self.segments.get(i) {
                Some(Segment::Key(p)) => key_eq(p, name, ci),
                Some(Segment::Keys(ps)) => ps.iter().any(|p| key_eq(p, name, ci)),
                _ => false,
            };
            if hit {
                out |= 1 << (i + 1);
            }
        }
        self.close(out)
    }

    /// An exact key that is the only thing pending at an object, so the walk can look it up.
    pub(super) fn single_key(&self, states: u64, ci: bool) -> Option<(&str, u64)> {
        let active = states & self.active_mask();
        if ci || active.count_ones() != 1 {
            return None;
        }
        let i = active.trailing_zeros() as usize;
        match self.segments.get(i) {
            // The key is equal by lookup, so the child's states need no `step`.
            Some(Segment::Key(k)) => Some((k, self.close(1 << (i + 1)))),
            _ => None,
        }
    }

    /// Runs the NFA along `path`, consulting `root` (when given) for pair names. Returns the
    /// states at the path's node and the pending pair-value states for its child index 1.
    fn run(&self, root: Option<&Value>, path: &JsonPath) -> (u64, u64) {
        let active = self.active_mask();
        let (mut states, mut pending) = (self.start(), 0u64);
        let mut ci = self.case_insensitive;
        let mut node = root;
        for elem in path {
            if states & active == 0 && pending == 0 {
                return (0, 0);
            }
            let mut t = self.step(states, Child::from(elem), ci);
            if *elem == PathElem::Index(1) {
                t |= pending;
            }
            let next = node.and_then(|n| match (n, elem) {
                (Value::Object(m), PathElem::Key(k)) => m.get(k),
                (Value::Array(a), PathElem::Index(i)) => a.get(*i),
                _ => None,
            });
            pending = match (node, next) {
                (Some(Value::Array(_)), Some(child)) => self.pair_states(states, child, ci),
                _ => 0,
            };
            ci = self.case_insensitive || matches!(elem, PathElem::Key(k) if is_headers(k));
            states = t;
            node = next;
        }
        (states, pending)
    }
}
