//! Log entries: one row per entry of every `log` item, for `/api/logs/` and `/logs`.
//!
//! Ingest reads each entry (`item/logs.rs`) and the writer inserts its row in the transaction
//! that stores the item, with the entry's text (body and attribute values) in `logs_text`, an
//! FTS5 table with the trigram tokenizer that `?q=` looks substrings up in. Rows go with their
//! item (`ON DELETE CASCADE`, and a trigger takes their text out of `logs_text`), so eviction
//! and flushes need nothing more; the byte cap counts them with their item (`byte_cap.rs`).
//! How many entries of an item were past `--max-log-entries` is kept in `item_logs`.
//!
//! Listings are newest first by the entry's own time (`ts`, then `id`); every filter has an
//! index that keeps that order (`logs_level`, `logs_service`, ...), and the cursor is the last
//! entry's `(ts, id)`. A page walks one of them and stops: several levels are one walk per
//! level merged, and text matches are a set each row is checked against, unless they are few
//! enough to read and sort (`list_sql`). The live tail follows `id`, the order entries were
//! stored in.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};
use serde::Serialize;
use serde_json::Value;

use super::records::SdkInfo;
use crate::item::{LogEntries, levels_from, normalize_level, normalize_trace_id};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL REFERENCES items(seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    level TEXT NOT NULL,
    severity_number INTEGER,
    body TEXT NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    service TEXT,
    service_name TEXT,
    sdk_name TEXT,
    sdk_version TEXT,
    release TEXT,
    environment TEXT,
    attributes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_seq ON logs(seq);
CREATE INDEX IF NOT EXISTS logs_ts ON logs(ts);
CREATE INDEX IF NOT EXISTS logs_level ON logs(level, ts);
CREATE INDEX IF NOT EXISTS logs_service ON logs(service, ts);
CREATE INDEX IF NOT EXISTS logs_trace ON logs(trace_id, ts);
CREATE INDEX IF NOT EXISTS logs_project ON logs(project_id, ts);
CREATE INDEX IF NOT EXISTS logs_environment ON logs(environment, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS logs_text USING fts5(
    text, content='', contentless_delete=1, tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS logs_text_gone AFTER DELETE ON logs BEGIN
    DELETE FROM logs_text WHERE rowid = old.id;
END;
CREATE TABLE IF NOT EXISTS item_logs (
    seq INTEGER PRIMARY KEY REFERENCES items(seq) ON DELETE CASCADE,
    stored INTEGER NOT NULL,
    dropped INTEGER NOT NULL
);
"#;

/// Bytes counted per log row besides its texts (its record, index and text-index entries).
pub(super) const LOG_ROW_OVERHEAD: i64 = 256;

/// What an item's log rows add to the byte total, as `byte_cap::ITEM_BYTES` counts them in
/// SQL: [`LOG_ROW_OVERHEAD`] and every text a row keeps, twice where an index holds it too
/// (body and attributes are in the text index). Each row repeats its item's SDK name and
/// version, and the name is a row's service when its entry names none.
pub(super) fn entries_bytes(
    logs: &LogEntries,
    sdk_name: Option<&str>,
    sdk_version: Option<&str>,
) -> i64 {
    let len = |t: Option<&str>| t.map_or(0, str::len);
    logs.entries
        .iter()
        .map(|e| {
            let service = e.service_name.as_deref().or(sdk_name);
            let twice = e.body.len()
                + e.attributes.len()
                + e.level.len()
                + len(e.trace_id.as_deref())
                + len(service)
                + len(e.environment.as_deref());
            let once = len(e.span_id.as_deref())
                + len(e.service_name.as_deref())
                + len(sdk_name)
                + len(sdk_version)
                + len(e.release.as_deref());
            LOG_ROW_OVERHEAD + (2 * twice + once) as i64
        })
        .sum()
}

/// The item a log row belongs to, as [`insert`] needs it.
pub(super) struct ItemContext<'a> {
    pub(super) seq: i64,
    pub(super) project_id: i64,
    /// Seconds since the Unix epoch: the time of an entry that has none.
    pub(super) received_at: f64,
    pub(super) sdk_name: Option<&'a str>,
    pub(super) sdk_version: Option<&'a str>,
}

/// Stores the entries of the item at `item.seq`.
pub(super) fn insert(
    conn: &Connection,
    item: &ItemContext<'_>,
    logs: &LogEntries,
) -> rusqlite::Result<()> {
    if logs.entries.is_empty() && logs.dropped == 0 {
        return Ok(());
    }
    let mut row = conn.prepare_cached(
        "INSERT INTO logs (seq, idx, project_id, ts, level, severity_number, body, trace_id,
         span_id, service, service_name, sdk_name, sdk_version, release, environment, attributes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut text = conn.prepare_cached("INSERT INTO logs_text (rowid, text) VALUES (?1, ?2)")?;
    for (idx, entry) in logs.entries.iter().enumerate() {
        let service = entry.service_name.as_deref().or(item.sdk_name);
        row.execute(params![
            item.seq,
            idx as i64,
            item.project_id,
            entry.timestamp.unwrap_or(item.received_at),
            entry.level,
            entry.severity_number,
            entry.body,
            entry.trace_id,
            entry.span_id,
            service,
            entry.service_name,
            item.sdk_name,
            item.sdk_version,
            entry.release,
            entry.environment,
            entry.attributes,
        ])?;
        text.execute(params![conn.last_insert_rowid(), entry.search_text])?;
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO item_logs (seq, stored, dropped) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        item.seq,
        logs.entries.len() as i64,
        logs.dropped as i64
    ])?;
    Ok(())
}

/// A stored log item as [`backfill`] reads it: seq, project, received at (ms), SDK name and
/// version, release, environment.
type StoredLogItem = (
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Version 5 to 6: the entries of the log items already stored get their rows, read from their
/// payloads (only log items are read; each is parsed once, as ingest would). `max` is
/// `--max-log-entries`.
pub(super) fn backfill(conn: &Connection, max: usize) -> rusqlite::Result<u64> {
    let items: Vec<StoredLogItem> = conn
        .prepare(
            "SELECT seq, project_id, received_at, sdk_name, sdk_version, release, environment
             FROM items WHERE item_type = 'log' AND seq NOT IN (SELECT seq FROM item_logs)",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stored = 0;
    for (seq, project_id, received_at, sdk_name, sdk_version, release, environment) in items {
        let Some(payload) = super::traces::item_payload(conn, seq)? else {
            continue;
        };
        let body =
            sentry_envelope::check_json_depth(&payload, sentry_envelope::SERDE_JSON_MAX_DEPTH)
                .ok()
                .and_then(|()| serde_json::from_slice::<Value>(&payload).ok());
        let Some(body) = body.as_ref().and_then(Value::as_object) else {
            continue;
        };
        let meta = crate::item::ItemMeta {
            release,
            environment,
            ..Default::default()
        };
        let logs = crate::item::log_entries(body, &meta, max);
        let item = ItemContext {
            seq,
            project_id,
            received_at: received_at as f64 / 1000.0,
            sdk_name: sdk_name.as_deref(),
            sdk_version: sdk_version.as_deref(),
        };
        insert(conn, &item, &logs)?;
        stored += logs.entries.len() as u64;
    }
    Ok(stored)
}

/// Which entries a listing wants; every field narrows it, `None` means any. Built from a query
/// string by [`LogFilter::from_pairs`] (`level` may repeat).
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Any of these levels (folded: `warning` is `warn`).
    pub levels: Vec<String>,
    /// At least this severe (one of Sentry's six levels).
    pub min_level: Option<String>,
    /// The `service.name` attribute, else the SDK name.
    pub service: Option<String>,
    pub trace_id: Option<String>,
    /// The entry's own time, at or after (RFC 3339 or Unix seconds).
    pub since: Option<String>,
    /// The entry's own time, before.
    pub until: Option<String>,
    /// Text in the body or an attribute value (any case).
    pub q: Option<String>,
    pub project: Option<u64>,
    pub environment: Option<String>,
}

/// Why a log filter cannot be answered: a 400.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadLogFilter {
    #[error("invalid time {0:?}: expected RFC 3339 or Unix seconds")]
    Time(String),
    #[error("min_level must be one of trace, debug, info, warn, error, fatal, not {0:?}")]
    MinLevel(String),
    #[error("trace_id must be 32 hex digits, not {0:?}")]
    TraceId(String),
    #[error("project must be a number, not {0:?}")]
    Project(String),
    #[error("{0} must be a number, not {1:?}")]
    Number(&'static str, String),
    #[error("invalid cursor {0:?}: pass the next_cursor of the page before")]
    Cursor(String),
    #[error("at most {0} levels")]
    TooManyLevels(usize),
}

/// Most `level` values one filter takes.
const MAX_LEVELS: usize = 16;

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl LogFilter {
    /// The filter `pairs` (a query string's) describe; other names are ignored, empty values
    /// mean any.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, BadLogFilter> {
        let mut filter = Self::default();
        for (name, value) in pairs {
            let Some(value) = non_empty(value) else {
                continue;
            };
            match name {
                "level" => {
                    for level in value.split(',').filter_map(non_empty) {
                        filter.levels.push(normalize_level(&level));
                    }
                    if filter.levels.len() > MAX_LEVELS {
                        return Err(BadLogFilter::TooManyLevels(MAX_LEVELS));
                    }
                }
                "min_level" => filter.min_level = Some(value),
                "service" => filter.service = Some(value),
                "trace_id" => filter.trace_id = Some(value),
                "since" => filter.since = Some(value),
                "until" => filter.until = Some(value),
                "q" => filter.q = Some(value),
                "environment" => filter.environment = Some(value),
                "project" => {
                    filter.project = Some(
                        value
                            .parse()
                            .map_err(|_| BadLogFilter::Project(value.clone()))?,
                    )
                }
                _ => {}
            }
        }
        filter.check()?;
        Ok(filter)
    }

    /// Checks what the SQL would otherwise refuse later.
    pub fn check(&self) -> Result<(), BadLogFilter> {
        self.to_sql().map(|_| ())
    }

    /// The filter as `name=value` pairs, for links and the live tail's URL.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        if !self.levels.is_empty() {
            pairs.push(("level", self.levels.join(",")));
        }
        let fields = [
            ("min_level", &self.min_level),
            ("service", &self.service),
            ("trace_id", &self.trace_id),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
            ("environment", &self.environment),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                pairs.push((name, v.clone()));
            }
        }
        if let Some(p) = self.project {
            pairs.push(("project", p.to_string()));
        }
        pairs
    }

    /// The `WHERE` clause (over `logs AS l`) and its parameters, numbered from 1.
    fn to_sql(&self) -> Result<(Vec<String>, Vec<SqlValue>), BadLogFilter> {
        let sql = self.to_parts()?;
        let mut clauses = sql.clauses;
        clauses.extend(sql.levels.map(|levels| levels.clause()));
        clauses.extend(sql.text.map(|text| text.clause));
        Ok((clauses, sql.params))
    }

    /// The filter as SQL over `logs AS l`, its level and text clauses kept apart so that
    /// [`list_logs`] can choose how the query walks the indexes.
    fn to_parts(&self) -> Result<FilterSql, BadLogFilter> {
        let mut clauses = Vec::new();
        let mut params: Vec<SqlValue> = Vec::new();
        let bind = |params: &mut Vec<SqlValue>, value: SqlValue| {
            params.push(value);
            format!("?{}", params.len())
        };
        let mut level_sql = None;
        let mut text_sql = None;
        let mut levels: Option<Vec<String>> =
            (!self.levels.is_empty()).then(|| self.levels.clone());
        if let Some(min) = &self.min_level {
            let at_least = levels_from(min).ok_or_else(|| BadLogFilter::MinLevel(min.clone()))?;
            levels = Some(match levels {
                Some(wanted) => wanted
                    .into_iter()
                    .filter(|l| at_least.contains(&l.as_str()))
                    .collect(),
                None => at_least.into_iter().map(str::to_string).collect(),
            });
        }
        if let Some(levels) = levels {
            let mut list: Vec<String> = Vec::new();
            for level in levels {
                // `level=error,error` asks for one level: one arm of the merge, not two.
                let value = SqlValue::Text(level);
                if !params[params.len() - list.len()..].contains(&value) {
                    list.push(bind(&mut params, value));
                }
            }
            level_sql = Some(LevelSql(list));
        }
        if let Some(service) = &self.service {
            clauses.push(format!(
                "l.service = {}",
                bind(&mut params, SqlValue::Text(service.clone()))
            ));
        }
        if let Some(trace) = &self.trace_id {
            let id =
                normalize_trace_id(trace).ok_or_else(|| BadLogFilter::TraceId(trace.clone()))?;
            clauses.push(format!(
                "l.trace_id = {}",
                bind(&mut params, SqlValue::Text(id))
            ));
        }
        if let Some(project) = self.project {
            clauses.push(format!(
                "l.project_id = {}",
                bind(&mut params, SqlValue::Integer(project as i64))
            ));
        }
        if let Some(environment) = &self.environment {
            clauses.push(format!(
                "l.environment = {}",
                bind(&mut params, SqlValue::Text(environment.clone()))
            ));
        }
        for (text, op) in [(&self.since, ">="), (&self.until, "<")] {
            if let Some(text) = text {
                let secs = parse_secs(text).ok_or_else(|| BadLogFilter::Time(text.clone()))?;
                clauses.push(format!(
                    "l.ts {op} {}",
                    bind(&mut params, SqlValue::Real(secs))
                ));
            }
        }
        if let Some(q) = &self.q {
            if q.chars().count() >= 3 && !q.contains('\0') {
                // A phrase of the trigram tokenizer is a substring, in any case.
                let phrase = format!("\"{}\"", q.replace('"', "\"\""));
                let p = bind(&mut params, SqlValue::Text(phrase));
                // `+`: the matches are a set each row is checked against, never the index the
                // query walks (which would read every match's row, then sort them all);
                // `list_logs` drives the query from the matches when they are few.
                text_sql = Some(TextSql {
                    clause: format!(
                        "+l.id IN (SELECT rowid FROM logs_text WHERE logs_text MATCH {p})"
                    ),
                    phrase: Some(p),
                });
            } else {
                // Too short for a trigram: the other filters' rows are checked one by one.
                let pattern = format!("%{}%", like_pattern(q));
                let p = bind(&mut params, SqlValue::Text(pattern));
                text_sql = Some(TextSql {
                    clause: format!(
                        "(l.body LIKE {p} ESCAPE '\\' OR l.attributes LIKE {p} ESCAPE '\\')"
                    ),
                    phrase: None,
                });
            }
        }
        Ok(FilterSql {
            clauses,
            levels: level_sql,
            text: text_sql,
            params,
        })
    }
}

/// A [`LogFilter`] as SQL over `logs AS l`: every clause but the level and text ones, which
/// shape the query (see [`list_logs`]); the parameters of all of them, numbered from 1.
struct FilterSql {
    clauses: Vec<String>,
    levels: Option<LevelSql>,
    text: Option<TextSql>,
    params: Vec<SqlValue>,
}

/// The levels asked for, as the parameters that hold them (none: no entry can match).
struct LevelSql(Vec<String>);

impl LevelSql {
    fn clause(&self) -> String {
        match self.0.as_slice() {
            [] => "0".into(),
            [one] => format!("l.level = {one}"),
            list => format!("l.level IN ({})", list.join(", ")),
        }
    }
}

/// The text clause, and the parameter holding its FTS phrase (`None`: a `LIKE` over the rows,
/// for text shorter than a trigram).
struct TextSql {
    clause: String,
    phrase: Option<String>,
}

/// Text matches up to this many are read one by one and sorted; past it, the query walks the
/// time index and checks each row against the matches, and stops at a page.
const FEW_TEXT_MATCHES: i64 = 2000;

fn like_pattern(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn parse_secs(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .or_else(|| crate::item::parse_rfc3339(text))
}

/// Where a page of entries starts: before the entry at `(ts, id)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogCursor {
    pub ts: f64,
    pub id: i64,
}

impl LogCursor {
    pub fn parse(text: &str) -> Result<Self, BadLogFilter> {
        let bad = || BadLogFilter::Cursor(text.chars().take(64).collect());
        let (ts, id) = text.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            ts: ts
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .ok_or_else(bad)?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for LogCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `f64`'s `Display` is the shortest text that reads back as the same number.
        write!(f, "{}_{}", self.ts, self.id)
    }
}

/// The service an entry came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogService {
    /// The `service.name` attribute, else the SDK name.
    pub name: Option<String>,
    pub sdk: Option<SdkInfo>,
    pub release: Option<String>,
    pub environment: Option<String>,
}

/// One stored log entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogRecord {
    pub id: i64,
    /// The item it was sent in, and that item's seq.
    pub item_id: String,
    pub seq: i64,
    pub project_id: u64,
    /// Seconds since the Unix epoch, exactly as sent.
    pub timestamp: f64,
    /// `timestamp` as RFC 3339, to the microsecond.
    pub time: String,
    pub level: String,
    pub severity_number: Option<i64>,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub service: LogService,
    pub environment: Option<String>,
    /// As sent: `{"key": {"value": ..., "type": ...}}`.
    pub attributes: Value,
}

impl LogRecord {
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            ts: self.timestamp,
            id: self.id,
        }
    }
}

/// Seconds since the Unix epoch as RFC 3339, to the microsecond.
pub fn format_log_time(secs: f64) -> String {
    use time::format_description::well_known::Rfc3339;
    let micros = (secs * 1e6).round() as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(micros * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

const COLUMNS: &str = "l.id, i.id, l.seq, l.project_id, l.ts, l.level, l.severity_number, l.body,
    l.trace_id, l.span_id, l.service, l.sdk_name, l.sdk_version, l.release, l.environment,
    l.attributes";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<LogRecord> {
    let ts: f64 = row.get(4)?;
    let sdk_name: Option<String> = row.get(11)?;
    let environment: Option<String> = row.get(14)?;
    let attributes: String = row.get(15)?;
    Ok(LogRecord {
        id: row.get(0)?,
        item_id: row.get(1)?,
        seq: row.get(2)?,
        project_id: row.get::<_, i64>(3)? as u64,
        timestamp: ts,
        time: format_log_time(ts),
        level: row.get(5)?,
        severity_number: row.get(6)?,
        body: row.get(7)?,
        trace_id: row.get(8)?,
        span_id: row.get(9)?,
        service: LogService {
            name: row.get(10)?,
            sdk: sdk_name.map(|name| SdkInfo {
                name,
                version: row.get(12).ok().flatten(),
            }),
            release: row.get(13)?,
            environment: environment.clone(),
        },
        environment,
        attributes: serde_json::from_str(&attributes).unwrap_or(Value::Null),
    })
}

fn query_records(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
) -> rusqlite::Result<Vec<LogRecord>> {
    conn.prepare_cached(sql)?
        .query_map(params_from_iter(params.iter()), record)?
        .collect()
}

fn sql_error(err: BadLogFilter) -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName(err.to_string())
}

/// Entries matching `filter`, newest first (by their time, then as stored), `limit` at most,
/// only those before `before`.
pub fn list_logs(
    conn: &Connection,
    filter: &LogFilter,
    before: Option<LogCursor>,
    limit: usize,
) -> rusqlite::Result<Vec<LogRecord>> {
    let (sql, params) = list_sql(conn, filter, before, limit)?;
    query_records(conn, &sql, &params)
}

/// The query [`list_logs`] runs. Every shape walks an index in the listing's order and stops at
/// a page, or sorts a few thousand rows at most:
/// - text whose matches are few: the matches drive (each row looked up, then sorted);
/// - several levels: one arm per level, each a page from `logs_level` (level, ts) in order,
///   and the arms' rows (a page each at most) sorted;
/// - otherwise one walk down the time order of the most selective index, text matches a set
///   each row is checked against.
fn list_sql(
    conn: &Connection,
    filter: &LogFilter,
    before: Option<LogCursor>,
    limit: usize,
) -> rusqlite::Result<(String, Vec<SqlValue>)> {
    let FilterSql {
        mut clauses,
        levels,
        text,
        mut params,
    } = filter.to_parts().map_err(sql_error)?;
    if let Some(cursor) = before {
        params.push(SqlValue::Real(cursor.ts));
        params.push(SqlValue::Integer(cursor.id));
        let (t, i) = (params.len() - 1, params.len());
        clauses.push(format!("(l.ts, l.id) < (?{t}, ?{i})"));
    }
    params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let limit = format!("?{}", params.len());
    let order = "ORDER BY l.ts DESC, l.id DESC";
    let few_matches = match &text {
        Some(TextSql {
            phrase: Some(phrase),
            ..
        }) => {
            let index: usize = phrase[1..].parse().unwrap_or(1);
            let matches: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT rowid FROM logs_text WHERE logs_text MATCH ?1
                     LIMIT ?2)",
                )?
                .query_row(params![params[index - 1], FEW_TEXT_MATCHES + 1], |r| {
                    r.get(0)
                })?;
            (matches <= FEW_TEXT_MATCHES).then(|| phrase.clone())
        }
        _ => None,
    };
    if let Some(phrase) = few_matches {
        // `CROSS JOIN` keeps the matches first.
        clauses.extend(levels.map(|l| l.clause()));
        let sql = format!(
            "SELECT {COLUMNS} FROM (SELECT rowid AS id FROM logs_text WHERE logs_text MATCH
             {phrase}) m CROSS JOIN logs l ON l.id = m.id JOIN items i ON i.seq = l.seq
             WHERE {} {order} LIMIT {limit}",
            where_of(&clauses)
        );
        return Ok((sql, params));
    }
    clauses.extend(text.map(|t| t.clause));
    let sql = match levels {
        Some(LevelSql(list)) if list.len() > 1 => {
            let arms: Vec<String> = list
                .iter()
                .map(|level| {
                    let mut arm = vec![format!("l.level = {level}")];
                    arm.extend(clauses.iter().cloned());
                    format!(
                        "SELECT id FROM (SELECT l.id FROM logs l WHERE {} {order} LIMIT {limit})",
                        arm.join(" AND ")
                    )
                })
                .collect();
            format!(
                "SELECT {COLUMNS} FROM logs l JOIN items i ON i.seq = l.seq
                 WHERE l.id IN ({}) {order} LIMIT {limit}",
                arms.join(" UNION ALL ")
            )
        }
        levels => {
            clauses.extend(levels.map(|l| l.clause()));
            format!(
                "SELECT {COLUMNS} FROM logs l JOIN items i ON i.seq = l.seq WHERE {}
                 {order} LIMIT {limit}",
                where_of(&clauses)
            )
        }
    };
    Ok((sql, params))
}

/// Entries matching `filter` stored after the entry `after` (by `id`, oldest first), at most
/// `limit`: what the live tail sends.
pub fn logs_after(
    conn: &Connection,
    filter: &LogFilter,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<LogRecord>> {
    let (mut clauses, mut params) = filter.to_sql().map_err(sql_error)?;
    params.push(SqlValue::Integer(after));
    clauses.push(format!("l.id > ?{}", params.len()));
    params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {COLUMNS} FROM logs l JOIN items i ON i.seq = l.seq WHERE {}
         ORDER BY l.id LIMIT ?{}",
        where_of(&clauses),
        params.len()
    );
    query_records(conn, &sql, &params)
}

fn where_of(clauses: &[String]) -> String {
    if clauses.is_empty() {
        "1 = 1".into()
    } else {
        clauses.join(" AND ")
    }
}

/// The newest entry's id (0 when there is none): where a live tail starts.
pub fn last_log_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM logs", [], |r| r.get(0))
}

/// Entries stored, and entries past `--max-log-entries` that were not.
pub fn log_counts(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(
        "SELECT (SELECT COUNT(*) FROM logs), (SELECT COALESCE(SUM(dropped), 0) FROM item_logs)",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}

/// The services and environments entries name (at most `limit` of each), for suggestions.
pub fn log_facets(conn: &Connection, limit: usize) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
    // One probe of the column's index per value (`DISTINCT` would read every entry).
    let distinct = |column: &str| -> rusqlite::Result<Vec<String>> {
        conn.prepare_cached(&format!(
            "WITH RECURSIVE v(value) AS (
                 SELECT MIN({column}) FROM logs
                 UNION ALL
                 SELECT (SELECT MIN({column}) FROM logs WHERE {column} > v.value) FROM v
                 WHERE v.value IS NOT NULL
             )
             SELECT value FROM v WHERE value IS NOT NULL LIMIT ?1"
        ))?
        .query_map([limit as i64], |r| r.get(0))?
        .collect()
    };
    Ok((distinct("service")?, distinct("environment")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Storage, SyncMode};
    use crate::store::Store;

    fn filter(query: &str) -> LogFilter {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).expect("query");
        LogFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("filter")
    }

    /// Every listing walks an index in time order and stops at a page, or sorts a bounded set
    /// (a page per level, or few text matches): none reads the whole table or sorts it.
    #[test]
    fn listings_walk_an_index_in_time_order() {
        let store = Store::open(&Storage::Memory, 10, 10, 1 << 20, SyncMode::Off).expect("open");
        // More matches of "common" than are read one by one; "rare" has one.
        store
            .read_blocking(|conn| {
                conn.execute_batch(&format!(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
                     INSERT INTO logs_text (rowid, text) SELECT i, 'a common word' FROM n;
                     INSERT INTO logs_text (rowid, text) VALUES (1000000, 'a rare word');",
                    FEW_TEXT_MATCHES + 10
                ))
            })
            .expect("text");
        let trace = "0af7651916cd43dd8448eb211c80319c";
        let window = "since=1700000000&until=1700003600";
        // (query, whether a bounded sort is expected)
        let cases = [
            ("", false),
            ("level=error", false),
            ("level=error,warning", true),
            ("level=error,error", false),
            ("min_level=warning", true),
            ("min_level=fatal", false),
            ("service=orders", false),
            (&format!("trace_id={trace}"), false),
            ("q=common", false),
            ("q=rare", true),
            ("q=ab", false),
            (window, false),
            (
                &format!("service=orders&level=error,warning&{window}"),
                true,
            ),
            ("service=orders&q=common", false),
            ("min_level=error&q=common", true),
            ("environment=staging", false),
            ("project=2", false),
        ];
        let cursor = LogCursor {
            ts: 1_700_000_000.5,
            id: 7,
        };
        for (query, sorts) in cases {
            for before in [None, Some(cursor)] {
                let filter = filter(query);
                let plan = store
                    .read_blocking(|conn| {
                        let (sql, params) = list_sql(conn, &filter, before, 101)?;
                        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                        let rows =
                            stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))?;
                        rows.collect::<rusqlite::Result<Vec<String>>>()
                    })
                    .expect("plan");
                let shown = format!("{query} {before:?}:\n  {}", plan.join("\n  "));
                assert!(
                    !plan.iter().any(|line| line == "SCAN l" || line == "SCAN i"),
                    "{shown}"
                );
                assert_eq!(
                    plan.iter().any(|line| line.contains("TEMP B-TREE")),
                    sorts,
                    "{shown}"
                );
                // Several levels: one arm per level, each a page walked in time order.
                if sorts && !query.contains("rare") {
                    let arms = plan.iter().filter(|l| l.starts_with("CO-ROUTINE")).count();
                    assert!(arms >= 2, "{shown}");
                }
            }
        }
    }

    /// Each query shape (few text matches, many, a merge of levels) pages through the same
    /// entries as filtering them all and sorting by time would, when ids and times disagree.
    #[test]
    fn every_shape_pages_in_time_order() {
        let store = Store::open(&Storage::Memory, 10, 10, 1 << 20, SyncMode::Off).expect("open");
        let n = 3 * FEW_TEXT_MATCHES;
        store
            .read_blocking(|conn| {
                conn.execute_batch(&format!(
                    "PRAGMA foreign_keys = OFF;
                     INSERT INTO items (seq, id, envelope_id, idx, project_id, item_type, summary,
                         received_at, payload, is_json)
                     VALUES (1, 'item', 1, 0, 1, 'log', '', 0, x'', 1);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
                     INSERT INTO logs (id, seq, idx, project_id, ts, level, body, service,
                         attributes)
                     SELECT i, 1, i, 1, 1000000 + (i * 7919) % 1000,
                         CASE i % 4 WHEN 0 THEN 'info' WHEN 1 THEN 'warn' WHEN 2 THEN 'error'
                             ELSE 'debug' END,
                         '', CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END, '{{}}' FROM n;
                     INSERT INTO logs_text (rowid, text)
                     SELECT id, CASE WHEN id % 2 = 0 THEN 'common' ELSE 'other' END
                         || CASE WHEN id = 1234 THEN ' rare' ELSE '' END FROM logs;"
                ))
            })
            .expect("rows");
        let all: Vec<(f64, i64, String, String)> = (1..=n)
            .map(|i| {
                let level = ["info", "warn", "error", "debug"][(i % 4) as usize];
                let service = if i % 3 == 0 { "a" } else { "b" };
                let ts = 1_000_000.0 + ((i * 7919) % 1000) as f64;
                (ts, i, level.to_string(), service.to_string())
            })
            .collect();
        type Wanted = fn(&(f64, i64, String, String)) -> bool;
        let cases: [(&str, Wanted); 6] = [
            ("level=error,warning", |r| r.2 == "error" || r.2 == "warn"),
            ("min_level=warn&q=common", |r| {
                r.2 != "info" && r.2 != "debug" && r.1 % 2 == 0
            }),
            ("q=common", |r| r.1 % 2 == 0),
            ("q=rare", |r| r.1 == 1234),
            ("q=ther&level=warn,error,debug", |r| {
                r.1 % 2 == 1 && r.2 != "info"
            }),
            ("service=a&level=warn,error&q=common", |r| {
                r.3 == "a" && (r.2 == "warn" || r.2 == "error") && r.1 % 2 == 0
            }),
        ];
        for (query, wanted) in cases {
            let expected: Vec<i64> = {
                let mut rows: Vec<_> = all.iter().filter(|r| wanted(r)).collect();
                rows.sort_by(|a, b| (b.0, b.1).partial_cmp(&(a.0, a.1)).expect("order"));
                rows.iter().map(|r| r.1).collect()
            };
            let filter = filter(query);
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let page = store
                    .read_blocking(|conn| list_logs(conn, &filter, before, 500))
                    .expect("page");
                got.extend(page.iter().map(|r| r.id));
                match page.last() {
                    Some(last) if page.len() == 500 => before = Some(last.cursor()),
                    _ => break,
                }
            }
            assert_eq!(got.len(), expected.len(), "{query}");
            assert!(
                got == expected,
                "{query}: pages differ from the sorted rows"
            );
        }
    }
}
