//! Walking a document: every node ([`walk`], [`walk_strings_mut`]) or the nodes a
//! [`PathSelector`] matches, with the path spelled into a reused per-thread buffer.

use std::cell::Cell;
use std::iter::Enumerate;
use std::slice;

use super::selector::{PathSelector, is_headers};
use super::{JsonPath, PathElem, resolve_mut};
use serde_json::{Value, map};

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

impl PathSelector {
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
