//! The query side: Kent's API (exact shapes), the richer item API, long-poll waits, live
//! streams, fault control and the Dockerflow endpoints.
//!
//! Handlers extract, call a plain function on a connection (in [`crate::store`]) and shape the
//! answer; every error is an [`ApiError`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

mod logs;
mod native;
mod traces;
mod wait;

pub use logs::parse_log_query;
pub use traces::{TraceLayout, TreeLimits, trace_layout, trace_tree};
pub use wait::{WaitOutcome, wait_for_items, wait_for_types};

use crate::error::ApiError;
use crate::faults::FaultRule;
use crate::kent;
use crate::server::AppState;
use crate::store::{self, ItemFilter, Order};

type AppRef = State<Arc<AppState>>;

/// Envelopes or items a stream reads from the store at a time while it catches up (a page
/// size, not a bound: it reads on until it has caught up).
const STREAM_CHUNK: usize = 500;

/// The read and control API; [`crate::server::router`] puts it behind the browser boundary.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/", get(index))
        .route("/api/eventlist/", get(kent_eventlist))
        .route(
            "/api/eventlist",
            get(|| async { Redirect::permanent("/api/eventlist/") }),
        )
        .route("/api/event/{id}", get(kent_event))
        .route("/api/flush/", post(flush))
        .route("/api/items/", get(list_items))
        .route("/api/items/stream/", get(items_stream))
        .route("/api/items/{id}", get(item_detail))
        .route("/api/items/{id}/raw", get(item_raw))
        .route("/api/items/{id}/processed", get(native::processed))
        .route("/api/items/{id}/reprocess", post(native::reprocess))
        .route("/api/envelopes/{id}", get(envelope_detail))
        .route("/api/envelopes/{id}/raw", get(envelope_raw))
        .route("/api/wait/", get(wait::wait))
        .route("/api/stats/", get(stats))
        .route("/api/refusals/", get(refusals))
        .route("/api/forwarded/", get(forwarded))
        .route(
            "/api/faults/",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .merge(traces::routes())
        .merge(logs::routes())
}

/// Dockerflow's health and version routes: outside the browser boundary, so that probes reach
/// them by any name, and they tell nothing captured.
pub fn health_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/__heartbeat__", get(heartbeat))
        .route("/__lbheartbeat__", get(|| async { axum::Json(json!({})) }))
        .route("/__version__", get(version))
}

/// Checks an item filter the way every query answers it: a bad time or trace id is a 400.
fn check_filter(filter: &ItemFilter) -> Result<(), ApiError> {
    filter.to_sql()?;
    match filter.bad_trace_id() {
        Some(message) => Err(ApiError::BadRequest(message)),
        None => Ok(()),
    }
}

/// Parses the query string into `T`, answering 400 with a JSON error when it does not fit.
fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::BadRequest(format!("invalid query: {}", e.body_text())))
}

fn json_ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

async fn index(State(state): AppRef) -> Response {
    json_ok(json!({
        "service": "fake-sentry",
        "version": env!("CARGO_PKG_VERSION"),
        "dsn": state.dsn(1),
        "ingest": ["/api/{project}/envelope/", "/api/{project}/store/", "/api/{project}/security/",
                   "/api/{project}/csp-report/", "/api/{project}/minidump/", "/stream"],
        "kent_api": ["GET /api/eventlist/", "GET /api/event/{id}", "POST /api/flush/"],
        "api": ["GET /api/items/", "GET /api/items/{id}", "GET /api/items/{id}/raw",
                "GET /api/items/{id}/processed", "POST /api/items/{id}/reprocess",
                "GET /api/envelopes/{id}", "GET /api/envelopes/{id}/raw", "GET /api/wait/",
                "GET /api/items/stream/", "GET /stream", "GET /api/stats/", "GET /api/refusals/",
                "GET /api/traces/", "GET /api/traces/{trace_id}", "GET /api/logs/",
                "GET /api/logs/stream/",
                "GET|PUT|DELETE /api/faults/"],
    }))
}

async fn kent_eventlist(State(state): AppRef) -> Result<Response, ApiError> {
    let rows = state.store.read(store::kent_list).await?;
    Ok(kent::json_response(
        StatusCode::OK,
        &kent::eventlist_json(&rows),
    ))
}

/// An item (by fake-sentry id or Sentry event id) with the envelope it came in.
async fn item_with_envelope(
    state: &Arc<AppState>,
    id: &str,
) -> Result<Option<(store::ItemRecord, Option<store::EnvelopeRecord>)>, ApiError> {
    let lookup = id.to_string();
    let found = state
        .store
        .read(move |conn| {
            let Some(record) = store::get_item(conn, &lookup)? else {
                return Ok(None);
            };
            let envelope = store::get_envelope(conn, record.summary.envelope_id)?;
            Ok(Some((record, envelope)))
        })
        .await?;
    Ok(found)
}

async fn kent_event(State(state): AppRef, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (mut record, envelope) = item_with_envelope(&state, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Event {id} not found")))?;
    // A native crash's event is answered as processing made it, as Sentry's API would.
    if record.summary.item_type == "event" {
        let seq = record.summary.seq;
        if let Some(native) = state
            .store
            .read(move |conn| store::native_event_of(conn, seq))
            .await?
        {
            record.payload = serde_json::to_vec(&native).unwrap_or_default();
        }
    }
    Ok(kent::json_response(
        StatusCode::OK,
        &kent::event_json(
            &record,
            envelope.and_then(|e| e.header),
            state.config.ui.json_view_bytes,
        ),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FlushParams {
    project: Option<u64>,
}

/// Kent's flush; `?project=N` flushes one project only.
async fn flush(State(state): AppRef, uri: Uri) -> Result<Response, ApiError> {
    let params: FlushParams = query(&uri)?;
    state.store.flush(params.project).await?;
    Ok(kent::json_response(
        StatusCode::OK,
        &json!({"success": true}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageParams {
    limit: Option<usize>,
    order: Order,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

async fn list_items(State(state): AppRef, uri: Uri) -> Result<Response, ApiError> {
    let mut filter: ItemFilter = query(&uri)?;
    let page: PageParams = query(&uri)?;
    check_filter(&filter)?;
    let limit = page
        .limit
        .unwrap_or(100)
        .clamp(1, state.config.api_max_page);
    match (page.cursor, page.order) {
        (Some(c), Order::Desc) => filter.before = Some(filter.before.map_or(c, |b| b.min(c))),
        (Some(c), Order::Asc) => filter.after = Some(filter.after.map_or(c, |a| a.max(c))),
        (None, _) => {}
    }
    let order = page.order;
    let mut items = state
        .store
        .read(move |conn| store::list_items(conn, &filter, order, limit + 1))
        .await?;
    let next_cursor = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|i| i.seq.to_string())
    });
    Ok(json_ok(
        json!({"items": items, "next_cursor": next_cursor.flatten()}),
    ))
}

async fn item_detail(State(state): AppRef, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (record, envelope) = item_with_envelope(&state, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Item {id} not found")))?;
    let item_id = record.summary.id.clone();
    let lookup = item_id.clone();
    let (audit, minidump) = state
        .store
        .read(move |conn| {
            Ok((
                store::get_item_audit(conn, &lookup)?,
                store::find_minidump(conn, &lookup, store::MinidumpBodies::None)?,
            ))
        })
        .await?;
    let detail = ItemDetail {
        audit: audit_json(&state, audit),
        processing: minidump.map(|m| {
            let mut value = native::processing_json(&m, None);
            if let Some(map) = value.as_object_mut() {
                map.remove("processed");
            }
            value["links"]["processed"] =
                json!(format!("/api/items/{}/processed", m.minidump_item_id));
            value
        }),
        envelope,
        header: record.header.as_ref(),
        item: &record.summary,
        links: json!({
            "raw": format!("/api/items/{item_id}/raw"),
            "envelope": format!("/api/envelopes/{}", record.summary.envelope_id),
            "envelope_raw": format!("/api/envelopes/{}/raw", record.summary.envelope_id),
            "kent": format!("/api/event/{item_id}"),
        }),
        payload: ItemPayload::of(&record),
        schema_note: crate::item::schema_note(&record.summary.item_type, &record.payload),
    };
    Ok(axum::Json(detail).into_response())
}

/// `GET /api/items/{id}`, its fields in the sorted order `json!` objects have.
#[derive(serde::Serialize)]
struct ItemDetail<'a> {
    audit: Value,
    envelope: Option<store::EnvelopeRecord>,
    header: Option<&'a Value>,
    item: &'a store::ItemSummary,
    links: Value,
    payload: ItemPayload<'a>,
    /// Where the item's minidump stands in processing, when it is one or was sent with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    processing: Option<Value>,
    schema_note: Option<String>,
}

/// An item's payload in an API answer: a JSON payload as it was sent, checked but never parsed
/// into a tree (a 50 MiB profile or JSON attachment would take ten times that in memory, and the
/// text is what the SDK sent, key order and number spelling included); anything else as Kent
/// shapes it (text, or base64 with its size).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum ItemPayload<'a> {
    Json(&'a serde_json::value::RawValue),
    Other(Value),
}

impl<'a> ItemPayload<'a> {
    fn of(record: &'a store::ItemRecord) -> Self {
        if record.is_json
            && let Ok(raw) = serde_json::from_slice(&record.payload)
        {
            return Self::Json(raw);
        }
        // Not JSON: no tree is built whatever the limit.
        Self::Other(kent::payload_value(record, 0))
    }
}

/// The data-policy part of an item's detail: `null` when the item was not audited.
fn audit_json(state: &AppState, audit: store::ItemAuditRecord) -> Value {
    let Some(findings) = audit.findings else {
        return Value::Null;
    };
    // A scrubbed item whose scrub changed nothing has no copy: its scrubbed form is itself.
    let scrubbed = audit
        .scrubbed
        .as_deref()
        .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok());
    json!({
        "policy": state.config.policy.as_ref().map(|p| p.origin.as_str()),
        "findings": findings,
        "scrubbed": audit.scrub_report.is_some(),
        "scrubbed_payload": scrubbed,
        "scrub_report": audit.scrub_report,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ItemRawParams {
    /// Serve the scrubbed copy instead of what was sent (`?scrubbed=1`).
    scrubbed: Option<String>,
}

async fn item_raw(
    State(state): AppRef,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: ItemRawParams = query(&uri)?;
    let want_scrubbed = params
        .scrubbed
        .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | ""));
    let lookup = id.clone();
    let (mut record, audit) = state
        .store
        .read(move |conn| {
            let Some(record) = store::get_item(conn, &lookup)? else {
                return Ok(None);
            };
            let audit = store::get_item_audit(conn, &record.summary.id)?;
            Ok(Some((record, audit)))
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Item {id} not found")))?;
    if want_scrubbed {
        if audit.scrub_report.is_none() {
            return Err(ApiError::NotFound(format!(
                "Item {id} has no scrubbed copy (fake-sentry scrubs JSON items with --scrub)"
            )));
        }
        if let Some(scrubbed) = audit.scrubbed {
            record.payload = scrubbed;
        }
    }
    // Served as bytes to save whatever the sender declared: a payload posted as text/html
    // must never render on this origin.
    let filename = record
        .summary
        .filename
        .clone()
        .unwrap_or_else(|| record.summary.id.clone());
    Ok((http_edge::attachment_headers(&filename), record.payload).into_response())
}

fn envelope_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid envelope id {id:?}")))
}

async fn envelope_detail(
    State(state): AppRef,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = envelope_id(&id)?;
    let record = state
        .store
        .read(move |conn| store::get_envelope(conn, key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Envelope {id} not found")))?;
    Ok(json_ok(json!(record)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawParams {
    /// Present: the body exactly as sent (still compressed), when it is kept so (see
    /// `EnvelopeRecord::kept_as_sent`); absent: decoded.
    as_sent: Option<String>,
}

async fn envelope_raw(
    State(state): AppRef,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let key = envelope_id(&id)?;
    let params: RawParams = query(&uri)?;
    let body = state
        .store
        .read(move |conn| store::get_envelope_raw(conn, key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Envelope {id} not found")))?;
    let bytes = if params.as_sent.is_some() {
        body.into_as_sent().ok_or_else(|| {
            ApiError::Conflict(format!(
                "envelope {id} was sent encoded and is kept decoded (--bodies compact); its \
                 decoded form is at /api/envelopes/{id}/raw, and a server started with \
                 --bodies as-sent keeps bodies byte for byte"
            ))
        })?
    } else {
        body.decoded(store::StoredBody::DECODE_LIMIT)
            .map_err(|e| ApiError::Storage(store::StoreError::Task(e.to_string())))?
    };
    // Bytes to save, never a page, whatever Content-Type the sender gave (issue 17: an
    // envelope posted as text/html came back as HTML on the UI's origin).
    let name = if params.as_sent.is_some() {
        format!("envelope-{key}.bin")
    } else {
        format!("envelope-{key}.envelope")
    };
    Ok((http_edge::attachment_headers(&name), bytes).into_response())
}

async fn stats(State(state): AppRef) -> Result<Response, ApiError> {
    let (by_type, projects, refusals, last_seq) = state
        .store
        .read(|conn| {
            Ok((
                store::counts_by_type(conn, None)?,
                store::projects(conn)?,
                store::refusal_counts(conn)?,
                store::last_item_seq(conn)?,
            ))
        })
        .await?;
    let (items_with_findings, findings) = state.store.read(store::finding_totals).await?;
    let minidumps_pending = state.store.read(store::pending_minidumps).await?;
    let evicted = state.store.evictions();
    let total: u64 = by_type.iter().map(|(_, n)| n).sum();
    let by_type: Map<String, Value> = by_type.into_iter().map(|(t, n)| (t, json!(n))).collect();
    Ok(json_ok(json!({
        "items": total,
        "by_type": by_type,
        "projects": projects,
        "last_seq": last_seq,
        "refusals": refusals.0,
        "max_items": state.config.max_items,
        "minidumps_pending": minidumps_pending,
        "max_db_bytes": state.config.max_db_bytes,
        "evicted": {"envelopes": evicted.envelopes, "items": evicted.items},
        "storage": match &state.config.storage {
            crate::config::Storage::Memory => "memory".to_string(),
            crate::config::Storage::File(p) => p.display().to_string(),
        },
        "uptime_secs": state.started.elapsed().as_secs(),
        // Searches scan the items above the watermark: after a burst of ingest, until the
        // indexer has caught up, they are slower.
        "search_index": state.store.search_indexed_through().map(|through| json!({
            "indexed_through": through,
        })),
        "policy": state.config.policy.as_ref().map(|p| json!({
            "origin": p.origin,
            "scrub": p.scrub,
            "items_with_findings": items_with_findings,
            "findings": findings,
        })),
        "forwarding": state.forwarder.as_ref().map(|f| f.stats_json()),
        "in_flight": {
            "bytes": state.in_flight.in_use(),
            "max_bytes": state.in_flight.total(),
        },
    })))
}

/// What forwarding did with each envelope, oldest first (404 without `--forward`).
async fn forwarded(State(state): AppRef) -> Result<Response, ApiError> {
    let forwarder = state.forwarder.as_ref().ok_or_else(|| {
        ApiError::NotFound("forwarding is off (start fake-sentry with --forward DSN)".into())
    })?;
    let mut body = forwarder.stats_json();
    body["outcomes"] = json!(forwarder.outcomes());
    Ok(json_ok(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RefusalParams {
    limit: Option<usize>,
}

async fn refusals(State(state): AppRef, uri: Uri) -> Result<Response, ApiError> {
    let params: RefusalParams = query(&uri)?;
    let limit = params
        .limit
        .unwrap_or(100)
        .clamp(1, state.config.api_max_page);
    let (list, (total, by_status)) = state
        .store
        .read(move |conn| {
            Ok((
                store::list_refusals(conn, limit)?,
                store::refusal_counts(conn)?,
            ))
        })
        .await?;
    let by_status: Map<String, Value> = by_status
        .into_iter()
        .map(|(s, n)| (s.to_string(), json!(n)))
        .collect();
    Ok(json_ok(
        json!({"total": total, "by_status": by_status, "refusals": list}),
    ))
}

async fn get_faults(State(state): AppRef) -> Response {
    json_ok(json!({"faults": state.faults.rules()}))
}

#[derive(Debug, Deserialize)]
struct FaultsBody {
    faults: Vec<FaultRule>,
}

/// Replaces the fault rules. The body is read up to `--max-faults-body` (the router reads
/// bodies without axum's default limit) and parsed nesting at most `--max-json-depth` deep.
async fn put_faults(State(state): AppRef, body: axum::body::Body) -> Result<Response, ApiError> {
    let limit = state.config.limits.max_faults_body;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "the fault rules are larger than {limit} bytes (--max-faults-body), or the body \
             could not be read"
        ))
    })?;
    let max_depth = state.config.limits.max_json_depth;
    crate::envelope::check_json_depth(&body, max_depth).map_err(|too_deep| {
        ApiError::BadRequest(format!(
            "invalid fault rules: {too_deep} (--max-json-depth)"
        ))
    })?;
    let parsed: FaultsBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid fault rules: {e}")))?;
    if let Some(bad) = parsed
        .faults
        .iter()
        .find(|r| !(0.0..=1.0).contains(&r.rate))
    {
        return Err(ApiError::BadRequest(format!(
            "fault rate {} is outside 0.0..=1.0",
            bad.rate
        )));
    }
    state.faults.replace(parsed.faults);
    Ok(get_faults(State(state)).await)
}

async fn clear_faults(State(state): AppRef) -> Response {
    state.faults.replace(Vec::new());
    get_faults(State(state)).await
}

async fn heartbeat(State(state): AppRef) -> Response {
    let db = state
        .store
        .read(|conn| conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
        .await;
    match db {
        Ok(_) => json_ok(json!({"status": "ok", "checks": {"database": "ok"}, "details": {}})),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"status": "error", "checks": {"database": "error"}, "details": {"database": err.to_string()}})),
        )
            .into_response(),
    }
}

async fn version() -> Response {
    json_ok(json!({
        "source": "https://example.invalid/understudy",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("UNDERSTUDY_COMMIT").unwrap_or("unknown"),
        "build": option_env!("UNDERSTUDY_BUILD").unwrap_or(""),
    }))
}

/// The id a reconnecting `EventSource` resumes from.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Something a stream can send.
trait IntoEvent {
    fn into_event(self) -> Event;
}

/// Runs `fetch` from `cursor` now and again after every commit, sending what it returns;
/// `fetch` returns the events and the cursor to continue from.
fn live_stream<T, F>(
    state: Arc<AppState>,
    cursor: i64,
    fetch: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    T: IntoEvent + Send + 'static,
    F: Fn(&rusqlite::Connection, i64) -> rusqlite::Result<(Vec<T>, i64)>
        + Send
        + Sync
        + Clone
        + 'static,
{
    let changes = state.store.subscribe_changes();
    futures::stream::unfold(
        (state, changes, cursor, fetch),
        |(state, mut changes, mut cursor, fetch)| async move {
            loop {
                changes.borrow_and_update();
                let f = fetch.clone();
                let (batch, next) = match state.store.read(move |conn| f(conn, cursor)).await {
                    Ok(found) => found,
                    Err(err) => {
                        tracing::warn!(%err, "stream query failed");
                        (Vec::new(), cursor)
                    }
                };
                if !batch.is_empty() {
                    let events: Vec<Result<Event, Infallible>> =
                        batch.into_iter().map(|t| Ok(t.into_event())).collect();
                    return Some((futures::stream::iter(events), (state, changes, next, fetch)));
                }
                cursor = next;
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    _ = state.closed() => return None,
                }
            }
        },
    )
    .flatten()
}

struct ItemEvent(store::ItemSummary);

impl IntoEvent for ItemEvent {
    fn into_event(self) -> Event {
        Event::default()
            .event("item")
            .id(self.0.seq.to_string())
            .data(serde_json::to_string(&self.0).unwrap_or_default())
    }
}

/// `GET /api/items/stream/`: item summaries as Server-Sent Events (`event: item`, `id: seq`),
/// filtered like `/api/items/`, resuming after `Last-Event-ID` or `?after=`; without either it
/// starts with what arrives next.
async fn items_stream(
    State(state): AppRef,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let filter: ItemFilter = query(&uri)?;
    check_filter(&filter)?;
    let start = match last_event_id(&headers).or(filter.after) {
        Some(seq) => seq,
        None => state.store.read(store::last_item_seq).await?,
    };
    let stream = live_stream(state, start, move |conn, after| {
        // Items the filter skips must still move the cursor, so the query is bounded by the
        // newest item at the time it runs.
        let newest = store::last_item_seq(conn)?;
        let mut f = filter.clone();
        f.after = Some(after);
        f.before = Some(newest + 1);
        let items = store::list_items(conn, &f, Order::Asc, STREAM_CHUNK)?;
        let next = match items.last() {
            Some(last) if items.len() == STREAM_CHUNK => last.seq,
            _ => newest,
        };
        Ok((items.into_iter().map(ItemEvent).collect(), next))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SpotlightParams {
    base64: Option<String>,
}

struct SpotlightEvent {
    envelope: store::EnvelopeWithItems,
    base64: bool,
}

/// The item content types Spotlight's sidecar (4.11.8) sends as text in a raw item's `data`;
/// every other raw item is base64.
const SPOTLIGHT_TEXT_TYPES: [&str; 9] = [
    "text/plain",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/json",
    "text/x-json",
    "application/json",
    "application/ld+json",
];

impl IntoEvent for SpotlightEvent {
    fn into_event(self) -> Event {
        // Spotlight names events by content type; every stored body is sent as an envelope
        // (store, security and minidump bodies as the items they became). Spotlight 4.11.8's
        // sidecar sends the parsed envelope as JSON either way: `?base64` (which its UI always
        // asks for) only adds `;base64` to the event name.
        const CONTENT_TYPE: &str = "application/x-sentry-envelope";
        let id = self.envelope.id.to_string();
        let items: Vec<Value> = self
            .envelope
            .items
            .into_iter()
            .map(|(header, payload, is_json)| {
                let header = header.unwrap_or_else(|| json!({}));
                let body = if is_json {
                    let mut body = serde_json::from_slice(&payload).unwrap_or(Value::Null);
                    // As the sidecar does: its UI sorts payloads by their `type` (a log
                    // container's payload has none of its own).
                    if let (Some(body), Some(kind)) = (body.as_object_mut(), header.get("type")) {
                        body.insert("type".into(), kind.clone());
                    }
                    body
                } else {
                    json!({"data": spotlight_raw_data(&header, payload)})
                };
                json!([header, body])
            })
            .collect();
        let mut header = self.envelope.header.unwrap_or_else(|| json!({}));
        if let Some(header) = header.as_object_mut() {
            // The UI keys envelopes by this; the sidecar's is the SSE id, as here.
            header.insert("__spotlight_envelope_id".into(), Value::String(id.clone()));
        }
        let name = if self.base64 {
            format!("{CONTENT_TYPE};base64")
        } else {
            CONTENT_TYPE.to_string()
        };
        Event::default()
            .id(id)
            .event(name)
            .data(json!([header, items]).to_string())
    }
}

/// A raw item's bytes as Spotlight's sidecar gives them: text for a textual content type
/// (`statsd` is text by default), else base64.
fn spotlight_raw_data(header: &Value, payload: Vec<u8>) -> String {
    let content_type = header["content_type"]
        .as_str()
        .or((header["type"] == "statsd").then_some("text/plain"))
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    let text = content_type.is_some_and(|t| SPOTLIGHT_TEXT_TYPES.contains(&t.as_str()));
    match String::from_utf8(payload) {
        Ok(payload) if text => payload,
        Ok(payload) => base64::engine::general_purpose::STANDARD.encode(payload),
        Err(e) => base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
    }
}

/// `GET /stream`: Spotlight's sidecar stream. Replays the last envelopes (or those after
/// `Last-Event-ID`), then streams new ones.
pub async fn spotlight_stream(
    State(state): AppRef,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: SpotlightParams = query(&uri)?;
    let base64 = params.base64.is_some();
    let start = match last_event_id(&headers) {
        Some(id) => id,
        None => {
            let last = state.store.read(store::last_envelope_id).await?;
            (last - state.config.stream_replay as i64).max(0)
        }
    };
    let stream = live_stream(state, start, move |conn, after| {
        let envelopes = store::envelopes_after(conn, after, STREAM_CHUNK)?;
        let next = envelopes.last().map_or(after, |e| e.id);
        Ok((
            envelopes
                .into_iter()
                .map(|envelope| SpotlightEvent { envelope, base64 })
                .collect(),
            next,
        ))
    });
    // Spotlight writes an empty comment first so that Firefox fires `open` at once.
    let opening =
        futures::stream::once(async { Ok::<_, Infallible>(Event::default().comment("")) });
    let mut response = Sse::new(opening.chain(stream))
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
