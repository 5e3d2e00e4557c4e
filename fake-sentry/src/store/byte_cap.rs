//! The in-memory store's byte cap (`--max-memory-bytes`).
//!
//! The count cap (`--max-events`) alone lets 200,000 items of up to 100 MiB each pile up in
//! memory. The writer therefore also keeps a running total of the bytes it has stored (request
//! bodies as sent; payloads as kept: nothing for one kept as its place in the body, the
//! compressed size of another; their headers and audit texts; a fixed overhead per row) and,
//! once a commit takes it past the cap, evicts the oldest envelopes whole (see
//! `store/retention.rs`, which also counts a file's envelopes this way to choose what to evict).
//! The newest envelope is never evicted: one envelope larger than the whole cap is kept alone
//! rather than acknowledged and dropped at once.
//!
//! The total is counted the same way on both sides: in Rust from what is inserted, in SQL
//! (`octet_length`, bytes whatever the column's type) from what is evicted, so it cannot
//! drift. It is recounted in full only when the store opens, after a flush and after a failed
//! commit, never on the ingest path.

use rusqlite::Connection;

use super::PreparedEnvelope;

/// Bytes counted per stored row besides its contents (SQLite's record and index entries, and
/// the listing columns).
const ROW_OVERHEAD: i64 = 512;

/// The bytes one envelope row of `id` holds, in SQL over `envelopes`.
pub(super) const ENVELOPE_BYTES: &str = "(512 + COALESCE(octet_length(raw), 0)
    + COALESCE(octet_length(http_headers), 0) + COALESCE(octet_length(header), 0))";

/// The bytes one item row holds, in SQL over `items`, with what processing its minidump kept
/// (see [`minidump_bytes`]) and its log entries' rows (see `logs::entries_bytes`).
pub(super) const ITEM_BYTES: &str = "(512 + COALESCE(octet_length(payload), 0)
    + COALESCE(octet_length(header), 0) + COALESCE(octet_length(scrubbed), 0)
    + COALESCE(octet_length(findings), 0) + COALESCE(octet_length(scrub_report), 0)
    + COALESCE((SELECT octet_length(m.processed) + octet_length(m.native_event)
                + octet_length(m.search_text) FROM minidumps m WHERE m.seq = items.seq), 0)
    + COALESCE((SELECT SUM(256 + 2 * (octet_length(l.body) + octet_length(l.attributes)))
                FROM logs l WHERE l.seq = items.seq), 0))";

/// The bytes processing kept for the minidump at `seq` (its JSON, native event and search
/// text, compressed), as [`ITEM_BYTES`] counts them: the writer adds the change each outcome
/// makes.
pub(super) fn minidump_bytes(conn: &Connection, seq: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COALESCE(octet_length(processed) + octet_length(native_event)
                + octet_length(search_text), 0) FROM minidumps WHERE seq = ?1",
    )?
    .query_row([seq], |r| r.get(0))
    .or_else(|err| match err {
        rusqlite::Error::QueryReturnedNoRows => Ok(0),
        err => Err(err),
    })
}

/// What an envelope about to be inserted adds to the total, as [`total`] would count it.
pub(super) fn envelope_bytes(prepared: &PreparedEnvelope) -> i64 {
    let env = &prepared.envelope;
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    let mut bytes = ROW_OVERHEAD as usize
        + prepared.raw.len()
        + prepared.http_headers.len()
        + text(&prepared.header_text);
    // What the rows keep: a payload kept in the body counts nothing of its own, a compressed
    // one (and a scrubbed copy) its compressed size.
    for (item, stored) in env.items.iter().zip(&prepared.items) {
        bytes += ROW_OVERHEAD as usize
            + stored.payload.len()
            + text(&stored.header_text)
            + stored.scrubbed.as_ref().map_or(0, Vec::len);
        bytes += super::logs::entries_bytes(&item.meta.logs) as usize;
        if let Some(audit) = &item.audit {
            bytes += audit.findings_json.len() + text(&audit.scrub_report_json);
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

#[cfg(test)]
mod tests {
    use super::super::tests::noise_envelope;
    use super::super::*;
    use super::{envelope_bytes, total};

    fn envelope(event_id: &str, payload_bytes: usize) -> NewEnvelope {
        noise_envelope(event_id, "event".into(), payload_bytes, 100)
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

    /// An in-memory store keeping at most `max_items` envelopes and `max_bytes` bytes.
    fn memory_store(max_items: usize, max_bytes: usize) -> Arc<Store> {
        Store::open_capped(
            &Storage::Memory,
            max_items,
            10,
            usize::MAX,
            1 << 20,
            SyncMode::Off,
            max_bytes,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_oldest_envelopes_go_once_the_bytes_pass_the_cap() {
        // Room for about three envelopes of 100 KiB.
        let cap = 350 * 1024;
        let store = memory_store(1000, cap);
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
        // The cap holds two envelopes and a half, and the count cap keeps two. Were the bytes
        // of count-evicted rows not taken off the total, the byte cap would evict one more.
        let each = envelope_bytes(
            &PreparedEnvelope::new(envelope("0", 1000), BodyStorage::default()).unwrap(),
        );
        assert!(each > 2000, "{each}: the payload stays about as large");
        let store = memory_store(2, (each * 5 / 2) as usize);
        for n in 0..5 {
            store
                .insert(envelope(&format!("{n:x}"), 1000))
                .await
                .unwrap();
            let (items, _, bytes) = stored(&store);
            assert_eq!(items, (n + 1).min(2), "after {n}");
            assert_eq!(bytes, each * items, "Rust and SQL count the same");
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

    /// What processing a minidump keeps counts against the cap like what was sent: the
    /// processed forms of a dump can be larger than the dump.
    #[tokio::test]
    async fn what_processing_keeps_counts_against_the_cap() {
        use crate::store::{PendingMinidump, ProcessingOutcome};
        let cap = 350 * 1024;
        let store = memory_store(1000, cap);
        let mut with_dump = envelope("0", 1000);
        let mut dump = with_dump.items[0].clone();
        dump.item_type = "attachment".into();
        dump.header = serde_json::json!({"attachment_type": "event.minidump"})
            .as_object()
            .cloned();
        with_dump.items.push(dump);
        store.insert(with_dump).await.unwrap();
        // 300 KiB of letters, about 190 KiB compressed.
        let noise = String::from_utf8(
            super::super::tests::noise(300 * 1024)
                .iter()
                .map(|b| b'a' + b % 26)
                .collect(),
        )
        .unwrap();
        let outcome = ProcessingOutcome::Processed {
            processed: serde_json::json!({"text": noise}),
            native_event: serde_json::json!({}),
            signature: "sig".into(),
            summary: "crash".into(),
            search_text: String::new(),
        };
        let pending = PendingMinidump { seq: 2, attempt: 1 };
        assert!(store.record_minidump(pending, outcome).await.unwrap());
        let (_, _, bytes) = stored(&store);
        assert!(bytes > 150 * 1024, "{bytes}: counted in SQL");
        // Two envelopes of 100 KiB: the first with its processed dump must go to keep the cap.
        for n in 1..3 {
            store
                .insert(envelope(&format!("{n:x}"), 100 * 1024))
                .await
                .unwrap();
        }
        let (items, first, bytes) = stored(&store);
        assert!(bytes <= cap as i64, "{bytes} bytes kept");
        assert_eq!(
            (items, first),
            (2, 2),
            "the envelope with the processed dump went"
        );
    }
}
