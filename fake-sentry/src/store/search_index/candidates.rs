//! A reader's side of the index: the items a text search must check, in the listing's order.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::UNSEARCHABLE;
use super::file::{self, State};
use crate::store::filter::ItemFilter;
use crate::store::queries::Order;
use crate::store::records::{ItemSummary, SUMMARY_COLUMNS, summary_from_row};
use crate::store::text_search::TextQuery;

/// Index matches read at once at first: a page of a common word needs no more. Later reads of
/// the same shard take up to [`MAX_CHUNK`] (a count goes through every match).
const FIRST_CHUNK: usize = 64;
const MAX_CHUNK: usize = 4096;

/// Entries of a trigram counted in one shard to tell a common one: reading a trigram's entries
/// is what a lookup costs (at a million items, 27 ms for one in every item), so a lookup asks
/// for the trigrams found fewer times than this, which narrow it most for the least reading.
const COMMON: i64 = 1024;

/// Trigrams one lookup asks for at most.
const LOOKUP_TRIGRAMS: usize = 8;

/// Trigrams one lookup asks for when all are common (the text likely is too).
const COMMON_LOOKUP_TRIGRAMS: usize = 3;

/// How a search went through the items (what tests look at).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct Visited {
    /// Whether the index named the candidates below its watermark.
    pub(in crate::store) indexed: bool,
    /// Rows read in a scan: those the index does not cover, or all.
    pub(in crate::store) scanned: u64,
    /// The index's candidates looked up by seq.
    pub(in crate::store) probed: u64,
}

/// Whether the visitor wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    More,
    Enough,
}

/// What the index covers for this reader: every item up to `through` has its entry in one of
/// `shards`.
struct Coverage {
    state: State,
    through: i64,
    shards: Vec<i64>,
}

/// Calls `visit` with every item that passes `filter` (but for its text) and may contain
/// `text`, in `order`, until it returns false: the index's candidates where it covers the
/// items, every item elsewhere. A text the index cannot look up (fewer than three characters),
/// a connection without the index (in memory) or an index that cannot be read all make it visit
/// every item the filter selects, as a scan.
pub(in crate::store) fn for_each_candidate(
    conn: &Connection,
    filter: &ItemFilter,
    text: &TextQuery,
    order: Order,
    mut visit: impl FnMut(ItemSummary) -> rusqlite::Result<bool>,
) -> rusqlite::Result<Visited> {
    let (clause, params) = filter
        .to_sql()
        .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
    let mut search = Search::new(conn, &clause, params, order);
    let first = filter
        .after
        .map_or(i64::MIN, |after| after.saturating_add(1));
    let last = filter
        .before
        .map_or(i64::MAX, |before| before.saturating_sub(1));
    let Some(trigrams) = text.trigrams() else {
        search.scan(first, last, &mut visit)?;
        return Ok(search.visited);
    };
    // The index and the rows in one snapshot of each, the index's taken first (see `coverage`).
    let _snapshot = match conn.is_autocommit() {
        true => Some(conn.unchecked_transaction()?),
        false => None,
    };
    let coverage = coverage(conn).unwrap_or_else(|err| {
        tracing::debug!(%err, "no search index: scanning");
        None
    });
    let Some(coverage) = coverage else {
        search.scan(first, last, &mut visit)?;
        return Ok(search.visited);
    };
    search.visited.indexed = true;
    let indexed = (first, last.min(coverage.through));
    let not_yet = (first.max(coverage.through.saturating_add(1)), last);
    match order {
        Order::Desc => {
            if search.scan(not_yet.0, not_yet.1, &mut visit)? == Flow::More {
                search.index(&coverage, trigrams, indexed, &mut visit)?;
            }
        }
        Order::Asc => {
            if search.index(&coverage, trigrams, indexed, &mut visit)? == Flow::More {
                search.scan(not_yet.0, not_yet.1, &mut visit)?;
            }
        }
    }
    Ok(search.visited)
}

/// What the index covers, or `None` when this connection has no index or it is another
/// database's.
///
/// The index's state is read before the store's rows, so that the rows are at least as new:
/// an item the reader sees at a seq up to the watermark was then either indexed as it is, or
/// its seq was handed out again after a flush whose floor the reader sees too (it was
/// committed with the flush, before the new item). Read the other way round, an indexer that
/// had already indexed an item reusing a seq could hide the old item the reader sees there.
fn coverage(conn: &Connection) -> rusqlite::Result<Option<Coverage>> {
    let Some(state) = file::read_state(conn, "search")? else {
        return Ok(None);
    };
    let shards = file::shards(conn, "search")?;
    let origin: Option<String> = conn
        .prepare_cached("SELECT token FROM main.search_origin")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if origin.as_deref() != Some(state.origin.as_str()) {
        return Ok(None);
    }
    let (first_unapplied, floor): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT MIN(id), MIN(floor) FROM main.search_floors WHERE id > ?1")?
        .query_row([state.applied_floor], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let through = match (first_unapplied, floor) {
        (Some(first), Some(floor)) if first == state.applied_floor + 1 => {
            state.indexed_through.min(floor - 1)
        }
        // Floors the indexer has not seen are gone: any seq may have been handed out again.
        (Some(_), _) => 0,
        _ => state.indexed_through,
    };
    // Events whose minidumps were processed after the index last took in what processing found
    // are searched by a scan, from the oldest of them up, until it has.
    let unadded: Option<i64> = conn
        .prepare_cached("SELECT MIN(event_seq) FROM main.minidumps WHERE search_seq > ?1")?
        .query_row([state.native_through], |r| r.get(0))?;
    let through = match unadded {
        Some(event_seq) => through.min(event_seq.saturating_sub(1)),
        None => through,
    };
    Ok(Some(Coverage {
        state,
        through,
        shards,
    }))
}

/// The FTS5 query for the candidates: the AND of the text's rarer trigrams, as counted in one
/// shard (the last but one, the newest that is full), or any item not indexed
/// ([`UNSEARCHABLE`]).
fn lookup(conn: &Connection, coverage: &Coverage, mut trigrams: Vec<String>) -> String {
    let sample = coverage
        .shards
        .iter()
        .rev()
        .nth(1)
        .or(coverage.shards.last());
    if let Some(&shard) = sample {
        let table = file::shard_table(shard);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM search.{table} WHERE {table} MATCH ?1 LIMIT ?2)"
        );
        let counts: rusqlite::Result<Vec<i64>> = trigrams
            .iter()
            .map(|trigram| {
                conn.prepare_cached(&sql)?
                    .query_row(params![trigram, COMMON], |r| r.get(0))
            })
            .collect();
        match counts {
            Ok(counts) => {
                let mut counted: Vec<(i64, String)> = counts.into_iter().zip(trigrams).collect();
                counted.sort();
                let rare = counted.iter().filter(|(n, _)| *n < COMMON).count();
                let keep = match rare {
                    0 => COMMON_LOOKUP_TRIGRAMS,
                    rare => rare.min(LOOKUP_TRIGRAMS),
                };
                trigrams = counted.into_iter().take(keep).map(|(_, t)| t).collect();
            }
            // The lookup itself will fail the same way and fall back to the scan.
            Err(err) => tracing::debug!(%err, "cannot count trigrams"),
        }
    }
    format!("({}) OR \"{UNSEARCHABLE}\"", trigrams.join(" AND "))
}

struct Search<'c> {
    conn: &'c Connection,
    clause: &'c str,
    params: Vec<SqlValue>,
    order: Order,
    /// Looks a candidate up by seq with the filter's `WHERE` clause.
    probe_sql: String,
    visited: Visited,
}

impl<'c> Search<'c> {
    fn new(conn: &'c Connection, clause: &'c str, params: Vec<SqlValue>, order: Order) -> Self {
        let seq = params.len() + 1;
        Self {
            conn,
            clause,
            probe_sql: format!(
                "SELECT {SUMMARY_COLUMNS} FROM items WHERE seq = ?{seq} AND ({clause})"
            ),
            params,
            order,
            visited: Visited::default(),
        }
    }

    fn dir(&self) -> &'static str {
        match self.order {
            Order::Desc => "DESC",
            Order::Asc => "ASC",
        }
    }

    /// Visits every item the filter selects with a seq in `first..=last`.
    fn scan(
        &mut self,
        first: i64,
        last: i64,
        visit: &mut impl FnMut(ItemSummary) -> rusqlite::Result<bool>,
    ) -> rusqlite::Result<Flow> {
        if first > last {
            return Ok(Flow::More);
        }
        let conn = self.conn;
        let n = self.params.len();
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM items WHERE ({}) AND seq BETWEEN ?{} AND ?{}
             ORDER BY seq {}",
            self.clause,
            n + 1,
            n + 2,
            self.dir()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let bounds = [SqlValue::Integer(first), SqlValue::Integer(last)];
        let mut rows = stmt.query(params_from_iter(self.params.iter().chain(&bounds)))?;
        while let Some(row) = rows.next()? {
            self.visited.scanned += 1;
            if !visit(summary_from_row(row)?)? {
                return Ok(Flow::Enough);
            }
        }
        Ok(Flow::More)
    }

    /// Visits the index's candidates with a seq in `first..=last` that the filter selects:
    /// the items that hold `trigrams` (some of them, see [`lookup`]). Should the index fail to
    /// answer midway, the rest of the range is scanned instead.
    fn index(
        &mut self,
        coverage: &Coverage,
        trigrams: Vec<String>,
        (first, last): (i64, i64),
        visit: &mut impl FnMut(ItemSummary) -> rusqlite::Result<bool>,
    ) -> rusqlite::Result<Flow> {
        let desc = self.order == Order::Desc;
        let mut shards: Vec<(i64, i64, i64)> = coverage
            .shards
            .iter()
            .map(|&id| {
                let (lo, hi) = coverage.state.shard_range(id);
                (id, lo.max(first), hi.min(last))
            })
            .filter(|(_, lo, hi)| lo <= hi)
            .collect();
        if shards.is_empty() {
            return Ok(Flow::More);
        }
        if desc {
            shards.reverse();
        }
        let query = lookup(self.conn, coverage, trigrams);
        // What is left to go through, should the scan have to take over.
        let mut rest = (first, last);
        for (id, lo, hi) in shards {
            let table = file::shard_table(id);
            let sql = format!(
                "SELECT rowid FROM search.{table} WHERE {table} MATCH ?1
                 AND rowid BETWEEN ?2 AND ?3 ORDER BY rowid {} LIMIT ?4",
                self.dir()
            );
            let mut window = (lo, hi);
            let mut chunk = FIRST_CHUNK;
            loop {
                let seqs = match self.matches(&sql, &query, window, chunk) {
                    Ok(seqs) => seqs,
                    Err(err) => {
                        tracing::warn!(%err, "the search index cannot be read: scanning instead");
                        return self.scan(rest.0, rest.1, visit);
                    }
                };
                for &seq in &seqs {
                    if desc {
                        rest.1 = seq.saturating_sub(1);
                    } else {
                        rest.0 = seq.saturating_add(1);
                    }
                    self.visited.probed += 1;
                    if let Some(item) = self.probe(seq)?
                        && !visit(item)?
                    {
                        return Ok(Flow::Enough);
                    }
                }
                if seqs.len() < chunk {
                    break;
                }
                window = if desc { (lo, rest.1) } else { (rest.0, hi) };
                chunk = (chunk * 4).min(MAX_CHUNK);
            }
            if desc {
                rest.1 = rest.1.min(lo.saturating_sub(1));
            } else {
                rest.0 = rest.0.max(hi.saturating_add(1));
            }
        }
        Ok(Flow::More)
    }

    /// The index's matches in `lo..=hi`, `limit` at most, in order.
    fn matches(
        &self,
        sql: &str,
        query: &str,
        (lo, hi): (i64, i64),
        limit: usize,
    ) -> rusqlite::Result<Vec<i64>> {
        self.conn
            .prepare_cached(sql)?
            .query_map(params![query, lo, hi, limit as i64], |r| r.get(0))?
            .collect()
    }

    /// The item stored as `seq`, if there is one and the filter selects it.
    fn probe(&self, seq: i64) -> rusqlite::Result<Option<ItemSummary>> {
        let seq = [SqlValue::Integer(seq)];
        self.conn
            .prepare_cached(&self.probe_sql)?
            .query_row(
                params_from_iter(self.params.iter().chain(&seq)),
                summary_from_row,
            )
            .optional()
    }
}
