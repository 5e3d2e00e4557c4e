//! Walking a document: every node ([`walk`], [`walk_strings_mut`]) or the nodes a
//! [`PathSelector`] matches, with the path spelled into a reused per-thread buffer.

use std::cell::Cell;
use std::iter::Enumerate;
use std::slice;

use super::selector::{PathSelector, is_headers};
use super::{JsonPath, PathElem, resolve_mut};
use serde_json::{Value, map};
use smallvec::SmallVec;

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

/// A child's step, borrowing the document's key.
#[derive(Clone, Copy)]
pub(super) enum Child<'k> {
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

/// A borrowed node: `&Value` for the read-only walks, `&mut Value` for the ones that change
/// the document. Each walk below is written once over this trait and compiled once per kind
/// of borrow, so reading and scrubbing cannot drift apart and neither pays for the other.
trait Node<'a>: Sized {
    /// Whether a walk's callback can have changed the node.
    const MUTABLE: bool;
    /// An object's entries, in document order.
    type Entries: Iterator<Item = (&'a String, Self)>;
    /// An array's elements.
    type Elements: Iterator<Item = Self>;

    /// The node, to look at.
    fn value(&self) -> &Value;
    /// All children of an object or array; `None` for a scalar.
    fn children(self) -> Option<Kids<'a, Self>>;
    /// The child under `key` of an object.
    fn child(self, key: &str) -> Option<Self>;
}

impl<'a> Node<'a> for &'a Value {
    const MUTABLE: bool = false;
    type Entries = map::Iter<'a>;
    type Elements = slice::Iter<'a, Value>;

    fn value(&self) -> &Value {
        self
    }

    fn children(self) -> Option<Kids<'a, Self>> {
        match self {
            Value::Object(m) => Some(Kids::Obj(m.iter())),
            Value::Array(a) => Some(Kids::Arr(a.iter().enumerate())),
            _ => None,
        }
    }

    fn child(self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }
}

impl<'a> Node<'a> for &'a mut Value {
    const MUTABLE: bool = true;
    type Entries = map::IterMut<'a>;
    type Elements = slice::IterMut<'a, Value>;

    fn value(&self) -> &Value {
        self
    }

    fn children(self) -> Option<Kids<'a, Self>> {
        match self {
            Value::Object(m) => Some(Kids::Obj(m.iter_mut())),
            Value::Array(a) => Some(Kids::Arr(a.iter_mut().enumerate())),
            _ => None,
        }
    }

    fn child(self, key: &str) -> Option<Self> {
        self.as_object_mut()?.get_mut(key)
    }
}

/// Children still to visit of one container.
enum Kids<'a, N: Node<'a>> {
    Obj(N::Entries),
    Arr(Enumerate<N::Elements>),
    /// The one child an exact key selects (found by lookup, not by scanning), that key, and
    /// the child's states.
    One(Option<N>, &'a str, u64),
}

impl<'a, N: Node<'a>> Kids<'a, N> {
    /// The next child: its step, the node, and its states when already known.
    #[inline(always)]
    fn next(&mut self) -> Option<(Child<'a>, N, Option<u64>)> {
        match self {
            Kids::Obj(it) => it.next().map(|(k, v)| (Child::Key(k), v, None)),
            Kids::One(slot, k, t) => slot.take().map(|v| (Child::Key(k), v, Some(*t))),
            Kids::Arr(it) => it.next().map(|(j, v)| (Child::Index(j), v, None)),
        }
    }
}

/// Depth-first walk over every node (containers and leaves), root included, in document order.
pub fn walk(root: &Value, f: &mut dyn FnMut(&JsonPath, &Value)) {
    walk_nodes(root, |_| true, |path, node| f(path.get(), node));
}

/// Depth-first walk over every string leaf, mutable, in document order (root included when
/// it is a string).
pub fn walk_strings_mut(root: &mut Value, f: &mut dyn FnMut(&JsonPath, &mut String)) {
    walk_strings_mut_lazy(root, &mut |path, s| f(path.get(), s));
}

/// [`walk_strings_mut`] with each string's path spelled out only when asked for: a detector
/// that finds nothing in a string then costs no path work.
pub(crate) fn walk_strings_mut_lazy(
    root: &mut Value,
    f: &mut dyn FnMut(&mut dyn MatchPath, &mut String),
) {
    walk_nodes(root, Value::is_string, |path, node| {
        if let Value::String(s) = &mut **node {
            f(path, s);
        }
    });
}

/// One container on [`walk_nodes`]' stack: its children still to visit, and the step from its
/// parent (`None` for the root).
struct NodeFrame<'a, N: Node<'a>> {
    kids: Kids<'a, N>,
    elem: Option<Child<'a>>,
}

/// The walk behind [`walk`] and [`walk_strings_mut`]: depth-first, root first, in document
/// order, calling `f` on the nodes `wanted` accepts. Paths are spelled only when `f` asks.
fn walk_nodes<'a, N: Node<'a>>(
    mut root: N,
    wanted: impl Fn(&Value) -> bool,
    mut f: impl FnMut(&mut dyn MatchPath, &mut N),
) {
    let mut pb = PathBuilder::take();
    let mut valid = 0;
    if wanted(root.value()) {
        pb.truncate(0);
        f(&mut pb.path, &mut root);
    }
    let mut stack: SmallVec<[NodeFrame<'a, N>; 16]> = SmallVec::new();
    if let Some(kids) = root.children() {
        stack.push(NodeFrame { kids, elem: None });
    }
    while let Some(top) = stack.last_mut() {
        let Some((elem, mut node, _)) = top.kids.next() else {
            stack.pop();
            continue;
        };
        let mut spelled = false;
        if wanted(node.value()) {
            let mut speller = Speller {
                pb: &mut pb,
                valid: &mut valid,
                frames: &stack,
                child: elem,
                spelled: false,
            };
            f(&mut speller, &mut node);
            spelled = speller.spelled;
        }
        if let Some(kids) = node.children() {
            valid = if spelled {
                stack.len()
            } else {
                valid.min(stack.len().saturating_sub(1))
            };
            stack.push(NodeFrame {
                kids,
                elem: Some(elem),
            });
        }
    }
    pb.give_back();
}

/// One container on the selector walk's stack.
struct Frame<'a, N: Node<'a>> {
    kids: Kids<'a, N>,
    /// The step from the parent to this container (`None` for the root); the frames' steps
    /// spell the current path without owning any of it.
    elem: Option<Child<'a>>,
    /// NFA states at this container.
    states: u64,
    /// States that apply only to child index 1: set when this container is a `[name, value]`
    /// pair whose name matched a key segment.
    pending: u64,
    /// Whether this container's keys compare ignoring case.
    ci: bool,
    /// Whether this container is an array (its elements may be pairs).
    array: bool,
}

/// A matched node's path, spelled out only when asked for: a scrubber that finds nothing to
/// change at a match (a value already masked) then costs no path work.
pub(crate) trait MatchPath {
    fn get(&mut self) -> &JsonPath;
}

/// A path already spelled out (the whole event, for rules without a path).
impl MatchPath for JsonPath {
    fn get(&mut self) -> &JsonPath {
        self
    }
}

/// A walk's stack entry: the step from its parent container to it.
trait Stepped<'a> {
    fn step(&self) -> Option<Child<'a>>;
}

impl<'a, N: Node<'a>> Stepped<'a> for Frame<'a, N> {
    fn step(&self) -> Option<Child<'a>> {
        self.elem
    }
}

impl<'a, N: Node<'a>> Stepped<'a> for NodeFrame<'a, N> {
    fn step(&self) -> Option<Child<'a>> {
        self.elem
    }
}

/// [`MatchPath`] over a walk's frames.
struct Speller<'s, 'a, F: Stepped<'a>> {
    pb: &'s mut PathBuilder,
    valid: &'s mut usize,
    frames: &'s [F],
    child: Child<'a>,
    spelled: bool,
}

impl<'a, F: Stepped<'a>> MatchPath for Speller<'_, 'a, F> {
    fn get(&mut self) -> &JsonPath {
        if !self.spelled {
            spell_path(self.pb, self.valid, self.frames, self.child);
            self.spelled = true;
        }
        &self.pb.path
    }
}

impl PathSelector {
    /// Calls `f` once for every node the selector matches, in document order; a node matched
    /// by several routes (e.g. `**` overlaps) is visited once.
    ///
    /// `f` runs before the node's children are looked at, so if it replaces a matched
    /// container (say with `"[Filtered]"`) the walk continues into the replacement, not into
    /// what was there.
    pub fn for_each_match(&self, root: &mut Value, f: &mut dyn FnMut(&JsonPath, &mut Value)) {
        self.visit(root, false, |path, node| f(path.get(), node));
    }

    /// [`for_each_match`](Self::for_each_match) with the path spelled out on demand.
    pub(crate) fn for_each_match_lazy(
        &self,
        root: &mut Value,
        f: &mut dyn FnMut(&mut dyn MatchPath, &mut Value),
    ) {
        self.visit(root, false, |path, node| f(path, node));
    }

    /// Same as [`for_each_match`](Self::for_each_match), read-only.
    pub fn for_each_match_ref(&self, root: &Value, f: &mut dyn FnMut(&JsonPath, &Value)) {
        self.visit(root, false, |path, node| f(path.get(), node));
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
        // Read-only (`&*root`): the removal below needs the matched paths, not the nodes.
        self.visit(&*root, true, |path, _| targets.push(path.get().clone()));
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

    /// The selector walk, read-only or mutable. With `prune`, a reported node is not entered,
    /// and a pair whose value matches by name is reported as the pair: what
    /// [`Self::remove_matches`] removes.
    fn visit<'a, N: Node<'a>>(
        &'a self,
        root: N,
        prune: bool,
        mut report: impl FnMut(&mut dyn MatchPath, &mut N),
    ) {
        let fin = self.final_bit();
        let mut pb = PathBuilder::take();
        let mut valid = 0;
        // Most events nest less than this; deeper ones spill to the heap.
        let mut stack: SmallVec<[Frame<'a, N>; 16]> = SmallVec::new();
        if let Some(frame) = self.frame(root, None, self.start(), self.case_insensitive, 0) {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let (states, pending, ci, array) = (top.states, top.pending, top.ci, top.array);
            let Some((elem, mut node, known)) = top.kids.next() else {
                stack.pop();
                continue;
            };
            let mut t = known.unwrap_or_else(|| self.step(states, elem, ci));
            if array && matches!(elem, Child::Index(1)) {
                t |= pending;
            }
            let mut pend = if array {
                self.pair_states(states, node.value(), ci)
            } else {
                0
            };
            if t == 0 && pend == 0 {
                continue;
            }
            let reported = t & fin != 0 || (prune && pend & fin != 0);
            let mut spelled = false;
            if reported {
                let mut speller = Speller {
                    pb: &mut pb,
                    valid: &mut valid,
                    frames: &stack,
                    child: elem,
                    spelled: false,
                };
                report(&mut speller, &mut node);
                spelled = speller.spelled;
                if prune {
                    continue;
                }
                // Pair routes follow what the node holds now.
                if N::MUTABLE && array {
                    pend = self.pair_states(states, node.value(), ci);
                }
            }
            let child_ci = self.case_insensitive || matches!(elem, Child::Key(k) if is_headers(k));
            if let Some(frame) = self.frame(node, Some(elem), t, child_ci, pend) {
                // The new frame's step goes at index `stack.len() - 1` of the path, where a
                // report of this very node has just put it if it asked for the path.
                valid = if spelled {
                    stack.len()
                } else {
                    valid.min(stack.len().saturating_sub(1))
                };
                stack.push(frame);
            }
        }
        pb.give_back();
    }

    /// The stack frame for `node`, or `None` when nothing below it can match.
    #[inline(always)]
    fn frame<'a, N: Node<'a>>(
        &'a self,
        node: N,
        elem: Option<Child<'a>>,
        states: u64,
        ci: bool,
        pending: u64,
    ) -> Option<Frame<'a, N>> {
        let active = states & self.active_mask() != 0;
        let (kids, array) = match node.value() {
            Value::Object(_) if active => match self.single_key(states, ci) {
                Some((k, t)) => (Kids::One(node.child(k), k, t), false),
                None => (node.children()?, false),
            },
            Value::Array(_) if active || pending != 0 => (node.children()?, true),
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
}

/// Spells out the path of `child`, a child of the innermost of `frames`, in `pb`.
///
/// The selector walks track their position as borrowed steps in their frames and only spell
/// it out when reporting a match, so non-matching nodes cost no path work. `valid` counts the
/// leading steps of `pb` known to agree with `frames`; the walks lower it when they push a
/// frame, so each frame's step is copied about once, not once per match below it.
fn spell_path<'a, F: Stepped<'a>>(
    pb: &mut PathBuilder,
    valid: &mut usize,
    frames: &[F],
    child: Child<'a>,
) {
    // The root frame has no step, so the child's path is one step per frame.
    let len = frames.len();
    let mut at = (*valid).min(len.saturating_sub(1));
    let steps = frames
        .iter()
        .skip(at + 1)
        .filter_map(Stepped::step)
        .chain(std::iter::once(child));
    for step in steps {
        pb.set(at, step);
        at += 1;
    }
    pb.truncate(at);
    *valid = len.saturating_sub(1);
}
