//! The query strings of the listing pages (`/` and `/traces`): reading a form's text fields
//! (an empty field means "any"), and writing the links between cursor pages.

use axum::extract::Query;
use axum::http::Uri;
use serde::de::DeserializeOwned;

use super::UiError;
use super::limits::UiLimits;

/// Parses a page's query string into `T`, answering 400 when it does not fit.
pub(crate) fn parse<T: DeserializeOwned>(uri: &Uri) -> Result<T, UiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| UiError::BadRequest(format!("invalid query: {}", e.body_text())))
}

/// The field's text, trimmed, unless it is empty.
pub(crate) fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// The field `name` as a number, or none when it is empty.
pub(crate) fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<Option<T>, UiError> {
    non_empty(text)
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| UiError::BadRequest(format!("{name} must be a number, not {t:?}")))
        })
        .transpose()
}

/// Rows per page from the `limit` field, within the `page` and `max_page` settings.
pub(crate) fn page_limit(text: &str, limits: &UiLimits) -> Result<usize, UiError> {
    Ok(number::<usize>("limit", text)?.map_or(limits.page, |n| n.clamp(1, limits.max_page)))
}

/// The non-empty `fields` as `name=value` pairs.
pub(crate) fn pairs<const N: usize>(
    fields: [(&'static str, &String); N],
) -> Vec<(&'static str, String)> {
    fields
        .into_iter()
        .filter_map(|(name, value)| non_empty(value).map(|v| (name, v)))
        .collect()
}

pub(crate) fn encode(pairs: &[(&str, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Where a listing's cursor pages link to.
pub(crate) struct PageLinks {
    /// Whether this is the first (newest) page: the query has no `before` cursor.
    pub first: bool,
    /// Query string of the next (older) page, when there is one.
    pub older: Option<String>,
    /// Query string of the first page, when this is not it.
    pub newest: Option<String>,
}

impl PageLinks {
    /// The links of the page read with `filter_pairs` and the `before` and `limit` fields,
    /// whose next (older) page starts at `next_cursor`.
    pub fn new(
        filter_pairs: &[(&'static str, String)],
        before: &str,
        limit: &str,
        next_cursor: Option<i64>,
    ) -> Self {
        let first = non_empty(before).is_none();
        let older = next_cursor.map(|cursor| {
            let mut pairs = filter_pairs.to_vec();
            pairs.push(("before", cursor.to_string()));
            if let Some(limit) = non_empty(limit) {
                pairs.push(("limit", limit));
            }
            encode(&pairs)
        });
        Self {
            first,
            older,
            newest: (!first).then(|| encode(filter_pairs)),
        }
    }
}
