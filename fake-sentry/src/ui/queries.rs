//! The SQL the pages need beyond the item API's queries. Kept apart from [`crate::store`] so
//! the storage layer stays about ingest and the API; everything here reuses its filters.

use std::collections::BTreeSet;
use std::sync::Mutex;

use rusqlite::Connection;

use super::limits::UiLimits;
use crate::store::{self, ItemFilter, ItemSummary, Order, counts_by_type, projects};

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

/// The per-type counts the list page shows, kept until the next commit. At 100,000 items they
/// are most of a list page's cost, and between two commits they cannot change.
#[derive(Debug, Default)]
pub struct CountsCache {
    entry: Mutex<Option<CachedCounts>>,
}

/// Counts per type as of a store version, for one project or all.
type CachedCounts = (u64, Option<u64>, Vec<(String, u64)>);

impl CountsCache {
    /// The counts at store `version` (read before querying, so that a commit racing the query
    /// can only make the cached counts newer than their version, never older).
    pub fn get(
        &self,
        conn: &Connection,
        version: u64,
        project: Option<u64>,
    ) -> rusqlite::Result<Vec<(String, u64)>> {
        if let Some((v, p, counts)) = &*self.entry.lock().unwrap_or_else(|e| e.into_inner())
            && *v == version
            && *p == project
        {
            return Ok(counts.clone());
        }
        let counts = counts_by_type(conn, project)?;
        *self.entry.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((version, project, counts.clone()));
        Ok(counts)
    }
}

/// One page of items matching `filter` (newest first), with the page's side panels; the
/// per-type counts come from `counts` when the store has not changed since they were read.
pub fn list_page(
    conn: &Connection,
    filter: &ItemFilter,
    limit: usize,
    counts: (&CountsCache, u64),
    limits: &UiLimits,
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
        counts_by_type: counts.0.get(conn, counts.1, filter.project)?,
        projects: projects(conn)?,
        suggestions: suggestions(conn, limits)?,
        newest_seq: store::last_item_seq(conn)?,
    })
}

/// Distinct levels, releases, environments and SDKs (at most `suggestions` of each) among the
/// newest `suggestion_window` items: bounded, so the list page costs the same at 100 or 100,000
/// stored items.
pub fn suggestions(conn: &Connection, limits: &UiLimits) -> rusqlite::Result<Suggestions> {
    let mut stmt = conn.prepare_cached(
        "SELECT level, release, environment, sdk_name FROM items ORDER BY seq DESC LIMIT ?1",
    )?;
    let mut sets: [BTreeSet<String>; 4] = Default::default();
    let mut rows = stmt.query([limits.suggestion_window as i64])?;
    while let Some(row) = rows.next()? {
        for (i, set) in sets.iter_mut().enumerate() {
            if let Some(value) = row.get::<_, Option<String>>(i)?
                && set.len() < limits.suggestions
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(rows: &[(i64, &str)]) -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE items (seq INTEGER PRIMARY KEY, project_id INTEGER, item_type TEXT,
             finding_count INTEGER);",
        )
        .expect("schema");
        crate::store::ensure_item_counts(&conn).expect("counts");
        for (project, item_type) in rows {
            conn.execute(
                "INSERT INTO items (project_id, item_type) VALUES (?1, ?2)",
                rusqlite::params![project, item_type],
            )
            .expect("insert");
        }
        conn
    }

    #[test]
    fn projects_and_counts_by_type() {
        let conn = store_with(&[(3, "event"), (1, "log"), (3, "event"), (7, "attachment")]);
        assert_eq!(projects(&conn).expect("projects"), [1, 3, 7]);
        assert_eq!(
            counts_by_type(&conn, None).expect("counts"),
            [
                ("attachment".into(), 1),
                ("event".into(), 2),
                ("log".into(), 1)
            ]
        );
        assert_eq!(
            counts_by_type(&conn, Some(3)).expect("counts"),
            [("event".into(), 2)]
        );
        assert!(projects(&store_with(&[])).expect("none").is_empty());
    }

    #[test]
    fn cached_counts_last_until_the_store_version_or_project_changes() {
        let conn = store_with(&[(1, "event")]);
        let cache = CountsCache::default();
        assert_eq!(cache.get(&conn, 7, None).unwrap(), [("event".into(), 1)]);
        conn.execute(
            "INSERT INTO items (project_id, item_type) VALUES (2, 'log')",
            [],
        )
        .unwrap();
        // Same version: no query (the writer bumps the version with every commit).
        assert_eq!(cache.get(&conn, 7, None).unwrap(), [("event".into(), 1)]);
        assert_eq!(cache.get(&conn, 7, Some(2)).unwrap(), [("log".into(), 1)]);
        assert_eq!(
            cache.get(&conn, 8, None).unwrap(),
            [("event".into(), 1), ("log".into(), 1)]
        );
    }
}
