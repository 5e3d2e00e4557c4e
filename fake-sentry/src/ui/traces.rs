//! The trace pages. `/traces` lists the traces seen (from `store::list_traces`, the function
//! behind `GET /api/traces/`), with the list's filters, cursor pages and live updates
//! (`static/app.js` listens to `/api/items/stream/` and, when anything arrives, fetches the
//! page again and swaps its rows). `/traces/{trace_id}` lays out one trace as a waterfall from
//! `crate::api::trace_layout`, the function behind `GET /api/traces/{trace_id}`: one pass
//! over its nodes makes the rows, the template writes them.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::limits::UiLimits;
use super::query_string::{PageLinks, encode, non_empty, number, page_limit, pairs, parse};
use super::text::{short_time, truncate};
use super::{UiError, render};
use crate::api::{TraceLayout, TreeLimits, trace_layout};
use crate::item::normalize_trace_id;
use crate::server::AppState;
use crate::store::{self, TraceFilter, TraceRoot, TraceService, TraceSummary};

/// How many service colours the stylesheet has (`.svc-0` to `.svc-7`).
const COLOURS: usize = 8;

/// The trace list's query string; text fields because a form sends empty ones as "any".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TraceListQuery {
    pub project: String,
    pub sdk: String,
    pub release: String,
    pub environment: String,
    pub q: String,
    /// `with` or `without`; empty for any.
    pub errors: String,
    pub since: String,
    pub until: String,
    /// The cursor: traces whose newest item is older than this sequence number.
    pub before: String,
    pub limit: String,
}

impl TraceListQuery {
    /// The store filter these fields describe.
    pub fn filter(&self) -> Result<TraceFilter, UiError> {
        let filter = TraceFilter {
            project: number("project", &self.project)?,
            sdk: non_empty(&self.sdk),
            release: non_empty(&self.release),
            environment: non_empty(&self.environment),
            since: non_empty(&self.since),
            until: non_empty(&self.until),
            q: non_empty(&self.q),
            has_errors: match self.errors.trim() {
                "" | "any" => None,
                "with" | "true" => Some(true),
                "without" | "false" => Some(false),
                other => {
                    return Err(UiError::BadRequest(format!(
                        "errors must be with or without, not {other:?}"
                    )));
                }
            },
        };
        if let Some(items) = filter.item_filter() {
            items.to_sql()?;
        }
        Ok(filter)
    }

    fn limit(&self, limits: &UiLimits) -> Result<usize, UiError> {
        page_limit(&self.limit, limits)
    }

    /// The non-empty filter fields as `name=value` pairs (no cursor, no limit).
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        pairs([
            ("project", &self.project),
            ("sdk", &self.sdk),
            ("release", &self.release),
            ("environment", &self.environment),
            ("q", &self.q),
            ("errors", &self.errors),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

/// Milliseconds exactly as the API has them (to the microsecond), with thousands separators:
/// `1,234.567 ms`. A duration too short for a microsecond says so rather than showing 0.
pub fn exact_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "?".into();
    }
    if ms > 0.0 && ms < 0.0005 {
        return "< 0.001 ms".into();
    }
    let text = format!("{:.3}", ms.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "000"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 8);
    for (at, digit) in int.chars().enumerate() {
        if at > 0 && (int.len() - at) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if ms < 0.0 && text != "0.000" { "-" } else { "" };
    format!("{sign}{grouped}.{frac} ms")
}

/// A service taking part in a trace, as a tag.
pub(crate) struct ServiceTag {
    pub label: String,
    pub title: String,
    pub colour: usize,
}

fn service_label(project: u64, sdk: Option<&str>, release: Option<&str>) -> String {
    let mut label = format!("project {project}");
    if let Some(sdk) = sdk {
        label.push_str(" · ");
        label.push_str(sdk);
    }
    if let Some(release) = release {
        label.push_str(" · ");
        label.push_str(release);
    }
    label
}

fn service_title(
    sdk_version: Option<&str>,
    environment: Option<&str>,
    limits: &UiLimits,
) -> String {
    let mut parts = Vec::new();
    if let Some(v) = sdk_version {
        parts.push(format!("SDK version {v}"));
    }
    if let Some(e) = environment {
        parts.push(format!("environment {e}"));
    }
    limits.cell(&parts.join(", "))
}

/// A stable colour for a service on the list (the same service, the same colour, row to row).
fn colour_of(project: u64, sdk: Option<&str>) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ project;
    for byte in sdk.unwrap_or("").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % COLOURS as u64) as usize
}

fn service_tag(service: &TraceService, limits: &UiLimits) -> ServiceTag {
    ServiceTag {
        label: limits.cell(&service_label(
            service.project_id,
            service.sdk.as_deref(),
            service.release.as_deref(),
        )),
        title: service_title(
            service.sdk_version.as_deref(),
            service.environment.as_deref(),
            limits,
        ),
        colour: colour_of(service.project_id, service.sdk.as_deref()),
    }
}

/// One row of the trace list.
pub(crate) struct TraceRow {
    pub trace_id: String,
    pub name: String,
    pub op: String,
    pub duration: String,
    pub services: Vec<ServiceTag>,
    pub spans: u64,
    pub errors: u64,
    pub logs: u64,
    pub start: String,
    pub start_full: String,
}

/// A trace's root transaction as the list and the trace page label it: its name and op, cut
/// to the page's limits (empty when the trace has no root).
fn root_labels(root: Option<&TraceRoot>, limits: &UiLimits) -> (String, String) {
    let name = root
        .and_then(|r| r.name.as_deref())
        .map(|n| truncate(n, limits.summary_chars))
        .unwrap_or_default();
    let op = root
        .and_then(|r| r.op.as_deref())
        .map(|o| limits.cell(o))
        .unwrap_or_default();
    (name, op)
}

impl TraceRow {
    fn new(trace: &TraceSummary, limits: &UiLimits) -> Self {
        let root = trace.root.as_ref();
        let (name, op) = root_labels(root, limits);
        Self {
            trace_id: trace.trace_id.clone(),
            name,
            op,
            duration: trace.duration_ms.map(exact_ms).unwrap_or_default(),
            services: trace
                .services
                .iter()
                .map(|s| service_tag(s, limits))
                .collect(),
            spans: trace.counts.spans,
            errors: trace.counts.errors,
            logs: trace.counts.logs,
            start: trace.start.as_deref().map(short_time).unwrap_or_default(),
            start_full: trace.start.clone().unwrap_or_default(),
        }
    }
}

/// What the trace list shows, read in one go.
pub struct TraceListData {
    pub traces: Vec<TraceSummary>,
    pub next_cursor: Option<i64>,
    pub projects: Vec<u64>,
    pub newest_seq: i64,
}

/// One page of traces matching `filter`, newest first.
pub fn list_data(
    conn: &rusqlite::Connection,
    filter: &TraceFilter,
    before: Option<i64>,
    limit: usize,
) -> rusqlite::Result<TraceListData> {
    let mut traces = store::list_traces(conn, filter, before, limit + 1)?;
    let next_cursor = if traces.len() > limit {
        traces.truncate(limit);
        traces.last().map(|t| t.last_seq)
    } else {
        None
    };
    Ok(TraceListData {
        traces,
        next_cursor,
        projects: store::projects(conn)?,
        newest_seq: store::last_item_seq(conn)?,
    })
}

#[derive(Template)]
#[template(path = "traces.html")]
pub(crate) struct TraceListPage {
    pub query: TraceListQuery,
    pub rows: Vec<TraceRow>,
    pub projects: Vec<u64>,
    pub filtered: bool,
    /// Query string of the next (older) page.
    pub older: Option<String>,
    /// Query string of the first page, when this is not it.
    pub newest: Option<String>,
    /// Live updates: on the first page only.
    pub live: bool,
    /// Where the rows are fetched from again when something arrives.
    pub refresh: String,
    pub newest_seq: i64,
}

impl TraceListPage {
    fn new(query: TraceListQuery, data: TraceListData, limits: &UiLimits) -> Self {
        let filter_pairs = query.filter_pairs();
        let pages = PageLinks::new(&filter_pairs, &query.before, &query.limit, data.next_cursor);
        let mut refresh_pairs = filter_pairs.clone();
        if let Some(limit) = non_empty(&query.limit) {
            refresh_pairs.push(("limit", limit));
        }
        Self {
            rows: data
                .traces
                .iter()
                .map(|t| TraceRow::new(t, limits))
                .collect(),
            projects: data.projects,
            filtered: !filter_pairs.is_empty(),
            newest: pages.newest,
            older: pages.older,
            live: pages.first,
            refresh: format!("/traces?{}", encode(&refresh_pairs)),
            newest_seq: data.newest_seq,
            query,
        }
    }
}

/// `GET /traces`
pub(crate) async fn list_page(
    State(state): State<Arc<AppState>>,
    uri: Uri,
) -> Result<Response, UiError> {
    let query: TraceListQuery = parse(&uri)?;
    let filter = query.filter()?;
    let limit = query.limit(&state.config.ui)?;
    let before = number::<i64>("before", &query.before)?;
    let data = state
        .store
        .read(move |conn| list_data(conn, &filter, before, limit))
        .await?;
    render(&TraceListPage::new(query, data, &state.config.ui))
}

// ---- one trace -------------------------------------------------------------------------------

/// An error or log entry pinned on a span.
pub(crate) struct Pin {
    /// `error` or `log`.
    pub kind: &'static str,
    pub item_id: String,
    pub level: String,
    pub text: String,
    /// Time since the trace started, exactly.
    pub at: String,
    /// Where on the axis, as an SVG percentage; empty without a time.
    pub x: String,
    /// False when the span it names was not seen (pinned on the root instead).
    pub span_found: bool,
}

/// One row of the waterfall: a transaction or a span.
pub(crate) struct SpanRow {
    pub depth: usize,
    pub transaction: bool,
    pub span_id: String,
    pub parent_span_id: String,
    pub op: String,
    pub description: String,
    pub status: String,
    pub duration: String,
    /// Start since the trace started.
    pub offset: String,
    pub has_bar: bool,
    pub x: String,
    pub width: String,
    pub service: usize,
    pub colour: usize,
    pub item_id: String,
    pub orphan: bool,
    pub detached: bool,
    pub pins: Vec<Pin>,
}

/// A profile, replay or other item of the trace.
pub(crate) struct ItemLink {
    pub item_id: String,
    pub item_type: String,
    pub project: u64,
    pub time: String,
}

/// One trace, laid out.
pub struct TraceView {
    pub(crate) trace_id: String,
    pub(crate) name: String,
    pub(crate) op: String,
    pub(crate) duration: String,
    pub(crate) start: String,
    pub(crate) services: Vec<ServiceTag>,
    pub(crate) rows: Vec<SpanRow>,
    /// Axis ticks: (x as a percentage, label).
    pub(crate) ticks: Vec<(String, String)>,
    pub(crate) unpinned: Vec<Pin>,
    pub(crate) profiles: Vec<ItemLink>,
    pub(crate) replays: Vec<ItemLink>,
    pub(crate) others: Vec<ItemLink>,
    pub(crate) errors: u64,
    pub(crate) truncated: bool,
    pub(crate) spans_returned: u64,
    pub(crate) spans_total: u64,
    pub(crate) logs_total: u64,
    pub(crate) max_spans: u64,
    pub(crate) orphans: usize,
}

/// A service of the waterfall: project, SDK, release, environment.
type ServiceKey<'a> = (u64, Option<&'a str>, Option<&'a str>, Option<&'a str>);

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn pct(x: f64) -> String {
    format!("{:.4}%", x.clamp(0.0, 100.0))
}

/// The time axis: where trace times go.
struct Axis {
    start: f64,
    total: f64,
}

impl Axis {
    fn x(&self, secs: f64) -> String {
        pct((secs - self.start) / self.total * 100.0)
    }

    fn since(&self, secs: f64) -> String {
        format!(
            "+{}",
            exact_ms(store::duration_ms(Some(self.start), Some(secs)).unwrap_or(0.0))
        )
    }
}

fn item_links(list: &[Value]) -> Vec<ItemLink> {
    list.iter()
        .map(|item| ItemLink {
            item_id: str_of(item, "item_id").unwrap_or_default().to_string(),
            item_type: str_of(item, "type").unwrap_or_default().to_string(),
            project: item["project_id"].as_u64().unwrap_or(0),
            time: str_of(item, "timestamp")
                .map(short_time)
                .unwrap_or_default(),
        })
        .collect()
}

/// Lays out a trace (as `trace_layout` builds it for the API too) as waterfall rows, depth
/// first, in one pass over its nodes (and one more to find the time axis).
pub fn trace_view(layout: &TraceLayout, limits: &UiLimits) -> TraceView {
    let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
    for node in &layout.nodes {
        for t in [node.start, node.end].into_iter().flatten() {
            start = start.min(t);
            end = end.max(t);
        }
    }
    if !start.is_finite() {
        (start, end) = (0.0, 0.0);
    }
    let axis = Axis {
        start,
        total: (end - start).max(1e-9),
    };
    let pin = |kind: &'static str, value: &Value| -> Pin {
        let secs = value["timestamp_secs"].as_f64();
        let text = match kind {
            "error" => str_of(value, "title").unwrap_or("error"),
            _ => str_of(value, "body").unwrap_or(""),
        };
        Pin {
            kind,
            item_id: str_of(value, "item_id").unwrap_or_default().to_string(),
            level: limits.cell(str_of(value, "level").unwrap_or(if kind == "error" {
                "error"
            } else {
                "info"
            })),
            text: truncate(text, limits.summary_chars),
            at: secs.map(|s| axis.since(s)).unwrap_or_default(),
            x: secs.map(|s| axis.x(s)).unwrap_or_default(),
            span_found: value["span_found"].as_bool().unwrap_or(true),
        }
    };

    let mut services: Vec<ServiceTag> = Vec::new();
    let mut service_index: HashMap<ServiceKey, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(layout.order.len());
    let mut orphans = 0;
    for &(at, depth) in &layout.order {
        let node = &layout.nodes[at];
        let Some(item) = layout.items.get(node.item) else {
            continue;
        };
        let sdk = item.sdk.as_ref();
        let key = (
            item.project_id,
            sdk.map(|s| s.name.as_str()),
            item.release.as_deref(),
            item.environment.as_deref(),
        );
        let index = *service_index.entry(key).or_insert_with(|| {
            services.push(ServiceTag {
                label: limits.cell(&service_label(key.0, key.1, key.2)),
                title: service_title(sdk.and_then(|s| s.version.as_deref()), key.3, limits),
                colour: services.len() % COLOURS,
            });
            services.len() - 1
        });
        let (s, e) = (node.start, node.end);
        let duration = match (store::duration_ms(s, e), s, e) {
            // Shorter than the microsecond the API rounds to, but not nothing.
            (Some(ms), Some(s), Some(e)) if ms == 0.0 && e > s => exact_ms((e - s) * 1e3),
            (Some(ms), ..) => exact_ms(ms),
            _ => String::new(),
        };
        let orphan = layout.orphan.get(at).copied().unwrap_or(false);
        orphans += usize::from(orphan);
        let pins: Vec<Pin> = (node.errors.iter().map(|v| pin("error", v)))
            .chain(node.logs.iter().map(|v| pin("log", v)))
            .collect();
        rows.push(SpanRow {
            depth,
            transaction: node.kind == "transaction",
            span_id: node.span_id.clone().unwrap_or_default(),
            parent_span_id: node.parent_span_id.clone().unwrap_or_default(),
            op: node
                .op
                .as_deref()
                .map(|o| limits.cell(o))
                .unwrap_or_default(),
            description: node
                .description
                .as_deref()
                .map(|d| truncate(d, limits.summary_chars))
                .unwrap_or_default(),
            status: node
                .status
                .as_deref()
                .map(|s| limits.cell(s))
                .unwrap_or_default(),
            duration,
            offset: s.map(|s| axis.since(s)).unwrap_or_default(),
            has_bar: s.is_some(),
            x: s.map(|s| axis.x(s)).unwrap_or_default(),
            // A span too short to see still gets a sliver; its number stays exact.
            width: pct(match (s, e) {
                (Some(s), Some(e)) => ((e - s) / axis.total * 100.0).max(0.15),
                _ => 0.15,
            }),
            service: index,
            colour: services[index].colour,
            item_id: item.id.clone(),
            orphan,
            detached: layout.detached.get(at).copied().unwrap_or(false),
            pins,
        });
    }

    let summary = &layout.summary;
    let root = summary.root.as_ref();
    let unpinned: Vec<Pin> = (layout.unpinned_errors.iter().map(|v| pin("error", v)))
        .chain(layout.unpinned_logs.iter().map(|v| pin("log", v)))
        .collect();
    let ticks = (0..=4)
        .map(|i| {
            let f = f64::from(i) / 4.0;
            let ms = store::duration_ms(Some(0.0), Some(axis.total * f)).unwrap_or(0.0);
            let ms = if end > start { ms } else { 0.0 };
            (pct(f * 100.0), exact_ms(ms))
        })
        .collect();
    let (name, op) = root_labels(root, limits);
    TraceView {
        trace_id: layout.trace_id.clone(),
        name,
        op,
        duration: summary.duration_ms.map(exact_ms).unwrap_or_default(),
        start: summary.start.clone().unwrap_or_default(),
        services,
        rows,
        ticks,
        unpinned,
        profiles: item_links(&layout.profiles),
        replays: item_links(&layout.replays),
        others: item_links(&layout.others),
        errors: summary.counts.errors,
        truncated: layout.truncated,
        spans_returned: layout.spans_returned as u64,
        spans_total: layout.spans_total as u64,
        logs_total: layout.logs_total as u64,
        max_spans: layout.max_spans as u64,
        orphans,
    }
}

#[derive(Template)]
#[template(path = "trace.html")]
pub struct TracePage {
    pub(crate) view: TraceView,
}

/// Renders trace `trace_id` (any case) from the store: `Ok(None)` when no item names it.
pub fn render_trace(state: &AppState, trace_id: &str) -> Result<Option<String>, UiError> {
    let trace_id = parse_trace_id(trace_id)?;
    let limits = tree_limits(state);
    let Some(layout) = state
        .store
        .read_blocking(|conn| trace_layout(conn, &trace_id, limits))?
    else {
        return Ok(None);
    };
    let page = TracePage {
        view: trace_view(&layout, &state.config.ui),
    };
    Ok(Some(page.render()?))
}

fn parse_trace_id(id: &str) -> Result<String, UiError> {
    normalize_trace_id(id.trim()).ok_or_else(|| {
        UiError::BadRequest(format!(
            "invalid trace id {:?}: expected 32 hex digits",
            truncate(id, 64)
        ))
    })
}

fn tree_limits(state: &AppState) -> TreeLimits {
    TreeLimits {
        max_spans: state.config.max_trace_spans,
        max_json_depth: state.config.limits.max_json_depth,
    }
}

/// `GET /traces/{trace_id}`
pub(crate) async fn trace_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let trace_id = parse_trace_id(&id)?;
    let limits = tree_limits(&state);
    let lookup = trace_id.clone();
    let layout = state
        .store
        .read(move |conn| trace_layout(conn, &lookup, limits))
        .await?
        .ok_or_else(|| {
            UiError::NotFound(format!(
                "no trace {trace_id}: nothing sent names it, or it was flushed"
            ))
        })?;
    render(&TracePage {
        view: trace_view(&layout, &state.config.ui),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_exact_with_separators() {
        assert_eq!(exact_ms(1234.567), "1,234.567 ms");
        assert_eq!(exact_ms(1_234_567.0), "1,234,567.000 ms");
        assert_eq!(exact_ms(0.001), "0.001 ms");
        assert_eq!(exact_ms(0.0002), "< 0.001 ms");
        assert_eq!(exact_ms(0.0), "0.000 ms");
        assert_eq!(exact_ms(-2.5), "-2.500 ms");
        assert_eq!(exact_ms(999.9999), "1,000.000 ms");
        assert_eq!(exact_ms(f64::NAN), "?");
    }

    #[test]
    fn bad_trace_ids_are_refused() {
        assert!(parse_trace_id("xyz").is_err());
        assert_eq!(
            parse_trace_id("0AF7651916CD43DD8448EB211C80319C").unwrap(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }
}
