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
//! than a SQLite index whose random keys would cost every commit a page per envelope.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};

use crate::auth::Auth;
use crate::config::{Storage, SyncMode};
use crate::data_policy::ItemAudit;
use crate::item::ItemMeta;

mod byte_cap;
mod event_index;
mod refusals;
mod text_search;
pub use event_index::EventIndex;
use event_index::IndexChanges;
pub use refusals::MAX_REFUSAL_FIELD;
use refusals::RefusalCaps;

/// Most projects or item types [`projects`] and [`counts_by_type`] list.
const MAX_DISTINCT_KEYS: usize = 1000;
/// How many queued writes one transaction takes at most.
const MAX_BATCH: usize = 512;
/// How long the writer waits at most for a batch as big as the last one, and how often it
/// looks for new writes meanwhile.
const LINGER: Duration = Duration::from_micros(500);
const LINGER_STEP: Duration = Duration::from_micros(50);
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
}

/// One item of an envelope about to be stored.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub item_type: String,
    /// The item header; `None` for bodies that had none (store, security, minidump).
    pub header: Option<Map<String, Value>>,
    pub payload: Vec<u8>,
    pub meta: ItemMeta,
    /// What the data policy found (and scrubbed), when fake-sentry runs with one.
    pub audit: Option<ItemAudit>,
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
    /// The request body exactly as sent (still compressed when it was); `content_encoding`
    /// says how to decode it. Kept as sent because it is the truest record and, for the
    /// compressed bodies most SDKs send, a fraction of the decoded size.
    pub body: bytes::Bytes,
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

/// What the writer reports back for a stored envelope.
#[derive(Debug, Clone)]
pub struct Stored {
    pub envelope_id: i64,
    pub item_ids: Vec<String>,
}

/// An envelope with everything the writer needs precomputed, so the single writer thread only
/// binds values: ids, header texts, and no JSON trees to drop.
struct PreparedEnvelope {
    envelope: NewEnvelope,
    header_text: Option<String>,
    item_ids: Vec<String>,
    item_header_texts: Vec<Option<String>>,
}

impl PreparedEnvelope {
    fn new(envelope: NewEnvelope) -> Self {
        let item_ids = envelope
            .items
            .iter()
            // Time-ordered UUIDs keep the id index append-only; Kent's clients only need a UUID.
            .map(|_| uuid::Uuid::now_v7().hyphenated().to_string())
            .collect();
        let item_header_texts = envelope
            .items
            .iter()
            .map(|i| json_text(&i.header))
            .collect();
        Self {
            header_text: json_text(&envelope.header),
            item_ids,
            item_header_texts,
            envelope,
        }
    }
}

type InsertReply = (Result<Stored, StoreError>, Box<PreparedEnvelope>);

enum WriteOp {
    /// The envelope travels back with the answer: dropping its buffers on the requesting
    /// task instead of the writer thread keeps the one serial stage short.
    Insert(Box<PreparedEnvelope>, oneshot::Sender<InsertReply>),
    Refuse(Box<NewRefusal>, oneshot::Sender<Result<(), StoreError>>),
    Flush(Option<u64>, oneshot::Sender<Result<u64, StoreError>>),
}

enum Readers {
    /// In memory: one database, one connection, shared with the writer.
    Shared(Arc<Mutex<Connection>>),
    /// File: a pool of read connections.
    Pool {
        path: PathBuf,
        idle: Mutex<Vec<Connection>>,
    },
}

/// Handle to the storage; cheap to share behind an `Arc`.
pub struct Store {
    queue: mpsc::Sender<WriteOp>,
    readers: Readers,
    changes: watch::Sender<u64>,
    event_index: Arc<EventIndex>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS envelopes (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    auth_source TEXT NOT NULL,
    public_key TEXT,
    client TEXT,
    user_agent TEXT,
    content_type TEXT,
    content_encoding TEXT,
    header TEXT,
    raw BLOB NOT NULL,
    wire_size INTEGER NOT NULL,
    http_headers TEXT,
    decoded_size INTEGER,
    raw_is_wire INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    envelope_id INTEGER NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    item_type TEXT NOT NULL,
    event_id TEXT,
    level TEXT,
    platform TEXT,
    release TEXT,
    environment TEXT,
    sdk_name TEXT,
    sdk_version TEXT,
    summary TEXT NOT NULL,
    timestamp REAL,
    received_at INTEGER NOT NULL,
    header TEXT,
    payload BLOB NOT NULL,
    is_json INTEGER NOT NULL,
    filename TEXT,
    content_type TEXT,
    decode_error TEXT,
    findings TEXT,
    finding_count INTEGER,
    scrubbed BLOB,
    scrub_report TEXT
);
CREATE INDEX IF NOT EXISTS items_seq_event ON items(seq, event_id);
CREATE INDEX IF NOT EXISTS items_envelope ON items(envelope_id);
CREATE INDEX IF NOT EXISTS items_project ON items(project_id, seq);
CREATE INDEX IF NOT EXISTS items_type ON items(item_type, seq);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    project_id INTEGER,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    client TEXT,
    public_key TEXT,
    content_type TEXT,
    content_encoding TEXT,
    body_size INTEGER NOT NULL,
    body_prefix BLOB NOT NULL
);
"#;

/// Brings a database written by an older version up to the current schema.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_http_headers: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'http_headers'",
        [],
        |r| r.get(0),
    )?;
    if !has_http_headers {
        conn.execute("ALTER TABLE envelopes ADD COLUMN http_headers TEXT", [])?;
    }
    // Older files kept the decoded body in `raw`; newer ones keep it as sent.
    let has_raw_is_wire: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'raw_is_wire'",
        [],
        |r| r.get(0),
    )?;
    if !has_raw_is_wire {
        conn.execute_batch(
            "ALTER TABLE envelopes ADD COLUMN decoded_size INTEGER;
             ALTER TABLE envelopes ADD COLUMN raw_is_wire INTEGER NOT NULL DEFAULT 0;",
        )?;
    }
    let has_findings: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'findings'",
        [],
        |r| r.get(0),
    )?;
    if !has_findings {
        conn.execute_batch(
            "ALTER TABLE items ADD COLUMN findings TEXT;
             ALTER TABLE items ADD COLUMN finding_count INTEGER;
             ALTER TABLE items ADD COLUMN scrubbed BLOB;
             ALTER TABLE items ADD COLUMN scrub_report TEXT;",
        )?;
    }
    // Event ids are found through the in-memory `EventIndex` (see there why).
    conn.execute("DROP INDEX IF EXISTS items_event_id", [])?;
    // Most items have no findings; a partial index keeps `?findings=true` cheap.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS items_with_findings ON items(seq) WHERE finding_count > 0",
        [],
    )?;
    Ok(())
}

/// SQLite's page size for a database in memory (see `configure`).
const MEMORY_PAGE_SIZE: i64 = 16 * 1024;

/// WAL bytes after which the writer checkpoints when nothing is synced (or `--max-wal`, if
/// smaller). Each checkpoint holds the writer back for as long as it takes to copy what the WAL
/// holds, so small ones keep every stall short: at 256 MiB (`--max-wal`'s default, the old
/// threshold) one checkpoint stalled ingest for 80-500 ms, a p99 of 51-56 ms at a constant
/// 5,000 envelopes/s; at 4 MiB p99 was 2.3-3.5 ms, at 1 MiB 1.6-2.0 ms, with the same
/// throughput (`bench fake-sentry --targets file`, issue 19).
const CHECKPOINT_EVERY_BYTES: u64 = 1024 * 1024;

/// Settings of a file-backed store's connections.
#[derive(Debug, Clone, Copy)]
struct FileSettings {
    sync: SyncMode,
    max_wal_bytes: u64,
}

fn configure(conn: &Connection, file: Option<FileSettings>) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let Some(file) = file else {
        // In memory, every commit ends with SQLite walking its page cache for pages past the
        // end of the database (`pcache1TruncateUnsafe`), and with event ids arriving in random
        // order that walk grows with the number of pages: with 4 KiB pages it took 43-48% of
        // the writer's time and halved throughput within seconds. Four times fewer pages make
        // it cheap (storage alone 11,800/s -> 19,300/s; the whole server 11,000/s -> 15,000/s).
        // Since event ids are looked up in `EventIndex` instead of a SQLite index, 4 KiB and
        // 16 KiB pages measure the same (three alternating rounds, within the noise); the
        // larger pages stay, as they cost nothing and keep that walk short should an index on
        // random keys come back. Must be set before the first table is created.
        conn.pragma_update(None, "page_size", MEMORY_PAGE_SIZE)?;
        return Ok(());
    };
    conn.pragma_update(None, "journal_mode", "WAL")?;
    match file.sync {
        SyncMode::Off => {
            // Nothing is ever fsynced, so a checkpoint only copies pages the page cache
            // already holds: cheap enough for the writer to run itself, every
            // `CHECKPOINT_EVERY_BYTES` of WAL so that no one checkpoint stalls it for long. The
            // next commit then rewinds the WAL and overwrites it in place, which costs far less
            // than appending to a fresh file (see `run_checkpointer` for the modes that sync).
            conn.pragma_update(None, "synchronous", "OFF")?;
            // The limit counts WAL frames, one page each; a file made elsewhere may have
            // pages of another size than SQLite's default.
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let checkpoint_bytes = file.max_wal_bytes.min(CHECKPOINT_EVERY_BYTES);
            conn.pragma_update(
                None,
                "wal_autocheckpoint",
                (checkpoint_bytes as i64 / page_size.max(512)).max(1),
            )?;
            // Should a reader hold a checkpoint back and the WAL grow past its limit, the
            // file is cut back to the limit the next time it rewinds.
            conn.pragma_update(None, "journal_size_limit", file.max_wal_bytes as i64)?;
        }
        SyncMode::Normal | SyncMode::Full => {
            // With WAL, NORMAL loses nothing on a process crash and keeps the file sound
            // on a machine crash; FULL also syncs every commit.
            conn.pragma_update(None, "synchronous", file.sync.as_str())?;
            // Checkpoints (which fsync the database) run on their own thread, see
            // `run_checkpointer`, so the writer never stalls behind one.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
    }
    Ok(())
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
    /// capped. Refusals are kept within `max_refusals` and `max_refusal_bytes` either way (see
    /// `store/refusals.rs`).
    pub fn open_capped(
        storage: &Storage,
        max_items: usize,
        max_refusals: usize,
        max_refusal_bytes: usize,
        max_wal_bytes: u64,
        sync: SyncMode,
        max_memory_bytes: usize,
    ) -> Result<Arc<Self>, StoreError> {
        let file_settings = FileSettings {
            sync,
            max_wal_bytes,
        };
        let (conn, file_path) = match storage {
            Storage::Memory => (Connection::open_in_memory()?, None),
            Storage::File(path) => (Connection::open(path)?, Some(path.clone())),
        };
        configure(&conn, file_path.as_ref().map(|_| file_settings))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        let event_index = Arc::new(EventIndex::load(&conn)?);
        event_index.register(&conn)?;
        text_search::register(&conn)?;
        let item_count: i64 = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))?;
        let last_seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM items", [], |r| r.get(0))?;
        let max_bytes = match storage {
            Storage::Memory => Some(i64::try_from(max_memory_bytes).unwrap_or(i64::MAX).max(1)),
            Storage::File(_) => None,
        };
        let stored_bytes = match max_bytes {
            Some(_) => byte_cap::total(&conn)?,
            None => 0,
        };
        let refusal_bytes = refusals::total(&conn)?;
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
        let (changes, _) = watch::channel(last_seq as u64);
        let store = Arc::new(Self {
            queue,
            readers,
            changes,
            event_index: event_index.clone(),
        });
        let writer = Writer {
            conn,
            event_index,
            max_items: max_items.max(1) as i64,
            refusal_caps: RefusalCaps::new(max_refusals, max_refusal_bytes),
            refusal_bytes,
            item_count,
            max_bytes,
            stored_bytes,
            store: Arc::downgrade(&store),
            linger: matches!(storage, Storage::File(_)),
            wal_limit: match storage {
                Storage::File(_) if sync == SyncMode::Off => None,
                Storage::File(path) => Some(WalLimit {
                    path: wal_path(path),
                    max_bytes: max_wal_bytes,
                    truncate: truncate_tx,
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
                .spawn(move || run_checkpointer(conn, weak, truncate_rx))
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(store)
    }

    /// Stores an envelope; returns once it is committed.
    pub async fn insert(&self, envelope: NewEnvelope) -> Result<Stored, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(WriteOp::Insert(
                Box::new(PreparedEnvelope::new(envelope)),
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

    /// The commit counter [`Store::subscribe_changes`] watches: equal values mean nothing was
    /// written in between.
    pub fn version(&self) -> u64 {
        *self.changes.borrow()
    }

    /// A receiver that changes after every commit that added items.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
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
                let conn = match pooled {
                    Some(conn) => conn,
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
                        text_search::register(&conn)?;
                        conn
                    }
                };
                let result = f(&conn);
                idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
                Ok(result?)
            }
        }
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Copies committed WAL frames into the database file while the writer keeps appending
/// (a PASSIVE checkpoint never blocks it); SQLite rewinds the WAL once all frames are copied.
/// When the writer reports the WAL past its limit (`truncate`), a TRUNCATE checkpoint waits
/// for the writer's current transaction, holds the next one back while it copies the rest,
/// and empties the file. Stops when the store is dropped.
fn run_checkpointer(
    conn: Connection,
    store: std::sync::Weak<Store>,
    truncate: std::sync::mpsc::Receiver<()>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut last_seen = u64::MAX;
    while let Some(store) = store.upgrade() {
        let version = *store.changes.borrow();
        drop(store);
        if version != last_seen {
            last_seen = version;
            if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(%err, "WAL checkpoint failed");
            }
        }
        match truncate.recv_timeout(CHECKPOINT_INTERVAL) {
            Ok(()) => match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            }) {
                Ok(0) => tracing::debug!("WAL past its limit: checkpointed and truncated"),
                Ok(_) => tracing::warn!("WAL past its limit, but a reader kept it"),
                Err(err) => tracing::warn!(%err, "WAL checkpoint failed"),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

struct Writer {
    conn: Arc<Mutex<Connection>>,
    max_items: i64,
    /// `--max-refusals` and `--max-refusal-bytes`, in memory and in a file alike.
    refusal_caps: RefusalCaps,
    /// The bytes of the refusals kept, as [`refusals`] counts them.
    refusal_bytes: i64,
    item_count: i64,
    /// In memory: the most bytes kept (`--max-memory-bytes`); `None` for a file.
    max_bytes: Option<i64>,
    /// In memory: the bytes kept, as [`byte_cap`] counts them.
    stored_bytes: i64,
    store: std::sync::Weak<Store>,
    event_index: Arc<EventIndex>,
    /// Whether to wait for fuller batches (file-backed only: in memory a commit writes no
    /// WAL, so waiting would only add latency).
    linger: bool,
    /// File-backed: the WAL file and its largest allowed size.
    wal_limit: Option<WalLimit>,
}

struct WalLimit {
    path: std::path::PathBuf,
    max_bytes: u64,
    /// Wakes the checkpointer to truncate the WAL (a full channel means it already knows).
    truncate: std::sync::mpsc::SyncSender<()>,
}

/// SQLite's name for a database's write-ahead log.
fn wal_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

impl Writer {
    /// Asks the checkpointer to truncate the WAL once it is past its limit (after the batch
    /// that crossed it has been answered).
    fn bound_wal(&self) {
        let Some(limit) = &self.wal_limit else {
            return;
        };
        let size = std::fs::metadata(&limit.path).map_or(0, |m| m.len());
        if size > limit.max_bytes {
            let _ = limit.truncate.try_send(());
        }
    }
}

/// Moves whatever is queued into `batch`, up to [`MAX_BATCH`].
fn drain(rx: &mut mpsc::Receiver<WriteOp>, batch: &mut Vec<WriteOp>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

enum Done {
    Insert(
        oneshot::Sender<InsertReply>,
        Result<Stored, String>,
        Box<PreparedEnvelope>,
    ),
    Refuse(oneshot::Sender<Result<(), StoreError>>, Result<(), String>),
    Flush(
        oneshot::Sender<Result<u64, StoreError>>,
        Result<u64, String>,
    ),
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<WriteOp>) {
        let mut last_batch = 0;
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            drain(&mut rx, &mut batch);
            // Under load (the last batch had several writes), wait a moment for the requests
            // still being decoded, until the batch is as big as the last one: every commit
            // rewrites the same index and interior pages, so bigger batches write fewer WAL
            // bytes per envelope. A lone client (batches of one) never waits.
            if self.linger && last_batch > 1 {
                let deadline = Instant::now() + LINGER;
                while batch.len() < last_batch && Instant::now() < deadline {
                    std::thread::sleep(LINGER_STEP);
                    drain(&mut rx, &mut batch);
                }
            }
            last_batch = batch.len();
            self.apply(batch);
        }
    }

    fn apply(&mut self, batch: Vec<WriteOp>) {
        let Some(store) = self.store.upgrade() else {
            return;
        };
        let conn = self.conn.clone();
        let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = Vec::with_capacity(batch.len());
        let mut index_changes = IndexChanges::default();
        let mut published = Vec::new();
        let mut ops = batch.into_iter();
        let outcome = (|| -> rusqlite::Result<()> {
            let mut tx = guard.transaction()?;
            for op in ops.by_ref() {
                let (finished, fatal) = self.apply_one(&mut tx, op, &mut index_changes);
                done.push(finished);
                if let Some(err) = fatal {
                    return Err(err);
                }
            }
            if self.item_count > self.max_items {
                let excess = self.item_count - self.max_items;
                if self.max_bytes.is_some() {
                    self.stored_bytes -= byte_cap::oldest_items_bytes(&tx, excess)?;
                }
                evict_oldest(&tx, excess, &mut index_changes)?;
                self.item_count = self.max_items;
            }
            if let Some(max_bytes) = self.max_bytes
                && self.stored_bytes > max_bytes
            {
                let (items, bytes) =
                    byte_cap::evict(&tx, self.stored_bytes - max_bytes, &mut index_changes)?;
                self.item_count -= items;
                self.stored_bytes -= bytes;
            }
            published = self.event_index.publish_additions(&index_changes);
            tx.commit()
        })();
        drop(guard);
        // Writes the transaction never got to, because it failed before them, are answered
        // with its error like the rest.
        done.extend(ops.map(Done::unreached));
        match &outcome {
            Ok(()) => self.event_index.commit(&index_changes),
            Err(_) => self.event_index.undo(&published),
        }
        if let Err(err) = &outcome {
            tracing::error!(%err, "storage commit failed");
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(count) = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)) {
                self.item_count = count;
            }
            if self.max_bytes.is_some()
                && let Ok(bytes) = byte_cap::total(&conn)
            {
                self.stored_bytes = bytes;
            }
            if let Ok(bytes) = refusals::total(&conn) {
                self.refusal_bytes = bytes;
            }
        }
        let commit_error = outcome.err().map(|e| e.to_string());
        for item in done {
            match item {
                Done::Insert(reply, result, envelope) => {
                    let _ = reply.send((settle(&commit_error, result), envelope));
                }
                Done::Refuse(reply, result) => {
                    let _ = reply.send(settle(&commit_error, result));
                }
                Done::Flush(reply, result) => {
                    let _ = reply.send(settle(&commit_error, result));
                }
            }
        }
        if commit_error.is_none() {
            store.changes.send_modify(|n| *n += 1);
        }
        self.bound_wal();
    }
}

impl Writer {
    /// Runs one queued write in the batch's transaction. What it returns goes back to its
    /// client once the transaction is settled; the fatal error, when there is one, leaves the
    /// transaction unusable and fails the batch.
    fn apply_one(
        &mut self,
        tx: &mut rusqlite::Transaction<'_>,
        op: WriteOp,
        index_changes: &mut IndexChanges,
    ) -> (Done, Option<rusqlite::Error>) {
        match op {
            WriteOp::Insert(envelope, reply) => match insert_envelope(tx, &envelope, index_changes)
            {
                Ok(result) => {
                    if let Ok(stored) = &result {
                        self.item_count += stored.item_ids.len() as i64;
                        if self.max_bytes.is_some() {
                            self.stored_bytes += byte_cap::envelope_bytes(&envelope);
                        }
                    }
                    let result = result.map_err(|e| e.to_string());
                    (Done::Insert(reply, result, envelope), None)
                }
                Err(fatal) => (
                    Done::Insert(reply, Err(fatal.to_string()), envelope),
                    Some(fatal),
                ),
            },
            WriteOp::Refuse(refusal, reply) => {
                let (caps, stored) = (self.refusal_caps, self.refusal_bytes);
                match atomically(tx, index_changes, |conn, _| {
                    refusals::insert(conn, &refusal, caps, stored)
                }) {
                    Ok(Ok(bytes)) => {
                        self.refusal_bytes = bytes;
                        (Done::Refuse(reply, Ok(())), None)
                    }
                    Ok(Err(err)) => (Done::Refuse(reply, Err(err.to_string())), None),
                    Err(fatal) => (Done::Refuse(reply, Err(fatal.to_string())), Some(fatal)),
                }
            }
            WriteOp::Flush(project, reply) => {
                let result = atomically(tx, index_changes, |conn, changes| {
                    flush(conn, project, changes)
                });
                let counted = match &result {
                    Ok(Ok(_)) => tx
                        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
                        .map(|count| self.item_count = count)
                        .and_then(|()| match self.max_bytes {
                            Some(_) => byte_cap::total(tx).map(|b| self.stored_bytes = b),
                            None => Ok(()),
                        })
                        .and_then(|()| refusals::total(tx).map(|b| self.refusal_bytes = b)),
                    _ => Ok(()),
                };
                match (result, counted) {
                    (Ok(result), Ok(())) => {
                        (Done::Flush(reply, result.map_err(|e| e.to_string())), None)
                    }
                    (Err(fatal), _) | (_, Err(fatal)) => {
                        (Done::Flush(reply, Err(fatal.to_string())), Some(fatal))
                    }
                }
            }
        }
    }
}

impl Done {
    /// A write its batch's transaction never got to (it failed first); [`settle`] answers
    /// it with the transaction's error.
    fn unreached(op: WriteOp) -> Self {
        fn not_written<T>() -> Result<T, String> {
            Err("not written: its batch's transaction failed".into())
        }
        match op {
            WriteOp::Insert(envelope, reply) => Done::Insert(reply, not_written(), envelope),
            WriteOp::Refuse(_, reply) => Done::Refuse(reply, not_written()),
            WriteOp::Flush(_, reply) => Done::Flush(reply, not_written()),
        }
    }
}

/// Runs one queued write of several statements (a flush, a refusal and its trimming) inside a
/// savepoint of the batch's transaction, so that one failing halfway leaves nothing of itself
/// behind while the rest of the batch still commits. These writes are rare; envelopes are made
/// atomic without a savepoint (see [`insert_envelope`]). The outer error is one that leaves the
/// transaction itself unusable, which fails the whole batch.
fn atomically<T>(
    tx: &mut rusqlite::Transaction<'_>,
    changes: &mut IndexChanges,
    write: impl FnOnce(&Connection, &mut IndexChanges) -> rusqlite::Result<T>,
) -> rusqlite::Result<rusqlite::Result<T>> {
    let mark = changes.len();
    let mut savepoint = tx.savepoint()?;
    match write(&savepoint, changes) {
        Ok(value) => {
            savepoint.commit()?;
            Ok(Ok(value))
        }
        Err(err) => {
            let err = still_in_transaction(&savepoint, err)?;
            changes.truncate(mark);
            savepoint.rollback()?;
            savepoint.commit()?;
            Ok(Err(err))
        }
    }
}

/// One operation's result once the transaction it was part of has (or has not) committed.
fn settle<T>(commit_error: &Option<String>, result: Result<T, String>) -> Result<T, StoreError> {
    match (commit_error, result) {
        (Some(err), _) => Err(StoreError::Task(err.clone())),
        (None, Err(err)) => Err(StoreError::Task(err)),
        (None, Ok(value)) => Ok(value),
    }
}

fn json_text(map: &Option<Map<String, Value>>) -> Option<String> {
    // Serialised in place: wrapping the map in a `Value` first would copy the whole tree.
    map.as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "{}".into()))
}

/// Inserts an envelope and its items, or nothing of it. The inner error fails this envelope
/// alone; the outer one leaves the transaction unusable and fails the whole batch.
///
/// A savepoint per envelope would make it all-or-nothing as well, but it cost 5-18% of the
/// file-backed writer's throughput and 25-40% in memory (measured with `bench --targets
/// storage-file,storage-memory`): SQLite copies each page an envelope changes that the batch
/// had already changed into its statement journal, and in memory pages are 16 KiB. A failure
/// is rare, so it is undone by hand instead: every statement before the failing one added rows
/// of this envelope, and deleting the envelope row takes its items with it (`ON DELETE
/// CASCADE`).
fn insert_envelope(
    conn: &Connection,
    prepared: &PreparedEnvelope,
    index_changes: &mut IndexChanges,
) -> rusqlite::Result<rusqlite::Result<Stored>> {
    let mark = index_changes.len();
    let mut envelope_id = None;
    match insert_envelope_rows(conn, prepared, index_changes, &mut envelope_id) {
        Ok(stored) => Ok(Ok(stored)),
        Err(err) => {
            let err = still_in_transaction(conn, err)?;
            index_changes.truncate(mark);
            if let Some(id) = envelope_id {
                conn.prepare_cached("DELETE FROM envelopes WHERE id = ?1")?
                    .execute([id])?;
            }
            Ok(Err(err))
        }
    }
}

/// An error of one write, unless SQLite rolled the whole transaction back because of it (as it
/// does for a full disk or when out of memory): then the writes before it in the batch are gone
/// too and the error is the batch's.
fn still_in_transaction(
    conn: &Connection,
    err: rusqlite::Error,
) -> rusqlite::Result<rusqlite::Error> {
    if conn.is_autocommit() {
        Err(err)
    } else {
        Ok(err)
    }
}

/// The statements of [`insert_envelope`]; `envelope_id` is set as soon as the envelope row
/// exists.
fn insert_envelope_rows(
    conn: &Connection,
    prepared: &PreparedEnvelope,
    index_changes: &mut IndexChanges,
    inserted_envelope: &mut Option<i64>,
) -> rusqlite::Result<Stored> {
    let env = &prepared.envelope;
    conn.prepare_cached(
        "INSERT INTO envelopes (project_id, endpoint, received_at, auth_source, public_key, client,
         user_agent, content_type, content_encoding, header, raw, wire_size, http_headers,
         decoded_size, raw_is_wire)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1)",
    )?
    .execute(params![
        env.project_id as i64,
        env.endpoint,
        env.received_at_ms,
        env.auth.source.as_str(),
        env.auth.public_key,
        env.auth.client,
        env.user_agent,
        env.content_type,
        env.content_encoding,
        prepared.header_text,
        &env.body[..],
        env.body.len() as i64,
        env.http_headers,
        env.decoded_size as i64,
    ])?;
    let envelope_id = conn.last_insert_rowid();
    *inserted_envelope = Some(envelope_id);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO items (id, envelope_id, idx, project_id, item_type, event_id, level, platform,
         release, environment, sdk_name, sdk_version, summary, timestamp, received_at, header,
         payload, is_json, filename, content_type, decode_error, findings, finding_count,
         scrubbed, scrub_report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
         ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
    )?;
    for (idx, ((item, id), header_text)) in env
        .items
        .iter()
        .zip(&prepared.item_ids)
        .zip(&prepared.item_header_texts)
        .enumerate()
    {
        let header_str = |key: &str| {
            item.header
                .as_ref()
                .and_then(|h| h.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let m = &item.meta;
        stmt.execute(params![
            id,
            envelope_id,
            idx as i64,
            env.project_id as i64,
            item.item_type,
            m.event_id,
            m.level,
            m.platform,
            m.release,
            m.environment,
            m.sdk_name,
            m.sdk_version,
            m.summary,
            m.timestamp,
            env.received_at_ms,
            header_text,
            item.payload,
            m.is_json,
            header_str("filename"),
            header_str("content_type"),
            m.decode_error,
            item.audit.as_ref().map(|a| a.findings_json.as_str()),
            item.audit.as_ref().map(|a| a.finding_count as i64),
            item.audit.as_ref().and_then(|a| a.scrubbed.as_deref()),
            item.audit
                .as_ref()
                .and_then(|a| a.scrub_report_json.as_deref()),
        ])?;
        if let Some(event_id) = &m.event_id {
            index_changes.add(event_id, conn.last_insert_rowid());
        }
    }
    Ok(Stored {
        envelope_id,
        item_ids: prepared.item_ids.clone(),
    })
}

fn flush(
    conn: &Connection,
    project: Option<u64>,
    index_changes: &mut IndexChanges,
) -> rusqlite::Result<u64> {
    let removed = match project {
        Some(p) => {
            index_changes.remove_rows(
                conn.prepare_cached(
                    "SELECT seq, event_id FROM items WHERE project_id = ?1 AND event_id IS NOT NULL",
                )?
                .query_map([p as i64], |r| Ok((r.get(0)?, r.get(1)?)))?,
            )?;
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM items WHERE project_id = ?1",
                [p as i64],
                |r| r.get(0),
            )?;
            conn.execute("DELETE FROM items WHERE project_id = ?1", [p as i64])?;
            conn.execute("DELETE FROM envelopes WHERE project_id = ?1", [p as i64])?;
            n
        }
        None => {
            index_changes.clear();
            let n = conn.execute("DELETE FROM items", [])? as i64;
            conn.execute("DELETE FROM envelopes", [])?;
            conn.execute("DELETE FROM refusals", [])?;
            n
        }
    };
    Ok(removed as u64)
}

fn evict_oldest(
    conn: &Connection,
    excess: i64,
    index_changes: &mut IndexChanges,
) -> rusqlite::Result<()> {
    index_changes.remove_rows(
        conn.prepare_cached(
            "SELECT seq, event_id FROM (SELECT seq, event_id FROM items INDEXED BY items_seq_event
             ORDER BY seq LIMIT ?1) WHERE event_id IS NOT NULL",
        )?
        .query_map([excess], |r| Ok((r.get(0)?, r.get(1)?)))?,
    )?;
    conn.execute(
        "DELETE FROM items WHERE seq IN (SELECT seq FROM items ORDER BY seq LIMIT ?1)",
        [excess],
    )?;
    // Envelopes older than the oldest surviving item have nothing left worth keeping.
    conn.execute(
        "DELETE FROM envelopes WHERE id < (SELECT COALESCE(MIN(envelope_id), 9223372036854775807) FROM items)",
        [],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queries

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
    /// The SQL `WHERE` clause (without the keyword) and its parameters.
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
        if let Some(q) = &self.q {
            let p = w.bind(SqlValue::Text(q.clone()));
            w.clauses.push(text_search::sql_condition(&p));
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

/// One item as the list API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemSummary {
    /// fake-sentry's id of the item (a UUID, as Kent's `event_id`).
    pub id: String,
    /// Storage order; use as a cursor.
    pub seq: i64,
    pub envelope_id: i64,
    pub project_id: u64,
    #[serde(rename = "type")]
    pub item_type: String,
    /// The Sentry event id, when the item has one.
    pub event_id: Option<String>,
    pub level: Option<String>,
    pub platform: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub sdk: Option<SdkInfo>,
    pub summary: String,
    /// Event time from the payload (RFC 3339).
    pub timestamp: Option<String>,
    pub received_at: String,
    pub size: i64,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub decode_error: Option<String>,
    /// How many data-policy findings the item has; `None` when it was not audited (no policy,
    /// or not a JSON item).
    pub findings: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SdkInfo {
    pub name: String,
    pub version: Option<String>,
}

/// Milliseconds since the Unix epoch: the clock requests, refusals and outcomes are stamped
/// with (see [`format_ms`]).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats epoch milliseconds as RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    format_secs(ms as f64 / 1000.0)
}

fn format_secs(secs: f64) -> String {
    use time::format_description::well_known::Rfc3339;
    let nanos = (secs * 1e9) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos % 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

const SUMMARY_COLUMNS: &str =
    "seq, id, envelope_id, project_id, item_type, event_id, level, platform, release,
    environment, sdk_name, sdk_version, summary, timestamp, received_at, LENGTH(payload), filename,
    content_type, decode_error, finding_count";

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemSummary> {
    let sdk_name: Option<String> = row.get(10)?;
    let timestamp: Option<f64> = row.get(13)?;
    Ok(ItemSummary {
        seq: row.get(0)?,
        id: row.get(1)?,
        envelope_id: row.get(2)?,
        project_id: row.get::<_, i64>(3)? as u64,
        item_type: row.get(4)?,
        event_id: row.get(5)?,
        level: row.get(6)?,
        platform: row.get(7)?,
        release: row.get(8)?,
        environment: row.get(9)?,
        sdk: sdk_name.map(|name| SdkInfo {
            name,
            version: row.get(11).ok().flatten(),
        }),
        summary: row.get(12)?,
        timestamp: timestamp.map(format_secs),
        received_at: format_ms(row.get(14)?),
        size: row.get(15)?,
        filename: row.get(16)?,
        content_type: row.get(17)?,
        decode_error: row.get(18)?,
        findings: row.get::<_, Option<i64>>(19)?.map(|n| n as u64),
    })
}

/// Sort order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Desc,
    Asc,
}

/// Items matching `filter`, `limit` at most, in `order` of storage.
pub fn list_items(
    conn: &Connection,
    filter: &ItemFilter,
    order: Order,
    limit: usize,
) -> rusqlite::Result<Vec<ItemSummary>> {
    let (clause, params) = filter
        .to_sql()
        .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
    let dir = match order {
        Order::Desc => "DESC",
        Order::Asc => "ASC",
    };
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM items WHERE {clause} ORDER BY seq {dir} LIMIT {limit}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), summary_from_row)?;
    rows.collect()
}

/// How many items match `filter`.
pub fn count_items(conn: &Connection, filter: &ItemFilter) -> rusqlite::Result<u64> {
    let (clause, params) = filter
        .to_sql()
        .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?;
    let sql = format!("SELECT COUNT(*) FROM items WHERE {clause}");
    conn.prepare_cached(&sql)?
        .query_row(params_from_iter(params), |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// One item with everything about it.
#[derive(Debug, Clone)]
pub struct ItemRecord {
    pub summary: ItemSummary,
    pub header: Option<Value>,
    pub payload: Vec<u8>,
    pub is_json: bool,
}

/// Looks an item up by fake-sentry id or Sentry event id (the newest item with that event id,
/// preferring events and transactions over their attachments).
pub fn get_item(conn: &Connection, id: &str) -> rusqlite::Result<Option<ItemRecord>> {
    let by_event = event_index::sql_condition("?2");
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, header, payload, is_json FROM items WHERE id = ?1
         UNION ALL
         SELECT * FROM (SELECT {SUMMARY_COLUMNS}, header, payload, is_json FROM items WHERE {by_event}
           ORDER BY item_type NOT IN ('event', 'transaction'), seq DESC LIMIT 1)
         LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![id, crate::item::normalize_event_id(id.to_string())],
            |row| {
                let header: Option<String> = row.get(20)?;
                Ok(ItemRecord {
                    summary: summary_from_row(row)?,
                    header: header.and_then(|h| serde_json::from_str(&h).ok()),
                    payload: row.get(21)?,
                    is_json: row.get(22)?,
                })
            },
        )
        .optional()
}

/// What the data policy recorded for one item.
#[derive(Debug, Clone, Default)]
pub struct ItemAuditRecord {
    /// The findings (a JSON array); `None` when the item was not audited.
    pub findings: Option<Value>,
    /// The scrubbed payload when scrubbing changed it.
    pub scrubbed: Option<Vec<u8>>,
    /// What scrubbing did (`{"changes": [...], "diagnostics": [...]}`); `None` when the item
    /// was not scrubbed.
    pub scrub_report: Option<Value>,
}

/// The data-policy record of the item with fake-sentry id `id`.
pub fn get_item_audit(conn: &Connection, id: &str) -> rusqlite::Result<ItemAuditRecord> {
    conn.prepare_cached("SELECT findings, scrubbed, scrub_report FROM items WHERE id = ?1")?
        .query_row([id], |row| {
            let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
            Ok(ItemAuditRecord {
                findings: json(row.get(0)?),
                scrubbed: row.get(1)?,
                scrub_report: json(row.get(2)?),
            })
        })
        .optional()
        .map(Option::unwrap_or_default)
}

/// How many audited items have findings, and how many findings they have in all.
pub fn finding_totals(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.prepare_cached(
        "SELECT COUNT(*), COALESCE(SUM(finding_count), 0) FROM items WHERE finding_count > 0",
    )?
    .query_row([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })
}

/// One stored envelope.
#[derive(Debug, Clone, Serialize)]
pub struct EnvelopeRecord {
    pub id: i64,
    pub project_id: u64,
    pub endpoint: String,
    pub received_at: String,
    pub auth_source: String,
    pub public_key: Option<String>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub header: Option<Value>,
    pub size: i64,
    pub wire_size: i64,
    /// The HTTP request headers as sent.
    pub http_headers: Option<Value>,
    pub item_ids: Vec<String>,
}

pub fn get_envelope(conn: &Connection, id: i64) -> rusqlite::Result<Option<EnvelopeRecord>> {
    let record = conn
        .prepare_cached(
            "SELECT id, project_id, endpoint, received_at, auth_source, public_key, client, user_agent,
             content_type, content_encoding, header, COALESCE(decoded_size, LENGTH(raw)), wire_size,
             http_headers FROM envelopes WHERE id = ?1",
        )?
        .query_row([id], |row| {
            let header: Option<String> = row.get(10)?;
            Ok(EnvelopeRecord {
                id: row.get(0)?,
                project_id: row.get::<_, i64>(1)? as u64,
                endpoint: row.get(2)?,
                received_at: format_ms(row.get(3)?),
                auth_source: row.get(4)?,
                public_key: row.get(5)?,
                client: row.get(6)?,
                user_agent: row.get(7)?,
                content_type: row.get(8)?,
                content_encoding: row.get(9)?,
                header: header.and_then(|h| serde_json::from_str(&h).ok()),
                size: row.get(11)?,
                wire_size: row.get(12)?,
                http_headers: row
                    .get::<_, Option<String>>(13)?
                    .and_then(|h| serde_json::from_str(&h).ok()),
                item_ids: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut record) = record else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT id FROM items WHERE envelope_id = ?1 ORDER BY idx")?;
    record.item_ids = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(record))
}

/// A stored request body and how to read it.
#[derive(Debug, Clone)]
pub struct StoredBody {
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was sent with.
    #[allow(dead_code, reason = "stored with the body; nothing reads it yet")]
    pub content_type: Option<String>,
    /// The `Content-Encoding` it was sent with, when `bytes` are as sent.
    pub content_encoding: Option<String>,
    /// Whether `bytes` are as sent (still encoded) rather than already decoded.
    pub is_wire: bool,
}

impl StoredBody {
    /// Bodies were within the decompression limit when they were accepted, so decoding one
    /// again is bounded by that; this cap only guards against a database edited by hand.
    pub const DECODE_LIMIT: usize = 1 << 30;

    /// The body after undoing its content encoding (at most `limit` bytes).
    pub fn decoded(self, limit: usize) -> Result<Vec<u8>, crate::decode::DecodeError> {
        if !self.is_wire {
            return Ok(self.bytes);
        }
        let encodings = crate::decode::parse_content_encoding(self.content_encoding.as_deref())?;
        if encodings.is_empty() {
            return Ok(self.bytes);
        }
        crate::decode::decode_body(&self.bytes, &encodings, limit)
    }
}

fn stored_body(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<StoredBody> {
    Ok(StoredBody {
        bytes: row.get(first)?,
        content_type: row.get(first + 1)?,
        content_encoding: row.get(first + 2)?,
        is_wire: row.get(first + 3)?,
    })
}

pub fn get_envelope_raw(conn: &Connection, id: i64) -> rusqlite::Result<Option<StoredBody>> {
    conn.prepare_cached(
        "SELECT raw, content_type, content_encoding, raw_is_wire FROM envelopes WHERE id = ?1",
    )?
    .query_row([id], |r| stored_body(r, 0))
    .optional()
}

/// Items in the order Kent lists them: oldest first.
pub fn kent_list(conn: &Connection) -> rusqlite::Result<Vec<(String, u64, String)>> {
    let mut stmt = conn.prepare_cached("SELECT id, project_id, summary FROM items ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
    })?;
    rows.collect()
}

/// One refused request as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalRecord {
    pub id: i64,
    pub received_at: String,
    pub method: String,
    pub path: String,
    pub project_id: Option<u64>,
    pub status: u16,
    pub reason: String,
    pub client: Option<String>,
    pub public_key: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body_size: i64,
    /// The start of the body as sent (lossy UTF-8).
    pub body_prefix: String,
}

pub fn list_refusals(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<RefusalRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, received_at, method, path, project_id, status, reason, client, public_key,
         content_type, content_encoding, body_size, body_prefix FROM refusals ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        let prefix: Vec<u8> = r.get(12)?;
        Ok(RefusalRecord {
            id: r.get(0)?,
            received_at: format_ms(r.get(1)?),
            method: r.get(2)?,
            path: r.get(3)?,
            project_id: r.get::<_, Option<i64>>(4)?.map(|p| p as u64),
            status: r.get(5)?,
            reason: r.get(6)?,
            client: r.get(7)?,
            public_key: r.get(8)?,
            content_type: r.get(9)?,
            content_encoding: r.get(10)?,
            body_size: r.get(11)?,
            body_prefix: String::from_utf8_lossy(&prefix).into_owned(),
        })
    })?;
    rows.collect()
}

/// Refusal counts: total and per status.
pub fn refusal_counts(conn: &Connection) -> rusqlite::Result<(u64, Vec<(u16, u64)>)> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM refusals", [], |r| r.get(0))?;
    let mut stmt = conn
        .prepare_cached("SELECT status, COUNT(*) FROM refusals GROUP BY status ORDER BY status")?;
    let by_status = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((total as u64, by_status))
}

/// Projects that have items. A skip scan: one index seek per project, whatever the number of
/// items.
pub fn projects(conn: &Connection) -> rusqlite::Result<Vec<u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT MIN(project_id) FROM items WHERE project_id > ?1")?;
    let mut projects = Vec::new();
    let mut last = -1i64;
    while projects.len() < MAX_DISTINCT_KEYS {
        match stmt.query_row([last], |r| r.get::<_, Option<i64>>(0))? {
            Some(p) => {
                projects.push(p as u64);
                last = p;
            }
            None => break,
        }
    }
    Ok(projects)
}

/// Item counts per type, optionally of one project. Without a project every count is read
/// from the type index alone (the rows, with their payloads, are never touched).
pub fn counts_by_type(
    conn: &Connection,
    project: Option<u64>,
) -> rusqlite::Result<Vec<(String, u64)>> {
    if let Some(project) = project {
        let mut stmt = conn.prepare_cached(
            "SELECT item_type, COUNT(*) FROM items WHERE project_id = ?1
             GROUP BY item_type ORDER BY item_type",
        )?;
        let rows = stmt.query_map([project as i64], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        return rows.collect();
    }
    let mut next_type =
        conn.prepare_cached("SELECT MIN(item_type) FROM items WHERE item_type > ?1")?;
    let mut count = conn.prepare_cached("SELECT COUNT(*) FROM items WHERE item_type = ?1")?;
    let mut counts = Vec::new();
    let mut last = String::new();
    while counts.len() < MAX_DISTINCT_KEYS {
        let Some(item_type) = next_type.query_row([&last], |r| r.get::<_, Option<String>>(0))?
        else {
            break;
        };
        let n: i64 = count.query_row([&item_type], |r| r.get(0))?;
        last.clone_from(&item_type);
        counts.push((item_type, n as u64));
    }
    Ok(counts)
}

/// An envelope with its items, as live streams send it.
#[derive(Debug, Clone)]
pub struct EnvelopeWithItems {
    pub id: i64,
    pub header: Option<Value>,
    pub body: StoredBody,
    /// Item header, payload, and whether the payload is JSON.
    pub items: Vec<(Option<Value>, Vec<u8>, bool)>,
}

/// Envelopes stored after `after` (oldest first), `limit` at most.
pub fn envelopes_after(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EnvelopeWithItems>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, header, raw, content_type, content_encoding, raw_is_wire
         FROM envelopes WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut envelopes: Vec<EnvelopeWithItems> = stmt
        .query_map(params![after, limit as i64], |r| {
            let header: Option<String> = r.get(1)?;
            Ok(EnvelopeWithItems {
                id: r.get(0)?,
                header: header.and_then(|h| serde_json::from_str(&h).ok()),
                body: stored_body(r, 2)?,
                items: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut items = conn.prepare_cached(
        "SELECT header, payload, is_json FROM items WHERE envelope_id = ?1 ORDER BY idx",
    )?;
    for envelope in &mut envelopes {
        envelope.items = items
            .query_map([envelope.id], |r| {
                let header: Option<String> = r.get(0)?;
                Ok((
                    header.and_then(|h| serde_json::from_str(&h).ok()),
                    r.get(1)?,
                    r.get(2)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(envelopes)
}

/// The newest envelope id, 0 when there is none.
pub fn last_envelope_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM envelopes", [], |r| {
        r.get(0)
    })
}

/// The newest item sequence number, 0 when there is none.
pub fn last_item_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM items", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without syncs the writer checkpoints every `CHECKPOINT_EVERY_BYTES` of WAL, or at
    /// `--max-wal` when that is smaller: never one large checkpoint that stalls ingest.
    #[test]
    fn unsynced_files_checkpoint_every_mebibyte_or_at_a_smaller_limit() {
        let dir = std::env::temp_dir().join(format!("fake-sentry-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let autocheckpoint = |max_wal_bytes: u64, name: &str| -> i64 {
            let conn = Connection::open(dir.join(name)).unwrap();
            let settings = FileSettings {
                sync: SyncMode::Off,
                max_wal_bytes,
            };
            configure(&conn, Some(settings)).unwrap();
            conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .unwrap()
        };
        // SQLite's default page size for a new file: 4 KiB.
        assert_eq!(
            autocheckpoint(256 << 20, "default.sqlite"),
            (1 << 20) / 4096
        );
        assert_eq!(autocheckpoint(64 << 10, "small.sqlite"), (64 << 10) / 4096);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The page size that keeps commits in memory cheap (see `configure`) is in effect, and a
    /// file keeps SQLite's default.
    #[test]
    fn page_sizes() {
        let page_size = |store: &Store| {
            store
                .read_blocking(|conn| {
                    conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
                })
                .expect("page size")
        };
        let memory = Store::open(&Storage::Memory, 10, 10, 1 << 20, SyncMode::Off).expect("open");
        assert_eq!(page_size(&memory), MEMORY_PAGE_SIZE);
        let dir = std::env::temp_dir().join(format!("fake-sentry-pages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = Store::open(
            &Storage::File(dir.join("x.sqlite")),
            10,
            10,
            1 << 20,
            SyncMode::Off,
        )
        .expect("open");
        // SQLite's default page size.
        assert_eq!(page_size(&file), 4096);
        drop(file);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An envelope of project `project` with one event item per event id.
    fn envelope(project: u64, event_ids: &[&str]) -> NewEnvelope {
        NewEnvelope {
            project_id: project,
            endpoint: "envelope",
            received_at_ms: 1,
            auth: Auth::none(),
            user_agent: None,
            content_type: None,
            content_encoding: None,
            header: None,
            body: bytes::Bytes::from_static(b"{}"),
            decoded_size: 2,
            http_headers: "{}".into(),
            items: event_ids
                .iter()
                .map(|id| NewItem {
                    item_type: "event".into(),
                    header: None,
                    payload: b"{}".to_vec(),
                    meta: ItemMeta {
                        event_id: Some(id.to_string()),
                        summary: format!("event {id}"),
                        ..ItemMeta::default()
                    },
                    audit: None,
                })
                .collect(),
        }
    }

    fn seqs_of(store: &Store, event_id: &str) -> Vec<i64> {
        let filter = ItemFilter {
            event_id: Some(event_id.to_string()),
            ..ItemFilter::default()
        };
        let mut seqs: Vec<i64> = store
            .read_blocking(move |conn| list_items(conn, &filter, Order::Asc, 100))
            .expect("list")
            .iter()
            .map(|item| item.seq)
            .collect();
        seqs.sort();
        seqs
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fake-sentry-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// Event ids are found through the in-memory index however items come and go: inserts,
    /// eviction, per-project and full flushes, and a restart that rebuilds the index.
    #[tokio::test]
    async fn event_id_lookups_follow_inserts_evictions_flushes_and_restarts() {
        let dir = temp_dir("event-index");
        let storage = Storage::File(dir.join("db.sqlite"));
        let open = || Store::open(&storage, 4, 10, 1 << 20, SyncMode::Off).expect("open");
        let store = open();
        let id = |n: u32| format!("{n:032x}");
        store
            .insert(envelope(1, &[&id(1), &id(2)]))
            .await
            .expect("insert");
        store
            .insert(envelope(2, &[&id(3), &id(1)]))
            .await
            .expect("insert");
        assert_eq!(seqs_of(&store, &id(1)), vec![1, 4]);
        assert_eq!(store.event_index.len(), 4);
        // Dashed and upper-case forms find the same event.
        let dashed = "00000000-0000-0000-0000-000000000003".to_uppercase();
        assert_eq!(seqs_of(&store, &dashed), vec![3]);
        let found = store
            .read_blocking(move |conn| get_item(conn, &dashed))
            .expect("get")
            .expect("found by event id");
        assert_eq!(found.summary.seq, 3);

        // max_items is 4: two more items evict items 1 and 2.
        store
            .insert(envelope(1, &[&id(5), &id(6)]))
            .await
            .expect("insert");
        assert_eq!(seqs_of(&store, &id(1)), vec![4]);
        assert!(seqs_of(&store, &id(2)).is_empty());
        assert_eq!(store.event_index.len(), 4);

        store.flush(Some(2)).await.expect("flush project 2");
        assert!(seqs_of(&store, &id(1)).is_empty());
        assert!(seqs_of(&store, &id(3)).is_empty());
        assert_eq!(seqs_of(&store, &id(5)), vec![5]);
        assert_eq!(store.event_index.len(), 2);

        // A restart rebuilds the index from the file.
        drop(store);
        let store = open();
        assert_eq!(store.event_index.len(), 2);
        assert_eq!(seqs_of(&store, &id(6)), vec![6]);

        store.flush(None).await.expect("flush all");
        assert!(store.event_index.is_empty());
        assert!(seqs_of(&store, &id(6)).is_empty());
        // Seqs start over after a full flush; the index follows.
        store.insert(envelope(1, &[&id(6)])).await.expect("insert");
        assert_eq!(seqs_of(&store, &id(6)), vec![1]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An envelope whose item cannot be inserted halfway through leaves nothing behind: no
    /// envelope row, none of its earlier items, no event ids in the index, no count towards
    /// retention. Envelopes queued with it are stored whole.
    #[tokio::test]
    async fn an_envelope_that_fails_halfway_leaves_nothing_behind() {
        let store = Store::open(&Storage::Memory, 100, 10, 1 << 20, SyncMode::Off).expect("open");
        // SQLite aborts the one statement that inserts a "poison" item; were nothing undone,
        // the envelope row and the items before it would still be committed.
        store
            .read_blocking(|conn| {
                conn.execute_batch(
                    "CREATE TEMP TRIGGER poison BEFORE INSERT ON items
                     WHEN NEW.item_type = 'poison'
                     BEGIN SELECT RAISE(ABORT, 'poisoned item'); END",
                )
            })
            .expect("trigger");
        let id = |n: u32| format!("{n:032x}");
        let mut poisoned = envelope(7, &[&id(1), &id(2), &id(3)]);
        poisoned.items[1].item_type = "poison".into();
        // Sent together so that they can share one transaction.
        let (good_before, bad, good_after) = tokio::join!(
            store.insert(envelope(1, &[&id(10)])),
            store.insert(poisoned),
            store.insert(envelope(1, &[&id(11), &id(12)])),
        );
        let err = bad.expect_err("the poisoned envelope fails");
        assert!(err.to_string().contains("poisoned item"), "{err}");
        good_before.expect("stored");
        good_after.expect("stored");

        let (envelopes, items, of_project_7) = store
            .read_blocking(|conn| {
                let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
                Ok((
                    count("SELECT COUNT(*) FROM envelopes")?,
                    count("SELECT COUNT(*) FROM items")?,
                    count("SELECT COUNT(*) FROM envelopes WHERE project_id = 7")?,
                ))
            })
            .expect("counts");
        assert_eq!((envelopes, items, of_project_7), (2, 3, 0));
        assert!(seqs_of(&store, &id(1)).is_empty());
        assert_eq!(store.event_index.len(), 3);
        assert_eq!(seqs_of(&store, &id(12)).len(), 1);
        // Retention counts only what was stored: 100 more items evict exactly the 3 above.
        let ids: Vec<String> = (100..200).map(id).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        store.insert(envelope(2, &refs)).await.expect("insert");
        assert!(seqs_of(&store, &id(10)).is_empty());
        assert_eq!(seqs_of(&store, &id(100)).len(), 1);
        assert_eq!(store.event_index.len(), 100);
    }

    /// A full database fails inserts with an error after which SQLite may roll the whole
    /// transaction back. Whichever it does, every envelope acknowledged is stored whole, every
    /// refused one left nothing, the index matches the table, and the writer goes on once there
    /// is room again.
    #[tokio::test]
    async fn a_full_database_leaves_only_what_was_acknowledged() {
        let store = Store::open(&Storage::Memory, 1000, 10, 1 << 20, SyncMode::Off).expect("open");
        let id = |n: u32| format!("{n:032x}");
        store.insert(envelope(1, &[&id(1)])).await.expect("insert");
        let page_count = |store: &Store| {
            store
                .read_blocking(|conn| {
                    conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                })
                .expect("page count")
        };
        let full = page_count(&store);
        store
            .read_blocking(move |conn| {
                conn.query_row(&format!("PRAGMA max_page_count = {full}"), [], |_| Ok(()))
            })
            .expect("cap the database");
        let mut big = envelope(3, &[&id(30), &id(31)]);
        big.items[1].payload = vec![b'x'; 256 * 1024];
        let (small_before, big, small_after) = tokio::join!(
            store.insert(envelope(2, &[&id(20)])),
            store.insert(big),
            store.insert(envelope(4, &[&id(40)])),
        );
        let err = big.expect_err("no room for 256 KiB");
        assert!(err.to_string().contains("full"), "{err}");
        let stored = |project: i64| {
            store
                .read_blocking(move |conn| {
                    conn.query_row(
                        "SELECT COUNT(*) FROM items WHERE project_id = ?1",
                        [project],
                        |r| r.get::<_, i64>(0),
                    )
                })
                .expect("count")
        };
        assert_eq!(stored(3), 0, "nothing of the refused envelope");
        for (project, reply) in [(2, small_before), (4, small_after)] {
            assert_eq!(stored(project), i64::from(reply.is_ok()), "{reply:?}");
        }
        let items: i64 = store
            .read_blocking(|conn| conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)))
            .expect("count");
        assert_eq!(store.event_index.len() as i64, items);
        assert!(seqs_of(&store, &id(30)).is_empty());

        store
            .read_blocking(|conn| conn.query_row("PRAGMA max_page_count = 1000000", [], |_| Ok(())))
            .expect("uncap");
        store
            .insert(envelope(5, &[&id(50)]))
            .await
            .expect("stored once there is room");
        assert_eq!(seqs_of(&store, &id(50)).len(), 1);
    }

    /// A per-project flush that fails halfway deletes nothing, and the index keeps its items.
    #[tokio::test]
    async fn a_flush_that_fails_halfway_deletes_nothing() {
        let store = Store::open(&Storage::Memory, 100, 10, 1 << 20, SyncMode::Off).expect("open");
        let id = |n: u32| format!("{n:032x}");
        store
            .insert(envelope(9, &[&id(1), &id(2)]))
            .await
            .expect("insert");
        // The flush deletes the project's items first, then its envelopes: make the second
        // statement fail.
        store
            .read_blocking(|conn| {
                conn.execute_batch(
                    "CREATE TEMP TRIGGER keep BEFORE DELETE ON envelopes
                     BEGIN SELECT RAISE(ABORT, 'envelopes are kept'); END",
                )
            })
            .expect("trigger");
        let err = store.flush(Some(9)).await.expect_err("flush fails");
        assert!(err.to_string().contains("envelopes are kept"), "{err}");
        let items: i64 = store
            .read_blocking(|conn| conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)))
            .expect("count");
        assert_eq!(items, 2);
        assert_eq!(seqs_of(&store, &id(2)), vec![2]);
        assert_eq!(store.event_index.len(), 2);
        // Once deleting works again the same flush goes through.
        store
            .read_blocking(|conn| conn.execute_batch("DROP TRIGGER temp.keep"))
            .expect("drop trigger");
        assert_eq!(store.flush(Some(9)).await.expect("flush"), 2);
        assert!(store.event_index.is_empty());
    }

    /// An event id lookup reads the rows the index names, not the whole table.
    #[test]
    fn event_id_queries_look_rows_up_by_seq() {
        let store = Store::open(&Storage::Memory, 10, 10, 1 << 20, SyncMode::Off).expect("open");
        let plan = |sql: String, params: Vec<SqlValue>| {
            store
                .read_blocking(move |conn| {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows =
                        stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))?;
                    rows.collect::<rusqlite::Result<Vec<String>>>()
                })
                .expect("plan")
                .join("\n")
        };
        let by_event = ItemFilter {
            event_id: Some("ab".repeat(16)),
            ..ItemFilter::default()
        };
        let by_event_and_type = ItemFilter {
            item_type: Some("event".into()),
            ..by_event.clone()
        };
        for (filter, lookup) in [
            (by_event, "USING INTEGER PRIMARY KEY (rowid=?)"),
            // Through the type index, one probe per candidate.
            (by_event_and_type, "(item_type=? AND seq=?)"),
        ] {
            let (clause, params) = filter.to_sql().expect("sql");
            let list = plan(
                format!("SELECT seq FROM items WHERE {clause} ORDER BY seq DESC LIMIT 50"),
                params,
            );
            assert!(list.contains(lookup), "{list}");
            assert!(!list.contains("SCAN items"), "{list}");
        }
    }

    /// A database from before the in-memory index loses the random-order event id index and
    /// gains the append-only one the map is rebuilt from.
    #[test]
    fn opening_an_older_database_replaces_the_event_id_index() {
        let dir = temp_dir("event-index-migration");
        let path = dir.join("db.sqlite");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&SCHEMA.replace(
                "CREATE INDEX IF NOT EXISTS items_seq_event ON items(seq, event_id);",
                "CREATE INDEX IF NOT EXISTS items_event_id ON items(event_id);",
            ))
            .expect("old schema");
            conn.execute(
                "INSERT INTO envelopes (id, project_id, endpoint, received_at, auth_source, raw,
                 wire_size) VALUES (1, 1, 'envelope', 1, 'none', x'', 0)",
                [],
            )
            .expect("envelope");
            conn.execute(
                "INSERT INTO items (seq, id, envelope_id, idx, project_id, item_type, event_id,
                 summary, received_at, payload, is_json)
                 VALUES (7, 'i', 1, 0, 1, 'event', 'cafe', 's', 1, x'', 1)",
                [],
            )
            .expect("item");
        }
        let store =
            Store::open(&Storage::File(path), 10, 10, 1 << 20, SyncMode::Off).expect("open");
        let indexes: Vec<String> = store
            .read_blocking(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items'",
                )?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect()
            })
            .expect("indexes");
        assert!(
            indexes.contains(&"items_seq_event".to_string()),
            "{indexes:?}"
        );
        assert!(
            !indexes.contains(&"items_event_id".to_string()),
            "{indexes:?}"
        );
        assert_eq!(seqs_of(&store, "CAFE"), vec![7]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
