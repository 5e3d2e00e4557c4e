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
//!   `headers` always compare ignoring ASCII case (`request.headers.authorization` matches
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

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::iter::Enumerate;
use std::slice;
use std::str::FromStr;

use serde_json::{Value, map};

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

/// The path buffer of one walk. Popped keys keep their `String` for the next push, and the
/// buffer goes back to a per-thread slot when the walk ends, so steady-state walks (one per
/// event in `before_send`) allocate no path storage at all.
#[derive(Default)]
struct PathBuilder {
    path: JsonPath,
    spare: Vec<String>,
}

thread_local! {
    static IDLE_BUILDER: Cell<Option<PathBuilder>> = const { Cell::new(None) };
}

/// What the per-thread buffer may keep, so that one freak document (very deep, or with a huge
/// key) does not pin its memory for the life of the thread.
const KEEP_DEPTH: usize = 64;
const KEEP_KEY_CAPACITY: usize = 256;

impl PathBuilder {
    /// The thread's idle buffer, or a new one (also when a callback walks re-entrantly).
    /// It may still hold the last walk's path: the selector walks overwrite it in place,
    /// often without copying, since consecutive events share their shape.
    fn take() -> Self {
        IDLE_BUILDER
            .try_with(Cell::take)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn give_back(mut self) {
        self.truncate(KEEP_DEPTH);
        for elem in &mut self.path.0 {
            if let PathElem::Key(s) = elem
                && s.capacity() > KEEP_KEY_CAPACITY
            {
                *s = String::new();
            }
        }
        self.spare.truncate(KEEP_DEPTH);
        self.spare.shrink_to(KEEP_DEPTH);
        self.path.0.shrink_to(KEEP_DEPTH);
        // During thread teardown the slot may be gone; the buffer is then simply dropped.
        let _ = IDLE_BUILDER.try_with(|slot| slot.set(Some(self)));
    }

    /// Makes step `at` (at most the current length) equal to `elem`. Steps past `valid`
    /// often still hold the right text (a sibling's match left `vars.password` behind), and
    /// comparing is cheaper than copying them again.
    fn set(&mut self, at: usize, elem: Child<'_>) {
        match (self.path.0.get_mut(at), elem) {
            (None, elem) => self.push(elem),
            (Some(PathElem::Key(have)), Child::Key(want)) => {
                if have != want {
                    have.clear();
                    have.push_str(want);
                }
            }
            (Some(PathElem::Index(have)), Child::Index(want)) => *have = want,
            (Some(slot), Child::Index(want)) => {
                if let PathElem::Key(s) = std::mem::replace(slot, PathElem::Index(want)) {
                    self.spare.push(s);
                }
            }
            (Some(slot), Child::Key(want)) => {
                let mut s = self.spare.pop().unwrap_or_default();
                s.clear();
                s.push_str(want);
                *slot = PathElem::Key(s);
            }
        }
    }

    fn push_key(&mut self, key: &str) {
        let mut s = self.spare.pop().unwrap_or_default();
        s.clear();
        s.push_str(key);
        self.path.0.push(PathElem::Key(s));
    }

    fn push_index(&mut self, index: usize) {
        self.path.0.push(PathElem::Index(index));
    }

    /// Pops back to `depth` steps (a no-op when already there).
    fn truncate(&mut self, depth: usize) {
        while self.path.0.len() > depth {
            if let Some(PathElem::Key(s)) = self.path.0.pop()
                && s.capacity() <= KEEP_KEY_CAPACITY
            {
                self.spare.push(s);
            }
        }
    }
}

/// Depth-first walk over every node (containers and leaves), root included, in document order.
pub fn walk(root: &Value, f: &mut dyn FnMut(&JsonPath, &Value)) {
    let mut pb = PathBuilder::take();
    pb.truncate(0);
    f(&pb.path, root);
    let mut stack: Vec<(RefKids<'_>, usize)> = Vec::new();
    if let Some(kids) = RefKids::all(root) {
        stack.push((kids, 0));
    }
    while let Some((kids, depth)) = stack.last_mut() {
        let depth = *depth;
        let child = match kids {
            RefKids::Obj(it) => it.next().map(|(k, v)| (Child::Key(k), v)),
            RefKids::Arr(it) => it.next().map(|(i, v)| (Child::Index(i), v)),
            RefKids::One(slot, k, _) => slot.take().map(|v| (Child::Key(k), v)),
        };
        let Some((elem, node)) = child else {
            stack.pop();
            continue;
        };
        pb.truncate(depth);
        pb.push(elem);
        f(&pb.path, node);
        if let Some(kids) = RefKids::all(node) {
            stack.push((kids, depth + 1));
        }
    }
    pb.give_back();
}

/// Depth-first walk over every string leaf, mutable, in document order (root included when
/// it is a string).
pub fn walk_strings_mut(root: &mut Value, f: &mut dyn FnMut(&JsonPath, &mut String)) {
    let mut pb = PathBuilder::take();
    pb.truncate(0);
    let mut stack: Vec<(MutKids<'_>, usize)> = Vec::new();
    match root {
        Value::String(s) => f(&pb.path, s),
        other => {
            if let Some(kids) = MutKids::all(other) {
                stack.push((kids, 0));
            }
        }
    }
    while let Some((kids, depth)) = stack.last_mut() {
        let depth = *depth;
        let child = match kids {
            MutKids::Obj(it) => it.next().map(|(k, v)| (Child::Key(k), v)),
            MutKids::Arr(it) => it.next().map(|(i, v)| (Child::Index(i), v)),
            // `all` never builds a single-key walker.
            MutKids::One(..) => None,
        };
        let Some((elem, node)) = child else {
            stack.pop();
            continue;
        };
        // Scalars other than strings need no path, so they cost nothing.
        match node {
            Value::String(s) => {
                pb.truncate(depth);
                pb.push(elem);
                f(&pb.path, s);
            }
            Value::Object(_) | Value::Array(_) => {
                if let Some(kids) = MutKids::all(node) {
                    pb.truncate(depth);
                    pb.push(elem);
                    stack.push((kids, depth + 1));
                }
            }
            _ => {}
        }
    }
    pb.give_back();
}

/// A child's step, borrowing the document's key.
#[derive(Clone, Copy)]
enum Child<'k> {
    Key(&'k str),
    Index(usize),
}

impl PathBuilder {
    fn push(&mut self, elem: Child<'_>) {
        match elem {
            Child::Key(k) => self.push_key(k),
            Child::Index(i) => self.push_index(i),
        }
    }
}

impl<'k> From<&'k PathElem> for Child<'k> {
    fn from(elem: &'k PathElem) -> Self {
        match elem {
            PathElem::Key(k) => Child::Key(k),
            PathElem::Index(i) => Child::Index(*i),
        }
    }
}

/// Children still to visit of one container, read-only.
enum RefKids<'a> {
    Obj(map::Iter<'a>),
    Arr(Enumerate<slice::Iter<'a, Value>>),
    /// The one child an exact key selects (found by lookup, not by scanning), that key, and
    /// the child's states.
    One(Option<&'a Value>, &'a str, u64),
}

impl<'a> RefKids<'a> {
    fn all(node: &'a Value) -> Option<Self> {
        match node {
            Value::Object(m) => Some(RefKids::Obj(m.iter())),
            Value::Array(a) => Some(RefKids::Arr(a.iter().enumerate())),
            _ => None,
        }
    }
}

/// Children still to visit of one container, mutable.
enum MutKids<'a> {
    Obj(map::IterMut<'a>),
    Arr(Enumerate<slice::IterMut<'a, Value>>),
    /// The one child an exact key selects, that key, and the child's states.
    One(Option<&'a mut Value>, &'a str, u64),
}

impl<'a> MutKids<'a> {
    fn all(node: &'a mut Value) -> Option<Self> {
        match node {
            Value::Object(m) => Some(MutKids::Obj(m.iter_mut())),
            Value::Array(a) => Some(MutKids::Arr(a.iter_mut().enumerate())),
            _ => None,
        }
    }
}

/// One container on the selector walk's stack.
struct Frame<'a, K> {
    kids: K,
    /// The step from the parent to this container (`None` for the root); the frames' steps
    /// spell the current path without owning any of it.
    elem: Option<Child<'a>>,
    /// NFA states at this container.
    states: u64,
    /// States that apply only to child index 1: set when this container is a `[name, value]`
    /// pair whose name matched a key segment.
    pending: u64,
    /// Whether this container's keys compare ignoring ASCII case.
    ci: bool,
    /// Whether this container is an array (its elements may be pairs).
    array: bool,
}

/// Whether a key names a headers map, whose own keys are case-insensitive.
fn is_headers(key: &str) -> bool {
    key.eq_ignore_ascii_case("headers")
}

fn key_eq(pattern: &str, key: &str, ci: bool) -> bool {
    if ci {
        pattern.eq_ignore_ascii_case(key)
    } else {
        pattern == key
    }
}

/// The name of a `[name, value]` pair, if `node` is one.
fn pair_name(node: &Value) -> Option<&str> {
    match node.as_array()?.as_slice() {
        [Value::String(name), _] => Some(name),
        _ => None,
    }
}

/// One segment of a [`PathSelector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key, or the name of a `[name, value]` pair. When written as a bare canonical
    /// decimal number (`0`, `12`) it also matches that array index.
    Key(String),
    /// Any of these object keys or pair names (`{a,b}`); never an array index. A quoted
    /// number such as `"0"` parses to a one-element `Keys`, so that it names the key only.
    Keys(Vec<String>),
    /// `*`: any single object key or array element.
    AnyOne,
    /// `[]`: any array element, never an object key.
    AnyElement,
    /// `**`: zero or more levels.
    AnyDepth,
}

/// A selector that does not parse, with the 1-based character column of the problem in the
/// text given to [`PathSelector::from_str`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message} at column {column}")]
pub struct PathError {
    /// What is wrong.
    pub message: String,
    /// 1-based character (not byte) column in the selector text.
    pub column: usize,
}

/// The most segments a selector may have: states `0..=len` must fit the bits of a `u64`.
pub const MAX_SEGMENTS: usize = 63;

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
    case_insensitive: bool,
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

/// The index a key names, if it is a canonical decimal number (`0`, `17`; not `007`, `+1`).
fn canonical_index(k: &str) -> Option<usize> {
    let canonical = match k.as_bytes() {
        [b'0'] => true,
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.iter().all(|b| b.is_ascii_digit())
        }
        [] => false,
    };
    if canonical { k.parse().ok() } else { None }
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

    /// Makes every key comparison ignore ASCII case (keys below `headers` always do).
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self
    }

    /// Whether [`case_insensitive`](Self::case_insensitive) is on.
    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// Calls `f` once for every node the selector matches, in document order; a node matched
    /// by several routes (e.g. `**` overlaps) is visited once.
    ///
    /// `f` runs before the node's children are looked at, so if it replaces a matched
    /// container (say with `"[Filtered]"`) the walk continues into the replacement, not into
    /// what was there.
    pub fn for_each_match(&self, root: &mut Value, f: &mut dyn FnMut(&JsonPath, &mut Value)) {
        let fin = self.final_bit();
        let mut pb = PathBuilder::take();
        let mut valid = 0;
        let mut stack: Vec<Frame<'_, MutKids<'_>>> = Vec::with_capacity(16);
        if let Some(frame) = self.mut_frame(root, None, self.start(), self.case_insensitive, 0) {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let (states, pending, ci, array) = (top.states, top.pending, top.ci, top.array);
            let next = match &mut top.kids {
                MutKids::Obj(it) => it.next().map(|(k, v)| (Child::Key(k), v, None)),
                MutKids::One(slot, k, t) => slot.take().map(|v| (Child::Key(k), v, Some(*t))),
                MutKids::Arr(it) => it.next().map(|(j, v)| (Child::Index(j), v, None)),
            };
            let Some((elem, node, known)) = next else {
                stack.pop();
                continue;
            };
            let mut t = known.unwrap_or_else(|| self.step(states, elem, ci));
            if array && matches!(elem, Child::Index(1)) {
                t |= pending;
            }
            let mut pend = if array {
                self.pair_states(states, node, ci)
            } else {
                0
            };
            if t == 0 && pend == 0 {
                continue;
            }
            let reported = t & fin != 0;
            if reported {
                spell_path(&mut pb, &mut valid, &stack, elem);
                f(&pb.path, node);
                // Pair routes follow what the node holds now.
                if array {
                    pend = self.pair_states(states, node, ci);
                }
            }
            let child_ci = self.case_insensitive || matches!(elem, Child::Key(k) if is_headers(k));
            if let Some(frame) = self.mut_frame(node, Some(elem), t, child_ci, pend) {
                // The new frame's step goes at index `stack.len() - 1` of the path, where a
                // report of this very node has just put it.
                valid = if reported {
                    stack.len()
                } else {
                    valid.min(stack.len().saturating_sub(1))
                };
                stack.push(frame);
            }
        }
        pb.give_back();
    }

    /// Same as [`for_each_match`](Self::for_each_match), read-only.
    pub fn for_each_match_ref(&self, root: &Value, f: &mut dyn FnMut(&JsonPath, &Value)) {
        self.visit_ref(root, false, f);
    }

    /// Removes every matched node from its parent (object key or array element) and returns
    /// the removed paths, in document order and in the coordinates of the document as it was
    /// before the call.
    ///
    /// * A match inside another match is not listed: it goes with its ancestor.
    /// * A pair value matched through its name (`request.headers.authorization` on a pair
    ///   list) takes its pair with it, since a `[name]` left behind is not a valid pair: the
    ///   returned path is the pair's (`request.headers.3`).
    /// * Removal runs from the back so array removals do not shift later matches.
    pub fn remove_matches(&self, root: &mut Value) -> Vec<JsonPath> {
        let mut targets = Vec::new();
        self.visit_ref(root, true, &mut |path, _| targets.push(path.clone()));
        // Siblings are removed together, one pass over their parent each, so that `*` over a
        // large object or array stays linear. Groups run back to front: removing from an
        // array only shifts later elements, whose own removals are then already done.
        fn parent_of(p: &JsonPath) -> Option<&[PathElem]> {
            p.0.split_last().map(|(_, parent)| parent)
        }
        for group in targets.chunk_by(|a, b| parent_of(a) == parent_of(b)).rev() {
            let Some(parent) = group.first().and_then(parent_of) else {
                continue;
            };
            match resolve_mut(root, parent) {
                Some(Value::Object(m)) => {
                    let mut keys: Vec<&str> = group
                        .iter()
                        .filter_map(|p| match p.last() {
                            Some(PathElem::Key(k)) => Some(k.as_str()),
                            _ => None,
                        })
                        .collect();
                    keys.sort_unstable();
                    // Not `Map::remove`: with serde_json's `preserve_order` it swaps the last
                    // key into place; `retain` keeps document order either way.
                    m.retain(|k, _| keys.binary_search(&k.as_str()).is_err());
                }
                Some(Value::Array(a)) => {
                    let mut indexes: Vec<usize> = group
                        .iter()
                        .filter_map(|p| match p.last() {
                            Some(PathElem::Index(i)) => Some(*i),
                            _ => None,
                        })
                        .collect();
                    indexes.sort_unstable();
                    let mut at = 0usize;
                    a.retain(|_| {
                        let keep = indexes.binary_search(&at).is_err();
                        at += 1;
                        keep
                    });
                }
                _ => {}
            }
        }
        targets
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
    fn final_bit(&self) -> u64 {
        // The parser caps segments at 63, so the shift stays in range.
        1u64.checked_shl(u32::try_from(self.segments.len()).unwrap_or(u32::MAX))
            .unwrap_or(0)
    }

    /// States that still have a segment to match.
    fn active_mask(&self) -> u64 {
        self.final_bit().wrapping_sub(1)
    }

    fn start(&self) -> u64 {
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
    fn step(&self, states: u64, child: Child<'_>, ci: bool) -> u64 {
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
    fn pair_states(&self, states: u64, node: &Value, ci: bool) -> u64 {
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
    fn single_key(&self, states: u64, ci: bool) -> Option<(&str, u64)> {
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

    fn mut_frame<'a>(
        &'a self,
        node: &'a mut Value,
        elem: Option<Child<'a>>,
        states: u64,
        ci: bool,
        pending: u64,
    ) -> Option<Frame<'a, MutKids<'a>>> {
        let active = states & self.active_mask() != 0;
        let (kids, array) = match node {
            Value::Object(m) if active => match self.single_key(states, ci) {
                Some((k, t)) => (MutKids::One(m.get_mut(k), k, t), false),
                None => (MutKids::Obj(m.iter_mut()), false),
            },
            Value::Array(a) if active || pending != 0 => {
                (MutKids::Arr(a.iter_mut().enumerate()), true)
            }
            _ => return None,
        };
        Some(Frame {
            kids,
            elem,
            states,
            pending,
            ci,
            array,
        })
    }

    fn ref_frame<'a>(
        &'a self,
        node: &'a Value,
        elem: Option<Child<'a>>,
        states: u64,
        ci: bool,
        pending: u64,
    ) -> Option<Frame<'a, RefKids<'a>>> {
        let active = states & self.active_mask() != 0;
        let (kids, array) = match node {
            Value::Object(m) if active => match self.single_key(states, ci) {
                Some((k, t)) => (RefKids::One(m.get(k), k, t), false),
                None => (RefKids::Obj(m.iter()), false),
            },
            Value::Array(a) if active || pending != 0 => (RefKids::Arr(a.iter().enumerate()), true),
            _ => return None,
        };
        Some(Frame {
            kids,
            elem,
            states,
            pending,
            ci,
            array,
        })
    }

    /// The read-only walk. With `prune`, a reported node is not entered, and a pair whose
    /// value matches by name is reported as the pair: what [`Self::remove_matches`] removes.
    fn visit_ref(&self, root: &Value, prune: bool, f: &mut dyn FnMut(&JsonPath, &Value)) {
        let fin = self.final_bit();
        let mut pb = PathBuilder::take();
        let mut valid = 0;
        let mut stack: Vec<Frame<'_, RefKids<'_>>> = Vec::with_capacity(16);
        if let Some(frame) = self.ref_frame(root, None, self.start(), self.case_insensitive, 0) {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let (states, pending, ci, array) = (top.states, top.pending, top.ci, top.array);
            let next = match &mut top.kids {
                RefKids::Obj(it) => it.next().map(|(k, v)| (Child::Key(k), v, None)),
                RefKids::One(slot, k, t) => slot.take().map(|v| (Child::Key(k), v, Some(*t))),
                RefKids::Arr(it) => it.next().map(|(j, v)| (Child::Index(j), v, None)),
            };
            let Some((elem, node, known)) = next else {
                stack.pop();
                continue;
            };
            let mut t = known.unwrap_or_else(|| self.step(states, elem, ci));
            if array && matches!(elem, Child::Index(1)) {
                t |= pending;
            }
            let pend = if array {
                self.pair_states(states, node, ci)
            } else {
                0
            };
            if t == 0 && pend == 0 {
                continue;
            }
            let reported = t & fin != 0 || (prune && pend & fin != 0);
            if reported {
                spell_path(&mut pb, &mut valid, &stack, elem);
                f(&pb.path, node);
                if prune {
                    continue;
                }
            }
            let child_ci = self.case_insensitive || matches!(elem, Child::Key(k) if is_headers(k));
            if let Some(frame) = self.ref_frame(node, Some(elem), t, child_ci, pend) {
                // The new frame's step goes at index `stack.len() - 1` of the path, where a
                // report of this very node has just put it.
                valid = if reported {
                    stack.len()
                } else {
                    valid.min(stack.len().saturating_sub(1))
                };
                stack.push(frame);
            }
        }
        pb.give_back();
    }
}

/// Spells out the path of `child`, a child of the innermost of `frames`, in `pb`.
///
/// The selector walks track their position as borrowed steps in their frames and only spell
/// it out when reporting a match, so non-matching nodes cost no path work. `valid` counts the
/// leading steps of `pb` known to agree with `frames`; the walks lower it when they push a
/// frame, so each frame's step is copied about once, not once per match below it.
fn spell_path<'a, K>(
    pb: &mut PathBuilder,
    valid: &mut usize,
    frames: &[Frame<'a, K>],
    child: Child<'a>,
) {
    // The root frame has no step, so the child's path is one step per frame.
    let len = frames.len();
    let mut at = (*valid).min(len.saturating_sub(1));
    let steps = frames
        .iter()
        .skip(at + 1)
        .filter_map(|frame| frame.elem)
        .chain(std::iter::once(child));
    for step in steps {
        pb.set(at, step);
        at += 1;
    }
    pb.truncate(at);
    *valid = len.saturating_sub(1);
}

// ----- parsing -----

/// Recursive-descent parser over the trimmed selector's characters; columns are reported in
/// the untrimmed text.
struct Parser {
    chars: Vec<char>,
    /// Characters of leading whitespace trimmed away.
    offset: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser {
            chars: text.trim().chars().collect(),
            offset: text.chars().take_while(|c| c.is_whitespace()).count(),
        }
    }

    fn err(&self, message: impl Into<String>, pos: usize) -> PathError {
        PathError {
            message: message.into(),
            column: self.offset + pos + 1,
        }
    }

    fn at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn parse(&self) -> Result<Vec<Segment>, PathError> {
        if self.chars.is_empty() {
            return Err(PathError {
                message: "empty selector".into(),
                column: 1,
            });
        }
        let mut segments = Vec::new();
        let mut pos = 0;
        loop {
            if segments.len() == MAX_SEGMENTS {
                return Err(self.err(format!("too many segments (at most {MAX_SEGMENTS})"), pos));
            }
            let (segment, next) = self.segment(pos)?;
            segments.push(segment);
            pos = next;
            match self.at(pos) {
                None => return Ok(segments),
                Some('.') if pos + 1 == self.chars.len() => {
                    return Err(self.err("trailing '.'", pos));
                }
                Some('.') => pos += 1,
                Some(_) => return Err(self.err("expected '.' after segment", pos)),
            }
        }
    }

    /// One segment starting at `pos`; returns it and the position just after it.
    fn segment(&self, pos: usize) -> Result<(Segment, usize), PathError> {
        match self.at(pos) {
            None | Some('.') => Err(self.err("empty segment", pos)),
            Some('"') => {
                let (key, next) = self.quoted(pos)?;
                // A quoted number names the object key only; `Keys` never matches indexes.
                let segment = if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                    Segment::Keys(vec![key])
                } else {
                    Segment::Key(key)
                };
                Ok((segment, next))
            }
            Some('{') => self.braces(pos),
            Some(_) => {
                let end = (pos..self.chars.len())
                    .find(|&i| self.at(i) == Some('.'))
                    .unwrap_or(self.chars.len());
                let word = self.chars.get(pos..end).unwrap_or_default();
                let segment = match word {
                    ['*'] => Segment::AnyOne,
                    ['*', '*'] => Segment::AnyDepth,
                    ['[', ']'] => Segment::AnyElement,
                    _ => Segment::Key(self.bare(pos, end, false)?),
                };
                Ok((segment, end))
            }
        }
    }

    /// Validates a bare key spanning `start..end`.
    fn bare(&self, start: usize, end: usize, in_braces: bool) -> Result<String, PathError> {
        let mut key = String::new();
        for pos in start..end {
            let Some(c) = self.at(pos) else { break };
            let problem = match c {
                '*' => Some("'*' must be a whole segment ('*' or '**'); quote a literal '*'"),
                '[' | ']' => Some(
                    "'[]' must be a whole segment; write an array index as a plain number (frames.0)",
                ),
                '"' => Some("a quote may only start a segment; quote the whole key"),
                '{' => Some("'{' may only start a segment"),
                '}' => Some("unbalanced '}'"),
                ',' => Some("',' is only allowed inside '{...}'"),
                '\\' => Some("'\\' is only allowed inside a quoted key"),
                '.' if in_braces => Some("'.' inside '{...}'; quote the key"),
                c if c.is_whitespace() => Some("whitespace in a key; quote the key"),
                _ => None,
            };
            if let Some(message) = problem {
                return Err(self.err(message, pos));
            }
            key.push(c);
        }
        Ok(key)
    }

    /// A quoted key whose opening quote is at `open`; returns it and the position after the
    /// closing quote.
    fn quoted(&self, open: usize) -> Result<(String, usize), PathError> {
        let mut key = String::new();
        let mut pos = open + 1;
        loop {
            match self.at(pos) {
                None => return Err(self.err("unterminated quoted key", open)),
                Some('"') => return Ok((key, pos + 1)),
                Some('\\') => match self.at(pos + 1) {
                    Some(c @ ('"' | '\\')) => {
                        key.push(c);
                        pos += 2;
                    }
                    Some(c) => {
                        return Err(self.err(
                            format!("unknown escape '\\{c}' (only \\\" and \\\\ are escapes)"),
                            pos,
                        ));
                    }
                    None => return Err(self.err("unterminated quoted key", open)),
                },
                Some(c) => {
                    key.push(c);
                    pos += 1;
                }
            }
        }
    }

    /// `{a, "b.c"}` with the `{` at `open`.
    fn braces(&self, open: usize) -> Result<(Segment, usize), PathError> {
        let mut keys = Vec::new();
        let mut pos = open + 1;
        let skip_ws = |mut p: usize| {
            while self.at(p).is_some_and(char::is_whitespace) {
                p += 1;
            }
            p
        };
        loop {
            pos = skip_ws(pos);
            match self.at(pos) {
                None => return Err(self.err("unclosed '{'", open)),
                Some('}') if keys.is_empty() => return Err(self.err("empty '{}'", open)),
                Some('}' | ',') => return Err(self.err("empty key in '{...}'", pos)),
                Some('"') => {
                    let (key, next) = self.quoted(pos)?;
                    keys.push(key);
                    pos = next;
                }
                Some(_) => {
                    let end = (pos..self.chars.len())
                        .find(|&i| {
                            self.at(i)
                                .is_some_and(|c| c == ',' || c == '}' || c.is_whitespace())
                        })
                        .unwrap_or(self.chars.len());
                    keys.push(self.bare(pos, end, true)?);
                    pos = end;
                }
            }
            pos = skip_ws(pos);
            match self.at(pos) {
                Some(',') => pos += 1,
                Some('}') => return Ok((Segment::Keys(keys), pos + 1)),
                None => return Err(self.err("unclosed '{'", open)),
                Some(_) => return Err(self.err("expected ',' or '}'", pos)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn sel(text: &str) -> PathSelector {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn perr(text: &str) -> (String, usize) {
        match text.parse::<PathSelector>() {
            Ok(s) => panic!("{text:?} should not parse, got {:?}", s.segments()),
            Err(e) => (e.message, e.column),
        }
    }

    fn key(k: &str) -> PathElem {
        PathElem::Key(k.to_owned())
    }

    fn visited(selector: &PathSelector, doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        selector.for_each_match_ref(doc, &mut |p, _| out.push(p.to_string()));
        out
    }

    fn visited_paths(selector: &PathSelector, doc: &Value) -> Vec<JsonPath> {
        let mut out = Vec::new();
        selector.for_each_match_ref(doc, &mut |p, _| out.push(p.clone()));
        out
    }

    fn all_paths(doc: &Value) -> Vec<JsonPath> {
        let mut out = Vec::new();
        walk(doc, &mut |p, _| out.push(p.clone()));
        out
    }

    /// `v` with every object's keys inserted in sorted order, so that expectations written in
    /// sorted order hold whether or not serde_json's `preserve_order` is on in the build.
    fn sorted(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(String, Value)> = m.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
            other => other,
        }
    }

    /// A Python-SDK-style error event (about 2 KB), headers as an object.
    fn event() -> Value {
        sorted(json!({
            "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
            "level": "error",
            "platform": "python",
            "timestamp": "2024-05-01T12:00:00.000000Z",
            "server_name": "socorro-processor-1",
            "release": "2024.05.01",
            "environment": "prod",
            "exception": {"values": [
                {
                    "type": "ZeroDivisionError",
                    "value": "division by zero",
                    "mechanism": {"type": "generic", "handled": false},
                    "stacktrace": {"frames": [
                        {
                            "filename": "socorro/processor/app.py",
                            "function": "process_crash",
                            "lineno": 120,
                            "in_app": true,
                            "vars": {
                                "crash_id": "'de1bb258-cbbf-4589-a673-34f800160918'",
                                "password": "'hunter2'",
                                "username": "'admin'"
                            }
                        },
                        {
                            "filename": "socorro/lib/util.py",
                            "function": "divide",
                            "lineno": 7,
                            "in_app": true,
                            "vars": {"a": "1", "b": "0", "Password": "'other'"}
                        }
                    ]}
                },
                {
                    "type": "ValueError",
                    "value": "bad value",
                    "stacktrace": {"frames": [
                        {"function": "outer", "vars": {"password": "'p2'", "self": {"password": "'nested'"}}}
                    ]}
                }
            ]},
            "breadcrumbs": {"values": [
                {"type": "http", "category": "httplib", "data": {"url": "https://example.com/?token=abc", "method": "GET", "status_code": 200}},
                {"type": "default", "category": "query", "message": "SELECT 1", "data": {"db.system": "postgresql"}},
                {"type": "log", "category": "app", "message": "starting", "level": "info"}
            ]},
            "request": {
                "url": "https://crash-stats.example.com/api/",
                "method": "POST",
                "query_string": "token=abc&x=1",
                "cookies": {"sessionid": "s3cr3t", "csrftoken": "tok"},
                "headers": {
                    "Authorization": "Bearer abcdef",
                    "User-Agent": "curl/8.0",
                    "X-Forwarded-For": "10.0.0.1",
                    "Cookie": "sessionid=s3cr3t"
                },
                "data": {"password": "pw", "comment": "hello"},
                "env": {"REMOTE_ADDR": "10.0.0.1", "SERVER_NAME": "web"}
            },
            "user": {"id": "42", "ip_address": "10.0.0.1", "email": "a@example.com"},
            "contexts": {
                "os": {"name": "Linux", "version": "6.1", "type": "os"},
                "runtime": {"name": "CPython", "version": "3.11.4", "type": "runtime"},
                "trace": {"trace_id": "a0b1", "span_id": "c2d3", "op": "task", "type": "trace"}
            },
            "tags": {"component": "processor", "0": "zero"},
            "extra": {"sys.argv": ["app.py"], "connect.sid": "abc", "0": "zero-key", "list": [10, 11, 12]},
            "sdk": {"name": "sentry.python", "version": "2.8.0", "integrations": ["logging", "stdlib", "threading"]}
        }))
    }

    /// The same request part as a Sentry pair list, the form Relay normalises to.
    fn pair_event() -> Value {
        json!({
            "request": {
                "headers": [
                    ["Authorization", "Bearer abcdef"],
                    ["User-Agent", "curl/8.0"],
                    ["cookie", "sessionid=s3cr3t"],
                    ["X-Trace", {"nested": "value"}]
                ],
                "query_string": [["token", "abc"], ["x", "1"], ["Token", "upper"]],
                "cookies": [["sessionid", "s3cr3t"], ["theme", "dark"]]
            }
        })
    }

    // ----- JsonPath -----

    #[test]
    fn json_path_display_quotes_what_selectors_treat_specially() {
        let p = JsonPath(vec![
            key("exception"),
            key("values"),
            PathElem::Index(0),
            key("stacktrace"),
            key("frames"),
            PathElem::Index(3),
            key("vars"),
            key("password"),
        ]);
        assert_eq!(
            p.to_string(),
            "exception.values.0.stacktrace.frames.3.vars.password"
        );
        assert_eq!(JsonPath::new().to_string(), "");
        let cases = [
            ("connect.sid", r#""connect.sid""#),
            ("", r#""""#),
            ("0", r#""0""#),
            ("007", r#""007""#),
            ("a*", r#""a*""#),
            ("a b", r#""a b""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("back\\slash", r#""back\\slash""#),
            ("[]", r#""[]""#),
            ("{a,b}", r#""{a,b}""#),
            ("x-api-key", "x-api-key"),
            ("$string", "$string"),
            ("héllo", "héllo"),
            ("0a", "0a"),
        ];
        for (k, shown) in cases {
            assert_eq!(JsonPath(vec![key(k)]).to_string(), shown, "key {k:?}");
        }
        assert_eq!(
            JsonPath(vec![key("a"), PathElem::Index(12), key("")]).to_string(),
            r#"a.12."""#
        );
    }

    #[test]
    fn json_path_helpers() {
        let mut p = JsonPath::new();
        assert!(p.is_empty());
        p.push_key("request");
        p.push(key("headers"));
        p.push_index(1);
        assert_eq!(p.len(), 3);
        assert_eq!(p.last(), Some(&PathElem::Index(1)));
        assert!(p.starts_with(&JsonPath(vec![key("request")])));
        assert!(!JsonPath(vec![key("request")]).starts_with(&p));
        assert_eq!(p.iter().count(), 3);
        assert_eq!(p.pop(), Some(PathElem::Index(1)));
        let doc = event();
        assert_eq!(
            JsonPath(vec![key("request"), key("headers"), key("User-Agent")]).resolve(&doc),
            Some(&json!("curl/8.0"))
        );
        assert_eq!(
            JsonPath(vec![key("request"), PathElem::Index(0)]).resolve(&doc),
            None
        );
        let mut doc = doc;
        if let Some(v) =
            JsonPath(vec![key("extra"), key("list"), PathElem::Index(2)]).resolve_mut(&mut doc)
        {
            *v = json!(99);
        }
        assert_eq!(doc["extra"]["list"], json!([10, 11, 99]));
    }

    #[test]
    fn walk_visits_every_node_in_document_order() {
        let doc = sorted(json!({"b": [1, {"c": null}], "a": "x"}));
        let seen: Vec<String> = all_paths(&doc).iter().map(ToString::to_string).collect();
        assert_eq!(seen, ["", "a", "b", "b.0", "b.1", "b.1.c"]);
        let mut n = 0;
        walk(&json!(3), &mut |p, v| {
            assert!(p.is_empty());
            assert_eq!(v, &json!(3));
            n += 1;
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn walk_strings_mut_sees_only_strings() {
        let mut doc = json!({"a": "x", "b": [1, "y", {"c": "z", "d": true}], "e": null});
        let mut seen = Vec::new();
        walk_strings_mut(&mut doc, &mut |p, s| {
            seen.push(p.to_string());
            s.make_ascii_uppercase();
        });
        assert_eq!(seen, ["a", "b.1", "b.2.c"]);
        assert_eq!(
            doc,
            json!({"a": "X", "b": [1, "Y", {"c": "Z", "d": true}], "e": null})
        );
        let mut root = json!("s");
        walk_strings_mut(&mut root, &mut |p, s| {
            assert!(p.is_empty());
            s.push('!');
        });
        assert_eq!(root, json!("s!"));
    }

    #[test]
    fn deep_documents_do_not_overflow_the_stack() {
        let mut doc = json!("leaf");
        for i in 0..50_000 {
            doc = if i % 2 == 0 {
                Value::Array(vec![doc])
            } else {
                Value::Object(std::iter::once(("k".to_owned(), doc)).collect())
            };
        }
        let mut n = 0usize;
        walk(&doc, &mut |_, _| n += 1);
        assert_eq!(n, 50_001);
        let mut hits = 0usize;
        sel("**").for_each_match_ref(&doc, &mut |_, _| hits += 1);
        assert_eq!(hits, 50_000);
        let mut strings = 0usize;
        walk_strings_mut(&mut doc, &mut |_, _| strings += 1);
        assert_eq!(strings, 1);
        // Dismantle iteratively: serde_json's own drop recurses.
        let mut stack = vec![doc];
        while let Some(mut v) = stack.pop() {
            match &mut v {
                Value::Array(a) => stack.append(a),
                Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }

    // ----- parsing -----

    #[test]
    fn parses_every_segment_kind() {
        let s = sel(r#"  exception.values.[].*.**.{a, "b.c" ,d}."x\"y\\z".0.007."12"  "#);
        assert_eq!(
            s.as_str(),
            r#"exception.values.[].*.**.{a, "b.c" ,d}."x\"y\\z".0.007."12""#
        );
        assert_eq!(s.to_string(), s.as_str());
        assert_eq!(
            s.segments(),
            [
                Segment::Key("exception".into()),
                Segment::Key("values".into()),
                Segment::AnyElement,
                Segment::AnyOne,
                Segment::AnyDepth,
                Segment::Keys(vec!["a".into(), "b.c".into(), "d".into()]),
                Segment::Key(r#"x"y\z"#.into()),
                Segment::Key("0".into()),
                Segment::Key("007".into()),
                Segment::Keys(vec!["12".into()]),
            ]
        );
        assert_eq!(sel(r#""""#).segments(), [Segment::Key(String::new())]);
        assert_eq!(
            sel("{0,1}").segments(),
            [Segment::Keys(vec!["0".into(), "1".into()])]
        );
        assert_eq!(sel("x-api-key.$string.héllo").segments().len(), 3);
        assert!(!sel("a").is_case_insensitive());
        assert!(sel("a").case_insensitive(true).is_case_insensitive());
        assert_eq!(sel("a.b"), sel(" a.b "));
    }

    #[test]
    fn parse_errors_name_their_column() {
        let cases: &[(&str, &str, usize)] = &[
            ("", "empty selector", 1),
            ("   ", "empty selector", 1),
            (".a", "empty segment", 1),
            ("a..b", "empty segment", 3),
            ("  a..b", "empty segment", 5),
            ("a.", "trailing '.'", 2),
            ("a. ", "trailing '.'", 2),
            (r#""abc"#, "unterminated quoted key", 1),
            (r#"a."b"#, "unterminated quoted key", 3),
            (r#"a."b\"#, "unterminated quoted key", 3),
            (r#"a."b\n""#, "unknown escape", 5),
            (r#""a"b"#, "expected '.' after segment", 4),
            ("{a,b", "unclosed '{'", 1),
            ("x.{a, ", "unclosed '{'", 3),
            ("x.{}", "empty '{}'", 3),
            ("x.{ }", "empty '{}'", 3),
            ("{a,,b}", "empty key in '{...}'", 4),
            ("{a,}", "empty key in '{...}'", 4),
            ("{,a}", "empty key in '{...}'", 2),
            ("{a b}", "expected ',' or '}'", 4),
            ("{a.b}", "'.' inside '{...}'", 3),
            ("{a*}", "'*' must be a whole segment", 3),
            ("{a}b", "expected '.' after segment", 4),
            (r#"{"a}"#, "unterminated quoted key", 2),
            ("a}", "unbalanced '}'", 2),
            ("}", "unbalanced '}'", 1),
            ("a{b", "'{' may only start a segment", 2),
            ("a,b", "',' is only allowed inside", 2),
            ("pass*", "'*' must be a whole segment", 5),
            ("***", "'*' must be a whole segment", 1),
            ("a.*x", "'*' must be a whole segment", 3),
            ("frames[0]", "'[]' must be a whole segment", 7),
            ("[0]", "'[]' must be a whole segment", 1),
            ("a]", "'[]' must be a whole segment", 2),
            ("a b", "whitespace in a key", 2),
            ("a. b", "whitespace in a key", 3),
            ("a\tb", "whitespace in a key", 2),
            (r#"a"b""#, "a quote may only start a segment", 2),
            (r"a\b", "'\\' is only allowed inside a quoted key", 2),
            ("é..", "empty segment", 3),
        ];
        for &(text, message, column) in cases {
            let (got, col) = perr(text);
            assert!(
                got.starts_with(message),
                "{text:?}: {got:?} should start with {message:?}"
            );
            assert_eq!(col, column, "{text:?}: {got}");
        }
        let long = vec!["a"; MAX_SEGMENTS + 1].join(".");
        assert_eq!(
            perr(&long),
            (format!("too many segments (at most {MAX_SEGMENTS})"), 127)
        );
        assert!(
            vec!["a"; MAX_SEGMENTS]
                .join(".")
                .parse::<PathSelector>()
                .is_ok()
        );
        let e = "a..b".parse::<PathSelector>().unwrap_err();
        assert_eq!(e.to_string(), "empty segment at column 3");
    }

    // ----- matching -----

    #[test]
    fn frame_vars_rules() {
        let doc = event();
        let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
        assert_eq!(
            visited(&rule, &doc),
            [
                "exception.values.0.stacktrace.frames.0.vars.password",
                "exception.values.1.stacktrace.frames.0.vars.password",
            ]
        );
        // Fillmore's spelling selects the same nodes, and `{}` lists several keys.
        let fillmore = sel("exception.values.[].stacktrace.frames.[].vars.{username,password}");
        assert_eq!(
            visited(&fillmore, &doc),
            [
                "exception.values.0.stacktrace.frames.0.vars.password",
                "exception.values.0.stacktrace.frames.0.vars.username",
                "exception.values.1.stacktrace.frames.0.vars.password",
            ]
        );
        // Frame locals are not headers: case matters unless asked otherwise.
        let ci = sel("exception.values.*.stacktrace.frames.*.vars.PASSWORD").case_insensitive(true);
        assert_eq!(visited(&ci, &doc).len(), 3);
        assert!(
            visited(
                &sel("exception.values.*.stacktrace.frames.*.vars.PASSWORD"),
                &doc
            )
            .is_empty()
        );
    }

    #[test]
    fn any_element_does_not_match_object_keys() {
        let doc = event();
        assert!(visited(&sel("contexts.[]"), &doc).is_empty());
        assert_eq!(
            visited(&sel("contexts.*.version"), &doc),
            ["contexts.os.version", "contexts.runtime.version"]
        );
        assert_eq!(visited(&sel("sdk.integrations.[]"), &doc).len(), 3);
        assert_eq!(visited(&sel("sdk.integrations.*"), &doc).len(), 3);
    }

    #[test]
    fn breadcrumbs_and_contexts() {
        let doc = event();
        assert_eq!(
            visited(&sel("breadcrumbs.values.*.data.url"), &doc),
            ["breadcrumbs.values.0.data.url"]
        );
        assert_eq!(
            visited(&sel("breadcrumbs.values.*.data.\"db.system\""), &doc),
            ["breadcrumbs.values.1.data.\"db.system\""]
        );
        assert_eq!(
            visited(&sel("contexts.{os,runtime}.{name,version}"), &doc),
            [
                "contexts.os.name",
                "contexts.os.version",
                "contexts.runtime.name",
                "contexts.runtime.version"
            ]
        );
        assert_eq!(visited(&sel("contexts.trace"), &doc), ["contexts.trace"]);
        assert!(visited(&sel("contexts.missing.x"), &doc).is_empty());
        assert!(visited(&sel("level.x"), &doc).is_empty());
    }

    #[test]
    fn numbers_quoted_and_bare() {
        let doc = event();
        assert_eq!(
            visited(&sel("exception.values.0.type"), &doc),
            ["exception.values.0.type"]
        );
        assert_eq!(visited(&sel("extra.0"), &doc), [r#"extra."0""#]);
        assert_eq!(visited(&sel(r#"extra."0""#), &doc), [r#"extra."0""#]);
        assert_eq!(visited(&sel("extra.list.2"), &doc), ["extra.list.2"]);
        assert!(visited(&sel(r#"extra.list."2""#), &doc).is_empty());
        assert!(visited(&sel("extra.list.{2}"), &doc).is_empty());
        assert!(visited(&sel("extra.list.02"), &doc).is_empty());
        assert!(visited(&sel("extra.list.3"), &doc).is_empty());
        assert!(visited(&sel("extra.list.99999999999999999999999"), &doc).is_empty());
        assert_eq!(
            visited(&sel(r#"extra."connect.sid""#), &doc),
            [r#"extra."connect.sid""#]
        );
        assert_eq!(
            visited(&sel(r#"**."sys.argv".0"#), &doc),
            [r#"extra."sys.argv".0"#]
        );
    }

    #[test]
    fn headers_compare_ignoring_case() {
        let doc = event();
        assert_eq!(
            visited(&sel("request.headers.authorization"), &doc),
            ["request.headers.Authorization"]
        );
        assert_eq!(
            visited(&sel("request.headers.{COOKIE,x-forwarded-for}"), &doc),
            ["request.headers.Cookie", "request.headers.X-Forwarded-For"]
        );
        assert_eq!(
            visited(&sel("**.headers.user-agent"), &doc),
            ["request.headers.User-Agent"]
        );
        // Only the keys right below `headers`; other maps keep their case.
        assert!(visited(&sel("request.cookies.SessionID"), &doc).is_empty());
        assert!(visited(&sel("Request.headers.Authorization"), &doc).is_empty());
        assert_eq!(
            visited(
                &sel("Request.headers.Authorization").case_insensitive(true),
                &doc
            ),
            ["request.headers.Authorization"]
        );
        let p = |s: &[&str]| JsonPath(s.iter().map(|k| key(k)).collect());
        let rule = sel("request.headers.authorization");
        assert!(rule.matches(&p(&["request", "headers", "AUTHORIZATION"])));
        assert!(!rule.matches(&p(&["request", "cookies", "AUTHORIZATION"])));
    }

    #[test]
    fn pair_lists_select_the_value_by_name() {
        let doc = pair_event();
        assert_eq!(
            visited(&sel("request.headers.authorization"), &doc),
            ["request.headers.0.1"]
        );
        assert_eq!(
            visited(&sel("request.headers.{cookie,user-agent}"), &doc),
            ["request.headers.1.1", "request.headers.2.1"]
        );
        // Outside `headers` pair names keep their case.
        assert_eq!(
            visited(&sel("request.query_string.token"), &doc),
            ["request.query_string.0.1"]
        );
        assert_eq!(
            visited(
                &sel("request.query_string.token").case_insensitive(true),
                &doc
            ),
            ["request.query_string.0.1", "request.query_string.2.1"]
        );
        assert_eq!(visited(&sel("**.sessionid"), &doc), ["request.cookies.0.1"]);
        // The value is a node like any other: selectors continue into it.
        assert_eq!(
            visited(&sel("request.headers.x-trace.nested"), &doc),
            ["request.headers.3.1.nested"]
        );
        assert_eq!(
            visited(&sel("request.headers.x-trace.**"), &doc),
            ["request.headers.3.1", "request.headers.3.1.nested"]
        );
        // `*` and `[]` address the pairs themselves, not their values.
        assert_eq!(
            visited(&sel("request.cookies.*"), &doc),
            ["request.cookies.0", "request.cookies.1"]
        );
        // An index and a name route can both apply; each node still appears once.
        let both = json!({"h": [["1", "a"], ["x", "b"]]});
        assert_eq!(visited(&sel("h.1"), &both), ["h.0.1", "h.1"]);
        assert_eq!(visited(&sel("h.{1,x}.**"), &both), ["h.0.1", "h.1.1"]);
        assert_eq!(visited(&sel("**"), &both).len(), 7);
        // Only well-formed pairs count; a malformed one does not hide the others.
        let mixed = json!({"h": [["a"], ["a", 1, 2], [1, "a"], "a", ["a", "found"]]});
        assert_eq!(visited(&sel("h.a"), &mixed), ["h.4.1"]);
        // Path-only matching cannot see names; the document-aware form can.
        let path = JsonPath(vec![
            key("request"),
            key("headers"),
            PathElem::Index(0),
            PathElem::Index(1),
        ]);
        let rule = sel("request.headers.authorization");
        assert!(!rule.matches(&path));
        assert!(rule.matches_in(&doc, &path));
        let pair = JsonPath(vec![key("request"), key("headers"), PathElem::Index(0)]);
        assert!(!rule.may_match_below(&pair));
        assert!(rule.may_match_below_in(&doc, &pair));
        assert!(!rule.matches_in(&doc, &pair));
        let other = JsonPath(vec![key("request"), key("headers"), PathElem::Index(1)]);
        assert!(!rule.may_match_below_in(&doc, &other));
    }

    #[test]
    fn any_depth_at_start_middle_and_end() {
        let doc = event();
        assert_eq!(
            visited(&sel("**.password"), &doc),
            [
                "exception.values.0.stacktrace.frames.0.vars.password",
                "exception.values.1.stacktrace.frames.0.vars.password",
                "exception.values.1.stacktrace.frames.0.vars.self.password",
                "request.data.password",
            ]
        );
        assert_eq!(
            visited(&sel("exception.**.vars.password"), &doc),
            [
                "exception.values.0.stacktrace.frames.0.vars.password",
                "exception.values.1.stacktrace.frames.0.vars.password",
            ]
        );
        // Zero levels: `**` may vanish.
        assert_eq!(visited(&sel("request.**.url"), &doc), ["request.url"]);
        assert_eq!(
            visited(&sel("**.level"), &doc),
            ["breadcrumbs.values.2.level", "level"]
        );
        // At the end: the node itself and everything below it.
        let below: Vec<String> = all_paths(&doc["request"])
            .iter()
            .map(|p| format!("request{}{p}", if p.is_empty() { "" } else { "." }))
            .collect();
        assert_eq!(visited(&sel("request.**"), &doc), below);
        // Alone: every node but the root.
        assert_eq!(visited_paths(&sel("**"), &doc), all_paths(&doc)[1..]);
        assert!(visited(&sel("**"), &json!(5)).is_empty());
        assert!(!sel("**").matches(&JsonPath::new()));
        assert!(sel("**").may_match_below(&JsonPath::new()));
    }

    #[test]
    fn overlapping_routes_visit_each_node_once() {
        let doc = event();
        let once = visited(&sel("**.password"), &doc);
        for text in [
            "**.**.password",
            "**.**.**.password",
            "**.*.**.password",
            "exception.**.**.password",
        ] {
            let got = visited(&sel(text), &doc);
            let mut dedup = got.clone();
            dedup.dedup();
            assert_eq!(got, dedup, "{text}");
        }
        assert_eq!(visited(&sel("**.**.password"), &doc), once);
        assert_eq!(visited(&sel("**.*"), &doc), visited(&sel("**"), &doc));
        let nested = json!({"a": {"a": {"a": 1}}});
        assert_eq!(visited(&sel("**.a.**"), &nested), ["a", "a.a", "a.a.a"]);
        assert_eq!(visited(&sel("**.a.**.a"), &nested), ["a.a", "a.a.a"]);
    }

    #[test]
    fn for_each_match_scrubs_in_place() {
        let mut doc = event();
        let rule = sel("exception.values.*.stacktrace.frames.*.vars.{password,username}");
        let mut seen = Vec::new();
        rule.for_each_match(&mut doc, &mut |p, v| {
            seen.push(p.to_string());
            *v = json!("[Filtered]");
        });
        assert_eq!(seen.len(), 3);
        assert_eq!(
            doc["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["password"],
            "[Filtered]"
        );
        assert_eq!(
            doc["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"]["Password"],
            "'other'"
        );
        // Pair values are scrubbed in place too.
        let mut pairs = pair_event();
        sel("request.headers.authorization")
            .for_each_match(&mut pairs, &mut |_, v| *v = json!("[Filtered]"));
        assert_eq!(
            pairs["request"]["headers"][0],
            json!(["Authorization", "[Filtered]"])
        );
        // A replaced container is not entered: its old children are gone.
        let mut doc = event();
        let mut n = 0;
        sel("request.**").for_each_match(&mut doc, &mut |_, v| {
            n += 1;
            *v = json!("[Filtered]");
        });
        assert_eq!(n, 1);
        assert_eq!(doc["request"], "[Filtered]");
        // ...but a replacement is: the walk continues into what the node holds now.
        let mut doc = json!({"a": 1});
        let mut seen = Vec::new();
        sel("a.**").for_each_match(&mut doc, &mut |p, v| {
            seen.push(p.to_string());
            if v == &json!(1) {
                *v = json!({"b": [2]});
            }
        });
        assert_eq!(seen, ["a", "a.b", "a.b.0"]);
    }

    #[test]
    fn remove_matches_removes_from_the_back() {
        let mut doc = json!({"list": [[1, 2], [3], [4, 5], "x"], "keep": 1});
        let removed = sel("list.*.0").remove_matches(&mut doc);
        let shown: Vec<String> = removed.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["list.0.0", "list.1.0", "list.2.0"]);
        assert_eq!(doc, json!({"list": [[2], [], [5], "x"], "keep": 1}));

        let mut doc = json!({"list": [0, 1, 2, 3, 4]});
        let removed = sel("list.*").remove_matches(&mut doc);
        assert_eq!(removed.len(), 5);
        assert_eq!(doc, json!({"list": []}));

        // Several pairs of one pair list: each goes whole, later ones unshifted.
        let mut doc = pair_event();
        let removed =
            sel("request.headers.{authorization,cookie,x-trace}").remove_matches(&mut doc);
        let shown: Vec<String> = removed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "request.headers.0",
                "request.headers.2",
                "request.headers.3"
            ]
        );
        assert_eq!(
            doc["request"]["headers"],
            json!([["User-Agent", "curl/8.0"]])
        );

        // A match inside a match goes with its ancestor and is not listed.
        let mut doc = json!({"a": {"a": {"a": 1}}, "b": 2});
        let removed = sel("**.a").remove_matches(&mut doc);
        assert_eq!(removed, [JsonPath(vec![key("a")])]);
        assert_eq!(doc, json!({"b": 2}));

        // Lone `**` empties the root, which itself stays.
        let mut doc = event();
        let top = doc.as_object().map_or(0, |m| m.len());
        assert_eq!(sel("**").remove_matches(&mut doc).len(), top);
        assert_eq!(doc, json!({}));

        // Object keys and the realistic rule.
        let mut doc = event();
        let removed = sel("**.password").remove_matches(&mut doc);
        assert_eq!(removed.len(), 4);
        assert!(visited(&sel("**.password"), &doc).is_empty());
        assert_eq!(
            doc["exception"]["values"][1]["stacktrace"]["frames"][0]["vars"]["self"],
            json!({})
        );

        // Nothing to remove.
        let mut doc = event();
        assert!(sel("nope.nope").remove_matches(&mut doc).is_empty());
        assert_eq!(doc, event());
    }

    #[test]
    fn remove_matches_handles_many_siblings() {
        let n = 20_000;
        let mut doc = json!({
            "obj": (0..n).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>(),
            "arr": (0..n).collect::<Vec<_>>(),
        });
        assert_eq!(sel("obj.*").remove_matches(&mut doc).len(), n);
        let removed = sel("arr.*").remove_matches(&mut doc);
        assert_eq!(removed.len(), n);
        assert_eq!(
            removed.last(),
            Some(&JsonPath(vec![key("arr"), PathElem::Index(n - 1)]))
        );
        assert_eq!(doc, json!({"obj": {}, "arr": []}));
    }

    #[test]
    fn walks_nest_and_repeat_without_mixing_paths() {
        let doc = event();
        let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
        let expected = visited(&rule, &doc);
        let mut outer = Vec::new();
        let mut inner = 0usize;
        let mut copy = doc.clone();
        rule.for_each_match(&mut copy, &mut |p, _| {
            // A callback that walks too gets its own buffer and leaves this path intact.
            walk(&doc, &mut |_, _| inner += 1);
            assert_eq!(
                visited(&sel("request.headers.authorization"), &doc),
                ["request.headers.Authorization"]
            );
            outer.push(p.to_string());
        });
        assert_eq!(outer, expected);
        assert_eq!(inner, expected.len() * all_paths(&doc).len());
        // The per-thread buffer carries the previous walk's path; results do not depend on it.
        for _ in 0..3 {
            assert_eq!(visited(&rule, &doc), expected);
            assert_eq!(
                visited(&sel("request.headers.authorization"), &pair_event()),
                ["request.headers.0.1"]
            );
            assert_eq!(
                visited(&sel("**.a"), &json!({"a": [{"a": 1}]})),
                ["a", "a.0.a"]
            );
        }
    }

    #[test]
    fn selectors_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PathSelector>();
        assert_send_sync::<JsonPath>();
        assert_send_sync::<PathError>();
        let rule = sel("**.password");
        let expected = visited(&rule, &event());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| assert_eq!(visited(&rule, &event()), expected));
            }
        });
    }

    #[test]
    fn matches_and_prefix_test_on_paths() {
        let rule = sel("exception.values.*.stacktrace.frames.*.vars.password");
        let path = |s: &str| -> JsonPath {
            s.split('.')
                .map(|e| e.parse().map_or_else(|_| key(e), PathElem::Index))
                .collect()
        };
        assert!(rule.matches(&path(
            "exception.values.0.stacktrace.frames.3.vars.password"
        )));
        assert!(!rule.matches(&path("exception.values.0.stacktrace.frames.3.vars")));
        assert!(!rule.matches(&path(
            "exception.values.0.stacktrace.frames.3.vars.password.x"
        )));
        assert!(rule.may_match_below(&path("exception.values.0.stacktrace")));
        assert!(rule.may_match_below(&JsonPath::new()));
        assert!(!rule.may_match_below(&path(
            "exception.values.0.stacktrace.frames.3.vars.password"
        )));
        assert!(!rule.may_match_below(&path("request")));
        assert!(!rule.matches(&JsonPath::new()));
        assert!(sel("a.**").may_match_below(&path("a.b.c")));
        assert!(sel("a.**").matches(&path("a")));
        assert!(sel("list.0").matches(&path("list.0")));
        assert!(sel("list.0").matches(&JsonPath(vec![key("list"), key("0")])));
        assert!(!sel(r#"list."0""#).matches(&path("list.0")));
        assert!(!sel("[]").matches(&path("a")));
        assert!(sel("[]").matches(&path("0")));
    }

    // ----- properties -----

    const KEYS: &[&str] = &[
        "a",
        "b",
        "password",
        "headers",
        "Authorization",
        "authorization",
        "0",
        "1",
        "A",
    ];

    /// Selectors exercising every segment kind, overlaps, pairs and case rules.
    const SELECTORS: &[&str] = &[
        "a",
        "a.b",
        "*",
        "**",
        "**.password",
        "a.**",
        "a.**.b",
        "**.**.b",
        "*.*",
        "[]",
        "[].a",
        "0",
        "1",
        "a.0",
        "\"0\"",
        "{a,b}.*",
        "headers.authorization",
        "**.headers.Authorization",
        "a.*.[]",
        "**.0.**",
        "b.{password,\"0\"}",
        "**.a.**.a",
        "*.1.*",
        "**.password.**",
        "a.{Authorization,password}",
        "**.[].**",
        "headers.**",
    ];

    fn arb_key() -> impl Strategy<Value = String> {
        prop::sample::select(KEYS).prop_map(str::to_owned)
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..100).prop_map(Value::from),
            arb_key().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(arb_key(), inner.clone(), 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                // Pair lists, well-formed or not.
                prop::collection::vec((arb_key(), inner), 0..4).prop_map(|pairs| {
                    Value::Array(pairs.into_iter().map(|(k, v)| json!([k, v])).collect())
                }),
            ]
        })
    }

    fn has_pair(doc: &Value) -> bool {
        let mut found = false;
        walk(doc, &mut |_, v| {
            if let Value::Array(a) = v {
                found |= a.iter().any(|e| pair_name(e).is_some());
            }
        });
        found
    }

    fn arb_path() -> impl Strategy<Value = JsonPath> {
        let elem = prop_oneof![
            3 => any::<String>().prop_map(PathElem::Key),
            2 => "[ .*\"\\\\{}\\[\\],a-cA-C0-9]{0,4}".prop_map(PathElem::Key),
            1 => prop::sample::select(&["headers", "**", "*", "[]", "0"][..]).prop_map(|k| PathElem::Key(k.to_owned())),
            2 => (0usize..4).prop_map(PathElem::Index),
        ];
        prop::collection::vec(elem, 1..6).prop_map(JsonPath)
    }

    /// A document holding `path` and nothing else (arrays padded with nulls).
    fn doc_along(path: &[PathElem]) -> Value {
        match path.split_first() {
            None => Value::Null,
            Some((PathElem::Key(k), rest)) => json!({ k.clone(): doc_along(rest) }),
            Some((PathElem::Index(i), rest)) => {
                let mut a = vec![Value::Null; *i];
                a.push(doc_along(rest));
                Value::Array(a)
            }
        }
    }

    /// Whether the selector printed from `p` matches `q`: an index also matches its decimal
    /// key, and keys equal but for case match where case is ignored.
    fn equivalent(p: &JsonPath, q: &JsonPath, ci: bool) -> bool {
        p.len() == q.len()
            && p.iter().zip(q.iter()).enumerate().all(|(n, pair)| {
                let under_headers =
                    n > 0 && matches!(p.0.get(n - 1), Some(PathElem::Key(k)) if is_headers(k));
                match pair {
                    (PathElem::Key(a), PathElem::Key(b)) => {
                        a == b || ((ci || under_headers) && a.eq_ignore_ascii_case(b))
                    }
                    (PathElem::Index(i), PathElem::Index(j)) => i == j,
                    // A bare number also names the object key; a quoted one never an index.
                    (PathElem::Index(i), PathElem::Key(k)) => *k == i.to_string(),
                    (PathElem::Key(_), PathElem::Index(_)) => false,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn matches_agrees_with_for_each_match(doc in arb_json(), ci in any::<bool>()) {
            let pairs = has_pair(&doc);
            let nodes = all_paths(&doc);
            for text in SELECTORS {
                let s = sel(text).case_insensitive(ci);
                let hits = visited_paths(&s, &doc);
                // Visited in document order, each once.
                let mut order = nodes.iter();
                for h in &hits {
                    prop_assert!(order.any(|n| n == h), "{text}: {h} out of order or not a node");
                }
                let mut mutable = Vec::new();
                s.for_each_match(&mut doc.clone(), &mut |p, _| mutable.push(p.clone()));
                prop_assert_eq!(&mutable, &hits, "{}", text);
                for p in &nodes {
                    let hit = hits.contains(p);
                    prop_assert_eq!(s.matches_in(&doc, p), hit, "{} at {}", text, p);
                    let below = hits.iter().any(|h| h.len() > p.len() && h.starts_with(p));
                    if below {
                        prop_assert!(s.may_match_below_in(&doc, p), "{} below {}", text, p);
                    }
                    if s.matches(p) {
                        prop_assert!(hit, "{} path-only over-matches {}", text, p);
                    }
                    if !pairs {
                        prop_assert_eq!(s.matches(p), hit, "{} at {}", text, p);
                        if below {
                            prop_assert!(s.may_match_below(p), "{} below {}", text, p);
                        }
                    }
                }
            }
        }

        #[test]
        fn remove_matches_removes_the_outermost_matches(doc in arb_json()) {
            for text in SELECTORS {
                let s = sel(text);
                let mut after = doc.clone();
                let removed = s.remove_matches(&mut after);
                let before = all_paths(&doc);
                let size = |p: &JsonPath| before.iter().filter(|n| n.starts_with(p)).count();
                let gone: usize = removed.iter().map(size).sum();
                prop_assert_eq!(all_paths(&after).len(), before.len() - gone, "{}", text);
                for (n, p) in removed.iter().enumerate() {
                    prop_assert!(!removed.iter().take(n).any(|q| p.starts_with(q)), "{} nested {}", text, p);
                }
                if !has_pair(&doc) {
                    let hits = visited_paths(&s, &doc);
                    let outermost: Vec<JsonPath> = hits
                        .iter()
                        .filter(|h| !hits.iter().any(|a| a.len() < h.len() && h.starts_with(a)))
                        .cloned()
                        .collect();
                    prop_assert_eq!(&removed, &outermost, "{}", text);
                }
            }
        }

        #[test]
        fn displayed_paths_parse_back_to_themselves(path in arb_path(), other in arb_path(), ci in any::<bool>()) {
            let text = path.to_string();
            let s = text.parse::<PathSelector>();
            prop_assert!(s.is_ok(), "{:?} -> {:?}", text, s);
            let Ok(s) = s else { return Ok(()) };
            let s = s.case_insensitive(ci);
            prop_assert!(s.matches(&path));
            let doc = doc_along(&path.0);
            prop_assert_eq!(visited_paths(&s, &doc), vec![path.clone()]);
            prop_assert_eq!(s.matches(&other), equivalent(&path, &other, ci), "{} vs {}", text, other);
        }

        #[test]
        fn arbitrary_selectors_never_panic(
            text in "[ a-cA.*\"\\\\{},\\[\\]0-9hé]{0,16}",
            doc in arb_json(),
            ci in any::<bool>(),
        ) {
            let Ok(s) = text.parse::<PathSelector>() else { return Ok(()) };
            let s = s.case_insensitive(ci);
            let mut n = 0usize;
            s.for_each_match_ref(&doc, &mut |_, _| n += 1);
            let mut m = 0usize;
            s.for_each_match(&mut doc.clone(), &mut |_, v| {
                m += 1;
                *v = json!("[Filtered]");
            });
            prop_assert!(m <= n);
            for p in all_paths(&doc) {
                let _ = (s.matches(&p), s.may_match_below(&p), s.matches_in(&doc, &p), s.may_match_below_in(&doc, &p));
            }
            let mut after = doc.clone();
            let removed = s.remove_matches(&mut after);
            prop_assert!(removed.len() <= n);
            // The text it came from reparses to the same selector.
            prop_assert_eq!(s.as_str().parse::<PathSelector>().ok().map(|p| p.case_insensitive(ci)), Some(s));
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            match text.parse::<PathSelector>() {
                Ok(s) => prop_assert!(!s.segments().is_empty()),
                Err(e) => prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e:?}"),
            }
        }
    }
}
