//! Where each minidump stands in processing: one row per `event.minidump` attachment, made
//! `pending` in the transaction that stores its envelope (so a dump is never stored without
//! the promise to process it, and a restart finds what is left to do), then `processed` or
//! `failed` by the native crash pipeline (`crate::native`), which writes the processor's JSON
//! and the native crash event built from it, both compressed.
//!
//! A row names the event item of its envelope, so that the event (what lists, filters and
//! Kent's API show) finds its processed form. Rows go with their attachment (`ON DELETE
//! CASCADE`), so eviction and flushes need nothing more. Each request to process a dump again
//! raises `attempt`; a result is kept only for the attempt it was made for, so a slow result
//! of an earlier attempt never overwrites a newer one.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::StoreError;
use super::payload::{compress, decompress, item_payload};
use super::records::format_ms;

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS minidumps (
    seq INTEGER PRIMARY KEY REFERENCES items(seq) ON DELETE CASCADE,
    event_seq INTEGER,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    signature TEXT,
    processed BLOB,
    native_event BLOB,
    search_text BLOB,
    search_seq INTEGER,
    processed_at INTEGER
);
CREATE INDEX IF NOT EXISTS minidumps_pending ON minidumps(seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS minidumps_search ON minidumps(search_seq) WHERE search_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS minidumps_event ON minidumps(event_seq);
"#;

/// The attachment type that marks an item as a minidump to process.
const MINIDUMP_ATTACHMENT: &str = "event.minidump";

/// How far a minidump has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessingStatus {
    Pending,
    Processed,
    Failed,
}

impl ProcessingStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "processed" => Some(Self::Processed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A minidump waiting for the pipeline: its attachment's seq and the attempt to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingMinidump {
    pub seq: i64,
    pub attempt: i64,
}

/// What processing one attempt produced.
#[derive(Debug, Clone)]
pub enum ProcessingOutcome {
    Processed {
        /// The processor's output, in `minidump-stackwalk --json`'s schema.
        processed: Value,
        /// The event item's payload merged with what the dump says, in Sentry's event schema.
        native_event: Value,
        signature: String,
        /// The event item's new summary.
        summary: String,
        /// What a text search finds the event by besides its payload: the crash reason, the
        /// signature, and the functions, files and modules of its frames.
        search_text: String,
    },
    Failed {
        error: String,
    },
}

/// An outcome made ready for the writer on the task that records it: serialised and
/// compressed there, so that the one writer thread, which every commit waits for, only binds
/// values (doing it on the writer cost ingest about 0.45 ms per processed dump, a tenth of the
/// writer's time at 200 dumps/s; `bench fake-sentry-minidumps`).
pub(super) enum PreparedOutcome {
    Processed {
        processed: Vec<u8>,
        native_event: Vec<u8>,
        search_text: Vec<u8>,
        signature: String,
        summary: String,
    },
    Failed {
        error: String,
    },
}

impl PreparedOutcome {
    /// What the row keeps of it, as `byte_cap::minidump_bytes` would read it back.
    fn kept_bytes(&self) -> i64 {
        match self {
            Self::Processed {
                processed,
                native_event,
                search_text,
                ..
            } => i64::try_from(processed.len() + native_event.len() + search_text.len())
                .unwrap_or(i64::MAX),
            Self::Failed { .. } => 0,
        }
    }

    pub(super) fn new(outcome: ProcessingOutcome) -> Result<Self, StoreError> {
        Ok(match outcome {
            ProcessingOutcome::Processed {
                processed,
                native_event,
                signature,
                summary,
                search_text,
            } => Self::Processed {
                processed: compress(&serde_json::to_vec(&processed).unwrap_or_default())?,
                native_event: compress(&serde_json::to_vec(&native_event).unwrap_or_default())?,
                search_text: compress(search_text.as_bytes())?,
                signature,
                summary,
            },
            ProcessingOutcome::Failed { error } => Self::Failed { error },
        })
    }
}

/// A minidump's processing state, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MinidumpRecord {
    /// The `event.minidump` attachment's item id.
    pub minidump_item_id: String,
    /// Its envelope's event item, when it has one.
    pub event_item_id: Option<String>,
    pub status: ProcessingStatus,
    /// The processor's error, when it failed.
    pub error: Option<String>,
    pub signature: Option<String>,
    /// 1, plus one for each request to process it again.
    pub attempt: i64,
    pub processed_at: Option<String>,
    pub filename: Option<String>,
    /// The dump's size in bytes.
    pub size: i64,
    #[serde(skip)]
    pub seq: i64,
    /// The processor's JSON, when processed.
    #[serde(skip)]
    pub processed: Option<Value>,
    /// The native crash event, when processed.
    #[serde(skip)]
    pub native_event: Option<Value>,
}

/// Makes the rows of a new envelope's minidumps pending. `items` are the envelope's items as
/// (seq, item type, attachment type) in order; the first event item is theirs.
pub(super) fn insert_pending(
    conn: &Connection,
    items: &[(i64, &str, Option<&str>)],
) -> rusqlite::Result<usize> {
    let event_seq = items
        .iter()
        .find(|(_, item_type, _)| *item_type == "event")
        .map(|(seq, _, _)| *seq);
    let mut count = 0;
    for (seq, _, attachment_type) in items {
        if *attachment_type == Some(MINIDUMP_ATTACHMENT) {
            conn.prepare_cached(
                "INSERT INTO minidumps (seq, event_seq, status) VALUES (?1, ?2, 'pending')",
            )?
            .execute(params![seq, event_seq])?;
            count += 1;
        }
    }
    Ok(count)
}

/// Up to `limit` pending minidumps, oldest first, skipping those `busy` holds.
pub fn pending(
    conn: &Connection,
    limit: usize,
    busy: &std::collections::HashSet<i64>,
) -> rusqlite::Result<Vec<PendingMinidump>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, attempt FROM minidumps WHERE status = 'pending' ORDER BY seq LIMIT ?1",
    )?;
    let rows = stmt.query_map([(limit + busy.len()) as i64], |r| {
        Ok(PendingMinidump {
            seq: r.get(0)?,
            attempt: r.get(1)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        if !busy.contains(&row.seq) {
            out.push(row);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Keeps what processing `pending` produced, unless the row is gone or has been asked for
/// again since. Returns whether it was kept, and how many bytes the row's processed forms
/// grew by (for the in-memory byte cap).
pub(super) fn record_outcome(
    conn: &Connection,
    pending: PendingMinidump,
    outcome: &PreparedOutcome,
    now_ms: i64,
) -> Result<(bool, i64), StoreError> {
    let before = super::byte_cap::minidump_bytes(conn, pending.seq)?;
    let changed = match outcome {
        PreparedOutcome::Processed {
            processed,
            native_event,
            search_text,
            signature,
            summary,
        } => {
            let changed = conn
                .prepare_cached(
                    "UPDATE minidumps SET status = 'processed', error = NULL, signature = ?3,
                     processed = ?4, native_event = ?5, search_text = ?7, processed_at = ?6,
                     search_seq = (SELECT COALESCE(MAX(search_seq), 0) + 1 FROM minidumps
                                   WHERE search_seq IS NOT NULL)
                     WHERE seq = ?1 AND attempt = ?2 AND status = 'pending'",
                )?
                .execute(params![
                    pending.seq,
                    pending.attempt,
                    signature,
                    processed,
                    native_event,
                    now_ms,
                    search_text
                ])?;
            if changed > 0 {
                conn.prepare_cached(
                    "UPDATE items SET summary = ?2 WHERE seq =
                     (SELECT event_seq FROM minidumps WHERE seq = ?1)",
                )?
                .execute(params![pending.seq, summary])?;
            }
            changed
        }
        PreparedOutcome::Failed { error } => conn
            .prepare_cached(
                "UPDATE minidumps SET status = 'failed', error = ?3, signature = NULL,
                 processed = NULL, native_event = NULL, search_text = NULL, processed_at = ?4
                 WHERE seq = ?1 AND attempt = ?2 AND status = 'pending'",
            )?
            .execute(params![pending.seq, pending.attempt, error, now_ms])?,
    };
    if changed == 0 {
        return Ok((false, 0));
    }
    Ok((true, outcome.kept_bytes() - before))
}

/// Makes the minidump at `seq` pending again, as a new attempt. Returns the attempt, or `None`
/// when there is no such minidump.
pub(super) fn request_again(conn: &Connection, seq: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "UPDATE minidumps SET status = 'pending', attempt = attempt + 1 WHERE seq = ?1
         RETURNING attempt",
    )?
    .query_row([seq], |r| r.get(0))
    .optional()
}

/// Which of a minidump's processed forms a read decompresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinidumpBodies {
    /// The state only.
    None,
    /// The native event (for pages that show it).
    NativeEvent,
    /// The native event and the processor's JSON.
    All,
}

/// The minidump of the item `id` (fake-sentry id or Sentry event id): the item itself when it
/// is one, else the minidump whose event item it is, with the `bodies` asked for.
pub fn find_minidump(
    conn: &Connection,
    id: &str,
    bodies: MinidumpBodies,
) -> rusqlite::Result<Option<MinidumpRecord>> {
    let Some(seq) = super::queries::item_seq(conn, id)? else {
        return Ok(None);
    };
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT seq FROM minidumps WHERE seq = ?1
             UNION ALL SELECT seq FROM (SELECT seq FROM minidumps WHERE event_seq = ?1
               ORDER BY seq LIMIT 1)
             LIMIT 1",
        )?
        .query_row([seq], |r| r.get(0))
        .optional()?;
    match found {
        Some(seq) => minidump_at(conn, seq, bodies),
        None => Ok(None),
    }
}

/// The minidump whose attachment is at `seq`.
fn minidump_at(
    conn: &Connection,
    seq: i64,
    bodies: MinidumpBodies,
) -> rusqlite::Result<Option<MinidumpRecord>> {
    let (processed_too, native_too) = match bodies {
        MinidumpBodies::None => (false, false),
        MinidumpBodies::NativeEvent => (false, true),
        MinidumpBodies::All => (true, true),
    };
    let row = conn
        .prepare_cached(
            "SELECT m.seq, m.status, m.attempt, m.error, m.signature,
                    m.processed_at, a.id, e.id, a.filename,
                    COALESCE(a.payload_size, LENGTH(a.payload)),
                    CASE WHEN ?2 THEN m.processed END, CASE WHEN ?3 THEN m.native_event END
             FROM minidumps m JOIN items a ON a.seq = m.seq
             LEFT JOIN items e ON e.seq = m.event_seq
             WHERE m.seq = ?1",
        )?
        .query_row(params![seq, processed_too, native_too], |r| {
            Ok((
                MinidumpRecord {
                    seq: r.get(0)?,
                    status: ProcessingStatus::parse(&r.get::<_, String>(1)?)
                        .unwrap_or(ProcessingStatus::Failed),
                    attempt: r.get(2)?,
                    error: r.get(3)?,
                    signature: r.get(4)?,
                    processed_at: r.get::<_, Option<i64>>(5)?.map(format_ms),
                    minidump_item_id: r.get(6)?,
                    event_item_id: r.get(7)?,
                    filename: r.get(8)?,
                    size: r.get(9)?,
                    processed: None,
                    native_event: None,
                },
                r.get::<_, Option<Vec<u8>>>(10)?,
                r.get::<_, Option<Vec<u8>>>(11)?,
            ))
        })
        .optional()?;
    let Some((mut record, processed, native)) = row else {
        return Ok(None);
    };
    let read = |blob: Option<Vec<u8>>| -> rusqlite::Result<Option<Value>> {
        blob.map(|b| {
            decompress(&b, None).map(|json| serde_json::from_slice(&json).unwrap_or(Value::Null))
        })
        .transpose()
    };
    record.processed = read(processed)?;
    record.native_event = read(native)?;
    Ok(Some(record))
}

/// The processed native event of the event item at `event_seq`, when its minidump has one.
pub fn native_event_of(conn: &Connection, event_seq: i64) -> rusqlite::Result<Option<Value>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT native_event FROM minidumps WHERE event_seq = ?1 AND status = 'processed'
             ORDER BY seq LIMIT 1",
        )?
        .query_row([event_seq], |r| r.get(0))
        .optional()?
        .flatten();
    blob.map(|b| {
        decompress(&b, None).map(|json| serde_json::from_slice(&json).unwrap_or(Value::Null))
    })
    .transpose()
}

/// What processing one minidump reads.
pub struct MinidumpInputs {
    pub dump: Vec<u8>,
    /// The payload of its envelope's event item: what the client sent with it.
    pub client_event: Option<Vec<u8>>,
}

/// What processing the minidump at `seq` reads, or `None` when the dump has gone.
pub fn minidump_inputs(conn: &Connection, seq: i64) -> rusqlite::Result<Option<MinidumpInputs>> {
    let Some(dump) = item_payload(conn, seq)? else {
        return Ok(None);
    };
    let event_seq: Option<i64> = conn
        .prepare_cached("SELECT event_seq FROM minidumps WHERE seq = ?1")?
        .query_row([seq], |r| r.get(0))
        .optional()?
        .flatten();
    let event = match event_seq {
        Some(event_seq) => item_payload(conn, event_seq)?,
        None => None,
    };
    Ok(Some(MinidumpInputs {
        dump,
        client_event: event,
    }))
}

/// What a text search finds the event item at `event_seq` by besides its summary and payload:
/// its processed minidump's crash reason, signature and frames.
pub(super) fn search_text_of(
    conn: &Connection,
    event_seq: i64,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT search_text FROM minidumps WHERE event_seq = ?1 AND status = 'processed'
             ORDER BY seq LIMIT 1",
        )?
        .query_row([event_seq], |r| r.get(0))
        .optional()?
        .flatten();
    blob.map(|b| decompress(&b, None)).transpose()
}

/// A processed minidump's search text for the search index, in the order processing
/// finished (`search_seq`): the index adds it to its event item when that was indexed before.
pub(super) struct SearchAddition {
    pub(super) search_seq: i64,
    pub(super) event_seq: i64,
    pub(super) text: String,
}

/// Up to `limit` search texts of minidumps processed after `after` (a `search_seq`).
pub(super) fn search_additions(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<SearchAddition>> {
    let rows: Vec<(i64, Option<i64>, Option<Vec<u8>>)> = conn
        .prepare_cached(
            "SELECT search_seq, event_seq, search_text FROM minidumps
             WHERE search_seq > ?1 ORDER BY search_seq LIMIT ?2",
        )?
        .query_map(params![after, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (search_seq, event_seq, text) in rows {
        let text = match text {
            Some(blob) => String::from_utf8_lossy(&decompress(&blob, None)?).into_owned(),
            None => String::new(),
        };
        out.push(SearchAddition {
            search_seq,
            // A dump sent without an event has nothing to add to.
            event_seq: event_seq.unwrap_or(0),
            text,
        });
    }
    Ok(out)
}

/// The search texts of the processed minidumps whose event items lie in `first..=last`.
pub(super) fn search_texts_between(
    conn: &Connection,
    first: i64,
    last: i64,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT event_seq, search_text FROM minidumps
             WHERE event_seq BETWEEN ?1 AND ?2 AND search_text IS NOT NULL",
        )?
        .query_map(params![first, last], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(seq, blob)| {
            decompress(&blob, None).map(|text| (seq, String::from_utf8_lossy(&text).into_owned()))
        })
        .collect()
}

/// How many minidumps wait for processing (read from the partial index of pending rows).
pub fn pending_minidumps(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM minidumps WHERE status = 'pending'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}
