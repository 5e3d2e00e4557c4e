//! The log API: `GET /api/logs/` lists every stored log entry across envelopes, projects and
//! services, newest first, filtered and paged by cursor; `GET /api/logs/stream/` tails them
//! live as Server-Sent Events with the same filters. Both read the rows `store::logs` keeps
//! (one per entry, indexed per filter), never a payload.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{AppRef, IntoEvent, STREAM_CHUNK, json_ok, last_event_id, live_stream};
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{self, BadLogFilter, LogCursor, LogFilter, LogRecord};

/// Most `name=value` pairs of a query string read; the rest are ignored.
const MAX_QUERY_PAIRS: usize = 64;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/logs/", get(list))
        .route("/api/logs/stream/", get(stream))
}

/// What a log listing's query string asks for.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub filter: LogFilter,
    /// `cursor`: the `next_cursor` of the page before.
    pub cursor: Option<LogCursor>,
    pub limit: Option<usize>,
    /// `after`: the live tail starts after this entry id.
    pub after: Option<i64>,
}

impl From<BadLogFilter> for ApiError {
    fn from(err: BadLogFilter) -> Self {
        ApiError::BadRequest(err.to_string())
    }
}

/// Reads a query string (`None`: there is none): the filter fields of [`LogFilter`] (`level`
/// may repeat or list several, comma-separated), `cursor`, `limit` and `after`.
pub fn parse_log_query(query: Option<&str>) -> Result<LogQuery, BadLogFilter> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let pairs = &pairs[..pairs.len().min(MAX_QUERY_PAIRS)];
    let filter = LogFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let mut parsed = LogQuery {
        filter,
        cursor: None,
        limit: None,
        after: None,
    };
    for (name, value) in pairs {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let number = |name: &'static str| {
            value
                .parse::<i64>()
                .map_err(|_| BadLogFilter::Number(name, value.chars().take(64).collect()))
        };
        match name.as_str() {
            "cursor" => parsed.cursor = Some(LogCursor::parse(value)?),
            "limit" => parsed.limit = Some(number("limit")?.max(1) as usize),
            "after" => parsed.after = Some(number("after")?),
            _ => {}
        }
    }
    Ok(parsed)
}

/// `GET /api/logs/`: entries newest first (by their own time), `limit` a page (100 by default,
/// at most `--api-max-page`), the next page from `cursor`.
async fn list(State(state): AppRef, uri: Uri) -> Result<Response, ApiError> {
    let query = parse_log_query(uri.query())?;
    let limit = query
        .limit
        .unwrap_or(100)
        .clamp(1, state.config.api_max_page);
    let (filter, cursor) = (query.filter, query.cursor);
    let (mut logs, dropped) = state
        .store
        .read(move |conn| {
            let logs = store::list_logs(conn, &filter, cursor, limit + 1)?;
            Ok((logs, store::log_counts(conn)?.1))
        })
        .await?;
    let next_cursor = (logs.len() > limit).then(|| {
        logs.truncate(limit);
        logs.last().map(|l| l.cursor().to_string())
    });
    Ok(json_ok(json!({
        "logs": logs,
        "next_cursor": next_cursor.flatten(),
        "entries_dropped": dropped,
    })))
}

struct LogEvent(LogRecord);

impl IntoEvent for LogEvent {
    fn into_event(self) -> Event {
        Event::default()
            .event("log")
            .id(self.0.id.to_string())
            .data(serde_json::to_string(&self.0).unwrap_or_default())
    }
}

/// `GET /api/logs/stream/`: entries as Server-Sent Events (`event: log`, `id:` the entry's id)
/// in the order they were stored, filtered like `/api/logs/`, resuming after `Last-Event-ID`
/// or `?after=`; without either it starts with what arrives next.
async fn stream(State(state): AppRef, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let query = parse_log_query(uri.query())?;
    let start = match last_event_id(&headers).or(query.after) {
        Some(id) => id,
        None => state.store.read(store::last_log_id).await?,
    };
    let filter = query.filter;
    let stream = live_stream(state, start, move |conn, after| {
        // Entries the filter skips must still move the cursor: the newest id is read first, so
        // whatever this query does not see is above it.
        let newest = store::last_log_id(conn)?;
        let logs = store::logs_after(conn, &filter, after, STREAM_CHUNK)?;
        let next = match logs.last() {
            Some(last) if logs.len() == STREAM_CHUNK => last.id,
            Some(last) => last.id.max(newest),
            None => newest.max(after),
        };
        Ok((logs.into_iter().map(LogEvent).collect(), next))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
