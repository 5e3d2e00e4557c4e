//! The tables, their version, the migrations that bring an older database up to them, and
//! the settings of every connection (page size, WAL, syncs and checkpoints).

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use crate::config::SyncMode;

/// The schema version this build writes, kept in `PRAGMA user_version`. Version 1 is every
/// file written before versions were numbered (`user_version` 0, with the tables present);
/// version 2 keeps each payload once (see `payload.rs`); version 3 compresses the HTTP headers
/// (see `http_headers.rs`: its rows are BLOBs where older ones are TEXT, so opening a file
/// migrates nothing, but a build of version 2 must not read it); version 4 adds where each
/// minidump stands in processing (`minidumps.rs`: a table of its own, created on open);
/// version 5 records the traces each item takes part in (`traces.rs`: `items.trace_id` and
/// the `item_traces` table; rows stored before it are not read back for their traces, so they
/// belong to none); version 6 stores every log entry as a row (`logs.rs`: `logs`, `logs_text`
/// and `item_logs`; the log items already stored are read back for their entries on open);
/// version 7 may keep a body in the compact form (`compact.rs`: `envelopes.raw_is_wire`
/// becomes `raw_form`, whose value 2 a build of version 6 would misread, so it must not open
/// such a file; no row is rewritten).
pub(super) const SCHEMA_VERSION: i64 = 7;

/// The oldest schema version this build opens (and migrates).
pub(super) const OLDEST_SCHEMA_VERSION: i64 = 1;

pub(super) const SCHEMA: &str = r#"
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
    raw_form INTEGER NOT NULL DEFAULT 0,
    header_in_body INTEGER NOT NULL DEFAULT 0
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
    scrub_report TEXT,
    layout INTEGER,
    payload_size INTEGER,
    payload_at INTEGER,
    trace_id TEXT
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

/// Refuses a database whose `user_version` this build does not know (one a newer fake-sentry
/// wrote), before anything is changed in it.
pub(super) fn refuse_unknown_version(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let (oldest, newest) = (OLDEST_SCHEMA_VERSION, SCHEMA_VERSION);
    if found > newest {
        return Err(StoreError::NewerSchema {
            found,
            oldest,
            newest,
        });
    }
    if found < 0 {
        return Err(StoreError::UnknownSchema {
            found,
            oldest,
            newest,
        });
    }
    Ok(())
}

/// Creates the tables of a new database, or brings an older one up to them, and marks it
/// [`SCHEMA_VERSION`]: all of it or nothing.
pub(super) fn create_or_migrate(conn: &Connection) -> rusqlite::Result<()> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.execute_batch(super::minidumps::SCHEMA)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    migrate(&tx)?;
    tx.execute_batch(super::traces::SCHEMA)?;
    tx.execute_batch(super::logs::SCHEMA)?;
    if found < 6 {
        // Version 5 to 6: only the log items are read, once each.
        super::logs::backfill(&tx, crate::item::DEFAULT_MAX_LOG_ENTRIES)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// Whether `table` has a column `column`.
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get(0),
    )
}

/// Brings a database written by an older version up to the current schema.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_http_headers: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'http_headers'",
        [],
        |r| r.get(0),
    )?;
    if !has_http_headers {
        conn.execute("ALTER TABLE envelopes ADD COLUMN http_headers TEXT", [])?;
    }
    // Files before version 2 kept the decoded body in `raw` (form 0); versions 2 to 6 say
    // whether it is as sent in `raw_is_wire` (1), which version 7 renames for its third form.
    if has_column(conn, "envelopes", "raw_is_wire")? {
        conn.execute(
            "ALTER TABLE envelopes RENAME COLUMN raw_is_wire TO raw_form",
            [],
        )?;
    } else if !has_column(conn, "envelopes", "raw_form")? {
        conn.execute_batch(
            "ALTER TABLE envelopes ADD COLUMN decoded_size INTEGER;
             ALTER TABLE envelopes ADD COLUMN raw_form INTEGER NOT NULL DEFAULT 0;",
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
    migrate_to_payloads_once(conn)?;
    migrate_to_traces(conn)
}

/// Version 4 to 5: each item's trace (see `traces.rs`). A column is added (no row is touched,
/// so a large file migrates at once) and `item_traces` is created empty: the items already
/// stored are not read back for their traces, which would mean decompressing every stored
/// body on open, so they belong to no trace and `trace_id` filters do not find them.
fn migrate_to_traces(conn: &Connection) -> rusqlite::Result<()> {
    if !has_column(conn, "items", "trace_id")? {
        conn.execute("ALTER TABLE items ADD COLUMN trace_id TEXT", [])?;
    }
    Ok(())
}

/// Version 1 to 2: each payload kept once (see `payload.rs`). Only columns are added, which
/// SQLite does without touching a row, so a large database migrates at once: its rows keep
/// their payloads decoded in `payload` (`layout` NULL) and are read as before; only rows
/// written from now on use the new layout.
fn migrate_to_payloads_once(conn: &Connection) -> rusqlite::Result<()> {
    if !has_column(conn, "envelopes", "header_in_body")? {
        conn.execute(
            "ALTER TABLE envelopes ADD COLUMN header_in_body INTEGER NOT NULL DEFAULT 0",
            [],
        )?;
    }
    if !has_column(conn, "items", "layout")? {
        conn.execute_batch(
            "ALTER TABLE items ADD COLUMN layout INTEGER;
             ALTER TABLE items ADD COLUMN payload_size INTEGER;
             ALTER TABLE items ADD COLUMN payload_at INTEGER;",
        )?;
    }
    Ok(())
}

/// SQLite's page size for a database in memory (see `configure`).
pub(super) const MEMORY_PAGE_SIZE: i64 = 16 * 1024;

/// WAL bytes after which the writer checkpoints when nothing is synced (or `--max-wal`, if
/// smaller). Each checkpoint holds the writer back for as long as it takes to copy what the WAL
/// holds, so small ones keep every stall short: at 256 MiB (`--max-wal`'s default, the old
/// threshold) one checkpoint stalled ingest for 80-500 ms, a p99 of 51-56 ms at a constant
/// 5,000 envelopes/s; at 4 MiB p99 was 2.3-3.5 ms, at 1 MiB 1.6-2.0 ms, with the same
/// throughput (`bench fake-sentry --targets file`, issue 19).
pub(super) const CHECKPOINT_EVERY_BYTES: u64 = 1024 * 1024;

/// Settings of a file-backed store's connections.
#[derive(Debug, Clone, Copy)]
pub(super) struct FileSettings {
    pub(super) sync: SyncMode,
    pub(super) max_wal_bytes: u64,
}

pub(super) fn configure(conn: &Connection, file: Option<FileSettings>) -> rusqlite::Result<()> {
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
