//! The home page: the newest items with a filter bar, text search, cursor pagination, counts
//! per type, the DSN of each project, and live updates (`static/app.js` listens to
//! `/api/items/stream/` with the page's filters).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;

use super::limits::UiLimits;
use super::queries::{self, ListData, Suggestions};
use super::query_string::{PageLinks, encode, non_empty, number, page_limit, pairs, parse};
use super::text::{short_time, truncate};
use super::{UiError, render};
use crate::server::AppState;
use crate::store::{ItemFilter, ItemSummary};

/// The list page's query string. Every field is text because an HTML form sends empty fields
/// as `name=`, which means "any".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub project: String,
    #[serde(rename = "type")]
    pub item_type: String,
    pub level: String,
    pub release: String,
    pub environment: String,
    pub sdk: String,
    pub q: String,
    pub since: String,
    pub until: String,
    /// The cursor: show items stored before this sequence number.
    pub before: String,
    pub limit: String,
    /// `with` or `without` data-policy findings; empty for any.
    pub findings: String,
    /// Only the items of this trace (32 hex digits); no form field, a link's.
    pub trace_id: String,
    /// Set after a flush, to say how many items went.
    pub flushed: String,
}

impl ListQuery {
    /// The store filter these fields describe.
    pub(crate) fn filter(&self) -> Result<ItemFilter, UiError> {
        let filter = ItemFilter {
            project: number::<i64>("project", &self.project)?.map(|p| p as u64),
            item_type: non_empty(&self.item_type),
            level: non_empty(&self.level),
            release: non_empty(&self.release),
            environment: non_empty(&self.environment),
            sdk: non_empty(&self.sdk),
            q: non_empty(&self.q),
            since: non_empty(&self.since),
            until: non_empty(&self.until),
            before: number("before", &self.before)?,
            findings: match self.findings.trim() {
                "" | "any" => None,
                "with" | "true" | "1" => Some(true),
                "without" | "false" | "0" => Some(false),
                other => {
                    return Err(UiError::BadRequest(format!(
                        "findings must be with or without, not {other:?}"
                    )));
                }
            },
            trace_id: non_empty(&self.trace_id),
            ..Default::default()
        };
        filter.to_sql()?;
        if let Some(bad) = filter.bad_trace_id() {
            return Err(UiError::BadRequest(bad));
        }
        Ok(filter)
    }

    /// Items per page: `limit`, within the `page` and `max_page` settings.
    pub(crate) fn limit(&self, limits: &UiLimits) -> Result<usize, UiError> {
        page_limit(&self.limit, limits)
    }

    /// The non-empty filter fields as `name=value` pairs (no cursor, no limit).
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        pairs([
            ("project", &self.project),
            ("type", &self.item_type),
            ("level", &self.level),
            ("release", &self.release),
            ("environment", &self.environment),
            ("sdk", &self.sdk),
            ("q", &self.q),
            ("since", &self.since),
            ("until", &self.until),
            ("trace_id", &self.trace_id),
        ])
    }

    /// The query string of this listing without its `trace_id` filter.
    fn without_trace(&self) -> String {
        let pairs: Vec<(&str, String)> = self
            .filter_pairs()
            .into_iter()
            .filter(|(name, _)| *name != "trace_id")
            .collect();
        encode(&pairs)
    }

    /// The query string of this listing with a different `type` filter.
    fn with_type(&self, item_type: &str) -> String {
        let mut pairs: Vec<(&str, String)> = self
            .filter_pairs()
            .into_iter()
            .filter(|(name, _)| *name != "type")
            .collect();
        if !item_type.is_empty() {
            pairs.push(("type", item_type.to_string()));
        }
        encode(&pairs)
    }

    fn is_filtered(&self) -> bool {
        !self.filter_pairs().is_empty()
    }
}

/// One table row.
pub(crate) struct Row {
    pub id: String,
    pub seq: i64,
    pub time: String,
    pub time_full: String,
    pub project: u64,
    pub item_type: String,
    pub level: String,
    pub summary: String,
    pub sdk: String,
    pub release: String,
    pub environment: String,
    pub decode_error: bool,
    /// Data-policy findings, when the item was audited.
    pub findings: u64,
    /// The trace it takes part in (32 hex digits), or empty.
    pub trace_id: String,
}

impl Row {
    pub fn new(limits: &UiLimits, item: &ItemSummary) -> Self {
        Self {
            id: item.id.clone(),
            seq: item.seq,
            time: short_time(&item.received_at),
            time_full: item.received_at.clone(),
            project: item.project_id,
            item_type: item.item_type.clone(),
            level: item.level.clone().unwrap_or_default(),
            summary: truncate(&item.summary, limits.summary_chars),
            sdk: item
                .sdk
                .as_ref()
                .map(|s| match &s.version {
                    Some(v) => format!("{} {v}", s.name),
                    None => s.name.clone(),
                })
                .unwrap_or_default(),
            release: item.release.clone().unwrap_or_default(),
            environment: item.environment.clone().unwrap_or_default(),
            decode_error: item.decode_error.is_some(),
            findings: item.findings.unwrap_or(0),
            trace_id: item.trace_id.clone().unwrap_or_default(),
        }
    }
}

/// A "type: count" chip that filters the list.
pub(crate) struct TypeCount {
    pub item_type: String,
    pub count: u64,
    pub query: String,
    pub active: bool,
}

/// A project's DSN, for the copy buttons.
pub(crate) struct ProjectDsn {
    pub project: u64,
    pub dsn: String,
}

#[derive(Template)]
#[template(path = "list.html")]
pub(crate) struct ListPage {
    pub query: ListQuery,
    pub rows: Vec<Row>,
    pub total: u64,
    pub type_counts: Vec<TypeCount>,
    pub all_types_query: String,
    pub dsns: Vec<ProjectDsn>,
    pub first_dsn: String,
    pub suggestions: Suggestions,
    pub types: Vec<String>,
    /// Query string of the next (older) page, when there is one.
    pub older: Option<String>,
    /// Query string of the first page, when this is not it.
    pub newest: Option<String>,
    /// Query string of the stream of new items matching the filters; empty when this is not
    /// the first page (new items belong on the first page only).
    pub stream_query: String,
    pub live: bool,
    pub newest_seq: i64,
    pub filtered: bool,
    pub flushed: Option<String>,
    /// The query string without the `trace_id` filter (the trace chip's ×).
    pub without_trace: String,
}

impl ListPage {
    /// Shapes the data of one listing into the page.
    pub fn new(state: &AppState, query: ListQuery, data: ListData) -> Self {
        let total = data.counts_by_type.iter().map(|(_, n)| n).sum();
        let active_type = non_empty(&query.item_type).unwrap_or_default();
        let type_counts = data
            .counts_by_type
            .iter()
            .map(|(t, n)| TypeCount {
                item_type: t.clone(),
                count: *n,
                query: query.with_type(t),
                active: *t == active_type,
            })
            .collect();
        let mut projects = data.projects.clone();
        if projects.is_empty() {
            projects.push(1);
        }
        let dsns: Vec<ProjectDsn> = projects
            .iter()
            .map(|p| ProjectDsn {
                project: *p,
                dsn: state.dsn(*p),
            })
            .collect();
        let mut filter_pairs = query.filter_pairs();
        let pages = PageLinks::new(&filter_pairs, &query.before, &query.limit, data.next_cursor);
        // The stream takes the store's filter names; the list's cursor is not one of them.
        filter_pairs.push(("after", data.newest_seq.to_string()));
        let stream_query = if pages.first {
            encode(&filter_pairs)
        } else {
            String::new()
        };
        Self {
            all_types_query: query.with_type(""),
            without_trace: query.without_trace(),
            filtered: query.is_filtered(),
            flushed: non_empty(&query.flushed),
            rows: data
                .items
                .iter()
                .map(|i| Row::new(&state.config.ui, i))
                .collect(),
            total,
            type_counts,
            first_dsn: dsns[0].dsn.clone(),
            dsns,
            suggestions: data.suggestions,
            types: data.counts_by_type.into_iter().map(|(t, _)| t).collect(),
            older: pages.older,
            newest: pages.newest,
            live: pages.first,
            stream_query,
            newest_seq: data.newest_seq,
            query,
        }
    }
}

/// `GET /`
pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    uri: Uri,
) -> Result<Response, UiError> {
    let query: ListQuery = parse(&uri)?;
    let filter = query.filter()?;
    let limit = query.limit(&state.config.ui)?;
    let version = state.store.version();
    let reader = state.clone();
    let data = state
        .store
        .read(move |conn| {
            let counts = (&reader.ui_counts, version);
            queries::list_page(conn, &filter, limit, counts, &reader.config.ui)
        })
        .await?;
    render(&ListPage::new(&state, query, data))
}

/// Renders the list page for `query` straight from the store (the benchmark's entry point).
pub fn render_blocking(state: &AppState, query: ListQuery) -> Result<String, UiError> {
    let filter = query.filter()?;
    let limit = query.limit(&state.config.ui)?;
    let data = state.store.read_blocking(|conn| {
        let version = state.store.version();
        let counts = (&state.ui_counts, version);
        queries::list_page(conn, &filter, limit, counts, &state.config.ui)
    })?;
    Ok(ListPage::new(state, query, data).render()?)
}
