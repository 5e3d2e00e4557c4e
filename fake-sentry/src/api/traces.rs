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
struct Node {
    kind: &'static str,
    span_id: Option<String>,
    parent_span_id: Option<String>,
    op: Option<String>,
    description: Option<String>,
    start: Option<f64>,
    end: Option<f64>,
    status: Option<String>,
    /// The item it came in.
    item: usize,
    errors: Vec<Value>,
    logs: Vec<Value>,
}

/// Trace `trace_id` (normalised) as a tree, `None` when no item names it.
pub fn trace_tree(
    conn: &Connection,
    trace_id: &str,
    limits: TreeLimits,
) -> rusqlite::Result<Option<Value>> {
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
    let (spans, unpinned_errors, unpinned_logs) =
        tree.assemble(&items, errors, root_span.as_deref());
    Ok(Some(json!({
        "trace_id": trace_id,
        "summary": summary,
        "spans": spans,
        "unpinned": {"errors": unpinned_errors, "logs": unpinned_logs},
        "profiles": profiles,
        "replays": replays,
        "other_items": others,
        "truncated": spans_returned < spans_total || logs_total > limits.max_spans,
        "spans_returned": spans_returned,
        "spans_total": spans_total,
        "logs_total": logs_total,
        "max_spans": limits.max_spans,
    })))
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
    fn assemble(
        mut self,
        items: &[TraceItem],
        errors: Vec<Value>,
        root_span: Option<&str>,
    ) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
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
        let mut order = Vec::with_capacity(count);
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
                order.push(at);
                for &child in &children[at] {
                    if visited[child] {
                        continue;
                    }
                    visited[child] = true;
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

        // Children before parents: each node's value takes its children's.
        let mut built: Vec<Option<Value>> = vec![None; count];
        let mut nodes: Vec<Option<Node>> = self.nodes.into_iter().map(Some).collect();
        for &at in order.iter().rev() {
            let Some(node) = nodes[at].take() else {
                continue;
            };
            let kids: Vec<Value> = children[at]
                .iter()
                .filter(|c| !detached[**c])
                .filter_map(|c| built[*c].take())
                .collect();
            built[at] = Some(node_json(node, items, kids, orphan[at], detached[at]));
        }
        roots.sort_by(|a, b| {
            let key = |at: &usize| {
                built[*at]
                    .as_ref()
                    .and_then(|v| v["start_timestamp_secs"].as_f64())
                    .unwrap_or(f64::INFINITY)
            };
            key(a).total_cmp(&key(b)).then(a.cmp(b))
        });
        let spans = roots.iter().filter_map(|r| built[*r].take()).collect();
        (spans, unpinned_errors, unpinned_logs)
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
    let mut errors = node.errors;
    let mut logs = node.logs;
    let secs = |v: &Value| v["timestamp_secs"].as_f64().unwrap_or(f64::INFINITY);
    errors.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
    logs.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
    json!({
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
        "errors": errors,
        "logs": logs,
        "children": children,
    })
}

/// For the router: the trace routes.
pub(super) fn routes() -> axum::Router<Arc<crate::server::AppState>> {
    axum::Router::new()
        .route("/api/traces/", axum::routing::get(list))
        .route("/api/traces/{trace_id}", axum::routing::get(detail))
}
