//! The one writer thread: it batches queued writes into transactions, keeps the count and byte
//! caps by evicting the oldest envelopes (a bounded step per transaction, see `retention`),
//! keeps the WAL within its limit, and answers each write once its transaction is settled. A
//! file that syncs also has a checkpointer thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, params};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::compact::{self, BodyForm, BodyStorage};
use super::event_index::{EventIndex, IndexChanges};
use super::http_headers;
use super::minidumps::{self, PendingMinidump, PreparedOutcome};
use super::payload::PreparedItem;
use super::refusals::{self, RefusalCaps};
use super::retention::{Retention, inserted_by};
use super::{NewEnvelope, NewItem, NewRefusal, Store, StoreError, Stored, byte_cap};

/// How far past `--max-wal` (besides twice it) the WAL may grow before the writer truncates it
/// itself rather than waiting for the checkpointer.
const HARD_WAL_SLACK: u64 = 512 * 1024;

/// How many queued writes one transaction takes at most.
const MAX_BATCH: usize = 512;

/// An envelope with everything the writer needs precomputed on the requesting task, so the
/// single writer thread only binds values: ids, header texts, compressed payloads (see
/// `payload.rs`), and no JSON trees to drop.
pub(super) struct PreparedEnvelope {
    pub(super) envelope: NewEnvelope,
    /// The header's text; `None` when there is none or it is read from the body's first line.
    pub(super) header_text: Option<String>,
    /// The request's headers as the row keeps them (see `http_headers.rs`).
    pub(super) http_headers: Vec<u8>,
    pub(super) item_ids: Vec<String>,
    pub(super) items: Vec<PreparedItem>,
    /// The body as the row keeps it, and in which form (see `compact.rs`).
    pub(super) raw: bytes::Bytes,
    pub(super) raw_form: BodyForm,
}

impl PreparedEnvelope {
    pub(super) fn new(mut envelope: NewEnvelope, bodies: BodyStorage) -> Result<Self, StoreError> {
        let (raw, raw_form) = kept_body(&mut envelope, bodies)?;
        let item_ids = envelope
            .items
            .iter()
            // Time-ordered UUIDs keep the id index append-only; Kent's clients only need a UUID.
            .map(|_| uuid::Uuid::now_v7().hyphenated().to_string())
            .collect();
        let items = envelope
            .items
            .iter()
            .map(|item| PreparedItem::new(item, envelope.decoded_size))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            header_text: if envelope.header_is_first_line {
                None
            } else {
                json_text(&envelope.header)
            },
            http_headers: http_headers::pack(&envelope.http_headers)?,
            item_ids,
            items,
            envelope,
            raw,
            raw_form,
        })
    }

    /// Whether the header is read back from the body's first line.
    fn header_in_body(&self) -> bool {
        self.envelope.header_is_first_line && self.envelope.header.is_some()
    }
}

/// The bytes [`kept_body`] compresses into the compact form, if any: the decoded body when
/// bodies are kept compact, an identity body being its own decoded form; none for a body that
/// ingest did not decode (a compressed raw minidump), which stays as sent.
fn compact_input(envelope: &NewEnvelope, bodies: BodyStorage) -> Option<&[u8]> {
    if bodies == BodyStorage::AsSent || envelope.body.is_empty() {
        return None;
    }
    match &envelope.decoded {
        Some(decoded) => Some(decoded),
        None if envelope.content_encoding.is_none() => Some(&envelope.body),
        None => None,
    }
}

/// The body as the row keeps it: the compact form of the decoded body when bodies are kept
/// compact and that is smaller than the body as sent, the body as sent otherwise. The decoded
/// copy ingest made goes here either way.
fn kept_body(
    envelope: &mut NewEnvelope,
    bodies: BodyStorage,
) -> Result<(bytes::Bytes, BodyForm), StoreError> {
    let compact = compact_input(envelope, bodies)
        .map(compact::compress)
        .transpose()?;
    envelope.decoded = None;
    Ok(match compact {
        Some(compact) if compact.len() < envelope.body.len() => (compact.into(), BodyForm::Compact),
        _ => (envelope.body.clone(), BodyForm::AsSent),
    })
}

/// The most memory [`PreparedEnvelope::new`] allocates for `envelope` besides what it takes
/// over from it, for a request to charge to `--max-in-flight` before its envelope is stored:
/// the compact body, every compressed payload and scrubbed copy, and the packed HTTP headers.
/// zstd hands each back in a buffer of its input's bound, whatever it compressed to, and the
/// buffers are held until the envelope is committed. Not counted: the texts of the envelope and
/// item headers, each about as long as its header line, whose tree ingest charged at 32 times
/// that.
pub(super) fn preparing_bytes(envelope: &NewEnvelope, bodies: BodyStorage) -> usize {
    let bound = zstd::zstd_safe::compress_bound;
    let body = compact_input(envelope, bodies).map_or(0, |input| bound(input.len()));
    let items: usize = envelope
        .items
        .iter()
        .map(|item| {
            let payload = match PreparedItem::position(item, envelope.decoded_size) {
                Some(_) => 0,
                None => bound(item.payload.len()),
            };
            let scrubbed = item
                .audit
                .as_ref()
                .and_then(|a| a.scrubbed.as_ref())
                .map_or(0, |scrubbed| bound(scrubbed.len()));
            payload.saturating_add(scrubbed)
        })
        .fold(0, usize::saturating_add);
    body.saturating_add(items)
        .saturating_add(bound(envelope.http_headers.len()))
}

pub(super) type InsertReply = (Result<Stored, StoreError>, Box<PreparedEnvelope>);

pub(super) enum WriteOp {
    /// The envelope travels back with the answer: dropping its buffers on the requesting
    /// task instead of the writer thread keeps the one serial stage short.
    Insert(Box<PreparedEnvelope>, oneshot::Sender<InsertReply>),
    Refuse(Box<NewRefusal>, oneshot::Sender<Result<(), StoreError>>),
    Flush(Option<u64>, oneshot::Sender<Result<u64, StoreError>>),
    /// A minidump's processing outcome, or a request to process it again; answered with the
    /// attempt it applies to, or `None` when there was nothing to apply it to.
    Minidump(
        MinidumpWrite,
        oneshot::Sender<Result<Option<i64>, StoreError>>,
    ),
}

/// The writes of the native crash pipeline (see `minidumps.rs`).
pub(super) enum MinidumpWrite {
    Outcome(PendingMinidump, Box<PreparedOutcome>),
    Again(i64),
}

/// How often the WAL is copied back into the database file.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Copies committed WAL frames into the database file while the writer keeps appending
/// (a PASSIVE checkpoint never blocks it); SQLite rewinds the WAL once all frames are copied.
/// When the writer reports the WAL past its limit (`truncate`), a TRUNCATE checkpoint waits
/// for the writer's current transaction, holds the next one back while it copies the rest,
/// and empties the file. Stops when the store is dropped.
///
/// Every checkpoint runs under `checkpoint_lock`, which the writer takes too when it truncates
/// the WAL itself (see [`Writer::bound_wal`]): SQLite answers BUSY to a second checkpoint while
/// one runs, so without the lock a writer that found the WAL far past its limit could give up
/// while a CPU-starved checkpointer was still copying, and the WAL grew on.
pub(super) fn run_checkpointer(
    conn: Connection,
    store: std::sync::Weak<Store>,
    truncate: std::sync::mpsc::Receiver<()>,
    checkpoint_lock: Arc<Mutex<()>>,
) {
    let checkpoint = |mode: &str| {
        let _running = checkpoint_lock.lock().unwrap_or_else(|e| e.into_inner());
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(0)
        })
    };
    use std::sync::mpsc::RecvTimeoutError;
    let mut last_seen = u64::MAX;
    while let Some(store) = store.upgrade() {
        let version = *store.changes.borrow();
        drop(store);
        if version != last_seen {
            last_seen = version;
            if let Err(err) = checkpoint("PASSIVE") {
                tracing::warn!(%err, "WAL checkpoint failed");
            }
        }
        match truncate.recv_timeout(CHECKPOINT_INTERVAL) {
            Ok(()) => match checkpoint("TRUNCATE") {
                Ok(0) => tracing::debug!("WAL past its limit: checkpointed and truncated"),
                Ok(_) => tracing::warn!("WAL past its limit, but a reader kept it"),
                Err(err) => tracing::warn!(%err, "WAL checkpoint failed"),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

pub(super) struct Writer {
    pub(super) conn: Arc<Mutex<Connection>>,
    pub(super) max_items: i64,
    /// `--max-refusals` and `--max-refusal-bytes`, in memory and in a file alike.
    pub(super) refusal_caps: RefusalCaps,
    /// The bytes of the refusals kept, as [`refusals`] counts them.
    pub(super) refusal_bytes: i64,
    pub(super) item_count: i64,
    /// In memory: the most bytes kept (`--max-memory-bytes`); `None` for a file.
    pub(super) max_bytes: Option<i64>,
    /// In memory: the bytes kept, as [`byte_cap`] counts them.
    pub(super) stored_bytes: i64,
    /// What eviction needs besides the counts above (see `retention`).
    pub(super) retention: Retention,
    pub(super) store: std::sync::Weak<Store>,
    pub(super) event_index: Arc<EventIndex>,
    /// File-backed: the WAL file and its largest allowed size.
    pub(super) wal_limit: Option<WalLimit>,
    /// Whether the batch being written gave the native crash pipeline work (see
    /// `Store::minidump_work`).
    pub(super) minidumps_to_process: bool,
}

pub(super) struct WalLimit {
    pub(super) path: std::path::PathBuf,
    pub(super) max_bytes: u64,
    /// Wakes the checkpointer to truncate the WAL (a full channel means it already knows).
    pub(super) truncate: std::sync::mpsc::SyncSender<()>,
    /// Held by whoever checkpoints (see [`run_checkpointer`]).
    pub(super) checkpoint_lock: Arc<Mutex<()>>,
}

/// SQLite's name for a database's write-ahead log.
pub(super) fn wal_path(db: &std::path::Path) -> std::path::PathBuf {
    super::beside(db, "-wal")
}

impl Writer {
    /// Asks the checkpointer to truncate the WAL once it is past its limit (after the batch
    /// that crossed it has been answered).
    pub(super) fn bound_wal(&self) {
        let Some(limit) = &self.wal_limit else {
            return;
        };
        let size = std::fs::metadata(&limit.path).map_or(0, |m| m.len());
        if size > limit.max_bytes {
            let _ = limit.truncate.try_send(());
        }
        // A checkpointer starved of CPU (a loaded machine) lets the WAL grow on: past twice the
        // limit (and at least half a MiB over it) the writer truncates it itself, holding
        // ingest back for as long as that takes, so the limit holds whatever the load.
        let hard = limit
            .max_bytes
            .saturating_mul(2)
            .max(limit.max_bytes.saturating_add(HARD_WAL_SLACK));
        if size > hard {
            // Waits for a checkpoint the checkpointer is running, instead of being refused.
            let _running = limit
                .checkpoint_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            }) {
                Ok(0) => tracing::debug!(size, "WAL far past its limit: the writer truncated it"),
                Ok(_) => tracing::warn!(size, "WAL far past its limit, but a reader kept it"),
                Err(err) => tracing::warn!(%err, "WAL checkpoint failed"),
            }
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

pub(super) enum Done {
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
    Minidump(
        oneshot::Sender<Result<Option<i64>, StoreError>>,
        Result<Option<i64>, String>,
    ),
}

impl Writer {
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<WriteOp>) {
        // A batch is what is queued when the writer gets to it: it never waits for more.
        // Waiting up to 500 us for a batch as big as the last one wrote a quarter less WAL per
        // envelope when each envelope's payload was stored twice, but with each kept once it
        // cost a file-backed server flat out two fifths of its throughput (15,300 against
        // 24,100-25,400 envelopes/s, 16 connections, out of process).
        while let Some(first) = self.next_write(&mut rx) {
            let mut batch = vec![first];
            drain(&mut rx, &mut batch);
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
        let outcome = (|| -> rusqlite::Result<_> {
            let mut tx = guard.transaction()?;
            for op in ops.by_ref() {
                let (finished, fatal) = self.apply_one(&mut tx, op, &mut index_changes);
                done.push(finished);
                if let Some(err) = fatal {
                    return Err(err);
                }
            }
            let step = self.evict_step(&tx, inserted_by(&done), &mut index_changes)?;
            published = self.event_index.publish_additions(&index_changes);
            tx.commit()?;
            Ok(step)
        })();
        drop(guard);
        // Writes the transaction never got to, because it failed before them, are answered
        // with its error like the rest.
        done.extend(ops.map(Done::unreached));
        match &outcome {
            Ok(step) => {
                self.event_index.commit(&index_changes);
                self.settle_step(step);
            }
            Err(_) => self.event_index.undo(&published),
        }
        if let Err(err) = &outcome {
            tracing::error!(%err, "storage commit failed");
            let conn = self.conn.clone();
            self.recount(&conn.lock().unwrap_or_else(|e| e.into_inner()));
        }
        let commit_error = outcome.err().map(|e| e.to_string());
        let stored_envelopes = done.iter().any(|d| matches!(d, Done::Insert(_, Ok(_), _)));
        // The commit is announced before it is acknowledged, so that whoever was answered sees
        // the version that includes it (and no later bump for a write it already saw).
        if commit_error.is_none() {
            store.changes.send_modify(|n| *n += 1);
            if std::mem::take(&mut self.minidumps_to_process) {
                store.minidump_work.send_modify(|n| *n += 1);
            }
            if stored_envelopes {
                store.envelope_commits.send_modify(|n| *n += 1);
            }
        }
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
                Done::Minidump(reply, result) => {
                    let _ = reply.send(settle(&commit_error, result));
                }
            }
        }
        self.minidumps_to_process = false;
        self.bound_wal();
    }
}

impl Writer {
    /// Counts what is stored again, after a transaction that failed left the running counts
    /// unsure.
    pub(super) fn recount(&mut self, conn: &Connection) {
        if let Ok(count) = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)) {
            self.item_count = count;
        }
        if self.max_bytes.is_some()
            && let Ok(bytes) = byte_cap::total(conn)
        {
            self.stored_bytes = bytes;
        }
        if let Ok(bytes) = refusals::total(conn) {
            self.refusal_bytes = bytes;
        }
        self.remeasure(conn);
    }

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
                        self.minidumps_to_process |= stored.minidumps > 0;
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
            WriteOp::Minidump(write, reply) => {
                let result = match &write {
                    MinidumpWrite::Outcome(pending, outcome) => {
                        minidumps::record_outcome(tx, *pending, outcome, super::now_ms()).map(
                            |(kept, grew)| {
                                if self.max_bytes.is_some() {
                                    self.stored_bytes += grew;
                                }
                                kept.then_some(pending.attempt)
                            },
                        )
                    }
                    MinidumpWrite::Again(seq) => {
                        let again = minidumps::request_again(tx, *seq);
                        if matches!(again, Ok(Some(_))) {
                            self.minidumps_to_process = true;
                        }
                        again.map_err(StoreError::from)
                    }
                };
                match result {
                    Ok(attempt) => (Done::Minidump(reply, Ok(attempt)), None),
                    Err(StoreError::Sqlite(err)) => match still_in_transaction(tx, err) {
                        Ok(err) => (Done::Minidump(reply, Err(err.to_string())), None),
                        Err(fatal) => (Done::Minidump(reply, Err(fatal.to_string())), Some(fatal)),
                    },
                    Err(err) => (Done::Minidump(reply, Err(err.to_string())), None),
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
            WriteOp::Minidump(_, reply) => Done::Minidump(reply, not_written()),
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

pub(super) fn json_text(map: &Option<Map<String, Value>>) -> Option<String> {
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
         decoded_size, raw_form, header_in_body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
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
        &prepared.raw[..],
        env.body.len() as i64,
        prepared.http_headers,
        env.decoded_size as i64,
        prepared.raw_form.column_value(),
        prepared.header_in_body(),
    ])?;
    let envelope_id = conn.last_insert_rowid();
    *inserted_envelope = Some(envelope_id);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO items (id, envelope_id, idx, project_id, item_type, event_id, level, platform,
         release, environment, sdk_name, sdk_version, summary, timestamp, received_at, header,
         payload, is_json, filename, content_type, decode_error, findings, finding_count,
         scrubbed, scrub_report, layout, payload_size, payload_at, trace_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
         ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
    )?;
    let mut kinds = Vec::with_capacity(env.items.len());
    for (idx, ((item, id), stored)) in env
        .items
        .iter()
        .zip(&prepared.item_ids)
        .zip(&prepared.items)
        .enumerate()
    {
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
            stored.header_text,
            stored.payload,
            m.is_json,
            header_field(item, "filename"),
            header_field(item, "content_type"),
            m.decode_error,
            item.audit.as_ref().map(|a| a.findings_json.as_str()),
            item.audit.as_ref().map(|a| a.finding_count as i64),
            stored.scrubbed,
            item.audit
                .as_ref()
                .and_then(|a| a.scrub_report_json.as_deref()),
            stored.layout.to_sql(),
            stored.payload_size,
            stored.payload_at,
            m.traces.first().map(|t| t.trace_id.as_str()),
        ])?;
        let seq = conn.last_insert_rowid();
        super::traces::insert_links(conn, seq, &m.traces)?;
        let log_item = super::logs::ItemContext {
            seq,
            project_id: env.project_id as i64,
            received_at: env.received_at_ms as f64 / 1000.0,
            sdk_name: m.sdk_name.as_deref(),
            sdk_version: m.sdk_version.as_deref(),
        };
        super::logs::insert(conn, &log_item, &m.logs)?;
        if let Some(event_id) = &m.event_id {
            index_changes.add(event_id, seq);
        }
        let attachment_type = item
            .header
            .as_ref()
            .and_then(|h| h.get("attachment_type"))
            .and_then(Value::as_str);
        kinds.push((seq, item.item_type.as_str(), attachment_type));
    }
    let minidumps = minidumps::insert_pending(conn, &kinds)?;
    Ok(Stored {
        envelope_id,
        item_ids: prepared.item_ids.clone(),
        minidumps,
    })
}

/// A text field of an item's header that its row keeps in a column of its own.
pub(super) fn header_field<'a>(item: &'a NewItem, key: &str) -> Option<&'a str> {
    item.header
        .as_ref()
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
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
