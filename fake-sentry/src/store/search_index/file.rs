//! The search file: its tables, its one row of state, and opening it or making it anew.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::config::SyncMode;

/// The search file's format; a file of another is made anew. Format 2 adds what processed
/// minidumps add to their events (`native_through`).
const FORMAT: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    format INTEGER NOT NULL,
    origin TEXT NOT NULL,
    indexed_through INTEGER NOT NULL,
    applied_floor INTEGER NOT NULL,
    shard_seqs INTEGER NOT NULL,
    native_through INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE shards (id INTEGER PRIMARY KEY, optimized INTEGER NOT NULL DEFAULT 0);
";

/// The WAL the indexer lets the file keep between checkpoints.
const MAX_WAL_BYTES: i64 = 64 << 20;

/// Page cache of the indexer's connection: FTS5 merges read back the segments they merge.
const CACHE_KIB: i64 = 32 << 10;

/// The index's state, as one transaction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct State {
    /// The `search_origin` token of the database the file indexes.
    pub(super) origin: String,
    /// The watermark: every item up to this seq is in the index (or was gone when its turn came).
    pub(super) indexed_through: i64,
    /// The last row of the database's `search_floors` the index has applied.
    pub(super) applied_floor: i64,
    /// Seqs per shard: shard `n` holds seqs `n * shard_seqs ..= (n + 1) * shard_seqs - 1`.
    pub(super) shard_seqs: i64,
    /// The `search_seq` of the last processed minidump whose findings the index holds.
    pub(super) native_through: i64,
}

impl State {
    /// The seqs shard `id` holds.
    pub(super) fn shard_range(&self, id: i64) -> (i64, i64) {
        let first = id.saturating_mul(self.shard_seqs);
        (first, first.saturating_add(self.shard_seqs - 1))
    }

    pub(super) fn shard_of(&self, seq: i64) -> i64 {
        seq.div_euclid(self.shard_seqs)
    }
}

/// The state as the file at `schema` (`main` for the indexer, `search` for a reader) holds
/// it; `None` when the file is of another format.
pub(super) fn read_state(conn: &Connection, schema: &str) -> rusqlite::Result<Option<State>> {
    let sql = format!(
        "SELECT format, origin, indexed_through, applied_floor, shard_seqs, native_through
         FROM {schema}.state"
    );
    let (format, state) = conn.prepare_cached(&sql)?.query_row([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            State {
                origin: r.get(1)?,
                indexed_through: r.get(2)?,
                applied_floor: r.get(3)?,
                shard_seqs: r.get(4)?,
                native_through: r.get(5)?,
            },
        ))
    })?;
    Ok((format == FORMAT && state.shard_seqs > 0).then_some(state))
}

/// The shards there are, lowest seqs first.
pub(super) fn shards(conn: &Connection, schema: &str) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(&format!("SELECT id FROM {schema}.shards ORDER BY id"))?
        .query_map([], |r| r.get(0))?
        .collect()
}

/// The FTS5 table of shard `id`.
pub(super) fn shard_table(id: i64) -> String {
    format!("shard_{id}")
}

/// Creates shard `id` unless it exists.
pub(super) fn create_shard(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    let table = shard_table(id);
    // `contentless_delete` lets entries be deleted by rowid (a floor, a collection) without
    // the text they were made from.
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(summary, payload,
         tokenize = 'trigram', content = '', contentless_delete = 1, detail = none)"
    ))?;
    conn.prepare_cached("INSERT OR IGNORE INTO shards (id) VALUES (?1)")?
        .execute([id])?;
    Ok(())
}

pub(super) fn drop_shard(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", shard_table(id)))?;
    conn.prepare_cached("DELETE FROM shards WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Opens the search file at `path` for the indexer; makes it anew, empty, when it is missing,
/// unreadable, of another format or of another database than `origin` (the bool says so).
pub(super) fn open(
    path: &Path,
    origin: &str,
    latest_floor: i64,
    shard_seqs: i64,
    sync: SyncMode,
) -> rusqlite::Result<(Connection, bool)> {
    match open_existing(path, sync) {
        Ok(Some((conn, state))) if state.origin == origin => return Ok((conn, false)),
        Ok(Some(_)) => tracing::info!("the search index is another database's: making it anew"),
        Ok(None) => tracing::info!("making the search index"),
        Err(err) => tracing::warn!(%err, "the search index is unreadable: making it anew"),
    }
    remove(path);
    let conn = Connection::open(path)?;
    configure(&conn, sync)?;
    conn.execute_batch(SCHEMA)?;
    // Floors recorded before the file existed are of no concern to an empty index.
    conn.execute(
        "INSERT INTO state (id, format, origin, indexed_through, applied_floor, shard_seqs)
         VALUES (1, ?1, ?2, 0, ?3, ?4)",
        params![FORMAT, origin, latest_floor, shard_seqs],
    )?;
    Ok((conn, true))
}

/// The file at `path` and its state, `None` when there is no file or it is of another format.
fn open_existing(path: &Path, sync: SyncMode) -> rusqlite::Result<Option<(Connection, State)>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn, sync)?;
    let has_state: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_state.is_none() {
        return Ok(None);
    }
    let Some(state) = read_state(&conn, "main")? else {
        return Ok(None);
    };
    // Reads every shard's configuration, so that a damaged one shows now, not mid-search.
    for id in shards(&conn, "main")? {
        conn.query_row(
            &format!("SELECT rowid FROM {} LIMIT 1", shard_table(id)),
            [],
            |r| r.get::<_, i64>(0),
        )
        .optional()?;
    }
    Ok(Some((conn, state)))
}

fn configure(conn: &Connection, sync: SyncMode) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Derived data: what a machine crash could lose or damage is made anew. With syncs asked
    // for, the file is kept sound (checkpoints are synced) like the database.
    let synchronous = match sync {
        SyncMode::Off => "OFF",
        SyncMode::Normal | SyncMode::Full => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "journal_size_limit", MAX_WAL_BYTES)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    Ok(())
}

/// Which file is at a path, to tell it from another made there since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileIdentity {
    #[cfg(unix)]
    device_and_inode: (u64, u64),
}

impl FileIdentity {
    pub(super) fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            Self {
                device_and_inode: (metadata.dev(), metadata.ino()),
            }
        };
        #[cfg(not(unix))]
        let identity = {
            let _ = metadata;
            Self {}
        };
        Ok(identity)
    }

    /// Whether this file is (still) the one at `path`.
    pub(super) fn is_at(&self, path: &Path) -> bool {
        Self::of(path).is_ok_and(|there| there == *self)
    }
}

/// Takes the lock of the search file at `path` (a file of its own beside it, `-lock`, which
/// outlives the search file it guards), `None` while another holds it. One indexer at a time
/// keeps a search file: two would each make it anew when they find it foreign or damaged, one
/// removing the file the other had just made and writes to. The lock goes with the handle.
pub(super) fn try_lock(path: &Path) -> std::io::Result<Option<File>> {
    let lock = File::options()
        .create(true)
        .write(true)
        .truncate(false)
        .open(lock_path(path))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(err)) => Err(err),
    }
}

/// The lock file of the search file at `path`.
pub(in crate::store) fn lock_path(path: &Path) -> PathBuf {
    crate::store::beside(path, "-lock")
}

/// Removes the search file and its WAL.
pub(super) fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let name = crate::store::beside(path, suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(%err, file = ?name, "cannot remove the search index"),
        }
    }
}
