//! The store end to end: writes, failures, restarts, migrations and query plans.

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

use super::schema::{MEMORY_PAGE_SIZE, SCHEMA};
use super::*;

/// `len` bytes that do not compress (xorshift), for payloads that must take room however they
/// are stored.
pub(super) fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

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
            .read_blocking(|conn| conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)))
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
    envelope_of(
        project,
        event_ids
            .iter()
            .map(|id| NewItem {
                item_type: "event".into(),
                header: None,
                payload: b"{}".to_vec(),
                in_body: None,
                meta: ItemMeta {
                    event_id: Some(id.to_string()),
                    summary: format!("event {id}"),
                    ..ItemMeta::default()
                },
                audit: None,
            })
            .collect(),
    )
}

/// An envelope of project `project` holding `items`, its body a stand-in.
pub(super) fn envelope_of(project: u64, items: Vec<NewItem>) -> NewEnvelope {
    NewEnvelope {
        project_id: project,
        endpoint: "envelope",
        received_at_ms: 1,
        auth: Auth::none(),
        user_agent: None,
        content_type: None,
        content_encoding: None,
        header: None,
        header_is_first_line: false,
        body: bytes::Bytes::from_static(b"{}"),
        decoded: None,
        decoded_size: 2,
        http_headers: "{}".into(),
        items,
    }
}

/// An envelope of project 1 with one event item of id `event_id` whose payload is
/// `payload_bytes` of noise (kept compressed, so it takes as much room as it is long), and a
/// stand-in body of `body_bytes`.
pub(super) fn noise_envelope(
    event_id: &str,
    summary: String,
    payload_bytes: usize,
    body_bytes: usize,
) -> NewEnvelope {
    let mut envelope = envelope_of(
        1,
        vec![NewItem {
            item_type: "event".into(),
            header: None,
            payload: noise(payload_bytes),
            in_body: None,
            meta: ItemMeta {
                event_id: Some(event_id.to_string()),
                summary,
                ..ItemMeta::default()
            },
            audit: None,
        }],
    );
    envelope.body = bytes::Bytes::from(vec![b'b'; body_bytes]);
    envelope.decoded_size = body_bytes;
    envelope
}

/// Makes SQLite abort the one statement that inserts an item of type `poison`, on the
/// connection an in-memory store writes with: a write that fails halfway.
fn poison_items(store: &Store) {
    store
        .read_blocking(|conn| {
            conn.execute_batch(
                "CREATE TEMP TRIGGER poison BEFORE INSERT ON items
                 WHEN NEW.item_type = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poisoned item'); END",
            )
        })
        .expect("trigger");
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
    poison_items(&store);
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
            .read_blocking(|conn| conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0)))
            .expect("page count")
    };
    let full = page_count(&store);
    store
        .read_blocking(move |conn| {
            conn.query_row(&format!("PRAGMA max_page_count = {full}"), [], |_| Ok(()))
        })
        .expect("cap the database");
    let mut big = envelope(3, &[&id(30), &id(31)]);
    big.items[1].payload = noise(256 * 1024);
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
                let rows = stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))?;
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
    let store = Store::open(&Storage::File(path), 10, 10, 1 << 20, SyncMode::Off).expect("open");
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

/// Item counts per type.
type TypeCounts = Vec<(String, u64)>;

/// The counts `/api/stats/` and the list page read, as a `GROUP BY` over the items computes
/// them: both ways must always agree.
fn counts_both_ways(store: &Store) -> (TypeCounts, TypeCounts) {
    store
        .read_blocking(|conn| {
            let kept = counts_by_type(conn, None)?;
            let mut stmt = conn.prepare(
                "SELECT item_type, COUNT(*) FROM items GROUP BY item_type ORDER BY item_type",
            )?;
            let counted = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((kept, counted))
        })
        .expect("counts")
}

/// The kept counts follow inserts, an envelope undone halfway, eviction and flushes, and a
/// database written before them gets them counted when it opens.
#[tokio::test]
async fn item_counts_follow_every_insert_and_delete() {
    // In memory, where the test's trigger is on the connection that writes.
    let store = Store::open(&Storage::Memory, 6, 10, 1 << 20, SyncMode::Off).expect("open");
    poison_items(&store);
    let id = |n: u32| format!("{n:032x}");
    let mut mixed = envelope(2, &[&id(1), &id(2), &id(3)]);
    mixed.items[1].item_type = "transaction".into();
    store.insert(mixed).await.expect("insert");
    store.insert(envelope(3, &[&id(4)])).await.expect("insert");
    let mut poisoned = envelope(2, &[&id(5), &id(6)]);
    poisoned.items[1].item_type = "poison".into();
    store.insert(poisoned).await.expect_err("poisoned");
    let (kept, counted) = counts_both_ways(&store);
    assert_eq!(kept, counted);
    assert_eq!(kept, [("event".into(), 3), ("transaction".into(), 1)]);
    assert_eq!(store.read_blocking(projects).expect("projects"), [2, 3]);

    // Past --max-events (6) the oldest go.
    for n in 10..14 {
        store
            .insert(envelope(4, &[&id(n), &id(n + 100)]))
            .await
            .expect("insert");
    }
    let (kept, counted) = counts_both_ways(&store);
    assert_eq!(kept, counted);
    assert_eq!(kept.iter().map(|(_, n)| n).sum::<u64>(), 6);

    store.flush(Some(4)).await.expect("flush");
    let (kept, counted) = counts_both_ways(&store);
    assert_eq!(kept, counted);
    assert!(store.read_blocking(projects).expect("projects").is_empty());

    // A database written before the counts has them counted when it opens.
    let dir = temp_dir("item-counts");
    let path = dir.join("db.sqlite");
    let open = || Store::open(&Storage::File(path.clone()), 6, 10, 1 << 20, SyncMode::Off);
    let store = open().expect("open");
    store.insert(envelope(5, &[&id(20)])).await.expect("insert");
    drop(store);
    Connection::open(&path)
        .expect("open")
        .execute_batch(
            "DROP TRIGGER item_counts_insert; DROP TRIGGER item_counts_delete;
             DROP TABLE item_counts;",
        )
        .expect("drop");
    let store = open().expect("reopen");
    let (kept, counted) = counts_both_ways(&store);
    assert_eq!(kept, [("event".into(), 1)]);
    assert_eq!(kept, counted);
    store.insert(envelope(5, &[&id(21)])).await.expect("insert");
    assert_eq!(counts_both_ways(&store).0, [("event".into(), 2)]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows of the counts kept, zeros included.
fn count_rows(store: &Store) -> i64 {
    store
        .read_blocking(|conn| conn.query_row("SELECT COUNT(*) FROM item_counts", [], |r| r.get(0)))
        .expect("rows")
}

/// Item types are the client's to name: a count whose last item is gone leaves no row, so
/// types sent once each cannot grow the table past what retention keeps, and a database whose
/// old trigger kept such rows loses them when it opens.
#[tokio::test]
async fn item_counts_keep_no_row_for_a_type_no_item_has() {
    let id = |n: u32| format!("{n:032x}");
    let typed = |n: u32| {
        let mut one = envelope(1 + u64::from(n % 3), &[&id(n)]);
        one.items[0].item_type = format!("type-{n}-{}", "x".repeat(1000));
        one
    };
    let store = Store::open(&Storage::Memory, 5, 10, 1 << 20, SyncMode::Off).expect("open");
    for n in 0..200 {
        store.insert(typed(n)).await.expect("insert");
    }
    assert_eq!(count_rows(&store), 5, "one row per type still held");
    let (kept, counted) = counts_both_ways(&store);
    assert_eq!(kept, counted);
    store.flush(None).await.expect("flush");
    assert_eq!(count_rows(&store), 0);

    // A file written with the trigger that kept zeros: its rows at zero go when it opens,
    // and so does its trigger.
    let dir = temp_dir("item-count-rows");
    let path = dir.join("db.sqlite");
    let open = || Store::open(&Storage::File(path.clone()), 5, 10, 1 << 20, SyncMode::Off);
    let store = open().expect("open");
    for n in 0..20 {
        store.insert(typed(n)).await.expect("insert");
    }
    drop(store);
    Connection::open(&path)
        .expect("open")
        .execute_batch(
            "DROP TRIGGER item_counts_delete;
             CREATE TRIGGER item_counts_delete AFTER DELETE ON items BEGIN
                 UPDATE item_counts SET items = items - 1
                 WHERE project_id = OLD.project_id AND item_type = OLD.item_type;
             END;
             INSERT INTO item_counts VALUES (1, 'gone', 0, 0, 0), (2, 'gone too', 0, 0, 0);",
        )
        .expect("old trigger and its zeros");
    let store = open().expect("reopen");
    assert_eq!(count_rows(&store), 5);
    for n in 100..120 {
        store.insert(typed(n)).await.expect("insert");
    }
    assert_eq!(count_rows(&store), 5);
    assert_eq!(counts_both_ways(&store).0.len(), 5);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
