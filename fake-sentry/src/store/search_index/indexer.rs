//! The indexer thread: follows the store's commits and keeps the search file in step.
//!
//! Each step does the first of: apply the flush floors recorded since the last one; index the
//! next batch of items above the watermark; then, beside that, drop the shards eviction
//! emptied, merge a finished shard into one segment, and now and then delete the entries of
//! items that went otherwise (a project's flush). With nothing left to do it sleeps until the
//! next commit. It reads the store through [`StoreReader`] and writes only the search file, so
//! the writer never waits for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use tokio::sync::watch;

use super::file::{self, State};
use super::store_reader::StoreReader;
use super::{SearchIndex, UNSEARCHABLE};
use crate::config::SyncMode;
use crate::pacing::{Pacing, QUIET};
use crate::store::minidumps;
use crate::store::payload::item_payload_within;

/// Items one batch indexes at most: one transaction, whose size also sets how much FTS5
/// buffers before it writes a segment.
const BATCH_ITEMS: usize = 1000;

/// Bytes of text one batch indexes at most (payloads of up to `max_bytes` each).
const BATCH_BYTES: usize = 8 << 20;

/// Items read from the store in one snapshot, and their bytes at most: a batch is read in
/// such pieces, so that no snapshot holds the WAL back for long (see [`StoreReader`]).
const READ_ITEMS: usize = 32;
const READ_BYTES: usize = 256 << 10;

/// Items looked up in one snapshot when entries are collected.
const COLLECT_READ: usize = 4096;

/// How often the index is looked through for entries of items that went otherwise than by
/// eviction (also soon after a flush floor).
const COLLECT_EVERY: Duration = Duration::from_secs(60);

/// The longest the indexer waits before it tries again after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How often an indexer waiting for the search file's lock tries again.
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// How the indexer of one store works.
#[derive(Debug, Clone)]
pub(in crate::store) struct IndexerSettings {
    /// The store's database file.
    pub(in crate::store) db: PathBuf,
    /// Longest payload indexed (`--search-index-max-bytes`).
    pub(in crate::store) max_bytes: usize,
    /// The store's sync mode, which the search file follows.
    pub(in crate::store) sync: SyncMode,
    /// Seqs per shard of a new search file.
    pub(in crate::store) shard_seqs: i64,
}

/// Starts the indexer thread; it ends once the store is dropped (`changes` closes).
pub(in crate::store) fn spawn_indexer(
    shared: Arc<SearchIndex>,
    settings: IndexerSettings,
    changes: watch::Receiver<u64>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("fake-sentry-search".into())
        .spawn(move || run(shared, settings, changes))
        .map(drop)
}

fn run(shared: Arc<SearchIndex>, settings: IndexerSettings, mut changes: watch::Receiver<u64>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::warn!(%err, "no search index: cannot start its indexer");
            return;
        }
    };
    let Some(_lock) = wait_for_lock(&shared, &runtime, &mut changes) else {
        return;
    };
    // Before the priority is lowered: the reader's thread keeps the priority it starts with.
    let store = match StoreReader::spawn(&settings.db) {
        Ok(store) => Arc::new(store),
        Err(err) => {
            tracing::warn!(%err, "no search index: cannot start its reader");
            return;
        }
    };
    crate::thread_priority::lower_this_thread("the search indexer");
    let mut indexer: Option<Indexer> = None;
    let mut backoff = Duration::ZERO;
    loop {
        // Marked as seen before the step, so that a commit during it wakes the next one.
        changes.borrow_and_update();
        // SQLite goes on writing a WAL-mode file that was removed or replaced under it (it
        // reports `SQLITE_READONLY_DBMOVED` only in rollback mode): the file at the path is
        // opened instead, or made anew.
        if indexer.as_ref().is_some_and(|open| open.was_replaced()) {
            tracing::info!("the search index was removed or replaced: opening it anew");
            indexer = None;
        }
        let step = match indexer.as_mut() {
            Some(indexer) => indexer.step(),
            None => Indexer::open(shared.clone(), &settings, store.clone()).map(|mut opened| {
                opened.pacing = Some(Pacing::new(changes.clone()));
                indexer = Some(opened);
                Progress::Busy
            }),
        };
        let wait = match step {
            Ok(Progress::Busy) => {
                backoff = Duration::ZERO;
                if changes.has_changed().is_err() {
                    return;
                }
                continue;
            }
            Ok(Progress::Idle) => COLLECT_EVERY,
            Ok(Progress::Deferred) => QUIET,
            Err(err) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                tracing::warn!(%err, retry_in = ?backoff, "the search index failed");
                if is_damage(&err)
                    && let Some(damaged) = indexer.take()
                {
                    damaged.discard();
                }
                backoff
            }
        };
        if wait_for_change(&runtime, &mut changes, wait) == Wait::StoreGone {
            return;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// A commit, or the time is up.
    Woken,
    /// The store was dropped: the indexer ends.
    StoreGone,
}

/// Waits for the next commit, at most `wait`.
fn wait_for_change(
    runtime: &tokio::runtime::Runtime,
    changes: &mut watch::Receiver<u64>,
    wait: Duration,
) -> Wait {
    runtime.block_on(async {
        match tokio::time::timeout(wait, changes.changed()).await {
            Ok(Err(_)) => Wait::StoreGone,
            _ => Wait::Woken,
        }
    })
}

/// Takes the search file's lock, trying again while another indexer holds it (the last one
/// of a store reopened at the same path finishing its step, or another process); `None` once
/// the store is gone or the lock cannot be had at all.
fn wait_for_lock(
    shared: &SearchIndex,
    runtime: &tokio::runtime::Runtime,
    changes: &mut watch::Receiver<u64>,
) -> Option<std::fs::File> {
    let mut logged = false;
    loop {
        match file::try_lock(&shared.path) {
            Ok(Some(lock)) => return Some(lock),
            Ok(None) if !logged => {
                tracing::info!("the search index is another indexer's: waiting for it");
                logged = true;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(%err, "no search index: cannot lock it");
                return None;
            }
        }
        if wait_for_change(runtime, changes, LOCK_RETRY) == Wait::StoreGone {
            return None;
        }
    }
}

/// Whether an error says the file is damaged (so it is made anew) rather than, say, full.
fn is_damage(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// The search file's state, which cannot be of another format once open.
fn state(search: &Connection) -> rusqlite::Result<State> {
    file::read_state(search, "main")?.ok_or_else(|| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("the search index changed format under its indexer".into()),
        )
    })
}

/// What a step found to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Progress {
    /// It did something: there may be more.
    Busy,
    /// The index is in step with the store.
    Idle,
    /// The index is in step, but a merge waits for ingest to pause (see `pacing`).
    Deferred,
}

/// What [`Indexer::optimize_finished`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// No shard waits for a merge.
    None,
    /// One shard was merged.
    Done,
    /// One waits for ingest to pause.
    Deferred,
}

/// One item's text as it goes into the index.
struct Doc {
    seq: i64,
    summary: String,
    /// `None`: not indexed (not UTF-8, or over the cap), so [`UNSEARCHABLE`] instead.
    payload: Option<String>,
}

/// The indexer's connections and state.
pub(in crate::store) struct Indexer {
    shared: Arc<SearchIndex>,
    max_bytes: usize,
    store: Arc<StoreReader>,
    search: Connection,
    /// Which file `search` is, to notice it removed or replaced (`None`: cannot tell).
    file: Option<file::FileIdentity>,
    /// Yields to ingest (`None`: a test steps the indexer itself).
    pacing: Option<Pacing>,
    next_collection: Instant,
}

impl Indexer {
    /// Opens the search file (made anew when it cannot be used).
    pub(in crate::store) fn open(
        shared: Arc<SearchIndex>,
        settings: &IndexerSettings,
        store: Arc<StoreReader>,
    ) -> rusqlite::Result<Self> {
        let (origin, latest_floor) = store.read(|conn| {
            let origin: String =
                conn.query_row("SELECT token FROM search_origin", [], |r| r.get(0))?;
            let latest_floor: i64 =
                conn.query_row("SELECT COALESCE(MAX(id), 0) FROM search_floors", [], |r| {
                    r.get(0)
                })?;
            Ok((origin, latest_floor))
        })?;
        let (search, _) = file::open(
            &shared.path,
            &origin,
            latest_floor,
            settings.shard_seqs,
            settings.sync,
        )?;
        let file = file::FileIdentity::of(&shared.path).ok();
        let indexer = Self {
            shared,
            max_bytes: settings.max_bytes,
            store,
            search,
            file,
            pacing: None,
            next_collection: Instant::now(),
        };
        let state = indexer.state()?;
        indexer.shared.indexed.send_replace(state.indexed_through);
        indexer.shared.generation.fetch_add(1, Ordering::AcqRel);
        Ok(indexer)
    }

    /// Closes the file and removes it, to be made anew.
    fn discard(self) {
        let path = self.shared.path.clone();
        drop(self);
        file::remove(&path);
    }

    fn state(&self) -> rusqlite::Result<State> {
        state(&self.search)
    }

    /// Whether the file at the search path is no longer the one this indexer writes.
    fn was_replaced(&self) -> bool {
        self.file
            .as_ref()
            .is_some_and(|file| !file.is_at(&self.shared.path))
    }

    /// Does the next piece of work.
    pub(in crate::store) fn step(&mut self) -> rusqlite::Result<Progress> {
        if self.apply_floors()? {
            return Ok(Progress::Busy);
        }
        let indexed = self.index_batch()?;
        let added = self.index_native()?;
        self.drop_evicted()?;
        let merge = self.optimize_finished()?;
        if Instant::now() >= self.next_collection {
            self.collect()?;
            self.next_collection = Instant::now() + COLLECT_EVERY;
        }
        Ok(match (indexed || added, merge) {
            (true, _) | (_, Merge::Done) => Progress::Busy,
            (false, Merge::Deferred) => Progress::Deferred,
            (false, Merge::None) => Progress::Idle,
        })
    }

    /// Steps until the index is in step with the store.
    #[cfg(test)]
    pub(in crate::store) fn catch_up(&mut self) -> rusqlite::Result<()> {
        while self.step()? == Progress::Busy {}
        Ok(())
    }

    /// Applies the flush floors recorded since the last: entries from the lowest floor up are
    /// deleted and the watermark is lowered below it, so the items that now have those seqs
    /// get indexed.
    fn apply_floors(&mut self) -> rusqlite::Result<bool> {
        let tx = self
            .search
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = state(&tx)?;
        let applied = state.applied_floor;
        let (first, last, floor): (Option<i64>, Option<i64>, Option<i64>) =
            self.store.read(move |conn| {
                conn.query_row(
                    "SELECT MIN(id), MAX(id), MIN(floor) FROM search_floors WHERE id > ?1",
                    [applied],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
            })?;
        let (Some(first), Some(last), Some(floor)) = (first, last, floor) else {
            return Ok(false);
        };
        // Floors the database no longer keeps may have been lower: start over.
        let floor = match first == state.applied_floor + 1 {
            true => floor.max(1),
            false => 1,
        };
        for id in file::shards(&tx, "main")? {
            let (lo, hi) = state.shard_range(id);
            if hi < floor {
                continue;
            }
            if lo.max(1) >= floor {
                file::drop_shard(&tx, id)?;
            } else {
                let table = file::shard_table(id);
                tx.execute(&format!("DELETE FROM {table} WHERE rowid >= ?1"), [floor])?;
                tx.execute("UPDATE shards SET optimized = 0 WHERE id = ?1", [id])?;
            }
        }
        let through = state.indexed_through.min(floor - 1);
        tx.execute(
            "UPDATE state SET indexed_through = ?1, applied_floor = ?2",
            params![through, last],
        )?;
        tx.commit()?;
        self.shared.indexed.send_replace(through);
        // A flush may have left entries below the floor too (another project's items).
        self.next_collection = Instant::now();
        Ok(true)
    }

    /// Indexes the next batch of items above the watermark and moves it past them.
    fn index_batch(&mut self) -> rusqlite::Result<bool> {
        // The watermark is read under the file's write lock, so that the items read are the
        // ones above it even should another process write the file.
        let tx = self
            .search
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = state(&tx)?;
        // The items are read a few dozen at a time, each piece indexed before the next is read:
        // the store sees short reads with long pauses between them, in which the writer can
        // rewind its WAL (read back to back, the pieces held it back as one long read would).
        let (mut last, mut items, mut bytes) = (state.indexed_through, 0, 0);
        let mut shard = None;
        while items < BATCH_ITEMS && bytes < BATCH_BYTES {
            let started = Instant::now();
            let max_bytes = self.max_bytes;
            let after = last;
            let (docs, read) = self
                .store
                .read(move |conn| read_items(conn, max_bytes, after))?;
            let Some(newest) = docs.last().map(|doc| doc.seq) else {
                break;
            };
            for doc in &docs {
                let id = state.shard_of(doc.seq);
                if shard != Some(id) {
                    file::create_shard(&tx, id)?;
                    shard = Some(id);
                }
                let table = file::shard_table(id);
                tx.prepare_cached(&format!(
                    "INSERT INTO {table} (rowid, summary, payload) VALUES (?1, ?2, ?3)"
                ))?
                .execute(params![
                    doc.seq,
                    doc.summary,
                    doc.payload.as_deref().unwrap_or(UNSEARCHABLE)
                ])?;
            }
            (last, items, bytes) = (newest, items + docs.len(), bytes + read);
            if let Some(pacing) = &mut self.pacing {
                pacing.rest_after(started.elapsed());
            }
        }
        if items == 0 {
            // Another indexer may have moved the watermark (see `file::lock`): what this one
            // published at open is then behind the file.
            self.shared
                .indexed
                .send_if_modified(|published| std::mem::replace(published, last) != last);
            return Ok(false);
        }
        tx.execute("UPDATE state SET indexed_through = ?1", [last])?;
        tx.commit()?;
        self.shared.indexed.send_replace(last);
        Ok(true)
    }

    /// Adds to the index what minidumps processed since the last step found (functions, files,
    /// modules), under their event items already indexed; the others get it when their turn
    /// comes (`read_items`). A second entry with the same rowid only adds trigrams to it.
    fn index_native(&mut self) -> rusqlite::Result<bool> {
        // Only this indexer writes the file (it holds its lock): what it read stays true.
        let after = self.state()?.native_through;
        let additions = self
            .store
            .read(move |conn| minidumps::search_additions(conn, after, READ_ITEMS))?;
        let Some(last) = additions.last().map(|a| a.search_seq) else {
            return Ok(false);
        };
        let tx = self
            .search
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = state(&tx)?;
        let shards = file::shards(&tx, "main")?;
        for addition in &additions {
            let shard = state.shard_of(addition.event_seq);
            // Above the watermark the item is indexed with it later; in no shard, it is gone.
            if addition.event_seq < 1
                || addition.event_seq > state.indexed_through
                || !shards.contains(&shard)
            {
                continue;
            }
            let table = file::shard_table(shard);
            tx.prepare_cached(&format!(
                "INSERT INTO {table} (rowid, summary, payload) VALUES (?1, ?2, '')"
            ))?
            .execute(params![addition.event_seq, addition.text])?;
        }
        tx.execute("UPDATE state SET native_through = ?1", [last])?;
        tx.commit()?;
        Ok(true)
    }

    /// Drops the shards whose seqs are all below the oldest item: eviction took them.
    fn drop_evicted(&mut self) -> rusqlite::Result<()> {
        let oldest: Option<i64> = self
            .store
            .read(|conn| conn.query_row("SELECT MIN(seq) FROM items", [], |r| r.get(0)))?;
        let Some(oldest) = oldest else {
            return Ok(());
        };
        let state = self.state()?;
        let gone: Vec<i64> = file::shards(&self.search, "main")?
            .into_iter()
            .filter(|&id| state.shard_range(id).1 < oldest)
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let tx = self.search.transaction()?;
        for id in gone {
            file::drop_shard(&tx, id)?;
        }
        tx.commit()
    }

    /// Merges one shard the watermark has passed into a single segment, so that a lookup in it
    /// reads one b-tree per trigram.
    fn optimize_finished(&mut self) -> rusqlite::Result<Merge> {
        let state = self.state()?;
        let finished: Option<i64> = self
            .search
            .query_row(
                "SELECT id FROM shards WHERE optimized = 0 AND (id + 1) * ?1 - 1 <= ?2
                 ORDER BY id LIMIT 1",
                params![state.shard_seqs, state.indexed_through],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = finished else {
            return Ok(Merge::None);
        };
        // A merge is a long piece of work that cannot rest midway: it waits for a pause.
        if self.pacing.as_mut().is_some_and(Pacing::ingest_busy) {
            return Ok(Merge::Deferred);
        }
        let table = file::shard_table(id);
        let tx = self.search.transaction()?;
        tx.execute(
            &format!("INSERT INTO {table} ({table}) VALUES ('optimize')"),
            [],
        )?;
        tx.execute("UPDATE shards SET optimized = 1 WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(Merge::Done)
    }

    /// Deletes the entries of items that are gone though their shard is not: a shard with more
    /// entries than items up to the watermark has its entries without an item deleted.
    pub(super) fn collect(&mut self) -> rusqlite::Result<()> {
        let state = self.state()?;
        for id in file::shards(&self.search, "main")? {
            let (first, last) = state.shard_range(id);
            let last = last.min(state.indexed_through);
            if last < first {
                continue;
            }
            let table = file::shard_table(id);
            let entries: i64 = self.search.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE rowid <= ?1"),
                [last],
                |r| r.get(0),
            )?;
            let items: i64 = self.store.read(move |conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM items WHERE seq BETWEEN ?1 AND ?2",
                    [first, last],
                    |r| r.get(0),
                )
            })?;
            if entries <= items {
                continue;
            }
            let indexed: Vec<i64> = self
                .search
                .prepare(&format!("SELECT rowid FROM {table} WHERE rowid <= ?1"))?
                .query_map([last], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut gone = Vec::new();
            for seqs in indexed.chunks(COLLECT_READ) {
                let seqs = seqs.to_vec();
                gone.extend(self.store.read(move |conn| {
                    let mut exists = conn.prepare_cached("SELECT 1 FROM items WHERE seq = ?1")?;
                    let mut gone = Vec::new();
                    for seq in seqs {
                        if !exists.exists([seq])? {
                            gone.push(seq);
                        }
                    }
                    Ok(gone)
                })?);
            }
            let tx = self.search.transaction()?;
            for seq in &gone {
                tx.prepare_cached(&format!("DELETE FROM {table} WHERE rowid = ?1"))?
                    .execute([seq])?;
            }
            tx.execute("UPDATE shards SET optimized = 0 WHERE id = ?1", [id])?;
            tx.commit()?;
            tracing::debug!(shard = id, entries = gone.len(), "search index: collected");
        }
        Ok(())
    }
}

/// Up to [`READ_ITEMS`] items above `after` (and their bytes of text), in one snapshot, so
/// that each summary and payload are the same item's.
fn read_items(
    conn: &Connection,
    max_bytes: usize,
    after: i64,
) -> rusqlite::Result<(Vec<Doc>, usize)> {
    let _snapshot = conn.unchecked_transaction()?;
    let rows: Vec<(i64, String)> = conn
        .prepare_cached("SELECT seq, summary FROM items WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
        .query_map(params![after, READ_ITEMS as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // What processed minidumps found, added to their events' summaries.
    let mut native = match (rows.first(), rows.last()) {
        (Some((first, _)), Some((last, _))) => {
            minidumps::search_texts_between(conn, *first, *last)?
        }
        _ => Vec::new(),
    };
    let mut docs = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for (seq, mut summary) in rows {
        if let Some(at) = native.iter().position(|(event_seq, _)| *event_seq == seq) {
            let (_, text) = native.swap_remove(at);
            summary.push('\n');
            summary.push_str(&text);
        }
        if bytes >= READ_BYTES {
            break;
        }
        let payload = item_payload_within(conn, seq, max_bytes)?
            .and_then(|payload| String::from_utf8(payload).ok());
        bytes += summary.len() + payload.as_ref().map_or(0, String::len);
        docs.push(Doc {
            seq,
            summary,
            payload,
        });
    }
    Ok((docs, bytes))
}
