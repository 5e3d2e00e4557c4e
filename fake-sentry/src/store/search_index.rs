//! The full-text index behind `?q=` for a file-backed store: it names the items that may hold
//! a text, so that a search checks those instead of reading every payload. At 1,000,000 events
//! a word or substring takes 0.5-2.5 ms (p50) where the scan took 4.8-7.9 s
//! (`bench-search-index`).
//!
//! **What it holds.** SQLite FTS5 tables with the trigram tokenizer over each item's summary
//! and payload: for every run of three characters, folded to lower case (Unicode's simple
//! folding, so at least the ASCII folding [`TextQuery`] does), the items that contain it. A
//! text of three or more characters is looked up as the AND of some of its trigrams: an item
//! that holds the text holds all of them, so the answer is a superset of the matches, and every
//! candidate is still checked by `TextQuery`. The tables are contentless (the text is read from
//! the store when a candidate is checked) and keep no positions (`detail=none`, which refuses
//! phrase queries, hence the AND): 1.3 KB per 3.4 KB event, where positions cost 8-11 KB and
//! halved the indexing rate. A payload that is not UTF-8 or is longer than
//! `--search-index-max-bytes` is indexed as [`UNSEARCHABLE`], a trigram every lookup also asks
//! for, so that it is always a candidate and is checked the slow way. A longer one is not even
//! read: its row gives its length.
//!
//! **Where, and by whom.** In a SQLite file of its own beside the database (`<db>-search`,
//! WAL), written by one indexer thread (`indexer`) at the lowest CPU priority: indexing takes
//! 180-250 µs of CPU per event (4,000-5,600/s on one core), several times what storing it takes,
//! so it must neither hold the database's write lock nor take the CPU ingest needs: while
//! envelopes keep arriving it works a tenth of the time and leaves merges for later
//! (`crate::pacing`), and it catches up when ingest pauses. It reads the store through a thread at the process's priority
//! (`store_reader`), a few dozen items per snapshot with its own work in between: a snapshot
//! held by a thread waiting for the CPU keeps the writer from rewinding its WAL. The file is derived data: when it is
//! missing, unreadable, of another format or another database's (`search_origin`), it is made
//! anew and filled from the store in the background (`file`), also when it is removed or
//! replaced while the indexer runs. One indexer at a time keeps a file, holding a lock on
//! `<db>-search-lock`: a store reopened at the same path waits for the last one's indexer to
//! finish its step, where two would each make the file anew and remove the other's.
//!
//! **Following the store.** The indexer wakes on the store's commit counter, reads the items
//! above its watermark in batches and commits each batch together with the new watermark, so a
//! restart resumes where it stopped. Items are keyed by `seq`, which SQLite hands out again
//! once the newest items are deleted (a flush): a temporary trigger on the writer's connection
//! records in the database, in the deleting transaction, the lowest seq that may come back
//! (`search_floors`). The indexer applies each such floor (drops its entries from there up and
//! lowers its watermark), and a reader that sees a floor the indexer has not applied yet trusts
//! the index only below it.
//!
//! **Shards.** The index is split by seq into tables of [`SHARD_SEQS`] seqs (`shard_<n>`):
//! eviction drops a whole table once all its items are gone, where deleting rows from one
//! large FTS5 table made it rewrite its segments again and again (311 items/s, measured), and
//! each finished table is merged into one segment (FTS5's `optimize`), so that a trigram costs
//! one b-tree lookup per table (a rare word: 1.5 ms at 1,000,000 items, 20 ms unmerged).
//! Entries of items that went otherwise (a project's flush) are collected now and then.
//!
//! **Queries** (`candidates`): the index's state is read first and the store's second, in one
//! read transaction, so that whatever the index says about a seq is not older than the row the
//! reader sees there. Items above the watermark (not indexed yet) are scanned; below it, the
//! index's matches are streamed in the listing's order and each is probed with the filter's
//! `WHERE` clause, stale entries finding no row. A lookup asks only for the text's rarer
//! trigrams, as counted in one shard: what it costs is reading each trigram's entries, 27 ms at
//! a million items for one that every item holds, and a word with a few such (`vocab19587`)
//! took 39 ms with all its trigrams and takes 1.6 ms with its rare ones, for the same 52
//! candidates. In memory there is no index (readers share the writer's connection), and a
//! search scans as before.
//!
//! [`TextQuery`]: super::text_search::TextQuery

mod candidates;
mod file;
mod indexer;
mod store_reader;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use tokio::sync::watch;

pub(super) use candidates::for_each_candidate;
pub(super) use file::lock_path;
#[cfg(test)]
pub(super) use indexer::Indexer;
pub(super) use indexer::{IndexerSettings, spawn_indexer};
#[cfg(test)]
pub(super) use store_reader::StoreReader;

/// Seqs per index table: 16 tables at a million items, each merged into one segment in about
/// 2 s once finished (15% on top of indexing it).
pub(super) const SHARD_SEQS: i64 = 1 << 16;

/// What an item whose payload is not indexed is indexed as: three noncharacters, which text
/// does not hold (and if one did, it would only become a candidate).
const UNSEARCHABLE: &str = "\u{FDD0}\u{FDD1}\u{FDD2}";

/// Prepared statements a reader with the index keeps (rusqlite's default is 16).
const READER_STATEMENTS: usize = 128;

/// The newest rows of `search_floors` the database keeps; an indexer further behind starts over.
const KEPT_FLOORS: i64 = 1000;

/// The database's side, created with the store's tables: `search_origin` names the database
/// (a search file made for another one is not used), `search_floors` records the seqs that may
/// be handed out again.
const STORE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS search_origin (token TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_floors (id INTEGER PRIMARY KEY, floor INTEGER NOT NULL);
";

/// Fires when a delete removes the newest item (a flush, or an envelope undone), and records
/// the lowest seq SQLite may hand out again. A temporary trigger, so it lives on the writer's
/// connection only; whatever deletes the newest items, it is there. Every other delete
/// (eviction takes the oldest) costs it one lookup of the highest seq.
fn floor_trigger() -> String {
    format!(
        "CREATE TEMP TRIGGER IF NOT EXISTS search_floor AFTER DELETE ON main.items
         WHEN old.seq > COALESCE((SELECT MAX(seq) FROM main.items), 0)
         BEGIN
             INSERT INTO search_floors (floor) SELECT COALESCE(MAX(seq), 0) + 1 FROM items;
             DELETE FROM search_floors WHERE id <= (SELECT MAX(id) FROM search_floors) - {KEPT_FLOORS};
         END"
    )
}

/// Sets up the database's side on the writer's connection: the tables and the trigger. Done
/// for every file, even with the index off, so that a later run with it on knows of every flush.
pub(super) fn prepare_store(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(STORE_TABLES)?;
    conn.execute(
        "INSERT INTO search_origin (token) SELECT ?1
         WHERE NOT EXISTS (SELECT 1 FROM search_origin)",
        [uuid::Uuid::new_v4().simple().to_string()],
    )?;
    conn.execute_batch(&floor_trigger())
}

/// The search file of a database: `<db>-search`.
pub(super) fn search_path(db: &Path) -> PathBuf {
    super::beside(db, "-search")
}

/// What the store's readers and the indexer share.
pub(super) struct SearchIndex {
    path: PathBuf,
    /// Bumped each time the indexer has opened or made the file, so that readers attach the
    /// file that is there now; 0 until it first has.
    generation: AtomicU64,
    /// The indexer's watermark: every item up to it is in the index.
    indexed: watch::Sender<i64>,
}

impl SearchIndex {
    pub(super) fn new(db: &Path) -> Self {
        Self {
            path: search_path(db),
            generation: AtomicU64::new(0),
            indexed: watch::channel(0).0,
        }
    }

    /// Makes a reader's connection see the search file as `search`: attaches it, or attaches
    /// it anew when the indexer has made another since. `attached` is the generation the
    /// connection has. A file that cannot be attached leaves the connection without: its
    /// searches scan.
    pub(super) fn attach(&self, conn: &Connection, attached: &mut u64) {
        let current = self.generation.load(Ordering::Acquire);
        if current == *attached {
            return;
        }
        if *attached != 0 {
            // Cached statements may hold the old file's tables.
            conn.flush_prepared_statement_cache();
            if let Err(err) = conn.execute("DETACH DATABASE search", []) {
                tracing::debug!(%err, "cannot detach the old search index");
                return;
            }
            *attached = 0;
        }
        let Some(path) = self.path.to_str() else {
            return;
        };
        let result = conn
            .execute("ATTACH DATABASE ?1 AS search", [path])
            .and_then(|_| {
                conn.pragma_update(Some("search"), "mmap_size", super::READER_MMAP_BYTES)
            });
        match result {
            Ok(()) => {
                // A search prepares a statement per shard besides its others: keep them all.
                conn.set_prepared_statement_cache_capacity(READER_STATEMENTS);
                *attached = current;
            }
            Err(err) => tracing::debug!(%err, "cannot attach the search index"),
        }
    }

    /// A receiver of the indexer's watermark.
    pub(super) fn indexed(&self) -> watch::Receiver<i64> {
        self.indexed.subscribe()
    }
}
