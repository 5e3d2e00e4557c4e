//! `/logs`: every log entry across envelopes and services, newest first, with filters (level,
//! service, trace, time, text), cursor pages, and a live tail (`static/logs.js` listens to
//! `/api/logs/stream/` with the page's filters and puts new entries at the top).
//!
//! Bodies and attributes are the SDK's and attacker-controlled: the template shows them as text
//! (askama escapes), the script builds rows with `textContent`, and links are built from ids
//! fake-sentry checked (trace ids are 32 hex digits, item ids its own UUIDs).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;

use super::limits::UiLimits;
use super::query_string::encode;
use super::text::truncate;
use super::{UiError, render};
use crate::api::parse_log_query;
use crate::item::LEVELS;
use crate::server::AppState;
use crate::store::{self, LogFilter, LogRecord};

/// One row of the page.
pub struct LogRow {
    pub id: i64,
    pub time: String,
    pub time_full: String,
    pub level: String,
    pub service: String,
    pub body: String,
    pub attributes: Vec<(String, String)>,
    pub trace_id: Option<String>,
    /// The trace id's first eight digits, as the link shows it.
    pub trace_short: String,
    pub span_id: Option<String>,
    pub item_id: String,
    pub project: u64,
}

impl LogRow {
    fn new(record: &LogRecord, limits: &UiLimits) -> Self {
        let mut attributes = Vec::new();
        if let Some(map) = record.attributes.as_object() {
            for (key, attribute) in map.iter().take(limits.field_rows) {
                let value = match attribute.get("value") {
                    Some(value) => value,
                    None => attribute,
                };
                attributes.push((truncate(key, limits.cell_chars), limits.value_text(value)));
            }
        }
        Self {
            id: record.id,
            time: record
                .time
                .replace('T', " ")
                .trim_end_matches('Z')
                .chars()
                .take(23)
                .collect(),
            time_full: record.time.clone(),
            level: record.level.clone(),
            service: record.service.name.clone().unwrap_or_default(),
            body: truncate(&record.body, limits.summary_chars.max(limits.cell_chars)),
            attributes,
            trace_id: record.trace_id.clone(),
            trace_short: record
                .trace_id
                .as_deref()
                .map(|t| t.chars().take(8).collect())
                .unwrap_or_default(),
            span_id: record.span_id.clone(),
            item_id: record.item_id.clone(),
            project: record.project_id,
        }
    }
}

#[derive(Template)]
#[template(path = "logs.html")]
pub struct LogsPage {
    pub rows: Vec<LogRow>,
    pub levels: Vec<&'static str>,
    /// The level filter's one value (the select shows one).
    pub level: String,
    pub min_level: String,
    pub service: String,
    pub trace_id: String,
    pub since: String,
    pub until: String,
    pub q: String,
    pub services: Vec<String>,
    pub filtered: bool,
    /// The filters as a query string, for the live tail and the pager.
    pub filter_query: String,
    /// The newest entry's id when the page was read: the live tail starts after it.
    pub newest_id: i64,
    /// Whether this is the newest page (an older one does not tail).
    pub live: bool,
    pub older: Option<String>,
    pub dropped: u64,
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The page for a query string, read from the store.
pub fn load(
    conn: &rusqlite::Connection,
    query: Option<&str>,
    limits: &UiLimits,
) -> Result<LogsPage, UiError> {
    let parsed = parse_log_query(query).map_err(|e| UiError::BadRequest(e.to_string()))?;
    let limit = parsed
        .limit
        .unwrap_or(limits.page)
        .clamp(1, limits.max_page);
    let filter: LogFilter = parsed.filter;
    let newest_id = store::last_log_id(conn).map_err(store::StoreError::from)?;
    let mut records = store::list_logs(conn, &filter, parsed.cursor, limit + 1)
        .map_err(store::StoreError::from)?;
    let (_, dropped) = store::log_counts(conn).map_err(store::StoreError::from)?;
    let (services, _) =
        store::log_facets(conn, limits.suggestions).map_err(store::StoreError::from)?;
    let pairs = filter.pairs();
    let older = (records.len() > limit).then(|| {
        records.truncate(limit);
        let mut with_cursor = pairs.clone();
        if let Some(last) = records.last() {
            with_cursor.push(("cursor", last.cursor().to_string()));
        }
        encode(&with_cursor)
    });
    Ok(LogsPage {
        rows: records.iter().map(|r| LogRow::new(r, limits)).collect(),
        levels: LEVELS.iter().map(|(name, _)| *name).collect(),
        level: filter.levels.first().cloned().unwrap_or_default(),
        min_level: text(&filter.min_level),
        service: text(&filter.service),
        trace_id: text(&filter.trace_id),
        since: text(&filter.since),
        until: text(&filter.until),
        q: text(&filter.q),
        services,
        filtered: !pairs.is_empty(),
        filter_query: encode(&pairs),
        newest_id,
        live: parsed.cursor.is_none(),
        older,
        dropped,
    })
}

/// `GET /logs`.
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    uri: Uri,
) -> Result<Response, UiError> {
    let reader = state.clone();
    let query = uri.query().map(str::to_string);
    let page = state
        .store
        .read(move |conn| Ok(load(conn, query.as_deref(), &reader.config.ui)))
        .await??;
    render(&page)
}
