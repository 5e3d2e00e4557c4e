//! Long-poll waits: `GET /api/wait/` returns as soon as what a test waits for has been
//! committed (never polling: it sleeps until the writer commits), or at its timeout.
//!
//! A wait wants `count` items matching a filter, or with `counts=transaction:2,event:1` so
//! many items of each type, every type's count within the same filter (a `trace_id`, say:
//! "two transactions and an error in trace X").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{AppRef, check_filter, json_ok, query};
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{self, ItemFilter, Order};

/// Longest a wait may block.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Most types one `counts` names.
const MAX_COUNTED_TYPES: usize = 32;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WaitParams {
    /// Items wanted (default 1).
    count: Option<usize>,
    /// Items wanted of each type: `transaction:2,event:1` (instead of `count` and `type`).
    counts: Option<String>,
    /// Seconds to wait at most (default 10, at most 300).
    timeout: Option<f64>,
}

/// The outcome of a wait.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WaitOutcome {
    pub satisfied: bool,
    /// Items that match (with `counts`: of the types it names).
    pub count: u64,
    /// With `counts`: how many items of each type match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<BTreeMap<String, u64>>,
    pub items: Vec<store::ItemSummary>,
}

/// What a wait waits for.
enum Want {
    /// So many items matching the filter.
    Total(usize),
    /// So many items of each type matching the filter.
    PerType(Vec<(String, usize)>),
}

/// Parses `counts` (`type:n,type:n`).
fn parse_counts(text: &str) -> Result<Vec<(String, usize)>, ApiError> {
    let bad = |why: &str| ApiError::BadRequest(format!("invalid counts {text:?}: {why}"));
    let mut wants: Vec<(String, usize)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (item_type, n) = part
            .split_once(':')
            .ok_or_else(|| bad("expected type:count, comma separated"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("a count is not a number"))?;
        let item_type = item_type.trim();
        if item_type.is_empty() {
            return Err(bad("a type is empty"));
        }
        match wants.iter_mut().find(|(t, _)| t == item_type) {
            Some((_, wanted)) => *wanted = wanted.saturating_add(n),
            None => wants.push((item_type.to_string(), n)),
        }
    }
    if wants.is_empty() {
        return Err(bad("no type named"));
    }
    if wants.len() > MAX_COUNTED_TYPES {
        return Err(bad(&format!("more than {MAX_COUNTED_TYPES} types")));
    }
    Ok(wants)
}

/// Waits until at least `count` items match `filter`, or `timeout` passes. Returns the
/// matching items oldest first. Never polls: it sleeps until the writer commits.
pub async fn wait_for_items(
    state: &AppState,
    filter: ItemFilter,
    count: usize,
    timeout: Duration,
) -> Result<WaitOutcome, ApiError> {
    wait_until(state, filter, Want::Total(count), timeout).await
}

/// Waits until, for each `(type, n)` of `wants`, at least `n` items of that type match
/// `filter` (whose own `item_type` is replaced), or `timeout` passes. Returns the matching
/// items of those types oldest first.
pub async fn wait_for_types(
    state: &AppState,
    filter: ItemFilter,
    wants: Vec<(String, usize)>,
    timeout: Duration,
) -> Result<WaitOutcome, ApiError> {
    wait_until(state, filter, Want::PerType(wants), timeout).await
}

async fn wait_until(
    state: &AppState,
    mut filter: ItemFilter,
    want: Want,
    timeout: Duration,
) -> Result<WaitOutcome, ApiError> {
    check_filter(&filter)?;
    let (wanted, per_type): (usize, Vec<(String, usize)>) = match want {
        Want::Total(n) => (n, Vec::new()),
        Want::PerType(wants) => {
            filter.item_type = Some(
                wants
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            let total = wants.iter().fold(0usize, |n, (_, w)| n.saturating_add(*w));
            (total, wants)
        }
    };
    let deadline = tokio::time::Instant::now() + timeout.min(MAX_WAIT);
    let mut changes = state.store.subscribe_changes();
    loop {
        changes.borrow_and_update();
        let f = filter.clone();
        let types = per_type.clone();
        let (matched, counts) = state
            .store
            .read(move |conn| {
                let total = store::count_items(conn, &f)?;
                let mut counts = BTreeMap::new();
                for (item_type, _) in &types {
                    let one = ItemFilter {
                        item_type: Some(item_type.clone()),
                        ..f.clone()
                    };
                    counts.insert(item_type.clone(), store::count_items(conn, &one)?);
                }
                Ok((total, counts))
            })
            .await?;
        let satisfied = if per_type.is_empty() {
            matched as usize >= wanted
        } else {
            per_type
                .iter()
                .all(|(t, n)| counts.get(t).is_some_and(|c| *c as usize >= *n))
        };
        let timed_out = tokio::time::Instant::now() >= deadline;
        if satisfied || timed_out {
            let f = filter.clone();
            let limit = wanted.clamp(1, state.config.api_max_page);
            let items = state
                .store
                .read(move |conn| store::list_items(conn, &f, Order::Asc, limit))
                .await?;
            return Ok(WaitOutcome {
                satisfied,
                count: matched,
                counts: (!per_type.is_empty()).then_some(counts),
                items,
            });
        }
        // A commit or the deadline leads to one more count; shutdown ends the wait.
        tokio::select! {
            _ = tokio::time::timeout_at(deadline, changes.changed()) => {}
            _ = state.closed() => return Err(ApiError::ShuttingDown),
        }
    }
}

/// `GET /api/wait/?count=N&timeout=S&<filters>`, or `?counts=type:n,...&<filters>`.
pub(super) async fn wait(State(state): AppRef, uri: Uri) -> Result<Response, ApiError> {
    let filter: ItemFilter = query(&uri)?;
    let params: WaitParams = query(&uri)?;
    let timeout = params.timeout.unwrap_or(10.0);
    if !timeout.is_finite() || timeout < 0.0 {
        return Err(ApiError::BadRequest(format!("invalid timeout {timeout}")));
    }
    let timeout = Duration::from_secs_f64(timeout.min(MAX_WAIT.as_secs_f64()));
    let state: Arc<AppState> = state;
    let outcome = match params.counts.as_deref() {
        Some(counts) => wait_for_types(&state, filter, parse_counts(counts)?, timeout).await?,
        None => wait_for_items(&state, filter, params.count.unwrap_or(1), timeout).await?,
    };
    Ok(json_ok(json!(outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_types_and_numbers() {
        assert_eq!(
            parse_counts("transaction:2, event:1,transaction:1").unwrap(),
            [("transaction".to_string(), 3), ("event".to_string(), 1)]
        );
        for bad in ["", "event", "event:x", ":2", ","] {
            assert!(parse_counts(bad).is_err(), "{bad}");
        }
    }
}
