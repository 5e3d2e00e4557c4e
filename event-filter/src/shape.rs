//! Did this sentry-sdk upgrade change what we send? Event shapes and structural diffs.
//!
//! An audit of what a service sends to Sentry only keeps holding if the next SDK upgrade does
//! not quietly start sending something new. Fillmore answers that with `diff_structure`; this
//! module offers the same check in two grains:
//!
//! * [`Shape`] records *where* an event has data and of which [`Kind`], never the values:
//!   every path, with array indexes collapsed to `[]`
//!   (`exception.values.[].stacktrace.frames.[].function`), mapped to the set of kinds seen
//!   there. Shapes of many events [merge](Shape::merge), are written as stable, reviewable
//!   [snapshot](Shape::to_snapshot) files, and are compared with [`diff_shapes`]: an upgrade
//!   that adds `contexts.runtime.build` shows up as one [`ShapeChange::Added`] line in review.
//! * [`diff_values`] compares two concrete events, indexes kept, and lists keys added, keys
//!   removed and leaf values changed, skipping the paths that differ on every run anyway
//!   ([`volatile_paths`]: event ids, timestamps, trace and span ids, ...).
//!
//! Path strings are spelled like [`JsonPath`]'s display, so a key that needs it is quoted
//! (`extra."sys.argv"`, `"0"`) and every path printed here parses back as a
//! [`PathSelector`]. In a shape the collapsed index is written `[]`, which as a selector
//! matches any array element; a key literally named `[]` is quoted (`"[]"`) and cannot be
//! confused with it. The root node is part of a shape under the empty path `""`, so a change
//! of the document's own kind is seen too.
//!
//! Both walks are iterative and do not recurse on the document, and nothing here panics on
//! any input; the output is ordered (shapes by path, value diffs in document order with object
//! keys sorted) whatever the key order of the input objects.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::path::{JsonPath, PathElem, PathSelector, walk};

/// The kind of a JSON value, as a shape records it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// Any number, integer or float.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The kind of `value`.
    pub fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
}

/// A snapshot that cannot be read back as a [`Shape`].
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// Not JSON, or not an object mapping paths to lists of kind names.
    #[error("invalid shape snapshot: {0}")]
    Json(#[from] serde_json::Error),
    /// A path with no kinds at all, which no event produces.
    #[error("invalid shape snapshot: path {path:?} has an empty list of kinds")]
    EmptyKinds {
        /// The path, as written in the snapshot.
        path: String,
    },
}

/// The shape of an event: every path (array indexes collapsed to `[]`, so
/// `exception.values.[].stacktrace.frames.[].function`) with the set of kinds seen there.
/// Values are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shape(pub BTreeMap<String, BTreeSet<Kind>>);

impl Shape {
    /// The shape of one event (any JSON value; the root is recorded under `""`).
    pub fn of(event: &Value) -> Shape {
        let mut map: BTreeMap<String, BTreeSet<Kind>> = BTreeMap::new();
        let mut key = String::new();
        walk(event, &mut |path, node| {
            shape_path(path, &mut key);
            let kind = Kind::of(node);
            match map.get_mut(key.as_str()) {
                Some(kinds) => {
                    kinds.insert(kind);
                }
                None => {
                    map.insert(key.clone(), BTreeSet::from([kind]));
                }
            }
        });
        Shape(map)
    }

    /// Merge several events' shapes (e.g. all events of a test run): every path of either,
    /// with the union of their kinds.
    pub fn merge(&mut self, other: &Shape) {
        for (path, kinds) in &other.0 {
            match self.0.get_mut(path) {
                Some(mine) => mine.extend(kinds.iter().copied()),
                None => {
                    self.0.insert(path.clone(), kinds.clone());
                }
            }
        }
    }

    /// Stable JSON text for a snapshot file: one path per line, sorted, ending in a newline,
    /// e.g.
    ///
    /// ```text
    /// {
    ///   "": ["object"],
    ///   "extra": ["object"],
    ///   "extra.\"sys.argv\"": ["array"]
    /// }
    /// ```
    ///
    /// The same shape always gives the same bytes, so a snapshot under version control
    /// changes exactly when the shape does.
    pub fn to_snapshot(&self) -> String {
        if self.0.is_empty() {
            return "{}\n".to_owned();
        }
        let mut out = String::from("{\n");
        for (n, (path, kinds)) in self.0.iter().enumerate() {
            if n > 0 {
                out.push_str(",\n");
            }
            out.push_str("  ");
            push_json_string(&mut out, path);
            out.push_str(": [");
            for (i, kind) in kinds.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_json_string(&mut out, kind_name(*kind));
            }
            out.push(']');
        }
        out.push_str("\n}\n");
        out
    }

    /// Parses a snapshot written by [`to_snapshot`](Self::to_snapshot) (any JSON object of
    /// path to kind names is accepted, whatever its layout). A path with an empty list of
    /// kinds is an error.
    pub fn from_snapshot(text: &str) -> Result<Shape, ShapeError> {
        let map: BTreeMap<String, BTreeSet<Kind>> = serde_json::from_str(text)?;
        if let Some((path, _)) = map.iter().find(|(_, kinds)| kinds.is_empty()) {
            return Err(ShapeError::EmptyKinds { path: path.clone() });
        }
        Ok(Shape(map))
    }
}

/// Spells `path` as a shape path into `out`: keys as [`JsonPath`] displays them, every index
/// as `[]`.
fn shape_path(path: &JsonPath, out: &mut String) {
    out.clear();
    for (n, elem) in path.iter().enumerate() {
        if n > 0 {
            out.push('.');
        }
        match elem {
            PathElem::Index(_) => out.push_str("[]"),
            // Writing into a `String` cannot fail.
            PathElem::Key(_) => {
                let _ = write!(out, "{elem}");
            }
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Null => "null",
        Kind::Bool => "bool",
        Kind::Number => "number",
        Kind::String => "string",
        Kind::Array => "array",
        Kind::Object => "object",
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    // Serializing a `str` cannot fail; fall back to an empty literal rather than panic.
    match serde_json::to_string(s) {
        Ok(lit) => out.push_str(&lit),
        Err(_) => out.push_str("\"\""),
    }
}

/// One difference between two shapes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ShapeChange {
    /// A path only the new shape has.
    Added {
        /// The shape path.
        path: String,
        /// Its kinds in the new shape, sorted.
        kinds: Vec<Kind>,
    },
    /// A path only the old shape has.
    Removed {
        /// The shape path.
        path: String,
        /// Its kinds in the old shape, sorted.
        kinds: Vec<Kind>,
    },
    /// A path both have, with different sets of kinds (e.g. `number` became `string`).
    KindChanged {
        /// The shape path.
        path: String,
        /// Its kinds in the old shape, sorted.
        before: Vec<Kind>,
        /// Its kinds in the new shape, sorted.
        after: Vec<Kind>,
    },
}

impl ShapeChange {
    /// The shape path the change is at.
    pub fn path(&self) -> &str {
        match self {
            ShapeChange::Added { path, .. }
            | ShapeChange::Removed { path, .. }
            | ShapeChange::KindChanged { path, .. } => path,
        }
    }
}

/// Differences between two shapes, sorted by path. Every path is listed on its own: an
/// object that appears brings one `Added` for itself and one for each path below it.
pub fn diff_shapes(before: &Shape, after: &Shape) -> Vec<ShapeChange> {
    let kinds = |set: &BTreeSet<Kind>| set.iter().copied().collect::<Vec<_>>();
    let mut changes = Vec::new();
    let mut old = before.0.iter().peekable();
    let mut new = after.0.iter().peekable();
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some((path, set)) = old.next() {
                    changes.push(ShapeChange::Removed {
                        path: path.clone(),
                        kinds: kinds(set),
                    });
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some((path, set)) = new.next() {
                    changes.push(ShapeChange::Added {
                        path: path.clone(),
                        kinds: kinds(set),
                    });
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some((path, a)), Some((_, b))) = (old.next(), new.next())
                    && a != b
                {
                    changes.push(ShapeChange::KindChanged {
                        path: path.clone(),
                        before: kinds(a),
                        after: kinds(b),
                    });
                }
            }
        }
    }
    changes
}

/// One difference between two concrete events.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ValueChange {
    /// An object key or array element only the new event has, with its value.
    Added {
        /// The concrete path ([`JsonPath`] display).
        path: String,
        /// The new value (ignored parts inside it replaced by [`IGNORED`]).
        value: Value,
    },
    /// An object key or array element only the old event has, with its value.
    Removed {
        /// The concrete path ([`JsonPath`] display).
        path: String,
        /// The old value (ignored parts inside it replaced by [`IGNORED`]).
        value: Value,
    },
    /// A leaf whose value differs, or a node whose kind differs (then whole values are given).
    Changed {
        /// The concrete path ([`JsonPath`] display).
        path: String,
        /// The old value.
        before: Value,
        /// The new value.
        after: Value,
    },
}

impl ValueChange {
    /// The concrete path the change is at.
    pub fn path(&self) -> &str {
        match self {
            ValueChange::Added { path, .. }
            | ValueChange::Removed { path, .. }
            | ValueChange::Changed { path, .. } => path,
        }
    }
}

/// What an ignored node inside a reported `Added`/`Removed` value is replaced with, so that
/// volatile data (a fresh `span_id` in a newly sent `contexts.trace`, say) neither leaks into
/// nor destabilises the report.
pub const IGNORED: &str = "[ignored]";

/// Structural diff of two events with concrete paths (indexes kept): keys added, removed,
/// and leaf values changed (a kind change is `Changed`, with both whole values).
///
/// * Objects are compared key by key, arrays index by index (extra elements are `Added` or
///   `Removed`); changes come in document order, object keys sorted.
/// * A change at a path matched by one of `ignore`, or below such a path, is skipped
///   (`[name, value]` pair lists are understood as in [`PathSelector::matches_in`]). Inside a
///   reported `Added` or `Removed` value, ignored nodes read [`IGNORED`].
/// * Numbers compare as JSON texts do: `1` and `1.0` differ.
pub fn diff_values(before: &Value, after: &Value, ignore: &[PathSelector]) -> Vec<ValueChange> {
    if ignore.is_empty() {
        return diff_masked(before, after, before, after, ignore);
    }
    let mask = |doc: &Value| {
        let mut doc = doc.clone();
        for sel in ignore {
            sel.for_each_match(&mut doc, &mut |_, v| *v = Value::String(IGNORED.to_owned()));
        }
        doc
    };
    let (a, b) = (mask(before), mask(after));
    diff_masked(&a, &b, before, after, ignore)
}

/// One step of the diff walk: compare two nodes, or emit a change that was found while
/// comparing their parents (kept on the stack so that output stays in document order).
enum Work<'a> {
    Compare(JsonPath, &'a Value, &'a Value),
    Added(JsonPath, &'a Value),
    Removed(JsonPath, &'a Value),
}

/// The diff walk over the masked documents `a` and `b`; `orig_a` and `orig_b` are the
/// unmasked ones, consulted for pair names when deciding whether a path is ignored.
fn diff_masked(
    a: &Value,
    b: &Value,
    orig_a: &Value,
    orig_b: &Value,
    ignore: &[PathSelector],
) -> Vec<ValueChange> {
    let mut changes = Vec::new();
    let mut stack = vec![Work::Compare(JsonPath::new(), a, b)];
    let mut kids = Vec::new();
    while let Some(work) = stack.pop() {
        let (path, x, y) = match work {
            Work::Added(path, v) => {
                if !is_ignored(&path, orig_b, ignore) {
                    changes.push(ValueChange::Added {
                        path: path.to_string(),
                        value: v.clone(),
                    });
                }
                continue;
            }
            Work::Removed(path, v) => {
                if !is_ignored(&path, orig_a, ignore) {
                    changes.push(ValueChange::Removed {
                        path: path.to_string(),
                        value: v.clone(),
                    });
                }
                continue;
            }
            Work::Compare(path, x, y) => (path, x, y),
        };
        // Children in document order; pushed reversed below so they pop in order.
        kids.clear();
        match (x, y) {
            (Value::Object(m), Value::Object(n)) => {
                let keys: BTreeSet<&String> = m.keys().chain(n.keys()).collect();
                for k in keys {
                    let mut p = path.clone();
                    p.push_key(k.as_str());
                    kids.push(match (m.get(k), n.get(k)) {
                        (Some(v), Some(w)) => Work::Compare(p, v, w),
                        (Some(v), None) => Work::Removed(p, v),
                        (None, Some(w)) => Work::Added(p, w),
                        // Unreachable: every key comes from one of the two objects.
                        (None, None) => continue,
                    });
                }
            }
            (Value::Array(m), Value::Array(n)) => {
                for i in 0..m.len().max(n.len()) {
                    let mut p = path.clone();
                    p.push_index(i);
                    kids.push(match (m.get(i), n.get(i)) {
                        (Some(v), Some(w)) => Work::Compare(p, v, w),
                        (Some(v), None) => Work::Removed(p, v),
                        (None, Some(w)) => Work::Added(p, w),
                        (None, None) => continue,
                    });
                }
            }
            _ => {
                // Leaves, or nodes of different kinds: containers never reach `==` here, so
                // the comparison does not recurse.
                let same = match (x, y) {
                    (Value::Null, Value::Null) => true,
                    (Value::Bool(p), Value::Bool(q)) => p == q,
                    (Value::Number(p), Value::Number(q)) => p == q,
                    (Value::String(p), Value::String(q)) => p == q,
                    _ => false,
                };
                if !same && !is_ignored(&path, orig_a, ignore) && !is_ignored(&path, orig_b, ignore)
                {
                    changes.push(ValueChange::Changed {
                        path: path.to_string(),
                        before: x.clone(),
                        after: y.clone(),
                    });
                }
            }
        }
        stack.extend(kids.drain(..).rev());
    }
    changes
}

/// Whether `path` (a node of `doc`) or one of its ancestors is matched by a selector.
fn is_ignored(path: &JsonPath, doc: &Value, ignore: &[PathSelector]) -> bool {
    if ignore.is_empty() {
        return false;
    }
    let mut prefix = JsonPath::new();
    for elem in path {
        prefix.push(elem.clone());
        if ignore.iter().any(|sel| sel.matches_in(doc, &prefix)) {
            return true;
        }
    }
    false
}

/// Selectors for what differs between any two runs of the same code, whatever the SDK
/// version; the text of each is in [`VOLATILE_PATHS`].
pub fn volatile_paths() -> Vec<PathSelector> {
    VOLATILE_PATHS
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect()
}

/// The default ignore list of [`volatile_paths`], as selector text:
///
/// * ids made fresh for every event: `event_id`, and trace, span and profile ids at any depth
///   (`contexts.trace`, spans, the envelope's dynamic sampling context);
/// * clock readings at any depth: `timestamp` and `start_timestamp` (the event's, each
///   breadcrumb's and span's), the envelope's `sent_at`, Relay's `received`;
/// * the host: `server_name`;
/// * the whole trace context `contexts.trace` (ids, plus the thread data sentry-sdk puts in
///   it), and the thread ids and names sentry-sdk records in span data and thread lists.
pub const VOLATILE_PATHS: &[&str] = &[
    "event_id",
    "**.timestamp",
    "**.start_timestamp",
    "sent_at",
    "received",
    "server_name",
    "contexts.trace",
    "contexts.profile.profile_id",
    "**.trace_id",
    "**.span_id",
    "**.parent_span_id",
    "**.profile_id",
    r#"spans.[].data."thread.id""#,
    r#"spans.[].data."thread.name""#,
    "threads.values.[].id",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A sentry-python 2.x error event, as captured from a Flask app.
    fn python_error_event() -> Value {
        json!({
            "event_id": "7c9ae4e0b1b54e8b9b4ad0d0a3b1c5e2",
            "timestamp": "2025-06-01T12:00:00.123456Z",
            "platform": "python",
            "level": "error",
            "server_name": "ci-runner-17",
            "release": "socorro@2025.06.01",
            "environment": "test",
            "exception": {"values": [{
                "type": "ZeroDivisionError",
                "value": "division by zero",
                "module": null,
                "mechanism": {"type": "flask", "handled": false},
                "stacktrace": {"frames": [
                    {
                        "filename": "app.py", "abs_path": "/app/app.py", "function": "index",
                        "module": "app", "lineno": 12, "in_app": true,
                        "pre_context": ["@app.route('/')", "def index():"],
                        "context_line": "    return 1 / 0",
                        "post_context": [],
                        "vars": {"password": "[Filtered]", "n": 0, "items": [1, 2]}
                    },
                    {
                        "filename": "flask/app.py", "abs_path": "/venv/flask/app.py",
                        "function": "dispatch_request", "module": "flask.app", "lineno": 880,
                        "in_app": false, "vars": {"self": "<Flask 'app'>", "req": {"url": "/"}}
                    }
                ]}
            }]},
            "breadcrumbs": {"values": [
                {"type": "default", "category": "query", "message": "SELECT 1",
                 "timestamp": "2025-06-01T11:59:59.000001Z", "level": "info", "data": {}}
            ]},
            "contexts": {
                "trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2",
                          "span_id": "a3f1b2c4d5e6f708", "parent_span_id": null, "op": "http.server"},
                "runtime": {"name": "CPython", "version": "3.12.3"}
            },
            "modules": {"flask": "3.0.3", "sentry-sdk": "2.19.0"},
            "extra": {"sys.argv": ["app.py"]},
            "request": {
                "url": "http://localhost/", "method": "GET",
                "headers": {"Host": "localhost", "User-Agent": "pytest"},
                "env": {"SERVER_NAME": "localhost", "SERVER_PORT": "80"}
            },
            "sdk": {"name": "sentry.python.flask", "version": "2.19.0",
                    "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.0"}],
                    "integrations": ["flask", "logging"]}
        })
    }

    fn kinds(list: &[Kind]) -> BTreeSet<Kind> {
        list.iter().copied().collect()
    }

    fn sels(texts: &[&str]) -> Vec<PathSelector> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn shape_of_a_python_error_event() {
        let event = python_error_event();
        let shape = Shape::of(&event);
        let at = |p: &str| shape.0.get(p).cloned().unwrap_or_default();
        assert_eq!(at(""), kinds(&[Kind::Object]));
        assert_eq!(at("exception.values"), kinds(&[Kind::Array]));
        assert_eq!(
            at("exception.values.[].stacktrace.frames.[].function"),
            kinds(&[Kind::String])
        );
        assert_eq!(at("exception.values.[].module"), kinds(&[Kind::Null]));
        // Both frames' `vars` merge under one path; keys of either appear.
        assert_eq!(
            at("exception.values.[].stacktrace.frames.[].vars.items.[]"),
            kinds(&[Kind::Number])
        );
        assert_eq!(
            at("exception.values.[].stacktrace.frames.[].vars.req.url"),
            kinds(&[Kind::String])
        );
        // An empty array is recorded, its (absent) elements are not.
        assert_eq!(
            at("exception.values.[].stacktrace.frames.[].post_context"),
            kinds(&[Kind::Array])
        );
        // Awkward keys are quoted as JsonPath displays them.
        assert_eq!(at(r#"extra."sys.argv""#), kinds(&[Kind::Array]));
        assert_eq!(at(r#"extra."sys.argv".[]"#), kinds(&[Kind::String]));
        assert_eq!(at("contexts.trace.parent_span_id"), kinds(&[Kind::Null]));
        // No values, no indexes.
        let snapshot = shape.to_snapshot();
        assert!(!snapshot.contains("ZeroDivisionError"));
        assert!(!snapshot.contains("hunter2") && !snapshot.contains("CPython"));
        assert!(!snapshot.contains(".0.") && !snapshot.contains(".1."));
        assert!(
            snapshot
                .contains("  \"exception.values.[].stacktrace.frames.[].lineno\": [\"number\"],\n")
        );
        assert!(snapshot.contains("  \"extra.\\\"sys.argv\\\"\": [\"array\"],\n"));
        // Stable text that round-trips, one path per line plus the braces.
        assert_eq!(snapshot, Shape::of(&python_error_event()).to_snapshot());
        assert_eq!(snapshot.lines().count(), shape.0.len() + 2);
        assert!(snapshot.ends_with("\n}\n"));
        let back = Shape::from_snapshot(&snapshot).unwrap();
        assert_eq!(back, shape);
        assert_eq!(back.to_snapshot(), snapshot);
        // Every shape path is a valid selector.
        for path in shape.0.keys().filter(|p| !p.is_empty()) {
            assert!(path.parse::<PathSelector>().is_ok(), "{path}");
        }
    }

    #[test]
    fn snapshot_text_is_exact_and_independent_of_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, "x", null], "a": {"0": true, "[]": {}}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": {"[]": {}, "0": false}, "b": ["y", 2.5]}"#).unwrap();
        let expected = concat!(
            "{\n",
            "  \"\": [\"object\"],\n",
            "  \"a\": [\"object\"],\n",
            "  \"a.\\\"0\\\"\": [\"bool\"],\n",
            "  \"a.\\\"[]\\\"\": [\"object\"],\n",
            "  \"b\": [\"array\"],\n",
            "  \"b.[]\": [\"null\", \"number\", \"string\"]\n",
            "}\n",
        );
        assert_eq!(Shape::of(&a).to_snapshot(), expected);
        let mut b_shape = Shape::of(&b);
        assert_ne!(b_shape, Shape::of(&a));
        b_shape.merge(&Shape::of(&json!({"b": [null]})));
        assert_eq!(b_shape.to_snapshot(), expected);
        assert_eq!(Shape::default().to_snapshot(), "{}\n");
        assert_eq!(Shape::from_snapshot("{}\n").unwrap(), Shape::default());
        assert_eq!(
            Shape::of(&json!(3)).to_snapshot(),
            "{\n  \"\": [\"number\"]\n}\n"
        );
    }

    #[test]
    fn from_snapshot_rejects_bad_text() {
        for bad in [
            "",
            "[]",
            r#"{"a": "string"}"#,
            r#"{"a": ["str"]}"#,
            r#"{"a": ["String"]}"#,
            r#"{"a": ["string"],}"#,
        ] {
            assert!(
                matches!(Shape::from_snapshot(bad), Err(ShapeError::Json(_))),
                "{bad}"
            );
        }
        let err = Shape::from_snapshot(r#"{"a": []}"#).unwrap_err();
        assert!(matches!(&err, ShapeError::EmptyKinds { path } if path == "a"));
        assert!(err.to_string().contains("\"a\""));
        // Any layout is accepted, and duplicate kinds collapse.
        let loose = Shape::from_snapshot(r#"{"b":["string","null","string"],"a":["object"]}"#);
        assert_eq!(
            loose.unwrap(),
            Shape(BTreeMap::from([
                ("a".to_owned(), kinds(&[Kind::Object])),
                ("b".to_owned(), kinds(&[Kind::Null, Kind::String])),
            ]))
        );
    }

    #[test]
    fn merge_takes_the_union() {
        let mut all = Shape::of(&json!({"a": 1, "list": [{"x": 1}]}));
        all.merge(&Shape::of(
            &json!({"a": "one", "list": [{"y": null}], "b": {}}),
        ));
        assert_eq!(
            all.0,
            BTreeMap::from([
                ("".to_owned(), kinds(&[Kind::Object])),
                ("a".to_owned(), kinds(&[Kind::Number, Kind::String])),
                ("b".to_owned(), kinds(&[Kind::Object])),
                ("list".to_owned(), kinds(&[Kind::Array])),
                ("list.[]".to_owned(), kinds(&[Kind::Object])),
                ("list.[].x".to_owned(), kinds(&[Kind::Number])),
                ("list.[].y".to_owned(), kinds(&[Kind::Null])),
            ])
        );
        let before = all.clone();
        all.merge(&before);
        assert_eq!(all, before);
        all.merge(&Shape::default());
        assert_eq!(all, before);
    }

    #[test]
    fn diff_shapes_sees_what_an_sdk_upgrade_changed() {
        let old = python_error_event();
        let mut new = python_error_event();
        // The upgrade adds the interpreter build, drops `modules`, and sends the line number
        // as a string.
        new["contexts"]["runtime"]["build"] = json!("3.12.3 (main, Apr  9 2024, 08:09:14)");
        new.as_object_mut().unwrap().remove("modules");
        for frame in new["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array_mut()
            .unwrap()
        {
            frame["lineno"] = json!(frame["lineno"].to_string());
        }
        let changes = diff_shapes(&Shape::of(&old), &Shape::of(&new));
        assert_eq!(
            changes,
            vec![
                ShapeChange::Added {
                    path: "contexts.runtime.build".into(),
                    kinds: vec![Kind::String],
                },
                ShapeChange::KindChanged {
                    path: "exception.values.[].stacktrace.frames.[].lineno".into(),
                    before: vec![Kind::Number],
                    after: vec![Kind::String],
                },
                ShapeChange::Removed {
                    path: "modules".into(),
                    kinds: vec![Kind::Object],
                },
                ShapeChange::Removed {
                    path: "modules.flask".into(),
                    kinds: vec![Kind::String],
                },
                ShapeChange::Removed {
                    path: "modules.sentry-sdk".into(),
                    kinds: vec![Kind::String],
                },
            ]
        );
        let paths: Vec<&str> = changes.iter().map(ShapeChange::path).collect();
        assert!(paths.is_sorted());
        // Values alone never show up in a shape diff.
        let mut other_values = python_error_event();
        other_values["exception"]["values"][0]["value"] = json!("something else");
        other_values["contexts"]["runtime"]["version"] = json!("3.13.0");
        assert!(diff_shapes(&Shape::of(&old), &Shape::of(&other_values)).is_empty());
        // Serialized for a report.
        assert_eq!(
            serde_json::to_value(&changes[1]).unwrap(),
            json!({"change": "kind_changed",
                   "path": "exception.values.[].stacktrace.frames.[].lineno",
                   "before": ["number"], "after": ["string"]})
        );
        assert_eq!(
            serde_json::to_value(&changes[0]).unwrap(),
            json!({"change": "added", "path": "contexts.runtime.build", "kinds": ["string"]})
        );
    }

    #[test]
    fn diff_values_ignores_volatile_paths_only() {
        let a = python_error_event();
        let mut b = python_error_event();
        b["event_id"] = json!("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        b["timestamp"] = json!("2025-06-02T08:30:00.5Z");
        b["server_name"] = json!("ci-runner-3");
        b["breadcrumbs"]["values"][0]["timestamp"] = json!(1717315800.25);
        b["contexts"]["trace"] = json!({"trace_id": "f".repeat(32), "span_id": "e".repeat(16),
                                         "op": "http.server", "data": {"thread.id": "140"}});
        b["sent_at"] = json!("2025-06-02T08:30:01Z");
        let volatile = volatile_paths();
        assert!(diff_values(&a, &b, &volatile).is_empty());
        assert!(!diff_values(&a, &b, &[]).is_empty());

        // Real changes still show, in document order with keys sorted.
        b["contexts"]["runtime"]["build"] = json!("3.12.3 (main)");
        b["exception"]["values"][0]["stacktrace"]["frames"][0]["lineno"] = json!("12");
        b["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"]
            .as_object_mut()
            .unwrap()
            .remove("req");
        b["breadcrumbs"]["values"]
            .as_array_mut()
            .unwrap()
            .push(json!({"message": "second", "timestamp": 5}));
        b["modules"]["flask"] = json!("3.1.0");
        let changes = diff_values(&a, &b, &volatile);
        assert_eq!(
            changes,
            vec![
                ValueChange::Added {
                    path: "breadcrumbs.values.1".into(),
                    value: json!({"message": "second", "timestamp": IGNORED}),
                },
                ValueChange::Added {
                    path: "contexts.runtime.build".into(),
                    value: json!("3.12.3 (main)"),
                },
                ValueChange::Changed {
                    path: "exception.values.0.stacktrace.frames.0.lineno".into(),
                    before: json!(12),
                    after: json!("12"),
                },
                ValueChange::Removed {
                    path: "exception.values.0.stacktrace.frames.1.vars.req".into(),
                    value: json!({"url": "/"}),
                },
                ValueChange::Changed {
                    path: "modules.flask".into(),
                    before: json!("3.0.3"),
                    after: json!("3.1.0"),
                },
            ]
        );
        assert_eq!(
            serde_json::to_value(&changes[2]).unwrap(),
            json!({"change": "changed", "path": "exception.values.0.stacktrace.frames.0.lineno",
                   "before": 12, "after": "12"})
        );
    }

    #[test]
    fn diff_values_arrays_kinds_and_ignores() {
        let a = json!({"list": [1, 2, 3], "x": {"y": 1}, "n": 1, "k": {"0": 1}});
        let b = json!({"list": [1, 5], "x": [1], "n": 1.0, "k": {"0": 2}});
        assert_eq!(
            diff_values(&a, &b, &[]),
            vec![
                ValueChange::Changed {
                    path: r#"k."0""#.into(),
                    before: json!(1),
                    after: json!(2),
                },
                ValueChange::Changed {
                    path: "list.1".into(),
                    before: json!(2),
                    after: json!(5),
                },
                ValueChange::Removed {
                    path: "list.2".into(),
                    value: json!(3),
                },
                ValueChange::Changed {
                    path: "n".into(),
                    before: json!(1),
                    after: json!(1.0),
                },
                ValueChange::Changed {
                    path: "x".into(),
                    before: json!({"y": 1}),
                    after: json!([1]),
                },
            ]
        );
        // Ignoring a path also ignores everything below it, and a kind change at it.
        let changes = diff_values(&a, &b, &sels(&["list", "x", "n", "k.*"]));
        assert!(changes.is_empty(), "{changes:?}");
        // Ignored keys present on one side only are skipped too.
        let changes = diff_values(
            &json!({"a": 1}),
            &json!({"a": 1, "sent_at": "now"}),
            &volatile_paths(),
        );
        assert!(changes.is_empty());
        // Whole-document kind change.
        assert_eq!(
            diff_values(&json!([]), &json!({}), &[]),
            vec![ValueChange::Changed {
                path: String::new(),
                before: json!([]),
                after: json!({}),
            }]
        );
        // Header pairs: an ignored header's value is masked, a new header still shows.
        let a = json!({"request": {"headers": [["Host", "x"], ["Authorization", "Bearer 1"]]}});
        let b = json!({"request": {"headers": [["Host", "x"], ["Authorization", "Bearer 2"],
                                              ["Authorization", "Bearer 3"]]}});
        let ignore = sels(&["request.headers.authorization"]);
        assert_eq!(
            diff_values(&a, &b, &ignore),
            vec![ValueChange::Added {
                path: "request.headers.2".into(),
                value: json!(["Authorization", IGNORED]),
            }]
        );
    }

    #[test]
    fn volatile_paths_all_parse() {
        assert_eq!(volatile_paths().len(), VOLATILE_PATHS.len());
        let sel = volatile_paths();
        let hit = |p: &[PathElem]| sel.iter().any(|s| s.matches(&JsonPath(p.to_vec())));
        let k = |s: &str| PathElem::Key(s.to_owned());
        assert!(hit(&[k("event_id")]));
        assert!(hit(&[k("timestamp")]));
        assert!(hit(&[k("spans"), PathElem::Index(3), k("span_id")]));
        assert!(hit(&[k("contexts"), k("trace")]));
        assert!(!hit(&[k("contexts"), k("runtime")]));
        assert!(!hit(&[k("exception")]));
    }

    // ----- properties -----

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(
                &[
                    "a",
                    "b",
                    "0",
                    "[]",
                    "x.y",
                    "",
                    "timestamp",
                    "event_id",
                    "\"",
                    "é"
                ][..]
            )
            .prop_map(str::to_owned),
            any::<String>(),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..5).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(&["", "a", "12"][..]).prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(arb_key(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_shape() -> impl Strategy<Value = Shape> {
        let kind = prop::sample::select(
            &[
                Kind::Null,
                Kind::Bool,
                Kind::Number,
                Kind::String,
                Kind::Array,
                Kind::Object,
            ][..],
        );
        prop::collection::btree_map(arb_key(), prop::collection::btree_set(kind, 1..4), 0..8)
            .prop_map(Shape)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn diff_of_a_value_with_itself_is_empty(a in arb_json()) {
            prop_assert!(diff_values(&a, &a, &[]).is_empty());
            prop_assert!(diff_values(&a, &a, &volatile_paths()).is_empty());
            prop_assert!(diff_shapes(&Shape::of(&a), &Shape::of(&a)).is_empty());
        }

        #[test]
        fn diff_values_is_empty_exactly_when_equal(a in arb_json(), b in arb_json()) {
            let changes = diff_values(&a, &b, &[]);
            prop_assert_eq!(changes.is_empty(), a == b);
            // Every path is reported once.
            for (i, c) in changes.iter().enumerate() {
                for d in &changes[..i] {
                    prop_assert!(c.path() != d.path());
                }
            }
            // The reverse diff has as many changes.
            let back = diff_values(&b, &a, &[]);
            prop_assert_eq!(back.len(), changes.len());
            let _ = diff_values(&a, &b, &volatile_paths());
        }

        #[test]
        fn diff_shapes_is_antisymmetric(a in arb_json(), b in arb_json()) {
            let (sa, sb) = (Shape::of(&a), Shape::of(&b));
            let fwd = diff_shapes(&sa, &sb);
            let back = diff_shapes(&sb, &sa);
            prop_assert_eq!(fwd.len(), back.len());
            for (f, r) in fwd.iter().zip(&back) {
                let mirrored = match f.clone() {
                    ShapeChange::Added { path, kinds } => ShapeChange::Removed { path, kinds },
                    ShapeChange::Removed { path, kinds } => ShapeChange::Added { path, kinds },
                    ShapeChange::KindChanged { path, before, after } =>
                        ShapeChange::KindChanged { path, before: after, after: before },
                };
                prop_assert_eq!(&mirrored, r);
            }
            let paths: Vec<&str> = fwd.iter().map(ShapeChange::path).collect();
            prop_assert!(paths.is_sorted());
            // Merging covers both, so nothing is removed relative to either.
            let mut both = sa.clone();
            both.merge(&sb);
            for c in diff_shapes(&sa, &both) {
                let is_removed = matches!(c, ShapeChange::Removed { .. });
                prop_assert!(!is_removed);
            }
        }

        #[test]
        fn snapshots_round_trip(s in arb_shape(), a in arb_json()) {
            let text = s.to_snapshot();
            prop_assert_eq!(Shape::from_snapshot(&text).ok(), Some(s.clone()));
            let of = Shape::of(&a);
            let text = of.to_snapshot();
            prop_assert_eq!(Shape::from_snapshot(&text).ok(), Some(of.clone()));
            prop_assert_eq!(text.lines().count(), if of.0.is_empty() { 1 } else { of.0.len() + 2 });
        }

        #[test]
        fn from_snapshot_never_panics(text in any::<String>()) {
            let _ = Shape::from_snapshot(&text);
        }
    }
}
