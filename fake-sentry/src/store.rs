//! SQLite storage of everything fake-sentry captured.
//!
//! One writer thread owns the write connection and commits whatever requests have queued up in
//! one transaction (batching is what makes thousands of envelopes per second possible on a file
//! with WAL; under load a file-backed writer waits up to half a millisecond for a batch as big
//! as its last one); a request is answered only after its transaction committed, so an acknowledged
//! envelope survives `kill -9`. Reads run on their own connections when the database is a file
//! (WAL lets them proceed while the writer works) and share the writer's connection when it is
//! in memory. After each commit the writer bumps a watch counter, which long-poll waits and
//! Server-Sent Event streams listen to before they query for what is new. Items are found by
//! Sentry event id through [`EventIndex`], a map in memory the writer keeps in step, rather
//! than a SQLite index whose random keys would cost every commit a page per envelope. Each
//! payload is kept once: the request body (as sent, or decoded and compressed against a
//! dictionary of what SDKs send when that is smaller: `compact`) and, for each item, its place
//! in that body, or the payload compressed when ingest built it.
//!
//! The parts: `schema` (tables, their version, migrations and connection settings), `writer`
//! (batching, checkpoints), `retention` (the count and byte caps: eviction in bounded steps),
//! `filter` (what a query asks for, as SQL), `queries` (the reads), `records` (what reads
//! return), and beside them how payloads are kept and read back (`payload`, with `body`, which
//! decodes a stored body only as far as a read needs, and `compact`, the form bodies are kept
//! in), the event id map (`event_index`), text
//! search (`text_search`, which checks candidates, and `search_index`, a file's trigram index
//! that names them, kept by a thread of its own), the byte count of what is stored
//! (`byte_cap`), refusals (`refusals`) and which items take part in which trace, with the
//! trace list (`traces`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};

use crate::auth::Auth;
use crate::config::{Storage, SyncMode};
use crate::data_policy::ItemAudit;
use crate::item::ItemMeta;

mod body;
mod byte_cap;
mod compact;
mod event_index;
mod filter;
mod http_headers;
mod item_counts;
mod logs;
mod minidumps;
mod payload;
mod queries;
mod records;
mod refusals;
mod retention;
mod schema;
mod search_index;
mod text_search;
mod traces;
mod writer;
mod zstd_context;

pub use compact::BodyStorage;
pub use event_index::EventIndex;
pub use filter::{BadTime, ItemFilter};
#[cfg(test)]
pub(crate) use item_counts::ensure as ensure_item_counts;
pub use item_counts::{counts_by_type, finding_totals, projects};
pub use logs::{
    BadLogFilter, LogCursor, LogFilter, LogRecord, last_log_id, list_logs, log_counts, log_facets,
    logs_after,
};
pub use minidumps::{
    MinidumpBodies, MinidumpRecord, PendingMinidump, ProcessingOutcome, ProcessingStatus,
    find_minidump, minidump_inputs, native_event_of, pending, pending_minidumps,
};
pub use queries::{
    Order, count_items, envelopes_after, get_envelope, get_envelope_raw, get_item, get_item_audit,
    kent_list, last_envelope_id, last_item_seq, list_items, list_refusals, refusal_counts,
};
pub use records::{
    EnvelopeRecord, EnvelopeWithItems, ItemAuditRecord, ItemRecord, ItemSummary, RefusalRecord,
    SdkInfo, StoredBody, format_ms, now_ms,
};
pub use refusals::MAX_REFUSAL_FIELD;
use refusals::RefusalCaps;
pub use retention::{Caps, EvictionStats};
use retention::{Evictions, Retention};
use schema::{FileSettings, configure};
use search_index::{IndexerSettings, SHARD_SEQS, SearchIndex, spawn_indexer};
pub use traces::{
    TraceCounts, TraceFilter, TraceItem, TraceRoot, TraceService, TraceSummary, duration_ms,
    format_timestamp, item_payload, list_traces, root_of, summarize as summarize_trace,
    trace_items,
};
use writer::{
    MinidumpWrite, PreparedEnvelope, WalLimit, WriteOp, Writer, run_checkpointer, wal_path,
};

/// How much of a database file each read connection maps into memory (address space, not
/// memory: SQLite caps it at 2 GiB unless built otherwise).
const READER_MMAP_BYTES: i64 = 1 << 31;

/// Pending writes before ingest waits for the writer (backpressure).
const QUEUE_DEPTH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("storage task failed: {0}")]
    Task(String),
    #[error("cannot compress a payload: {0}")]
    Compress(#[source] std::io::Error),
    #[error(
        "the database is schema version {found}, written by a newer fake-sentry; this one reads \
         versions {oldest} to {newest}"
    )]
    NewerSchema {
        found: i64,
        oldest: i64,
        newest: i64,
    },
    #[error(
        "the database has schema version {found}, which no fake-sentry writes; this one reads \
         versions {oldest} to {newest}"
    )]
    UnknownSchema {
        found: i64,
        oldest: i64,
        newest: i64,
    },
}

/// One item of an envelope about to be stored.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub item_type: String,
    /// The item header; `None` for bodies that had none (store, security, minidump).
    pub header: Option<Map<String, Value>>,
    pub payload: Vec<u8>,
    /// Where the payload lies in the decoded request body, when it is a byte range of it: the
    /// store then keeps only that position and reads the payload back from the body.
    pub in_body: Option<BodyPosition>,
    pub meta: ItemMeta,
    /// What the data policy found (and scrubbed), when fake-sentry runs with one.
    pub audit: Option<ItemAudit>,
}

/// Where an item's payload lies in the decoded request body (see [`NewItem::in_body`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPosition {
    /// The payload's bytes in the decoded body.
    pub payload: std::ops::Range<usize>,
    /// Whether the item's header was parsed from the body line that ends, with its newline,
    /// right before the payload (an envelope item's header): the store then reads it back
    /// from there rather than keeping its text too.
    pub header_line_before: bool,
}

/// One accepted request about to be stored.
#[derive(Debug, Clone)]
pub struct NewEnvelope {
    pub project_id: u64,
    /// The ingest endpoint: `envelope`, `store`, `security`, `minidump` or `stream`.
    pub endpoint: &'static str,
    pub received_at_ms: i64,
    pub auth: Auth,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// The envelope header; `None` for bodies that had none.
    pub header: Option<Map<String, Value>>,
    /// Whether `header` was parsed from the decoded body's first line (an envelope's header):
    /// the store then reads it back from there rather than keeping its text too.
    pub header_is_first_line: bool,
    /// The request body exactly as sent (still compressed when it was); `content_encoding`
    /// says how to decode it. Its size is the wire size; the store keeps it, or the compact
    /// form of `decoded` when that is smaller (see `store/compact.rs`).
    pub body: bytes::Bytes,
    /// The body after undoing `content_encoding`, when ingest decoded it (an identity body is
    /// `body` itself): what the compact form keeps (see `store/compact.rs`). `None` keeps the
    /// body as sent.
    pub decoded: Option<bytes::Bytes>,
    /// The body size after decompression.
    pub decoded_size: usize,
    /// The HTTP request headers, as a JSON object of name to value (repeated headers joined
    /// with `, `), so what a client sent can be audited.
    pub http_headers: String,
    pub items: Vec<NewItem>,
}

/// A refused ingest request, kept so tests can see what was refused and why.
#[derive(Debug, Clone)]
pub struct NewRefusal {
    pub received_at_ms: i64,
    pub method: String,
    pub path: String,
    pub project_id: Option<u64>,
    pub status: u16,
    pub reason: String,
    pub client: Option<String>,
    pub public_key: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body_size: usize,
    pub body_prefix: Vec<u8>,
}

/// How a store is opened: what it keeps, how a file syncs, and its search index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Items kept before the oldest are evicted.
    pub max_items: usize,
    pub max_refusals: usize,
    pub max_refusal_bytes: usize,
    /// File-backed: the largest the WAL may grow (see [`Store::open`]).
    pub max_wal_bytes: u64,
    pub sync: SyncMode,
    /// In memory: the most bytes kept (see `store/byte_cap.rs`).
    pub max_memory_bytes: usize,
    /// File-backed: the most bytes the database holds (`--max-db-size`, see
    /// `store/retention.rs`); `None` for no cap. In memory, the smaller of it and
    /// `max_memory_bytes` applies.
    pub max_db_bytes: Option<u64>,
    /// File-backed: the longest payload the search index takes in (longer ones, and those
    /// that are not UTF-8, are always read by a search); 0 turns the index off.
    pub search_index_max_bytes: usize,
    /// The form request bodies are kept in (`--bodies`, see `store/compact.rs`).
    pub bodies: BodyStorage,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_items: 200_000,
            max_refusals: 10_000,
            max_refusal_bytes: crate::config::DEFAULT_MAX_REFUSAL_BYTES,
            max_wal_bytes: crate::config::DEFAULT_MAX_WAL_BYTES,
            sync: SyncMode::default(),
            max_memory_bytes: usize::MAX,
            max_db_bytes: None,
            search_index_max_bytes: crate::config::DEFAULT_SEARCH_INDEX_MAX_BYTES,
            bodies: BodyStorage::default(),
        }
    }
}

/// What the writer reports back for a stored envelope.
#[derive(Debug, Clone)]
pub struct Stored {
    pub envelope_id: i64,
    pub item_ids: Vec<String>,
    /// How many of its items are minidumps now waiting to be processed.
    pub minidumps: usize,
}

enum Readers {
    /// In memory: one database, one connection, shared with the writer.
    Shared(Arc<Mutex<Connection>>),
    /// File: a pool of read connections, each with the generation of the search file it has
    /// attached (see [`SearchIndex::attach`]).
    Pool {
        path: PathBuf,
        idle: Mutex<Vec<(Connection, u64)>>,
    },
}

/// Handle to the storage; cheap to share behind an `Arc`.
pub struct Store {
    queue: mpsc::Sender<WriteOp>,
    readers: Readers,
    changes: watch::Sender<u64>,
    /// Bumped after each commit that gave the native crash pipeline work: new minidumps, or a
    /// request to process one again.
    minidump_work: watch::Sender<u64>,
    /// Bumped after each commit that stored envelopes: what background work paces itself by
    /// (`crate::pacing`), which the pipeline's own writes must not count as.
    envelope_commits: watch::Sender<u64>,
    event_index: Arc<EventIndex>,
    /// File-backed with the index on: the search index readers attach.
    search: Option<Arc<SearchIndex>>,
    evictions: Arc<Evictions>,
    /// The form new bodies are kept in.
    bodies: BodyStorage,
}

/// The file beside `path` whose name is `path`'s with `suffix` added, as SQLite names a
/// database's WAL (`-wal`) and as the store (and the native crash pipeline's symbol cache)
/// names its other files.
pub(crate) fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

impl Store {
    /// Opens (or creates) the database and starts the writer thread.
    ///
    /// File-backed, the WAL is kept within `max_wal_bytes`. Without syncs
    /// ([`SyncMode::Off`]) the writer checkpoints it itself every `CHECKPOINT_EVERY_BYTES`
    /// (1 MiB, or that size if smaller), so that no checkpoint stalls ingest for long.
    /// Otherwise a background thread checkpoints (and fsyncs) while the writer goes on;
    /// under sustained load such a checkpoint never catches up with the writer, so the WAL
    /// would grow without end: once it is past `max_wal_bytes` the writer tells the
    /// checkpointer, which then checkpoints and truncates it, holding the next write back
    /// meanwhile.
    pub fn open(
        storage: &Storage,
        max_items: usize,
        max_refusals: usize,
        max_wal_bytes: u64,
        sync: SyncMode,
    ) -> Result<Arc<Self>, StoreError> {
        Self::open_capped(
            storage,
            max_items,
            max_refusals,
            crate::config::DEFAULT_MAX_REFUSAL_BYTES,
            max_wal_bytes,
            sync,
            usize::MAX,
        )
    }

    /// [`Store::open`], with an in-memory store also capped at `max_memory_bytes` of what it
    /// keeps, the oldest envelopes evicted past it (see `store/byte_cap.rs`); a file is not
    /// capped by bytes. Refusals are kept within `max_refusals` and `max_refusal_bytes` either
    /// way (see `store/refusals.rs`).
    pub fn open_capped(
        storage: &Storage,
        max_items: usize,
        max_refusals: usize,
        max_refusal_bytes: usize,
        max_wal_bytes: u64,
        sync: SyncMode,
        max_memory_bytes: usize,
    ) -> Result<Arc<Self>, StoreError> {
        let options = StoreOptions {
            max_items,
            max_refusals,
            max_refusal_bytes,
            max_wal_bytes,
            sync,
            max_memory_bytes,
            ..StoreOptions::default()
        };
        Self::open_with(storage, &options)
    }

    /// Every file a database at `db` may keep beside itself, `db` first: its WAL and shared
    /// memory, and the search index's file, WAL, shared memory and lock. To remove a database
    /// whole (a benchmark's target), remove them all.
    pub fn files(db: &Path) -> Vec<PathBuf> {
        let search = search_index::search_path(db);
        vec![
            db.to_path_buf(),
            beside(db, "-wal"),
            beside(db, "-shm"),
            beside(&search, "-wal"),
            beside(&search, "-shm"),
            search_index::lock_path(&search),
            search,
        ]
    }

    /// Opens (or creates) the store with `options`, starts the writer thread and, for a file
    /// with the index on, the search indexer (see `store/search_index.rs`).
    pub fn open_with(storage: &Storage, options: &StoreOptions) -> Result<Arc<Self>, StoreError> {
        let (store, indexer) = Self::open_unindexed(storage, options)?;
        if let Some((search, settings)) = indexer {
            spawn_indexer(search, settings, store.subscribe_changes())
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(store)
    }

    /// [`Store::open_with`] without the indexer thread: tests step their own indexer.
    #[cfg(test)]
    fn open_with_manual_index(
        storage: &Storage,
        options: &StoreOptions,
        shard_seqs: i64,
    ) -> Result<(Arc<Self>, search_index::Indexer), StoreError> {
        let (store, indexer) = Self::open_unindexed(storage, options)?;
        let (search, settings) = indexer.expect("a file with the index on");
        let settings = IndexerSettings {
            shard_seqs,
            ..settings
        };
        let reader = search_index::StoreReader::spawn(&settings.db)
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let indexer = search_index::Indexer::open(search, &settings, Arc::new(reader))?;
        Ok((store, indexer))
    }

    /// Opens the store and starts its writer; also returns what the indexer needs, for a file
    /// with the index on.
    #[allow(clippy::type_complexity)]
    fn open_unindexed(
        storage: &Storage,
        options: &StoreOptions,
    ) -> Result<(Arc<Self>, Option<(Arc<SearchIndex>, IndexerSettings)>), StoreError> {
        let StoreOptions {
            max_items,
            max_refusals,
            max_refusal_bytes,
            max_wal_bytes,
            sync,
            max_memory_bytes,
            max_db_bytes,
            search_index_max_bytes,
            bodies,
        } = *options;
        let caps = Caps {
            max_items,
            max_memory_bytes,
            max_db_bytes,
        };
        let file_settings = FileSettings {
            sync,
            max_wal_bytes,
        };
        let (conn, file_path) = match storage {
            Storage::Memory => (Connection::open_in_memory()?, None),
            Storage::File(path) => (Connection::open(path)?, Some(path.clone())),
        };
        // Before anything touches a file a newer fake-sentry wrote.
        schema::refuse_unknown_version(&conn)?;
        configure(&conn, file_path.as_ref().map(|_| file_settings))?;
        schema::create_or_migrate(&conn)?;
        if file_path.is_some() {
            search_index::prepare_store(&conn)?;
        }
        let indexer = match &file_path {
            Some(path) if search_index_max_bytes > 0 => Some((
                Arc::new(SearchIndex::new(path)),
                IndexerSettings {
                    db: path.clone(),
                    max_bytes: search_index_max_bytes,
                    sync,
                    shard_seqs: SHARD_SEQS,
                },
            )),
            _ => None,
        };
        let event_index = Arc::new(EventIndex::load(&conn)?);
        event_index.register(&conn)?;
        item_counts::ensure(&conn)?;
        let item_count = item_counts::total(&conn)?;
        let last_seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM items", [], |r| r.get(0))?;
        let max_bytes = match storage {
            Storage::Memory => {
                let max_db = caps
                    .max_db_bytes
                    .map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(usize::MAX));
                let max = caps.max_memory_bytes.min(max_db);
                Some(i64::try_from(max).unwrap_or(i64::MAX).max(1))
            }
            Storage::File(_) => None,
        };
        let stored_bytes = match max_bytes {
            Some(_) => byte_cap::total(&conn)?,
            None => 0,
        };
        let refusal_bytes = refusals::total(&conn)?;
        let evictions = Arc::new(Evictions::default());
        let retention = Retention::new(&conn, storage, caps.max_db_bytes, evictions.clone())?;
        let conn = Arc::new(Mutex::new(conn));
        let readers = match file_path {
            None => Readers::Shared(conn.clone()),
            Some(path) => Readers::Pool {
                path,
                idle: Mutex::new(Vec::new()),
            },
        };
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        // The writer's "the WAL is past its limit" signal to the checkpointer.
        let (truncate_tx, truncate_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let checkpoint_lock = Arc::new(std::sync::Mutex::new(()));
        let (changes, _) = watch::channel(last_seq as u64);
        let store = Arc::new(Self {
            queue,
            readers,
            changes,
            minidump_work: watch::channel(0).0,
            envelope_commits: watch::channel(0).0,
            event_index: event_index.clone(),
            search: indexer.as_ref().map(|(search, _)| search.clone()),
            evictions: evictions.clone(),
            bodies,
        });
        let writer = Writer {
            conn,
            event_index,
            max_items: i64::try_from(caps.max_items).unwrap_or(i64::MAX).max(1),
            refusal_caps: RefusalCaps::new(max_refusals, max_refusal_bytes),
            refusal_bytes,
            item_count,
            max_bytes,
            stored_bytes,
            retention,
            store: Arc::downgrade(&store),
            minidumps_to_process: false,
            // Every file has one: with sync off the writer checkpoints as it goes, but a
            // reader that holds a snapshot (one starved of CPU, say) keeps the WAL from
            // rewinding, and then only the writer's own truncation bounds it.
            wal_limit: match storage {
                Storage::File(path) => Some(WalLimit {
                    path: wal_path(path),
                    max_bytes: max_wal_bytes,
                    truncate: truncate_tx,
                    checkpoint_lock: checkpoint_lock.clone(),
                }),
                Storage::Memory => None,
            },
        };
        std::thread::Builder::new()
            .name("fake-sentry-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        if let (Storage::File(path), SyncMode::Normal | SyncMode::Full) = (storage, sync) {
            let conn = Connection::open(path)?;
            configure(&conn, Some(file_settings))?;
            let weak = Arc::downgrade(&store);
            std::thread::Builder::new()
                .name("fake-sentry-checkpoint".into())
                .spawn(move || run_checkpointer(conn, weak, truncate_rx, checkpoint_lock))
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok((store, indexer))
    }

    /// The most memory [`Store::insert`] allocates for `envelope` besides what it takes over
    /// from it, held until the envelope is committed: the compressed copies it keeps (the
    /// compact body, payloads and scrubbed copies), each in a buffer of its input's bound. A
    /// request charges it to `--max-in-flight` before it stores its envelope.
    pub fn preparing_bytes(&self, envelope: &NewEnvelope) -> usize {
        writer::preparing_bytes(envelope, self.bodies)
    }

    /// Stores an envelope; returns once it is committed.
    pub async fn insert(&self, envelope: NewEnvelope) -> Result<Stored, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Insert(
                Box::new(PreparedEnvelope::new(envelope, self.bodies)?),
                tx,
            ))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let (result, prepared) = rx.await.map_err(|_| StoreError::WriterGone)?;
        drop(prepared);
        result
    }

    /// Records a refused request, its strings cut to [`MAX_REFUSAL_FIELD`]; returns once it
    /// is committed.
    pub async fn refuse(&self, refusal: NewRefusal) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Refuse(Box::new(refusal.bounded()), tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Deletes everything (or one project's envelopes); returns how many items went.
    pub async fn flush(&self, project: Option<u64>) -> Result<u64, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Flush(project, tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Keeps what processing a minidump produced (see `minidumps.rs`). Returns whether it was
    /// kept: not when the dump has gone or was asked for again meanwhile.
    pub async fn record_minidump(
        &self,
        pending: PendingMinidump,
        outcome: ProcessingOutcome,
    ) -> Result<bool, StoreError> {
        let prepared = minidumps::PreparedOutcome::new(outcome)?;
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Minidump(
                MinidumpWrite::Outcome(pending, Box::new(prepared)),
                tx,
            ))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        Ok(rx.await.map_err(|_| StoreError::WriterGone)??.is_some())
    }

    /// Makes the minidump whose attachment is at `seq` pending again; returns the new attempt,
    /// or `None` when there is no such minidump.
    pub async fn reprocess_minidump(&self, seq: i64) -> Result<Option<i64>, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Minidump(MinidumpWrite::Again(seq), tx))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// A receiver that changes after each commit that stored envelopes.
    pub(crate) fn subscribe_envelope_commits(&self) -> watch::Receiver<u64> {
        self.envelope_commits.subscribe()
    }

    /// A receiver that changes after each commit that gave the native crash pipeline work.
    pub fn subscribe_minidump_work(&self) -> watch::Receiver<u64> {
        self.minidump_work.subscribe()
    }

    /// What retention has evicted since the store opened.
    pub fn evictions(&self) -> EvictionStats {
        self.evictions.stats()
    }

    /// The commit counter [`Store::subscribe_changes`] watches: equal values mean nothing was
    /// written in between.
    pub fn version(&self) -> u64 {
        *self.changes.borrow()
    }

    /// A receiver that changes after every commit that added items.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The search index's watermark: every item up to this seq is indexed (items above it
    /// are scanned by a search). `None` without an index (in memory, or turned off).
    pub fn search_indexed_through(&self) -> Option<i64> {
        self.search
            .as_ref()
            .map(|search| *search.indexed().borrow())
    }

    /// Resolves once the search index covers every item stored before the call (at once when
    /// there is no index: in memory, or with it off). Searches answer the same either way;
    /// only their speed depends on it.
    pub async fn search_indexed(self: &Arc<Self>) -> Result<(), StoreError> {
        let Some(search) = &self.search else {
            return Ok(());
        };
        let mut indexed = search.indexed();
        let last = self.read(last_item_seq).await?;
        indexed
            .wait_for(|through| *through >= last)
            .await
            .map(drop)
            .map_err(|_| StoreError::Task("the search indexer has stopped".into()))
    }

    /// Runs a read on a connection of the pool, off the async runtime.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs a read on the calling thread.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Readers::Shared(conn) => {
                let guard = conn.lock().unwrap_or_else(|e| e.into_inner());
                Ok(f(&guard)?)
            }
            Readers::Pool { path, idle } => {
                let pooled = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let (conn, mut attached) = match pooled {
                    Some(pooled) => pooled,
                    None => {
                        let conn = Connection::open_with_flags(
                            path,
                            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        conn.busy_timeout(Duration::from_secs(10))?;
                        // Searches and long lists read every page of the table: mapped, the
                        // pages are read where they lie in the page cache instead of being
                        // copied into SQLite's own cache one read call at a time.
                        conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                        self.event_index.register(&conn)?;
                        (conn, 0)
                    }
                };
                if let Some(search) = &self.search {
                    search.attach(&conn, &mut attached);
                }
                let result = f(&conn);
                idle.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((conn, attached));
                Ok(result?)
            }
        }
    }
}

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod tests;
