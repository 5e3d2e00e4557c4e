//! What a listing asks for ([`ItemFilter`]) and the SQL `WHERE` clause that selects it.

use rusqlite::types::Value as SqlValue;

use super::event_index;

/// Which items a query wants. Every field narrows the result; `None` means any.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ItemFilter {
    pub project: Option<u64>,
    /// Item type, or several separated by commas.
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    pub level: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// SDK name; a prefix matches (`sentry.python` matches `sentry.python.django`).
    pub sdk: Option<String>,
    pub platform: Option<String>,
    /// Text that must appear in the summary or the payload (ASCII letters in either case).
    pub q: Option<String>,
    /// The Sentry event id (with or without dashes).
    pub event_id: Option<String>,
    /// Received at or after this time (RFC 3339 or Unix seconds).
    pub since: Option<String>,
    /// Received before this time (RFC 3339 or Unix seconds).
    pub until: Option<String>,
    /// Only items stored after this sequence number.
    pub after: Option<i64>,
    /// Only items stored before this sequence number (the pagination cursor).
    pub before: Option<i64>,
    /// `true`: only items the data policy found something in; `false`: only audited items
    /// with no findings.
    pub findings: Option<bool>,
    /// Only items with a minidump in this state (`pending`, `processed` or `failed`): the
    /// dump's attachment and the event sent with it.
    pub processing: Option<String>,
    /// Only items that take part in this trace (32 hex digits): events, transactions, spans,
    /// logs, profiles, replays and check-ins that name it, and items whose envelope names it.
    pub trace_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid time {0:?}: expected RFC 3339 or Unix seconds")]
pub struct BadTime(pub String);

fn parse_time_ms(text: &str) -> Result<i64, BadTime> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1000.0) as i64);
    }
    crate::item::parse_rfc3339(text)
        .map(|secs| (secs * 1000.0) as i64)
        .ok_or_else(|| BadTime(text.to_string()))
}

/// Accumulates a `WHERE` clause and its numbered parameters.
#[derive(Default)]
struct SqlWhere {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
}

impl SqlWhere {
    /// Binds a parameter and returns its placeholder.
    fn bind(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        format!("?{}", self.params.len())
    }

    fn equals(&mut self, column: &str, value: SqlValue) {
        let p = self.bind(value);
        self.clauses.push(format!("{column} = {p}"));
    }
}

fn like_pattern(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl ItemFilter {
    /// Why `trace_id` cannot be a trace id, when it cannot.
    pub fn bad_trace_id(&self) -> Option<String> {
        let id = self.trace_id.as_deref()?;
        crate::item::normalize_trace_id(id.trim())
            .is_none()
            .then(|| format!("invalid trace id {id:?}: expected 32 hex digits"))
    }

    /// The SQL `WHERE` clause (without the keyword) and its parameters, for every field but
    /// the text `q` (which `list_items` and `count_items` match in Rust).
    pub fn to_sql(&self) -> Result<(String, Vec<SqlValue>), BadTime> {
        let mut w = SqlWhere::default();
        if let Some(p) = self.project {
            w.equals("project_id", SqlValue::Integer(p as i64));
        }
        if let Some(types) = &self.item_type {
            let placeholders: Vec<String> = types
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| w.bind(SqlValue::Text(t.to_string())))
                .collect();
            if !placeholders.is_empty() {
                w.clauses
                    .push(format!("item_type IN ({})", placeholders.join(", ")));
            }
        }
        for (column, value) in [
            ("level", &self.level),
            ("release", &self.release),
            ("environment", &self.environment),
            ("platform", &self.platform),
        ] {
            if let Some(v) = value {
                w.equals(column, SqlValue::Text(v.clone()));
            }
        }
        if let Some(sdk) = &self.sdk {
            let exact = w.bind(SqlValue::Text(sdk.clone()));
            let prefix = w.bind(SqlValue::Text(format!("{}.%", like_pattern(sdk))));
            w.clauses.push(format!(
                "(sdk_name = {exact} OR sdk_name LIKE {prefix} ESCAPE '\\')"
            ));
        }
        if let Some(id) = &self.event_id {
            let p = w.bind(SqlValue::Text(crate::item::normalize_event_id(id.clone())));
            w.clauses.push(event_index::sql_condition(&p));
        }
        if let Some(since) = &self.since {
            let p = w.bind(SqlValue::Integer(parse_time_ms(since)?));
            w.clauses.push(format!("received_at >= {p}"));
        }
        if let Some(until) = &self.until {
            let p = w.bind(SqlValue::Integer(parse_time_ms(until)?));
            w.clauses.push(format!("received_at < {p}"));
        }
        if let Some(after) = self.after {
            let p = w.bind(SqlValue::Integer(after));
            w.clauses.push(format!("seq > {p}"));
        }
        if let Some(before) = self.before {
            let p = w.bind(SqlValue::Integer(before));
            w.clauses.push(format!("seq < {p}"));
        }
        if let Some(status) = &self.processing {
            let p = w.bind(SqlValue::Text(status.clone()));
            w.clauses.push(format!(
                "seq IN (SELECT seq FROM minidumps WHERE status = {p}
                         UNION ALL SELECT event_seq FROM minidumps WHERE status = {p})"
            ));
        }
        if let Some(trace_id) = &self.trace_id {
            // An id that is not one matches nothing (the API refuses it first, see
            // `ItemFilter::bad_trace_id`).
            let id = crate::item::normalize_trace_id(trace_id.trim())
                .unwrap_or_else(|| trace_id.clone());
            let p = w.bind(SqlValue::Text(id));
            w.clauses.push(super::traces::sql_condition(&p));
        }
        match self.findings {
            Some(true) => w.clauses.push("finding_count > 0".into()),
            Some(false) => w.clauses.push("finding_count = 0".into()),
            None => {}
        }
        if w.clauses.is_empty() {
            w.clauses.push("1 = 1".into());
        }
        Ok((w.clauses.join(" AND "), w.params))
    }
}
