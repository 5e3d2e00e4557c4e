//! The in-memory store's byte cap (`--max-memory-bytes`).
//!
//! The count cap (`--max-events`) alone lets 200,000 items of up to 100 MiB each pile up in
//! memory. The writer therefore also keeps a running total of the bytes it has stored (request
//! bodies as sent, payloads, their headers and audit texts, plus a fixed overhead per row) and,
//! once a commit takes it past the cap, evicts the oldest envelopes whole, as the count cap
//! evicts the oldest items. The newest envelope is never evicted by bytes: one envelope larger
//! than the whole cap is kept alone rather than acknowledged and dropped at once.
//!
//! The total is counted the same way on both sides: in Rust from what is inserted, in SQL
//! (`octet_length`, bytes whatever the column's type) from what is evicted, so it cannot
//! drift. It is recounted in full only when the store opens, after a flush and after a failed
//! commit, never on the ingest path.

use rusqlite::Connection;

use super::PreparedEnvelope;
use super::event_index::IndexChanges;

/// Bytes counted per stored row besides its contents (SQLite's record and index entries, and
/// the listing columns).
const ROW_OVERHEAD: i64 = 512;

/// The bytes one envelope row of `id` holds, in SQL over `envelopes`.
const ENVELOPE_BYTES: &str = "(512 + COALESCE(octet_length(raw), 0)
    + COALESCE(octet_length(http_headers), 0) + COALESCE(octet_length(header), 0))";

/// The bytes one item row holds, in SQL over `items`.
const ITEM_BYTES: &str = "(512 + COALESCE(octet_length(payload), 0)
    + COALESCE(octet_length(header), 0) + COALESCE(octet_length(scrubbed), 0)
    + COALESCE(octet_length(findings), 0) + COALESCE(octet_length(scrub_report), 0))";

/// What an envelope about to be inserted adds to the total, as [`total`] would count it.
pub(super) fn envelope_bytes(prepared: &PreparedEnvelope) -> i64 {
    let env = &prepared.envelope;
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    let mut bytes = ROW_OVERHEAD as usize
        + env.body.len()
        + env.http_headers.len()
        + text(&prepared.header_text);
    for (item, header) in env.items.iter().zip(&prepared.item_header_texts) {
        bytes += ROW_OVERHEAD as usize + item.payload.len() + text(header);
        if let Some(audit) = &item.audit {
            bytes += audit.findings_json.len()
                + audit.scrubbed.as_ref().map_or(0, Vec::len)
                + text(&audit.scrub_report_json);
        }
    }
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Every byte stored, counted in full.
pub(super) fn total(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!(
            "SELECT COALESCE((SELECT SUM({ENVELOPE_BYTES}) FROM envelopes), 0)
                  + COALESCE((SELECT SUM({ITEM_BYTES}) FROM items), 0)"
        ),
        [],
        |r| r.get(0),
    )
}

/// The bytes of the `excess` oldest items and of the envelopes that removing them leaves
/// empty, as [`super::evict_oldest`] is about to delete them.
pub(super) fn oldest_items_bytes(conn: &Connection, excess: i64) -> rusqlite::Result<i64> {
    let items: i64 = conn
        .prepare_cached(&format!(
            "SELECT COALESCE(SUM({ITEM_BYTES}), 0) FROM items WHERE seq IN
             (SELECT seq FROM items ORDER BY seq LIMIT ?1)"
        ))?
        .query_row([excess], |r| r.get(0))?;
    let envelopes: i64 = conn
        .prepare_cached(&format!(
            "SELECT COALESCE(SUM({ENVELOPE_BYTES}), 0) FROM envelopes WHERE id <
             (SELECT COALESCE(MIN(envelope_id), 9223372036854775807) FROM items WHERE seq NOT IN
              (SELECT seq FROM items ORDER BY seq LIMIT ?1))"
        ))?
        .query_row([excess], |r| r.get(0))?;
    Ok(items + envelopes)
}

/// Evicts the oldest envelopes, items and all, until at least `excess` bytes are freed or only
/// the newest envelope is left. Returns the items and bytes removed.
pub(super) fn evict(
    conn: &Connection,
    excess: i64,
    index_changes: &mut IndexChanges,
) -> rusqlite::Result<(i64, i64)> {
    let newest: Option<i64> = conn.query_row("SELECT MAX(id) FROM envelopes", [], |r| r.get(0))?;
    let Some(newest) = newest else {
        return Ok((0, 0));
    };
    let mut last = None;
    let (mut items, mut freed) = (0i64, 0i64);
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT e.id, {ENVELOPE_BYTES}
                 + COALESCE((SELECT SUM({ITEM_BYTES}) FROM items WHERE envelope_id = e.id), 0),
               (SELECT COUNT(*) FROM items WHERE envelope_id = e.id)
             FROM envelopes AS e WHERE e.id < ?1 ORDER BY e.id"
        ))?;
        let mut rows = stmt.query([newest])?;
        while freed < excess {
            let Some(row) = rows.next()? else {
                break;
            };
            last = Some(row.get::<_, i64>(0)?);
            freed += row.get::<_, i64>(1)?;
            items += row.get::<_, i64>(2)?;
        }
    }
    let Some(last) = last else {
        return Ok((0, 0));
    };
    index_changes.remove_rows(
        conn.prepare_cached(
            "SELECT seq, event_id FROM items WHERE envelope_id <= ?1 AND event_id IS NOT NULL",
        )?
        .query_map([last], |r| Ok((r.get(0)?, r.get(1)?)))?,
    )?;
    conn.execute("DELETE FROM items WHERE envelope_id <= ?1", [last])?;
    conn.execute("DELETE FROM envelopes WHERE id <= ?1", [last])?;
    Ok((items, freed))
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::total;

    fn envelope(event_id: &str, payload_bytes: usize) -> NewEnvelope {
        NewEnvelope {
            project_id: 1,
            endpoint: "envelope",
            received_at_ms: 1,
            auth: Auth::none(),
            user_agent: None,
            content_type: None,
            content_encoding: None,
            header: None,
            body: bytes::Bytes::from(vec![b'b'; 100]),
            decoded_size: 100,
            http_headers: "{}".into(),
            items: vec![NewItem {
                item_type: "event".into(),
                header: None,
                payload: vec![b'p'; payload_bytes],
                meta: ItemMeta {
                    event_id: Some(event_id.to_string()),
                    summary: "event".into(),
                    ..ItemMeta::default()
                },
                audit: None,
            }],
        }
    }

    fn stored(store: &Store) -> (i64, i64, i64) {
        store
            .read_blocking(|conn| {
                let items = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))?;
                let first: i64 =
                    conn.query_row("SELECT COALESCE(MIN(envelope_id), 0) FROM items", [], |r| {
                        r.get(0)
                    })?;
                Ok((items, first, total(conn)?))
            })
            .expect("read")
    }

    #[tokio::test]
    async fn the_oldest_envelopes_go_once_the_bytes_pass_the_cap() {
        // Room for about three envelopes of 100 KiB.
        let cap = 350 * 1024;
        let store = Store::open_capped(
            &Storage::Memory,
            1000,
            10,
            usize::MAX,
            1 << 20,
            SyncMode::Off,
            cap,
        )
        .unwrap();
        for n in 0..10 {
            let id = format!("{n:032x}");
            store.insert(envelope(&id, 100 * 1024)).await.unwrap();
            let (items, _, bytes) = stored(&store);
            assert!(bytes <= cap as i64, "{bytes} bytes kept after {n}");
            assert_eq!(items, (n + 1).min(3), "after {n}");
        }
        let (_, first, _) = stored(&store);
        assert_eq!(first, 8, "the newest three envelopes stay");
        // The event index forgot the evicted ones.
        assert!(
            store
                .event_index
                .candidates(&format!("{:032x}", 0))
                .is_empty()
        );

        // One envelope larger than the whole cap is kept alone.
        store.insert(envelope("ff", 400 * 1024)).await.unwrap();
        let (items, first, _) = stored(&store);
        assert_eq!((items, first), (1, 11));
    }

    #[tokio::test]
    async fn count_eviction_and_flush_keep_the_total_right() {
        // Each envelope counts 2,126 bytes: the cap holds two, and the count cap keeps two. Were
        // the bytes of count-evicted rows not taken off the total, the byte cap would evict
        // one more.
        let store = Store::open_capped(
            &Storage::Memory,
            2,
            10,
            usize::MAX,
            1 << 20,
            SyncMode::Off,
            5000,
        )
        .unwrap();
        for n in 0..5 {
            store
                .insert(envelope(&format!("{n:x}"), 1000))
                .await
                .unwrap();
            let (items, _, bytes) = stored(&store);
            assert_eq!(items, (n + 1).min(2), "after {n}");
            assert_eq!(bytes, 2126 * items);
        }
        store.flush(None).await.unwrap();
        assert_eq!(stored(&store).2, 0);
        for n in 0..2 {
            store
                .insert(envelope(&format!("{n:x}"), 1000))
                .await
                .unwrap();
        }
        assert_eq!(stored(&store).0, 2, "the flush reset the total");
    }
}
