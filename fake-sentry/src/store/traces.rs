//! Traces: which items take part in which trace, and the trace list read from it.
//!
//! Ingest finds each item's traces (`item/trace.rs`) and the writer records one row per item
//! and trace in `item_traces`, in the transaction that stores the item: its span ids, name,
//! operation, the extent of its spans and how many spans and entries it holds in that trace.
//! The item's own trace is also kept in `items.trace_id`, for listings. Rows go with their item
//! (`ON DELETE CASCADE`), so eviction and flushes need nothing more; the byte cap counts them
//! with their item (`byte_cap.rs`, [`links_bytes`]): an item holds up to 64 of them, each with
//! a name and operation as long as the item allows.
//!
//! Everything a trace's summary needs is in those rows and the item's indexed columns: listing
//! traces reads no payload. A trace is found by the table's key (`trace_id`, `seq`); the list
//! groups the table by trace, newest trace (by its newest item) first, and summarises each
//! trace of a page from its rows.

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::Serialize;

use super::filter::ItemFilter;
use super::payload::{STORED_COLUMNS, StoredItem};
use super::records::{SdkInfo, format_secs};
use crate::item::{TraceLink, earlier, later};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS item_traces (
    trace_id TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES items(seq) ON DELETE CASCADE,
    span_id TEXT,
    parent_span_id TEXT,
    name TEXT,
    op TEXT,
    start_ts REAL,
    end_ts REAL,
    spans INTEGER NOT NULL DEFAULT 0,
    entries INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (trace_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_traces_seq ON item_traces(seq);
"#;

/// Most distinct services one trace summary lists.
const MAX_SERVICES: usize = 50;

/// The `WHERE` condition of an item filter's `trace_id`, its id bound at `placeholder`.
pub(super) fn sql_condition(placeholder: &str) -> String {
    format!("seq IN (SELECT seq FROM item_traces WHERE trace_id = {placeholder})")
}

/// Bytes counted per trace row besides its texts (its record, its numbers and its entry in
/// `item_traces_seq`).
pub(super) const TRACE_ROW_OVERHEAD: i64 = 128;

/// What an item's trace rows add to the byte total, as `byte_cap::ITEM_BYTES` counts them in
/// SQL: [`TRACE_ROW_OVERHEAD`] and every text a row keeps, the trace id twice (the index on
/// `seq` holds it too).
pub(super) fn links_bytes(links: &[TraceLink]) -> i64 {
    let len = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    links
        .iter()
        .map(|link| {
            TRACE_ROW_OVERHEAD
                + (2 * link.trace_id.len()
                    + len(&link.span_id)
                    + len(&link.parent_span_id)
                    + len(&link.name)
                    + len(&link.op)) as i64
        })
        .sum()
}

/// Records the traces of the item stored at `seq`.
pub(super) fn insert_links(
    conn: &Connection,
    seq: i64,
    links: &[TraceLink],
) -> rusqlite::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO item_traces (trace_id, seq, span_id, parent_span_id, name, op,
         start_ts, end_ts, spans, entries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for link in links {
        stmt.execute(params![
            link.trace_id,
            seq,
            link.span_id,
            link.parent_span_id,
            link.name,
            link.op,
            link.start,
            link.end,
            link.spans,
            link.entries,
        ])?;
    }
    Ok(())
}

/// Which traces the trace list wants; every field narrows it, `None` means any.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TraceFilter {
    /// Traces with an item of this project.
    pub project: Option<u64>,
    /// Traces with an item of this SDK (a prefix at a dot, as for items).
    pub sdk: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Traces with an item received at or after this time (RFC 3339 or Unix seconds).
    pub since: Option<String>,
    /// Traces with an item received before this time.
    pub until: Option<String>,
    /// Text in the root transaction's name (ASCII letters in either case).
    pub q: Option<String>,
    /// `true`: traces with an error event; `false`: traces without one.
    pub has_errors: Option<bool>,
}

impl TraceFilter {
    /// The item filter that picks the items a trace must have one of (`None`: any trace).
    pub fn item_filter(&self) -> Option<ItemFilter> {
        let filter = ItemFilter {
            project: self.project,
            sdk: self.sdk.clone(),
            release: self.release.clone(),
            environment: self.environment.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            ..ItemFilter::default()
        };
        let any = self.project.is_some()
            || [
                &self.sdk,
                &self.release,
                &self.environment,
                &self.since,
                &self.until,
            ]
            .iter()
            .any(|v| v.is_some());
        any.then_some(filter)
    }
}

/// One item of a trace, as its `item_traces` row and its item's columns have it.
#[derive(Debug, Clone)]
pub struct TraceItem {
    pub seq: i64,
    pub id: String,
    pub item_type: String,
    pub event_id: Option<String>,
    pub project_id: u64,
    pub sdk: Option<SdkInfo>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub level: Option<String>,
    pub summary: String,
    /// The item's own time (seconds since the Unix epoch).
    pub timestamp: Option<f64>,
    pub is_json: bool,
    pub link: TraceLink,
}

/// The root of a trace: its transaction without a parent span, else its earliest.
#[derive(Debug, Clone, Serialize)]
pub struct TraceRoot {
    pub name: Option<String>,
    pub op: Option<String>,
    pub project_id: u64,
    pub event_id: Option<String>,
    pub item_id: String,
    pub span_id: Option<String>,
}

/// A service taking part in a trace: a project and the SDK, release and environment it sent
/// with.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct TraceService {
    pub project_id: u64,
    pub sdk: Option<String>,
    pub sdk_version: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
}

/// What a trace holds, counted from its items.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TraceCounts {
    pub transactions: u64,
    /// Spans: a transaction's child spans and span items' spans (transactions not counted).
    pub spans: u64,
    /// Error events.
    pub errors: u64,
    /// Log entries (a `log` item holds many).
    pub logs: u64,
    /// Profiles and profile chunks.
    pub profiles: u64,
    /// Replay events.
    pub replays: u64,
    /// Every item of the trace, whatever its type.
    pub items: u64,
}

/// One trace of the trace list.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root: Option<TraceRoot>,
    /// Earliest span start, seconds since the Unix epoch as sent.
    pub start_timestamp: Option<f64>,
    /// Latest span end.
    pub end_timestamp: Option<f64>,
    /// `start_timestamp` as RFC 3339.
    pub start: Option<String>,
    pub end: Option<String>,
    /// `end_timestamp - start_timestamp` in milliseconds, to the microsecond.
    pub duration_ms: Option<f64>,
    pub services: Vec<TraceService>,
    pub counts: TraceCounts,
    /// The newest item's seq: the list's order, and its cursor.
    pub last_seq: i64,
}

/// `end - start` in milliseconds, to the microsecond (so that float noise does not show).
pub fn duration_ms(start: Option<f64>, end: Option<f64>) -> Option<f64> {
    let (start, end) = (start?, end?);
    Some(((end - start) * 1e6).round() / 1e3)
}

/// Seconds since the Unix epoch as RFC 3339.
pub fn format_timestamp(secs: f64) -> String {
    format_secs(secs)
}

/// The root transaction of a trace's items (see [`TraceRoot`]); a lone span without a parent
/// when the trace has no transaction.
pub fn root_of(items: &[TraceItem]) -> Option<&TraceItem> {
    fn earliest<'a>(candidates: impl Iterator<Item = &'a TraceItem>) -> Option<&'a TraceItem> {
        candidates.min_by(|a, b| {
            let key = |i: &TraceItem| i.link.start.unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b)).then(a.seq.cmp(&b.seq))
        })
    }
    let transactions = || items.iter().filter(|i| i.item_type == "transaction");
    earliest(transactions().filter(|i| i.link.parent_span_id.is_none()))
        .or_else(|| earliest(transactions()))
        .or_else(|| {
            earliest(items.iter().filter(|i| {
                i.item_type == "span" && i.link.span_id.is_some() && i.link.parent_span_id.is_none()
            }))
        })
}

/// A trace's summary from its items (as [`trace_items`] reads them).
pub fn summarize(trace_id: &str, items: &[TraceItem]) -> TraceSummary {
    let mut counts = TraceCounts::default();
    let (mut start, mut end) = (None, None);
    let mut services = BTreeSet::new();
    for item in items {
        counts.items += 1;
        let link = &item.link;
        match item.item_type.as_str() {
            "transaction" => {
                counts.transactions += 1;
                counts.spans += u64::from(link.spans);
            }
            "span" => counts.spans += u64::from(link.spans),
            "event" => counts.errors += 1,
            "log" => counts.logs += u64::from(link.entries),
            "profile" | "profile_chunk" => counts.profiles += 1,
            "replay_event" => counts.replays += 1,
            _ => {}
        }
        if matches!(item.item_type.as_str(), "transaction" | "span") {
            start = earlier(start, link.start);
            end = later(end, link.end);
        }
        if services.len() < MAX_SERVICES {
            services.insert(TraceService {
                project_id: item.project_id,
                sdk: item.sdk.as_ref().map(|s| s.name.clone()),
                sdk_version: item.sdk.as_ref().and_then(|s| s.version.clone()),
                release: item.release.clone(),
                environment: item.environment.clone(),
            });
        }
    }
    let root = root_of(items).map(|item| TraceRoot {
        name: item.link.name.clone(),
        op: item.link.op.clone(),
        project_id: item.project_id,
        event_id: item.event_id.clone(),
        item_id: item.id.clone(),
        span_id: item.link.span_id.clone(),
    });
    TraceSummary {
        trace_id: trace_id.to_string(),
        root,
        start_timestamp: start,
        end_timestamp: end,
        start: start.map(format_secs),
        end: end.map(format_secs),
        duration_ms: duration_ms(start, end),
        services: services.into_iter().collect(),
        counts,
        last_seq: items.iter().map(|i| i.seq).max().unwrap_or(0),
    }
}

/// The items of trace `trace_id`, oldest first.
pub fn trace_items(conn: &Connection, trace_id: &str) -> rusqlite::Result<Vec<TraceItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.seq, i.id, i.item_type, i.event_id, i.project_id, i.sdk_name, i.sdk_version,
         i.release, i.environment, i.level, i.summary, i.timestamp, i.is_json,
         t.span_id, t.parent_span_id, t.name, t.op, t.start_ts, t.end_ts, t.spans, t.entries
         FROM item_traces t JOIN items i ON i.seq = t.seq
         WHERE t.trace_id = ?1 ORDER BY t.seq",
    )?;
    let rows = stmt.query_map([trace_id], |row| {
        let sdk_name: Option<String> = row.get(5)?;
        Ok(TraceItem {
            seq: row.get(0)?,
            id: row.get(1)?,
            item_type: row.get(2)?,
            event_id: row.get(3)?,
            project_id: row.get::<_, i64>(4)? as u64,
            sdk: sdk_name.map(|name| SdkInfo {
                name,
                version: row.get(6).ok().flatten(),
            }),
            release: row.get(7)?,
            environment: row.get(8)?,
            level: row.get(9)?,
            summary: row.get(10)?,
            timestamp: row.get(11)?,
            is_json: row.get(12)?,
            link: TraceLink {
                trace_id: trace_id.to_string(),
                span_id: row.get(13)?,
                parent_span_id: row.get(14)?,
                name: row.get(15)?,
                op: row.get(16)?,
                start: row.get(17)?,
                end: row.get(18)?,
                spans: row.get(19)?,
                entries: row.get(20)?,
            },
        })
    })?;
    rows.collect()
}

/// The payload of the item stored at `seq`, as the SDK sent it.
pub fn item_payload(conn: &Connection, seq: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let stored = conn
        .prepare_cached(&format!(
            "SELECT {STORED_COLUMNS} FROM items WHERE seq = ?1"
        ))?
        .query_row([seq], |row| StoredItem::from_row(row, 0))
        .optional()?;
    stored.map(|s| s.read_payload(conn)).transpose()
}

/// Traces matching `filter`, newest first (by their newest item), `limit` at most, only those
/// whose newest item is before `before` (the cursor: the last `last_seq` of the page before).
pub fn list_traces(
    conn: &Connection,
    filter: &TraceFilter,
    before: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<TraceSummary>> {
    let mut clauses = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(items) = filter.item_filter() {
        let (clause, item_params) = items
            .to_sql()
            .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
        // The item filter numbers its parameters from 1; they come first.
        params.extend(item_params);
        clauses.push(format!(
            "trace_id IN (SELECT trace_id FROM item_traces WHERE seq IN
             (SELECT seq FROM items WHERE {clause}))"
        ));
    }
    if let Some(wanted) = filter.has_errors {
        clauses.push(format!(
            "trace_id {} (SELECT t.trace_id FROM items i JOIN item_traces t ON t.seq = i.seq
             WHERE i.item_type = 'event')",
            if wanted { "IN" } else { "NOT IN" }
        ));
    }
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_ascii_lowercase);
    if let Some(q) = &q {
        params.push(SqlValue::Text(format!("%{}%", like_pattern(q))));
        clauses.push(format!(
            "trace_id IN (SELECT trace_id FROM item_traces WHERE name LIKE ?{} ESCAPE '\\')",
            params.len()
        ));
    }
    let where_clause = if clauses.is_empty() {
        "1 = 1".to_string()
    } else {
        clauses.join(" AND ")
    };
    params.push(SqlValue::Integer(before.unwrap_or(i64::MAX)));
    let before_p = params.len();
    // A `q` is checked against each candidate's root; candidates are read a chunk at a time.
    let chunk = limit.saturating_add(1).max(16);
    params.push(SqlValue::Integer(chunk as i64));
    let chunk_p = params.len();
    let sql = format!(
        "SELECT trace_id, MAX(seq) AS last FROM item_traces WHERE {where_clause}
         GROUP BY trace_id HAVING last < ?{before_p} ORDER BY last DESC LIMIT ?{chunk_p}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut traces = Vec::new();
    loop {
        let page: Vec<(String, i64)> = stmt
            .query_map(params_from_iter(params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let exhausted = page.len() < chunk;
        for (trace_id, last) in &page {
            let items = trace_items(conn, trace_id)?;
            let summary = summarize(trace_id, &items);
            let root_matches = q.as_ref().is_none_or(|q| {
                summary
                    .root
                    .as_ref()
                    .and_then(|r| r.name.as_deref())
                    .is_some_and(|name| name.to_ascii_lowercase().contains(q.as_str()))
            });
            if root_matches {
                traces.push(summary);
                if traces.len() >= limit {
                    return Ok(traces);
                }
            }
            params[before_p - 1] = SqlValue::Integer(*last);
        }
        if exhausted {
            return Ok(traces);
        }
    }
}

fn like_pattern(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
