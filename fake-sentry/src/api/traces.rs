//! The trace API: `GET /api/traces/` lists the traces seen (from the index `store::traces`
//! keeps, reading no payload), `GET /api/traces/{trace_id}` answers one trace as a tree of its
//! transactions and spans from every project and service, with errors and log entries pinned
//! to the span they happened in.
//!
//! The tree is built by [`trace_tree`], a plain function on a connection: each transaction's
//! root span (`contexts.trace.span_id`) is a node, its spans nest under it by
//! `parent_span_id`, and a transaction called from another service nests under the calling
//! span. Nodes whose parent was not seen are roots, marked `orphan`. Everything is bounded: at
//! most `--max-trace-spans` spans and as many log entries, nesting at most [`MAX_DEPTH`] deep
//! (deeper nodes are roots of their own, marked `detached`), every payload checked against
//! `--max-json-depth` before it is parsed, and no recursion over what a sender chose.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{AppRef, query};
use crate::error::ApiError;
use crate::item::{normalize_span_id, normalize_trace_id, parse_timestamp};
use crate::store::{self, TraceFilter, TraceItem};

/// Deepest a trace tree nests; a span deeper than this is a root of its own (`detached`). Each
/// level is two levels of JSON (the node and its `children`), so an answer nests at most 124
/// deep, within the 128 that serde_json (and many other parsers) read by default.
pub const MAX_DEPTH: usize = 60;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TracePage {
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

/// `GET /api/traces/`: the traces seen, newest first, paged by `cursor`.
pub(super) async fn list(State(state): AppRef, uri: Uri) -> Result<axum::Json<Value>, ApiError> {
    let filter: TraceFilter = query(&uri)?;
    let page: TracePage = query(&uri)?;
    if let Some(items) = filter.item_filter() {
        items.to_sql()?;
    }
    let limit = page
        .limit
        .unwrap_or(100)
        .clamp(1, state.config.api_max_page);
    let before = page.cursor;
    let mut traces = state
        .store
        .read(move |conn| store::list_traces(conn, &filter, before, limit + 1))
        .await?;
    let next_cursor = (traces.len() > limit).then(|| {
        traces.truncate(limit);
        traces.last().map(|t| t.last_seq.to_string())
    });
    Ok(axum::Json(
        json!({"traces": traces, "next_cursor": next_cursor.flatten()}),
    ))
}

/// `GET /api/traces/{trace_id}`: the whole trace as one tree.
pub(super) async fn detail(
    State(state): AppRef,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let trace_id = normalize_trace_id(id.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!("invalid trace id {id:?}: expected 32 hex digits"))
    })?;
    let limits = TreeLimits {
        max_spans: state.config.max_trace_spans,
        max_json_depth: state.config.limits.max_json_depth,
    };
    let lookup = trace_id.clone();
    let tree = state
        .store
        .read(move |conn| trace_tree(conn, &lookup, limits))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Trace {trace_id} not found")))?;
    Ok(axum::Json(tree).into_response())
}

/// What bounds a trace tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeLimits {
    /// Most spans nested, and most log entries pinned (`--max-trace-spans`).
    pub max_spans: usize,
    /// Deepest JSON parsed (`--max-json-depth`).
    pub max_json_depth: usize,
}

/// One span of the tree (a transaction's root span, or a span).
#[derive(Debug, Clone)]
pub struct Node {
    /// `transaction` or `span`.
    pub kind: &'static str,
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
    pub op: Option<String>,
    pub description: Option<String>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub status: Option<String>,
    /// The item it came in (an index into [`TraceLayout::items`]).
    pub item: usize,
    /// Errors pinned on it (as the API answers them), by time.
    pub errors: Vec<Value>,
    /// Log entries pinned on it, by time.
    pub logs: Vec<Value>,
}

/// A trace laid out: its nodes, how they nest, and what could not be pinned. What
/// [`trace_tree`] answers as JSON and the UI's waterfall lays out, built once by
/// [`trace_layout`].
#[derive(Debug, Clone)]
pub struct TraceLayout {
    pub trace_id: String,
    pub summary: store::TraceSummary,
    pub items: Vec<TraceItem>,
    pub nodes: Vec<Node>,
    /// Each node's children (detached ones excluded: they are roots), by start.
    pub children: Vec<Vec<usize>>,
    /// The roots, by start.
    pub roots: Vec<usize>,
    /// Every node once, depth first from the roots, with its depth.
    pub order: Vec<(usize, usize)>,
    /// Nodes whose parent was not seen (or hangs in a cycle).
    pub orphan: Vec<bool>,
    /// Nodes nested deeper than [`MAX_DEPTH`], made roots.
    pub detached: Vec<bool>,
    pub unpinned_errors: Vec<Value>,
    pub unpinned_logs: Vec<Value>,
    pub profiles: Vec<Value>,
    pub replays: Vec<Value>,
    pub others: Vec<Value>,
    pub truncated: bool,
    pub spans_returned: usize,
    pub spans_total: usize,
    pub logs_total: usize,
    pub max_spans: usize,
}

/// Trace `trace_id` (normalised) as a tree, `None` when no item names it.
pub fn trace_tree(
    conn: &Connection,
    trace_id: &str,
    limits: TreeLimits,
) -> rusqlite::Result<Option<Value>> {
    Ok(trace_layout(conn, trace_id, limits)?.map(TraceLayout::into_json))
}

/// Trace `trace_id` (normalised) laid out, `None` when no item names it.
pub fn trace_layout(
    conn: &Connection,
    trace_id: &str,
    limits: TreeLimits,
) -> rusqlite::Result<Option<TraceLayout>> {
    let items = store::trace_items(conn, trace_id)?;
    if items.is_empty() {
        return Ok(None);
    }
    let summary = store::summarize_trace(trace_id, &items);
    let mut tree = Tree {
        trace_id,
        limits,
        nodes: Vec::new(),
        spans_total: 0,
        logs: Vec::new(),
        logs_total: 0,
    };
    let mut errors = Vec::new();
    let (mut profiles, mut replays, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for (at, item) in items.iter().enumerate() {
        match item.item_type.as_str() {
            "transaction" | "span" | "log" if item.is_json => {
                if let Some(body) = read_json(conn, item, limits.max_json_depth)? {
                    match item.item_type.as_str() {
                        "transaction" => tree.add_transaction(at, item, &body),
                        "span" => tree.add_spans(at, &body),
                        _ => tree.add_logs(item, &body),
                    }
                }
            }
            "event" => errors.push(error_json(item)),
            "profile" | "profile_chunk" => profiles.push(item_ref(item)),
            "replay_event" => replays.push(item_ref(item)),
            _ => others.push(item_ref(item)),
        }
    }
    let root_span = store::root_of(&items).and_then(|r| r.link.span_id.clone());
    let spans_returned = tree.nodes.len();
    let (spans_total, logs_total) = (tree.spans_total, tree.logs_total);
    let mut layout = tree.assemble(errors, root_span.as_deref());
    layout.trace_id = trace_id.to_string();
    layout.summary = summary;
    layout.items = items;
    layout.profiles = profiles;
    layout.replays = replays;
    layout.others = others;
    layout.truncated = spans_returned < spans_total || logs_total > limits.max_spans;
    layout.spans_returned = spans_returned;
    layout.spans_total = spans_total;
    layout.logs_total = logs_total;
    layout.max_spans = limits.max_spans;
    Ok(Some(layout))
}

impl TraceLayout {
    /// The answer of `GET /api/traces/{trace_id}`: the nodes nested under their parents.
    pub fn into_json(self) -> Value {
        let count = self.nodes.len();
        // Children before parents (the reverse of depth first): each node's value takes its
        // children's, moved rather than copied.
        let mut built: Vec<Option<Value>> = vec![None; count];
        let mut nodes: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        for &(at, _) in self.order.iter().rev() {
            let Some(node) = nodes[at].take() else {
                continue;
            };
            let kids: Vec<Value> = self.children[at]
                .iter()
                .filter_map(|c| built[*c].take())
                .collect();
            built[at] = Some(node_json(
                node,
                &self.items,
                kids,
                self.orphan[at],
                self.detached[at],
            ));
        }
        let spans: Vec<Value> = self.roots.iter().filter_map(|r| built[*r].take()).collect();
        let mut answer = json!({
            "trace_id": self.trace_id,
            "summary": self.summary,
            "unpinned": {"errors": self.unpinned_errors, "logs": self.unpinned_logs},
            "profiles": self.profiles,
            "replays": self.replays,
            "other_items": self.others,
            "truncated": self.truncated,
            "spans_returned": self.spans_returned,
            "spans_total": self.spans_total,
            "logs_total": self.logs_total,
            "max_spans": self.max_spans,
        });
        // Moved in: `json!` would deep-copy the whole tree.
        answer["spans"] = Value::Array(spans);
        answer
    }
}

/// An item's payload as a JSON object, when it is one within the depth limit.
fn read_json(
    conn: &Connection,
    item: &TraceItem,
    max_depth: usize,
) -> rusqlite::Result<Option<Map<String, Value>>> {
    let Some(payload) = store::item_payload(conn, item.seq)? else {
        return Ok(None);
    };
    if sentry_envelope::check_json_depth(&payload, max_depth).is_err() {
        return Ok(None);
    }
    Ok(serde_json::from_slice::<Value>(&payload)
        .ok()
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        }))
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn time(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key)
        .and_then(parse_timestamp)
        .filter(|t| t.is_finite())
}

fn span_id(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(normalize_span_id)
}

/// A span (v2) attribute's value: `{"value": ..., "type": ...}` or the value itself.
fn attribute<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let value = map.get("attributes")?.as_object()?.get(key)?;
    Some(value.get("value").unwrap_or(value))
}

fn timestamp_json(secs: Option<f64>) -> Value {
    json!(secs.map(store::format_timestamp))
}

fn item_ref(item: &TraceItem) -> Value {
    json!({
        "item_id": item.id,
        "type": item.item_type,
        "event_id": item.event_id,
        "project_id": item.project_id,
        "timestamp": timestamp_json(item.timestamp),
    })
}

fn error_json(item: &TraceItem) -> Value {
    json!({
        "item_id": item.id,
        "event_id": item.event_id,
        "project_id": item.project_id,
        "level": item.level,
        "title": item.summary,
        "timestamp": timestamp_json(item.timestamp),
        "timestamp_secs": item.timestamp,
        "span_id": item.link.span_id,
    })
}

struct Tree<'a> {
    trace_id: &'a str,
    limits: TreeLimits,
    nodes: Vec<Node>,
    /// Spans seen, including those past the limit.
    spans_total: usize,
    /// Log entries (with their span id) to pin.
    logs: Vec<(Option<String>, Value)>,
    logs_total: usize,
}

impl Tree<'_> {
    fn push(&mut self, node: Node) {
        self.spans_total += 1;
        if self.nodes.len() < self.limits.max_spans {
            self.nodes.push(node);
        }
    }

    fn add_transaction(&mut self, at: usize, item: &TraceItem, body: &Map<String, Value>) {
        let trace = body
            .get("contexts")
            .and_then(|c| c.get("trace"))
            .and_then(Value::as_object);
        let root_span = item.link.span_id.clone();
        self.push(Node {
            kind: "transaction",
            span_id: root_span.clone(),
            parent_span_id: item.link.parent_span_id.clone(),
            op: item.link.op.clone(),
            description: item.link.name.clone(),
            start: time(body, "start_timestamp"),
            end: time(body, "timestamp"),
            status: trace.and_then(|t| text(t, "status")),
            item: at,
            errors: Vec::new(),
            logs: Vec::new(),
        });
        let spans = body.get("spans").and_then(Value::as_array);
        for span in spans.into_iter().flatten().filter_map(Value::as_object) {
            self.push(Node {
                kind: "span",
                span_id: span_id(span, "span_id"),
                parent_span_id: span_id(span, "parent_span_id").or_else(|| root_span.clone()),
                op: text(span, "op"),
                description: text(span, "description"),
                start: time(span, "start_timestamp"),
                end: time(span, "timestamp"),
                status: text(span, "status"),
                item: at,
                errors: Vec::new(),
                logs: Vec::new(),
            });
        }
    }

    /// A span (v2) container's spans of this trace, or a lone span.
    fn add_spans(&mut self, at: usize, body: &Map<String, Value>) {
        let lone = [body];
        let entries: Vec<&Map<String, Value>> = match body.get("items").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(Value::as_object).collect(),
            None => lone.to_vec(),
        };
        for span in entries {
            let in_trace = span
                .get("trace_id")
                .and_then(Value::as_str)
                .and_then(normalize_trace_id)
                .is_some_and(|id| id == self.trace_id);
            if !in_trace {
                continue;
            }
            self.push(Node {
                kind: "span",
                span_id: span_id(span, "span_id"),
                parent_span_id: span_id(span, "parent_span_id"),
                op: text(span, "op").or_else(|| {
                    attribute(span, "sentry.op")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
                description: text(span, "name").or_else(|| text(span, "description")),
                start: time(span, "start_timestamp"),
                end: time(span, "end_timestamp").or_else(|| time(span, "timestamp")),
                status: text(span, "status"),
                item: at,
                errors: Vec::new(),
                logs: Vec::new(),
            });
        }
    }

    /// A log container's entries of this trace.
    fn add_logs(&mut self, item: &TraceItem, body: &Map<String, Value>) {
        let entries = body.get("items").and_then(Value::as_array);
        for entry in entries.into_iter().flatten().filter_map(Value::as_object) {
            let in_trace = entry
                .get("trace_id")
                .and_then(Value::as_str)
                .and_then(normalize_trace_id)
                .is_some_and(|id| id == self.trace_id);
            if !in_trace {
                continue;
            }
            self.logs_total += 1;
            if self.logs.len() >= self.limits.max_spans {
                continue;
            }
            let span = span_id(entry, "span_id").or_else(|| {
                attribute(entry, "sentry.trace.parent_span_id")
                    .and_then(Value::as_str)
                    .and_then(normalize_span_id)
            });
            let timestamp = time(entry, "timestamp");
            self.logs.push((
                span.clone(),
                json!({
                    "item_id": item.id,
                    "project_id": item.project_id,
                    "level": text(entry, "level"),
                    "body": text(entry, "body"),
                    "timestamp": timestamp_json(timestamp),
                    "timestamp_secs": timestamp,
                    "span_id": span,
                }),
            ));
        }
    }

    /// Pins errors and logs, nests the nodes and builds the answer's `spans` (and what could
    /// not be pinned), without recursion.
    fn assemble(mut self, errors: Vec<Value>, root_span: Option<&str>) -> TraceLayout {
        let mut by_span: HashMap<&str, usize> = HashMap::new();
        for (at, node) in self.nodes.iter().enumerate() {
            if let Some(id) = &node.span_id {
                by_span.entry(id.as_str()).or_insert(at);
            }
        }
        let by_span: HashMap<String, usize> = by_span
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let root_node = root_span.and_then(|id| by_span.get(id).copied());
        let pin = |span: Option<&str>| {
            span.and_then(|id| by_span.get(id).copied())
                .map(|at| (at, true))
                .or(root_node.map(|at| (at, false)))
        };
        let (mut unpinned_errors, mut unpinned_logs) = (Vec::new(), Vec::new());
        for mut error in errors {
            let span = error["span_id"].as_str().map(str::to_string);
            match pin(span.as_deref()) {
                Some((at, found)) => {
                    error["span_found"] = json!(found);
                    self.nodes[at].errors.push(error);
                }
                None => unpinned_errors.push(error),
            }
        }
        for (span, mut log) in std::mem::take(&mut self.logs) {
            match pin(span.as_deref()) {
                Some((at, found)) => {
                    log["span_found"] = json!(found);
                    self.nodes[at].logs.push(log);
                }
                None => unpinned_logs.push(log),
            }
        }

        // Parents, then children sorted by start.
        let count = self.nodes.len();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut roots = Vec::new();
        let mut orphan = vec![false; count];
        for (at, node) in self.nodes.iter().enumerate() {
            let parent = node
                .parent_span_id
                .as_deref()
                .and_then(|p| by_span.get(p).copied())
                .filter(|p| *p != at);
            match parent {
                Some(p) => children[p].push(at),
                None => {
                    orphan[at] = node.parent_span_id.is_some();
                    roots.push(at);
                }
            }
        }
        let start_key = |at: &usize| self.nodes[*at].start.unwrap_or(f64::INFINITY);
        let by_start = |a: &usize, b: &usize| start_key(a).total_cmp(&start_key(b)).then(a.cmp(b));
        for list in &mut children {
            list.sort_by(by_start);
        }

        // Breadth first from the roots; what is left unvisited hangs in a cycle and becomes a
        // root, and a node past `MAX_DEPTH` is detached into a root of its own.
        let mut tree_parent: Vec<Option<usize>> = vec![None; count];
        let mut visited = vec![false; count];
        let mut detached = vec![false; count];
        let mut queue = std::collections::VecDeque::new();
        let mut next_unvisited = 0;
        let mut pending_roots = roots.clone();
        loop {
            for root in pending_roots.drain(..) {
                if !visited[root] {
                    visited[root] = true;
                    queue.push_back((root, 0usize));
                }
            }
            while let Some((at, depth)) = queue.pop_front() {
                for &child in &children[at] {
                    if visited[child] {
                        continue;
                    }
                    visited[child] = true;
                    tree_parent[child] = Some(at);
                    if depth + 1 >= MAX_DEPTH {
                        detached[child] = true;
                        roots.push(child);
                        queue.push_back((child, 0));
                    } else {
                        queue.push_back((child, depth + 1));
                    }
                }
            }
            while next_unvisited < count && visited[next_unvisited] {
                next_unvisited += 1;
            }
            if next_unvisited == count {
                break;
            }
            orphan[next_unvisited] = true;
            roots.push(next_unvisited);
            pending_roots.push(next_unvisited);
        }

        // Only the edges the walk took: no detached node, no cycle back to a root.
        for (at, list) in children.iter_mut().enumerate() {
            list.retain(|c| !detached[*c] && tree_parent[*c] == Some(at));
        }
        let start_key = |at: &usize| self.nodes[*at].start.unwrap_or(f64::INFINITY);
        roots.sort_by(|a, b| start_key(a).total_cmp(&start_key(b)).then(a.cmp(b)));
        // Depth first, for the waterfall (and, reversed, children before parents).
        let mut dfs = Vec::with_capacity(count);
        let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|r| (*r, 0)).collect();
        while let Some((at, depth)) = stack.pop() {
            dfs.push((at, depth));
            stack.extend(children[at].iter().rev().map(|c| (*c, depth + 1)));
        }
        let secs = |v: &Value| v["timestamp_secs"].as_f64().unwrap_or(f64::INFINITY);
        for node in &mut self.nodes {
            node.errors.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
            node.logs.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
        }
        TraceLayout {
            trace_id: String::new(),
            summary: store::summarize_trace("", &[]),
            items: Vec::new(),
            nodes: self.nodes,
            children,
            roots,
            order: dfs,
            orphan,
            detached,
            unpinned_errors,
            unpinned_logs,
            profiles: Vec::new(),
            replays: Vec::new(),
            others: Vec::new(),
            truncated: false,
            spans_returned: 0,
            spans_total: 0,
            logs_total: 0,
            max_spans: 0,
        }
    }
}

fn node_json(
    node: Node,
    items: &[TraceItem],
    children: Vec<Value>,
    orphan: bool,
    detached: bool,
) -> Value {
    let item = &items[node.item];
    let (errors, logs) = (node.errors, node.logs);
    let mut value = json!({
        "kind": node.kind,
        "span_id": node.span_id,
        "parent_span_id": node.parent_span_id,
        "op": node.op,
        "description": node.description,
        "status": node.status,
        "start_timestamp": timestamp_json(node.start),
        "timestamp": timestamp_json(node.end),
        "start_timestamp_secs": node.start,
        "timestamp_secs": node.end,
        "duration_ms": store::duration_ms(node.start, node.end),
        "project_id": item.project_id,
        "service": {
            "sdk": item.sdk.as_ref().map(|s| s.name.as_str()),
            "sdk_version": item.sdk.as_ref().and_then(|s| s.version.as_deref()),
            "release": item.release,
            "environment": item.environment,
        },
        "item_id": item.id,
        "event_id": item.event_id,
        "orphan": orphan,
        "detached": detached,
    });
    // Moved in, not through `json!`: it would serialise (deep-copy) each subtree once per
    // ancestor, which made a 10,000-span trace take seconds.
    if let Value::Object(map) = &mut value {
        map.insert("errors".into(), Value::Array(errors));
        map.insert("logs".into(), Value::Array(logs));
        map.insert("children".into(), Value::Array(children));
    }
    value
}

/// For the router: the trace routes.
pub(super) fn routes() -> axum::Router<Arc<crate::server::AppState>> {
    axum::Router::new()
        .route("/api/traces/", axum::routing::get(list))
        .route("/api/traces/{trace_id}", axum::routing::get(detail))
}
