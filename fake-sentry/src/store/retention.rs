//! Retention: the store keeps at most `--max-events` items and, in bytes, `--max-db-size` (a
//! file) or `--max-memory-bytes` (in memory), evicting the oldest envelopes whole, in bounded
//! steps.
//!
//! Deleting costs the writer time as inserting does, and every request waits for the writer.
//! One transaction that deleted everything over the caps (as a restart with a lower
//! `--max-events` than the file held once did) stalled ingest for as long as it took: 1.5-2.4 s
//! for 241,000 items, every request of that time answered late. So eviction goes in steps of
//! at most a chunk ([`CHUNK_ITEMS`] items or [`CHUNK_BYTES`] bytes, whichever comes first, about
//! a millisecond; but always one envelope, which is never split, so one larger than a chunk is
//! a step of its own), one step per transaction:
//!
//! - A write transaction evicts what it inserted plus an eighth of a chunk. The first keeps a
//!   store that has reached its caps at them however fast envelopes arrive (in memory within
//!   them after every commit; a file within them give or take what estimating its pages
//!   missed, see below, which the next transaction takes back). The second is little, because
//!   the batch's requests wait for it, but it is enough for a store that is never idle to
//!   catch up.
//! - When no write is queued, the writer takes steps of a whole chunk, each its own
//!   transaction, until the store is within its caps: it needs no new writes to make progress,
//!   and a write that arrives meanwhile waits for one step at most. After each step it rests
//!   as long as the step took (unless a write comes), so that a catch-up takes at most half of
//!   the writer's core from the rest of ingest (see [`REST_POLL`]).
//!
//! A store opened over its caps (lower ones than it was filled with) is over them, by what is
//! left of the excess, until it has caught up: at a constant 5,000 envelopes/s, 241,000 items
//! took 4.9-7.4 s, p99 28-74 ms against 7-33 ms for the same restart without eviction (`bench`'s
//! client against `fake-sentry --db`, two cores shared with other work).
//!
//! Envelopes go whole, so `--max-events` (which counts items) can leave up to one envelope's
//! items less than the cap.
//!
//! A file's size is what it holds: `(page_count - freelist_count) * page_size`. Freed pages
//! are reused, so a file stops growing once it reaches its cap, but it never shrinks (nothing
//! vacuums it); the WAL beside it is bounded by `--max-wal`. Which envelopes go is chosen by
//! their bytes as [`byte_cap`] counts them (exact in memory, an estimate of the pages they hold
//! in a file); a file is measured again after every step, so an estimate that is off costs one
//! more step or a few envelopes more than needed.
//!
//! Never evicted: the newest envelope (one that alone passes a cap is kept rather than
//! acknowledged and dropped at once), and refusals, which have caps of their own
//! (`--max-refusals`, `--max-refusal-bytes`) but count towards a file's size: were a cap too
//! small for them, only the newest envelope would be kept.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::byte_cap::{self, ENVELOPE_BYTES, ITEM_BYTES};
use super::event_index::IndexChanges;
use super::writer::{Done, WriteOp, Writer};
use crate::config::Storage;

/// Most items one step evicts beyond those its transaction inserted. Evicting costs the writer
/// about 6 µs an item of the bench's size on a file, more once a step's pages no longer fit
/// SQLite's cache: 128 took 0.7-0.8 ms, 256 1.4-1.6 ms, 512 3.2-3.5 ms, 1,000 7-9 ms.
/// Restarting at a tenth of the items held, at a constant 5,000 envelopes/s, steps of 256
/// (and all of them in write transactions too) took p99 from 8-17 ms to 295-657 ms; of 128,
/// with an eighth in write transactions, to 11-48 ms; of 64 to 35-55 ms, as the catch-up took
/// longer (on a machine shared with other work: the absolute figures are inflated).
const CHUNK_ITEMS: i64 = 128;

/// Most bytes (as [`byte_cap`] counts them) one step evicts beyond those its transaction
/// inserted. Large payloads cost by their pages (SQLite reads each overflow page to free it):
/// 1 MiB of 256 KiB attachments took 0.3 ms on a file, 2 MiB 0.7-1.1 ms, 4 MiB 1.6-2.0 ms.
const CHUNK_BYTES: i64 = 2 << 20;

/// What of a chunk a write transaction evicts beyond what it inserted (see the module doc).
const WRITE_SHARE: i64 = 8;

/// How often the writer looks for a write while it rests between eviction steps. A catch-up
/// that takes steps back to back keeps the writer's core busy, and what ingest needs besides
/// the writer (HTTP, decoding) waits for the other cores: restarting at a tenth of the items
/// held, at a constant 5,000 envelopes/s on two cores shared with other work, p99 was 11-399
/// ms (median of seven 35 ms); resting as long as each step took, 6.5-42 ms (median 15 ms), the
/// catch-up taking 3.7 s instead of 2.9 (medians).
const REST_POLL: Duration = Duration::from_micros(50);

/// What a store keeps before it evicts its oldest envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Items (`--max-events`).
    pub max_items: usize,
    /// Bytes an in-memory store keeps, counted as `store/byte_cap.rs` does
    /// (`--max-memory-bytes`); a file is not capped by it.
    pub max_memory_bytes: usize,
    /// Bytes a file holds (`--max-db-size`); no cap when `None`. In memory, the smaller of it
    /// and `max_memory_bytes` applies, so that a cap set for a file still bounds a store that
    /// was switched to memory.
    pub max_db_bytes: Option<u64>,
}

/// A file's byte cap and what the file holds.
struct FileCap {
    max_bytes: i64,
    /// As of the last commit (or the last step's measure).
    used: i64,
}

impl FileCap {
    fn new(conn: &Connection, max_bytes: u64) -> rusqlite::Result<Self> {
        Ok(Self {
            max_bytes: i64::try_from(max_bytes).unwrap_or(i64::MAX),
            used: database_bytes(conn)?,
        })
    }
}

/// The writer's retention state, besides the counts and caps it shares with the rest of the
/// writer (`item_count`, `stored_bytes`, `max_items`, `max_bytes`).
pub(super) struct Retention {
    /// A file with `--max-db-size`: the cap and what the file holds.
    file_cap: Option<FileCap>,
    /// Set when the store is over a cap with only the newest envelope left, until the next
    /// write: eviction waits for it instead of trying again and again.
    nothing_to_evict: bool,
    /// What eviction removed, shared with the store.
    evictions: Arc<Evictions>,
}

impl Retention {
    /// The state of a store on `storage` opened as `conn`.
    pub(super) fn new(
        conn: &Connection,
        storage: &Storage,
        max_db_bytes: Option<u64>,
        evictions: Arc<Evictions>,
    ) -> rusqlite::Result<Self> {
        let file_cap = match storage {
            Storage::Memory => None,
            Storage::File(_) => max_db_bytes
                .map(|max| FileCap::new(conn, max))
                .transpose()?,
        };
        Ok(Self {
            file_cap,
            nothing_to_evict: false,
            evictions,
        })
    }
}

/// What the database holds: its pages less the free ones. `PRAGMA`s read the header, cheaply.
pub(super) fn database_bytes(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT (SELECT page_count FROM pragma_page_count())
              - (SELECT freelist_count FROM pragma_freelist_count()),
                (SELECT page_size FROM pragma_page_size())",
    )?
    .query_row([], |r| Ok(r.get::<_, i64>(0)? * r.get::<_, i64>(1)?))
}

/// What has been evicted since the store opened, for `/api/stats/` and the tests.
#[derive(Debug, Default)]
pub(super) struct Evictions {
    envelopes: AtomicU64,
    items: AtomicU64,
    bytes: AtomicU64,
    /// Transactions that evicted.
    transactions: AtomicU64,
    /// The most items, and bytes, one transaction evicted beyond those it inserted.
    largest_items: AtomicI64,
    largest_bytes: AtomicI64,
}

/// What has been evicted since the store opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionStats {
    pub envelopes: u64,
    pub items: u64,
    /// Bytes as `store/byte_cap.rs` counts them.
    pub bytes: u64,
    /// Write transactions that evicted.
    pub transactions: u64,
    /// The most items one transaction evicted beyond those it inserted (at most a chunk, 128,
    /// unless one envelope held more).
    pub largest_step_items: i64,
    /// The most bytes one transaction evicted beyond those it inserted (at most a chunk, 2 MiB,
    /// unless one envelope held more).
    pub largest_step_bytes: i64,
}

impl Evictions {
    pub(super) fn stats(&self) -> EvictionStats {
        EvictionStats {
            envelopes: self.envelopes.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
            largest_step_items: self.largest_items.load(Ordering::Relaxed),
            largest_step_bytes: self.largest_bytes.load(Ordering::Relaxed),
        }
    }

    /// Counts a step once its transaction committed.
    fn record(&self, step: &Step) {
        if step.evicted.envelopes == 0 {
            return;
        }
        let add = |counter: &AtomicU64, n: i64| {
            counter.fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        };
        add(&self.envelopes, step.evicted.envelopes);
        add(&self.items, step.evicted.items);
        add(&self.bytes, step.evicted.bytes);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.largest_items
            .fetch_max(step.evicted.items - step.inserted.items, Ordering::Relaxed);
        self.largest_bytes
            .fetch_max(step.evicted.bytes - step.inserted.bytes, Ordering::Relaxed);
    }
}

/// Items and bytes (as [`byte_cap`] counts them).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Amount {
    items: i64,
    bytes: i64,
}

/// What envelopes one step evicted.
#[derive(Debug, Clone, Copy, Default)]
struct Evicted {
    envelopes: i64,
    items: i64,
    bytes: i64,
}

/// One transaction's eviction, with what it inserted (its allowance beyond the chunk).
#[derive(Debug, Default)]
pub(super) struct Step {
    inserted: Amount,
    evicted: Evicted,
}

/// What the envelopes a batch stored add, from the writes it answered.
pub(super) fn inserted_by(done: &[Done]) -> Amount {
    let mut inserted = Amount::default();
    for finished in done {
        if let Done::Insert(_, Ok(stored), envelope) = finished {
            inserted.items += stored.item_ids.len() as i64;
            inserted.bytes += byte_cap::envelope_bytes(envelope);
        }
    }
    inserted
}

/// The envelopes but the newest, oldest first, with their items and bytes.
static OLDEST_ENVELOPES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT e.id, (SELECT COUNT(*) FROM items WHERE envelope_id = e.id),
           {ENVELOPE_BYTES}
             + COALESCE((SELECT SUM({ITEM_BYTES}) FROM items WHERE envelope_id = e.id), 0)
         FROM envelopes AS e WHERE e.id < (SELECT MAX(id) FROM envelopes) ORDER BY e.id"
    )
});

/// Evicts the oldest envelopes, items and all, until `need` is met or the next envelope would
/// take the step past `budget` (the first always goes, whatever its size, so that every step
/// makes progress). The newest envelope is never evicted.
fn evict_oldest(
    conn: &Connection,
    need: Amount,
    budget: Amount,
    index_changes: &mut IndexChanges,
) -> rusqlite::Result<Evicted> {
    let mut evicted = Evicted::default();
    let mut last = None;
    {
        let mut stmt = conn.prepare_cached(&OLDEST_ENVELOPES)?;
        let mut rows = stmt.query([])?;
        while evicted.items < need.items || evicted.bytes < need.bytes {
            let Some(row) = rows.next()? else {
                break;
            };
            let (id, items, bytes): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            if last.is_some()
                && (evicted.items + items > budget.items || evicted.bytes + bytes > budget.bytes)
            {
                break;
            }
            last = Some(id);
            evicted.envelopes += 1;
            evicted.items += items;
            evicted.bytes += bytes;
        }
    }
    let Some(last) = last else {
        return Ok(evicted);
    };
    index_changes.remove_rows(
        conn.prepare_cached(
            "SELECT seq, event_id FROM items WHERE envelope_id <= ?1 AND event_id IS NOT NULL",
        )?
        .query_map([last], |r| Ok((r.get(0)?, r.get(1)?)))?,
    )?;
    conn.prepare_cached("DELETE FROM items WHERE envelope_id <= ?1")?
        .execute([last])?;
    conn.prepare_cached("DELETE FROM envelopes WHERE id <= ?1")?
        .execute([last])?;
    Ok(evicted)
}

impl Writer {
    /// How far over its caps the store is (nothing where it is within one).
    fn excess(&self) -> Amount {
        let memory = self
            .max_bytes
            .map_or(0, |max| self.stored_bytes.saturating_sub(max));
        let file = self
            .retention
            .file_cap
            .as_ref()
            .map_or(0, |cap| cap.used.saturating_sub(cap.max_bytes));
        Amount {
            items: self.item_count.saturating_sub(self.max_items).max(0),
            bytes: memory.max(file).max(0),
        }
    }

    /// Whether the store is over a cap with something left to evict.
    fn behind(&self) -> bool {
        let excess = self.excess();
        !self.retention.nothing_to_evict && (excess.items > 0 || excess.bytes > 0)
    }

    /// Evicts inside a write transaction `tx`, after its writes, which `inserted` says added
    /// what: at most that and an eighth of a chunk. Keeps the counts in step;
    /// [`Writer::settle_step`] finishes once the transaction is settled.
    pub(super) fn evict_step(
        &mut self,
        tx: &Connection,
        inserted: Amount,
        index_changes: &mut IndexChanges,
    ) -> rusqlite::Result<Step> {
        // A new envelope makes the one before it evictable.
        self.retention.nothing_to_evict = false;
        let budget = Amount {
            items: inserted.items + CHUNK_ITEMS / WRITE_SHARE,
            bytes: inserted.bytes + CHUNK_BYTES / WRITE_SHARE,
        };
        self.step(tx, inserted, budget, index_changes)
    }

    /// One step: evicts what the caps need, within `budget`, in a transaction that `inserted`
    /// what it says.
    fn step(
        &mut self,
        tx: &Connection,
        inserted: Amount,
        budget: Amount,
        index_changes: &mut IndexChanges,
    ) -> rusqlite::Result<Step> {
        if let Some(cap) = &mut self.retention.file_cap {
            cap.used = database_bytes(tx)?;
        }
        let mut step = Step {
            inserted,
            ..Step::default()
        };
        let need = self.excess();
        if need.items <= 0 && need.bytes <= 0 {
            return Ok(step);
        }
        step.evicted = evict_oldest(tx, need, budget, index_changes)?;
        self.item_count -= step.evicted.items;
        if self.max_bytes.is_some() {
            self.stored_bytes -= step.evicted.bytes;
        }
        if let Some(cap) = &mut self.retention.file_cap {
            cap.used = database_bytes(tx)?;
        }
        // Over a cap with only the newest envelope left: wait for the next write rather
        // than trying again and again.
        self.retention.nothing_to_evict = step.evicted.envelopes == 0;
        Ok(step)
    }

    /// Counts a step whose transaction committed.
    pub(super) fn settle_step(&mut self, step: &Step) {
        self.retention.evictions.record(step);
    }

    /// Measures the file again after a failed transaction (its counts are recounted too).
    pub(super) fn remeasure(&mut self, conn: &Connection) {
        if let Some(cap) = &mut self.retention.file_cap
            && let Ok(used) = database_bytes(conn)
        {
            cap.used = used;
        }
    }

    /// The next queued write, or `None` once the store is gone. While the store is over its
    /// caps and nothing is queued, the writer takes eviction steps meanwhile, each its own
    /// transaction and each followed by a rest as long as itself.
    pub(super) fn next_write(&mut self, rx: &mut mpsc::Receiver<WriteOp>) -> Option<WriteOp> {
        while self.behind() {
            match rx.try_recv() {
                Ok(op) => return Some(op),
                Err(mpsc::error::TryRecvError::Empty) => {}
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
            }
            let started = Instant::now();
            self.evict_alone();
            // Rest as long as the step took, unless a write comes: see `REST_POLL`.
            let rested = Instant::now() + started.elapsed();
            while Instant::now() < rested {
                std::thread::sleep(REST_POLL);
                match rx.try_recv() {
                    Ok(op) => return Some(op),
                    Err(mpsc::error::TryRecvError::Empty) => {}
                    Err(mpsc::error::TryRecvError::Disconnected) => return None,
                }
            }
        }
        rx.blocking_recv()
    }

    /// One eviction step in a transaction of its own.
    fn evict_alone(&mut self) {
        let Some(store) = self.store.upgrade() else {
            self.retention.nothing_to_evict = true;
            return;
        };
        let conn = self.conn.clone();
        let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut index_changes = IndexChanges::default();
        let outcome = (|| -> rusqlite::Result<Step> {
            let tx = guard.transaction()?;
            let chunk = Amount {
                items: CHUNK_ITEMS,
                bytes: CHUNK_BYTES,
            };
            let step = self.step(&tx, Amount::default(), chunk, &mut index_changes)?;
            tx.commit()?;
            Ok(step)
        })();
        match outcome {
            Ok(step) => {
                self.event_index.commit(&index_changes);
                self.settle_step(&step);
                drop(guard);
                if step.evicted.envelopes > 0 {
                    store.changes.send_modify(|n| *n += 1);
                }
            }
            Err(err) => {
                tracing::error!(%err, "eviction failed; trying again after the next write");
                self.recount(&guard);
                // Until the next write, which may find the cause gone.
                self.retention.nothing_to_evict = true;
                drop(guard);
            }
        }
        self.bound_wal();
    }
}

#[cfg(test)]
mod tests;
