//! The SQL the pages need beyond the item API's queries. Kept apart from [`crate::store`] so
//! the storage layer stays about ingest and the API; everything here reuses its filters.

use std::collections::BTreeSet;

use rusqlite::Connection;

use crate::store::{self, ItemFilter, ItemSummary, Order};

/// How many of the newest items the filter suggestions are taken from (bounded, so the list
/// page costs the same at 100 or 100,000 stored items).
const SUGGESTION_WINDOW: i64 = 2000;
/// Most suggestions per column.
const MAX_SUGGESTIONS: usize = 50;

/// Values seen recently, offered as completions in the filter bar.
#[derive(Debug, Clone, Default)]
pub struct Suggestions {
    pub levels: Vec<String>,
    pub releases: Vec<String>,
    pub environments: Vec<String>,
    pub sdks: Vec<String>,
}

/// Everything the list page shows.
#[derive(Debug, Clone)]
pub struct ListData {
    pub items: Vec<ItemSummary>,
    /// The cursor of the next (older) page, when there is one.
    pub next_cursor: Option<i64>,
    pub counts_by_type: Vec<(String, u64)>,
    pub projects: Vec<u64>,
    pub suggestions: Suggestions,
    /// The newest sequence number, where live updates start.
    pub newest_seq: i64,
}

/// One page of items matching `filter` (newest first), with the page's side panels.
pub fn list_page(
    conn: &Connection,
    filter: &ItemFilter,
    limit: usize,
) -> rusqlite::Result<ListData> {
    let mut items = store::list_items(conn, filter, Order::Desc, limit + 1)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| i.seq)
    } else {
        None
    };
    Ok(ListData {
        items,
        next_cursor,
        counts_by_type: store::counts_by_type(conn, filter.project)?,
        projects: projects(conn)?,
        suggestions: suggestions(conn)?,
        newest_seq: store::last_item_seq(conn)?,
    })
}

/// Projects that have items (read from the project index, not a table scan).
pub fn projects(conn: &Connection) -> rusqlite::Result<Vec<u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT project_id FROM items ORDER BY project_id")?;
    let rows = stmt.query_map([], |r| Ok(r.get::<_, i64>(0)? as u64))?;
    rows.collect()
}

/// Distinct levels, releases, environments and SDKs among the newest items.
pub fn suggestions(conn: &Connection) -> rusqlite::Result<Suggestions> {
    let mut stmt = conn.prepare_cached(
        "SELECT level, release, environment, sdk_name FROM items ORDER BY seq DESC LIMIT ?1",
    )?;
    let mut sets: [BTreeSet<String>; 4] = Default::default();
    let mut rows = stmt.query([SUGGESTION_WINDOW])?;
    while let Some(row) = rows.next()? {
        for (i, set) in sets.iter_mut().enumerate() {
            if let Some(value) = row.get::<_, Option<String>>(i)?
                && set.len() < MAX_SUGGESTIONS
            {
                set.insert(value);
            }
        }
    }
    let [levels, releases, environments, sdks] = sets.map(|s| s.into_iter().collect());
    Ok(Suggestions {
        levels,
        releases,
        environments,
        sdks,
    })
}

/// The items stored just before and just after `seq` (the detail page's previous and next).
pub fn neighbours(
    conn: &Connection,
    seq: i64,
) -> rusqlite::Result<(Option<ItemSummary>, Option<ItemSummary>)> {
    let older = ItemFilter {
        before: Some(seq),
        ..Default::default()
    };
    let newer = ItemFilter {
        after: Some(seq),
        ..Default::default()
    };
    Ok((
        store::list_items(conn, &older, Order::Desc, 1)?.pop(),
        store::list_items(conn, &newer, Order::Asc, 1)?.pop(),
    ))
}

/// The other items of envelope `envelope_id` (attachments beside an event, say), in order.
pub fn envelope_items(
    conn: &Connection,
    envelope_id: i64,
    project: u64,
) -> rusqlite::Result<Vec<ItemSummary>> {
    // One envelope's items are written in one transaction by the single writer, so their
    // sequence numbers form one range; the range query then uses the primary key.
    let (first, last): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT MIN(seq), MAX(seq) FROM items WHERE envelope_id = ?1")?
        .query_row([envelope_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Vec::new());
    };
    let filter = ItemFilter {
        project: Some(project),
        after: Some(first - 1),
        before: Some(last + 1),
        ..Default::default()
    };
    let mut items = store::list_items(conn, &filter, Order::Asc, (last - first + 1) as usize)?;
    items.retain(|i| i.envelope_id == envelope_id);
    Ok(items)
}

/// Items per project (for the flush page).
pub fn counts_by_project(conn: &Connection) -> rusqlite::Result<Vec<(u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT project_id, COUNT(*) FROM items GROUP BY project_id ORDER BY project_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })?;
    rows.collect()
}
