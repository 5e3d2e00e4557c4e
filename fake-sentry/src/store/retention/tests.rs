//! Retention end to end: caps kept while envelopes arrive, and a store opened over lower caps
//! catching up in bounded steps while it takes writes.

use std::time::{Duration, Instant};

use super::super::tests::noise_envelope;
use super::super::*;
use super::{CHUNK_BYTES, CHUNK_ITEMS, database_bytes};

/// How long a wait for the writer may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// An envelope of one event item with a `payload_bytes` payload that does not compress and the
/// event id of `n`.
fn envelope(n: usize, payload_bytes: usize) -> NewEnvelope {
    noise_envelope(&event_id(n), format!("event {n}"), payload_bytes, 200)
}

fn event_id(n: usize) -> String {
    format!("{n:032x}")
}

fn temp_db(name: &str) -> (PathBuf, Storage) {
    let dir = std::env::temp_dir().join(format!("fake-sentry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let storage = Storage::File(dir.join("db.sqlite"));
    (dir, storage)
}

fn open(storage: &Storage, max_items: usize, max_db_bytes: Option<u64>) -> Arc<Store> {
    let options = StoreOptions {
        max_items,
        max_refusals: 10,
        max_refusal_bytes: 1 << 20,
        max_wal_bytes: 1 << 20,
        max_db_bytes,
        ..StoreOptions::default()
    };
    Store::open_with(storage, &options).expect("open")
}

/// Items stored and what the database holds, as a reader sees them.
fn held(store: &Store) -> (i64, i64) {
    store
        .read_blocking(|conn| {
            let items = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))?;
            Ok((items, database_bytes(conn)?))
        })
        .expect("read")
}

/// Stores envelopes `range` from `tasks` concurrent senders, so that they share transactions.
async fn send(store: &Arc<Store>, range: std::ops::Range<usize>, payload: usize, tasks: usize) {
    let senders: Vec<_> = (0..tasks)
        .map(|task| {
            let store = store.clone();
            let range = range.clone();
            tokio::spawn(async move {
                for n in range.skip(task).step_by(tasks) {
                    store.insert(envelope(n, payload)).await.expect("insert");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
}

/// Polls `done` until it holds, failing after [`DEADLINE`].
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A file under `--max-db-size` stays within it while envelopes keep arriving (each
/// transaction evicts what it stored), give or take what choosing by estimated bytes leaves,
/// which the next transaction takes back: the bound is a tenth of the cap here, though none
/// was seen. The file itself stops growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_stays_within_its_size_cap_while_envelopes_keep_arriving() {
    const CAP: u64 = 2 << 20;
    const SLACK: i64 = CAP as i64 / 10;
    let (dir, storage) = temp_db("size-cap");
    let store = open(&storage, usize::MAX >> 2, Some(CAP));
    let mut largest = 0;
    // 8 KiB envelopes, 20 MB in all: ten times the cap.
    for round in 0..25 {
        send(&store, round * 100..(round + 1) * 100, 8 << 10, 4).await;
        largest = largest.max(held(&store).1);
    }
    assert!(
        largest <= CAP as i64 + SLACK,
        "held {largest} bytes, cap {CAP}"
    );
    let (items, bytes) = held(&store);
    assert!(
        items > 100 && bytes > CAP as i64 / 2,
        "{items} items, {bytes} bytes kept: evicted too much"
    );
    // The newest survive, the oldest are gone, and the index agrees with the table.
    assert_eq!(store.event_index.candidates(&event_id(2499)).len(), 1);
    assert!(store.event_index.candidates(&event_id(0)).is_empty());
    assert_eq!(store.event_index.len() as i64, items);
    let stats = store.evictions();
    assert!(stats.largest_step_items <= CHUNK_ITEMS, "{stats:?}");
    drop(store);
    // Freed pages were reused: the file is not much larger than the cap (plus the batch that
    // is inserted before the eviction that makes room for it).
    let file = std::fs::metadata(dir.join("db.sqlite")).expect("db").len();
    assert!(file <= 2 * CAP, "the file grew to {file} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file reopened with a ten times lower `--max-events` catches up a chunk per transaction,
/// taking writes meanwhile: a write is answered long before the catch-up is done, no
/// transaction evicts more than a chunk beyond what it stored, and it ends within the cap with
/// the newest items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_with_a_lower_count_cap_evicts_in_bounded_steps() {
    const STORED: usize = 5000;
    const CAP: usize = 500;
    let (dir, storage) = temp_db("count-catch-up");
    let store = open(&storage, usize::MAX >> 2, None);
    send(&store, 0..STORED, 100, 8).await;
    drop(store);

    let store = open(&storage, CAP, None);
    store
        .insert(envelope(STORED, 100))
        .await
        .expect("a write while catching up");
    let (items, _) = held(&store);
    assert!(
        items > 2 * CAP as i64,
        "the write waited for the catch-up: {items} items left when it was answered"
    );
    send(&store, STORED + 1..STORED + 50, 100, 4).await;
    // Steps are counted once their transaction commits, so a reader can see the last one
    // before it is counted: wait for the count, then check the table against it.
    let evicted = (STORED + 50 - CAP) as u64;
    wait_until("every eviction counted", || {
        store.evictions().items >= evicted
    })
    .await;
    let stats = store.evictions();
    assert!(stats.largest_step_items <= CHUNK_ITEMS, "{stats:?}");
    assert_eq!(stats.items, evicted, "{stats:?}");
    assert!(
        stats.transactions >= evicted.div_ceil(CHUNK_ITEMS as u64),
        "{stats:?}"
    );
    assert_eq!(
        held(&store).0,
        CAP as i64,
        "one item per envelope: exactly the cap"
    );
    assert_eq!(store.event_index.len(), CAP);
    // What was written after the restart is the newest, and the first written is gone.
    for n in STORED..STORED + 50 {
        assert_eq!(store.event_index.candidates(&event_id(n)).len(), 1, "{n}");
    }
    assert!(store.event_index.candidates(&event_id(0)).is_empty());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same with `--max-db-size`: steps of at most a chunk of bytes, ending within the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_with_a_lower_size_cap_evicts_in_bounded_steps() {
    const PAYLOAD: usize = 64 << 10;
    let (dir, storage) = temp_db("size-catch-up");
    let store = open(&storage, usize::MAX >> 2, None);
    send(&store, 0..300, PAYLOAD, 4).await;
    let (_, full) = held(&store);
    drop(store);

    let cap = full as u64 / 10;
    let store = open(&storage, usize::MAX >> 2, Some(cap));
    store
        .insert(envelope(300, PAYLOAD))
        .await
        .expect("a write while catching up");
    wait_until("within the size cap", || {
        held(&store).1 <= cap as i64 + cap as i64 / 10
    })
    .await;
    // The step a reader saw last may not be counted yet (counts follow the commit).
    let steps = (full - cap as i64) / CHUNK_BYTES;
    wait_until("the steps counted", || {
        store.evictions().transactions as i64 >= steps
    })
    .await;
    let stats = store.evictions();
    assert!(stats.largest_step_bytes <= CHUNK_BYTES, "{stats:?}");
    let (items, _) = held(&store);
    assert!(items >= 10, "{items} items kept: evicted too much");
    assert_eq!(store.event_index.candidates(&event_id(300)).len(), 1);
    assert_eq!(store.event_index.len() as i64, items);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Eviction takes envelopes whole and never the newest: one envelope with more items than
/// `--max-events` is kept alone until the next one arrives, and the writer does not spin
/// meanwhile (no commits while nothing can go).
#[tokio::test]
async fn the_newest_envelope_is_kept_whole() {
    let store = open(&Storage::Memory, 4, None);
    let many = |first: usize, count: usize| {
        let mut envelope = envelope(first, 10);
        let item = envelope.items[0].clone();
        envelope.items = (first..first + count)
            .map(|n| {
                let mut item = item.clone();
                item.meta.event_id = Some(event_id(n));
                item
            })
            .collect();
        envelope
    };
    store.insert(many(0, 2)).await.expect("insert");
    store.insert(many(10, 6)).await.expect("insert");
    assert_eq!(held(&store).0, 6, "the newest envelope alone, over the cap");
    let version = store.version();
    // A read on the writer's connection waits for whatever the writer is doing.
    for _ in 0..20 {
        held(&store);
    }
    assert_eq!(store.version(), version, "the writer keeps committing");
    store.insert(many(20, 1)).await.expect("insert");
    assert_eq!(held(&store).0, 1);
    assert!(store.event_index.candidates(&event_id(15)).is_empty());
}

/// In memory, `--max-db-size` caps the store as well when it is below `--max-memory-bytes`.
#[tokio::test]
async fn in_memory_the_smaller_byte_cap_applies() {
    let options = StoreOptions {
        max_items: 1000,
        max_refusals: 10,
        max_refusal_bytes: 1 << 20,
        max_wal_bytes: 1 << 20,
        max_memory_bytes: 1 << 30,
        max_db_bytes: Some(100 << 10),
        ..StoreOptions::default()
    };
    let store = Store::open_with(&Storage::Memory, &options).expect("open");
    send(&store, 0..20, 30 << 10, 1).await;
    let bytes = store
        .read_blocking(super::super::byte_cap::total)
        .expect("total");
    assert!(bytes <= 100 << 10, "{bytes} bytes kept");
    assert_eq!(held(&store).0, 3);
}

/// Choosing, finding event ids and deleting go through indexes, never a scan of `items`.
#[test]
fn eviction_reads_items_through_the_envelope_index() {
    let store = open(&Storage::Memory, 10, None);
    let plans = store
        .read_blocking(|conn| {
            let mut plans = Vec::new();
            for sql in [
                super::OLDEST_ENVELOPES.as_str(),
                "SELECT seq, event_id FROM items WHERE envelope_id <= 1 AND event_id IS NOT NULL",
                "DELETE FROM items WHERE envelope_id <= 1",
            ] {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                plans.push(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("; "));
            }
            Ok(plans)
        })
        .expect("plans");
    for plan in plans {
        assert!(!plan.contains("SCAN items"), "{plan}");
    }
}
