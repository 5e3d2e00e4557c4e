//! The index against the scan: every query answers what a scan answers, whatever the index has
//! caught up with (nothing, part, all, a flush it has not applied yet), and once it has caught
//! up, a rare word is found without reading the other items.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::indexer::{Indexer, Progress};
use super::{file, for_each_candidate, search_path};
use crate::config::Storage;
use crate::item::ItemMeta;
use crate::store::tests::envelope_of;
use crate::store::text_search::TextQuery;
use crate::store::{ItemFilter, NewItem, Order, Store, StoreOptions, count_items, list_items};

/// Payloads longer than this are not indexed here.
const MAX_BYTES: usize = 1024;

/// Small shards, so that a few hundred items span many.
const SHARD_SEQS: i64 = 16;

/// Texts searched for: in summaries and payloads, in other cases, with letters ASCII folding
/// does not fold, in binary and too long payloads, with NULs, quotes and `LIKE` wildcards, too
/// short for a trigram, and in no item at all.
const QUERIES: &[&str] = &[
    "division",
    "DIVISION BY",
    "zerodivisionerror",
    "école",
    "ÉCOLE",
    "éCOLE",
    "STRASSE",
    "straße",
    "token-1",
    "token-17",
    "token-123456",
    "libxul.SO",
    "nul\0byte",
    "'user'",
    "\"hi\"",
    "0% d",
    "xxxx",
    "event 4",
    "ab",
    "é",
    "",
];

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-sentry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn options(max_items: usize) -> StoreOptions {
    StoreOptions {
        max_items,
        search_index_max_bytes: MAX_BYTES,
        ..StoreOptions::default()
    }
}

/// A store on `db` whose indexer the test steps itself.
fn open(db: &Path, max_items: usize) -> (Arc<Store>, Indexer) {
    Store::open_with_manual_index(&Storage::File(db.into()), &options(max_items), SHARD_SEQS)
        .expect("open")
}

/// Item `n` of the corpus.
fn corpus_item(n: u64) -> NewItem {
    let words = [
        "ZeroDivisionError: division by zero",
        "KeyError: 'user'",
        "ÉCOLE fermée",
        "Straße",
        "100% done",
        "say \"hi\"",
    ];
    let word = words[n as usize % words.len()];
    let summary = match n % 3 {
        0 => format!("{word} #{n}"),
        1 => format!("event {n}"),
        _ => String::new(),
    };
    let payload = match n % 7 {
        0 => [
            &b"MDMP\0\x01\xff\xfe libxul.so "[..],
            format!("token-{n}").as_bytes(),
        ]
        .concat(),
        1 => format!(
            "{{\"message\":\"{word}\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_BYTES)
        )
        .into(),
        2 => format!("nul\0byte token-{n} {word}").into(),
        _ => format!("{{\"message\":\"{word}\",\"id\":\"token-{n}\"}}").into(),
    };
    item(&summary, payload, n)
}

fn item(summary: &str, payload: Vec<u8>, n: u64) -> NewItem {
    NewItem {
        item_type: if n.is_multiple_of(5) {
            "attachment"
        } else {
            "event"
        }
        .into(),
        header: None,
        payload,
        in_body: None,
        meta: ItemMeta {
            summary: summary.into(),
            level: Some(
                if n.is_multiple_of(2) {
                    "error"
                } else {
                    "warning"
                }
                .into(),
            ),
            ..ItemMeta::default()
        },
        audit: None,
    }
}

/// Stores corpus items `range`, one envelope each, in projects 1 to 3 (or all in `project`).
async fn insert(store: &Store, range: Range<u64>, project: Option<u64>) {
    for n in range {
        let project = project.unwrap_or(n % 3 + 1);
        store
            .insert(envelope_of(project, vec![corpus_item(n)]))
            .await
            .expect("insert");
    }
}

fn filters(store: &Store) -> Vec<ItemFilter> {
    let last = store
        .read_blocking(crate::store::last_item_seq)
        .expect("last seq");
    vec![
        ItemFilter::default(),
        ItemFilter {
            project: Some(2),
            ..ItemFilter::default()
        },
        ItemFilter {
            level: Some("error".into()),
            item_type: Some("event".into()),
            ..ItemFilter::default()
        },
        ItemFilter {
            after: Some(last / 3),
            before: Some(last * 2 / 3),
            ..ItemFilter::default()
        },
    ]
}

/// Asserts that every query answers through the store's readers (which have the index) what
/// a connection without the index answers by scanning.
fn assert_agrees_with_scan(store: &Store, db: &Path) {
    let scan = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let ids = |items: Vec<crate::store::ItemSummary>| -> Vec<i64> {
        items.iter().map(|item| item.seq).collect()
    };
    for filter in filters(store) {
        for q in QUERIES {
            let filter = ItemFilter {
                q: Some(q.to_string()),
                ..filter.clone()
            };
            for (order, limit) in [(Order::Desc, 2), (Order::Desc, 1000), (Order::Asc, 3)] {
                let f = filter.clone();
                let indexed = store
                    .read_blocking(move |conn| list_items(conn, &f, order, limit))
                    .expect("list");
                let scanned = list_items(&scan, &filter, order, limit).expect("scan");
                assert_eq!(ids(indexed), ids(scanned), "{filter:?} {order:?} {limit}");
            }
            let f = filter.clone();
            let counted = store
                .read_blocking(move |conn| count_items(conn, &f))
                .expect("count");
            assert_eq!(counted, count_items(&scan, &filter).expect("count"));
        }
    }
}

/// The seqs the index has an entry for.
fn entries(db: &Path) -> Vec<i64> {
    let conn = Connection::open(search_path(db)).expect("search file");
    let mut seqs = Vec::new();
    for id in file::shards(&conn, "main").expect("shards") {
        let sql = format!("SELECT rowid FROM {} ORDER BY rowid", file::shard_table(id));
        let mut stmt = conn.prepare(&sql).expect("entries");
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).expect("entries");
        seqs.extend(rows.map(|r| r.expect("entry")));
    }
    seqs
}

/// [`entries`], or `None` while the search file is still being made (it exists before its
/// tables do), for waits that poll across the indexer making it anew.
fn entries_if_made(db: &Path) -> Option<Vec<i64>> {
    let conn = Connection::open(search_path(db)).ok()?;
    let mut seqs = Vec::new();
    for id in file::shards(&conn, "main").ok()? {
        let sql = format!("SELECT rowid FROM {} ORDER BY rowid", file::shard_table(id));
        let mut stmt = conn.prepare(&sql).ok()?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0)).ok()?;
        for row in rows {
            seqs.push(row.ok()?);
        }
    }
    Some(seqs)
}

fn item_seqs(store: &Store) -> Vec<i64> {
    store
        .read_blocking(|conn| {
            let mut stmt = conn.prepare("SELECT seq FROM items ORDER BY seq")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .expect("seqs")
}

fn watermark(db: &Path) -> i64 {
    let conn = Connection::open(search_path(db)).expect("search file");
    let state = file::read_state(&conn, "main").expect("state");
    state.expect("this format").indexed_through
}

#[tokio::test]
async fn searches_agree_with_the_scan_as_the_index_catches_up() {
    let dir = temp_dir("search-agrees");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 10_000);
    insert(&store, 0..60, None).await;
    // Nothing indexed yet: all of it is the index's tail.
    assert_agrees_with_scan(&store, &db);
    indexer.catch_up().expect("index");
    assert_eq!(entries(&db), item_seqs(&store));
    assert_agrees_with_scan(&store, &db);
    // Part indexed, part not.
    insert(&store, 60..90, None).await;
    assert_agrees_with_scan(&store, &db);
    indexer.catch_up().expect("index");
    assert_eq!(entries(&db), item_seqs(&store));
    assert_eq!(watermark(&db), 90);
    assert_agrees_with_scan(&store, &db);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_rare_word_is_found_without_reading_the_other_items() {
    let dir = temp_dir("search-rare");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 10_000);
    for n in 0..300 {
        let text = match n {
            150 => "the zebracorn word".to_string(),
            n => format!("{{\"message\":\"common words, item {n}\"}}"),
        };
        let envelope = envelope_of(1, vec![item("", text.into_bytes(), 1)]);
        store.insert(envelope).await.expect("insert");
    }
    indexer.catch_up().expect("index");
    let visit = |q: &str, order: Order, limit: usize| {
        let filter = ItemFilter {
            q: Some(q.into()),
            ..ItemFilter::default()
        };
        store
            .read_blocking(move |conn| {
                let text = TextQuery::new(filter.q.as_deref().unwrap_or_default());
                let mut found = Vec::new();
                let visited = for_each_candidate(conn, &filter, &text, order, |item| {
                    if text.matches(conn, &item)? {
                        found.push(item.seq);
                    }
                    Ok(found.len() < limit)
                })?;
                Ok((found, visited))
            })
            .expect("search")
    };
    let (found, visited) = visit("ZEBRACORN", Order::Desc, 100);
    assert_eq!(found, [151]);
    assert!(visited.indexed, "{visited:?}");
    assert_eq!((visited.scanned, visited.probed), (0, 1));
    // A word in every item: the page fills with the first candidates.
    let (found, visited) = visit("common words", Order::Desc, 3);
    assert_eq!(found, [300, 299, 298]);
    assert_eq!((visited.scanned, visited.probed), (0, 3));
    // New items are not indexed yet: they are scanned, the rest still comes from the index.
    store
        .insert(envelope_of(1, vec![item("zebracorn again", vec![], 1)]))
        .await
        .expect("insert");
    let (found, visited) = visit("zebracorn", Order::Asc, 100);
    assert_eq!(found, [151, 301]);
    assert_eq!((visited.scanned, visited.probed), (1, 1));
    // Two characters are no trigram: a scan.
    let (_, visited) = visit("ze", Order::Asc, 100);
    assert!(!visited.indexed);
    assert_eq!(visited.scanned, 301);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn evicted_items_leave_the_index_with_their_shards() {
    let dir = temp_dir("search-evicted");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 40);
    for batch in 0..5 {
        insert(&store, batch * 20..batch * 20 + 20, None).await;
        indexer.catch_up().expect("index");
        assert_agrees_with_scan(&store, &db);
    }
    let seqs = item_seqs(&store);
    assert_eq!((seqs[0], seqs.len()), (61, 40));
    let conn = Connection::open(search_path(&db)).expect("search file");
    // Shards 0-2 held seqs 1-47, all gone; shard 3 still holds 61-63.
    assert_eq!(file::shards(&conn, "main").expect("shards"), [3, 4, 5, 6]);
    assert_eq!(
        entries(&db).first(),
        Some(&48),
        "stale entries until the shard goes"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn seqs_a_flush_frees_are_not_trusted_until_the_index_catches_up() {
    let dir = temp_dir("search-flushed");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 10_000);
    insert(&store, 0..40, None).await;
    insert(&store, 40..60, Some(9)).await;
    indexer.catch_up().expect("index");
    assert_eq!(watermark(&db), 60);
    // Project 9 held the newest items: SQLite hands their seqs out again.
    assert_eq!(store.flush(Some(9)).await.expect("flush"), 20);
    let floors: Vec<i64> = store
        .read_blocking(|conn| {
            let mut stmt = conn.prepare("SELECT floor FROM search_floors ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .expect("floors");
    assert_eq!(floors, [41]);
    insert(&store, 100..130, Some(1)).await;
    assert_eq!(item_seqs(&store)[40..].first(), Some(&41), "seqs reused");
    // The index still holds project 9's texts at seqs 41-60, and its watermark is 60.
    assert_eq!(watermark(&db), 60);
    assert_agrees_with_scan(&store, &db);
    assert_eq!(indexer.step().expect("step"), Progress::Busy);
    assert_eq!(watermark(&db), 40, "lowered below the floor");
    assert_agrees_with_scan(&store, &db);
    indexer.catch_up().expect("index");
    assert_eq!(entries(&db), item_seqs(&store));
    assert_agrees_with_scan(&store, &db);

    // A flush of a project whose items are not the newest frees no seq: its entries are
    // collected.
    store.flush(Some(2)).await.expect("flush");
    assert_agrees_with_scan(&store, &db);
    assert!(entries(&db).len() > item_seqs(&store).len());
    indexer.collect().expect("collect");
    assert_eq!(entries(&db), item_seqs(&store));
    assert_agrees_with_scan(&store, &db);

    // Flushing everything starts the seqs over.
    store.flush(None).await.expect("flush");
    insert(&store, 200..220, None).await;
    assert_agrees_with_scan(&store, &db);
    indexer.catch_up().expect("index");
    assert_eq!(entries(&db), (1..=20).collect::<Vec<i64>>());
    assert_agrees_with_scan(&store, &db);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_restarted_indexer_resumes_where_it_stopped() {
    let dir = temp_dir("search-restart");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 10_000);
    insert(&store, 0..30, None).await;
    indexer.catch_up().expect("index");
    insert(&store, 30..50, None).await;
    drop((store, indexer));
    let (store, mut indexer) = open(&db, 10_000);
    assert_eq!(watermark(&db), 30, "kept, not started over");
    assert_agrees_with_scan(&store, &db);
    indexer.catch_up().expect("index");
    assert_eq!(entries(&db), item_seqs(&store), "each item once");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Opens a store with its indexer thread and waits until it has indexed everything.
async fn open_and_wait(db: &Path) -> Arc<Store> {
    let store = Store::open_with(&Storage::File(db.into()), &options(10_000)).expect("open");
    let last = store
        .read_blocking(crate::store::last_item_seq)
        .expect("last seq");
    let mut indexed = store.search.as_ref().expect("an index").indexed();
    tokio::time::timeout(Duration::from_secs(60), indexed.wait_for(|w| *w >= last))
        .await
        .expect("indexed in time")
        .expect("indexer running");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_damaged_or_foreign_search_file_is_made_anew() {
    let dir = temp_dir("search-remade");
    let db = dir.join("db.sqlite");
    let store = open_and_wait(&db).await;
    insert(&store, 0..40, None).await;
    drop(store);
    let store = open_and_wait(&db).await;
    assert_eq!(entries(&db), item_seqs(&store));
    drop(store);

    file::remove(&search_path(&db));
    let store = open_and_wait(&db).await;
    assert_eq!(entries(&db), item_seqs(&store));
    assert_agrees_with_scan(&store, &db);
    drop(store);

    file::remove(&search_path(&db));
    std::fs::write(search_path(&db), vec![0x5a; 64 << 10]).expect("garbage");
    let store = open_and_wait(&db).await;
    assert_eq!(entries(&db), item_seqs(&store));
    assert_agrees_with_scan(&store, &db);
    drop(store);

    // Another database at the same path: the file it finds is not its own.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store = open_and_wait(&db).await;
    insert(&store, 0..5, None).await;
    assert_agrees_with_scan(&store, &db);
    drop(store);
    let store = open_and_wait(&db).await;
    assert_eq!(entries(&db), [1, 2, 3, 4, 5]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_file_removed_under_its_indexer_is_made_anew() {
    let dir = temp_dir("search-removed");
    let db = dir.join("db.sqlite");
    let store = open_and_wait(&db).await;
    insert(&store, 0..20, None).await;
    store.search_indexed().await.expect("indexed");
    file::remove(&search_path(&db));
    insert(&store, 20..30, None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let search = search_path(&db);
    // The indexer makes the file, then its tables: until both exist there is nothing to read.
    while !(search.exists() && entries_if_made(&db) == Some(item_seqs(&store))) {
        assert!(
            std::time::Instant::now() < deadline,
            "the index was not made anew"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_agrees_with_scan(&store, &db);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a processed minidump found (its frames' functions) is found through the index, whether
/// the event was indexed before processing finished (the indexer adds it) or after (it is
/// indexed with it); until the index has it, the event is scanned.
#[tokio::test]
async fn what_processed_minidumps_found_is_searched_through_the_index() {
    use crate::store::{PendingMinidump, ProcessingOutcome};
    let dir = temp_dir("search-native");
    let db = dir.join("db.sqlite");
    let (store, mut indexer) = open(&db, 10_000);
    let minidump = || {
        let mut dump = item("", b"MDMP\0\0".to_vec(), 1);
        dump.item_type = "attachment".into();
        dump.header =
            serde_json::json!({"type": "attachment", "attachment_type": "event.minidump"})
                .as_object()
                .cloned();
        dump
    };
    let crash = |function: &str| ProcessingOutcome::Processed {
        processed: serde_json::json!({}),
        native_event: serde_json::json!({}),
        signature: "sig".into(),
        summary: "SIGSEGV at 0x0 | sig".into(),
        search_text: format!("SIGSEGV\n{function}\n"),
    };
    // Seqs 1-2: processed after the index took the event in; 3-4: before.
    for _ in 0..2 {
        let envelope = envelope_of(1, vec![item("native", b"{}".to_vec(), 1), minidump()]);
        store.insert(envelope).await.expect("insert");
    }
    indexer.catch_up().expect("index");
    let pending = PendingMinidump { seq: 2, attempt: 1 };
    assert!(
        store
            .record_minidump(pending, crash("late_frame_fn"))
            .await
            .expect("record")
    );
    let search = |q: &str| {
        let filter = ItemFilter {
            q: Some(q.into()),
            item_type: Some("event".into()),
            ..ItemFilter::default()
        };
        store
            .read_blocking(move |conn| {
                let text = TextQuery::new(filter.q.as_deref().unwrap_or_default());
                let mut found = Vec::new();
                let visited = for_each_candidate(conn, &filter, &text, Order::Asc, |item| {
                    if text.matches(conn, &item)? {
                        found.push(item.seq);
                    }
                    Ok(true)
                })?;
                Ok((found, visited))
            })
            .expect("search")
    };
    // Not in the index yet: the event is scanned from its seq up, and found.
    let (found, visited) = search("late_frame_fn");
    assert_eq!(found, [1]);
    assert_eq!(visited.scanned, 2, "{visited:?}");
    indexer.catch_up().expect("index");
    let (found, visited) = search("late_frame_fn");
    assert_eq!(found, [1]);
    assert_eq!(
        (visited.scanned, visited.probed),
        (0, 1),
        "through the index"
    );
    let envelope = envelope_of(1, vec![item("native", b"{}".to_vec(), 1), minidump()]);
    store.insert(envelope).await.expect("insert");
    let pending = PendingMinidump { seq: 4, attempt: 1 };
    assert!(
        store
            .record_minidump(pending, crash("early_frame_fn"))
            .await
            .expect("record")
    );
    indexer.catch_up().expect("index");
    let (found, visited) = search("early_frame_fn");
    assert_eq!(found, [3]);
    assert_eq!(
        (visited.scanned, visited.probed),
        (0, 1),
        "through the index"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
