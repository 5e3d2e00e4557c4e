//! The in-memory store's byte cap (`--max-memory-bytes`).
//!
//! The count cap (`--max-events`) alone lets 200,000 items of up to 100 MiB each pile up in
//! memory. The writer therefore also keeps a running total of the bytes it has stored (request
//! bodies as sent; payloads as kept: nothing for one kept as its place in the body, the
//! compressed size of another; their headers and audit texts; every text a row copies from
//! the request, such as an item's release or an envelope's user agent, twice where an index
//! holds it too; the rows an item adds elsewhere, its trace rows and log entries; a fixed
//! overhead per row) and, once a commit takes it past the cap, evicts the oldest envelopes
//! whole (see `store/retention.rs`, which also counts a file's envelopes this way to choose
//! what to evict). The newest envelope is never evicted: one envelope larger than the whole
//! cap is kept alone rather than acknowledged and dropped at once.
//!
//! The copies are counted uncompressed, as SQLite keeps them, whatever little the body they
//! came from takes compressed: a transaction's 16 KiB name is 16 KiB in `item_traces` even
//! when its body compresses to a few hundred bytes, and a log item's 200 entries each keep the
//! 2 KiB release of their envelope. Before they were counted, 24 such envelopes grew a store
//! capped at 4 MiB to 30 MB (a transaction with a long name beside a span container of 64
//! traces with long names), 13 MB (an event with a long release) or 38 MB (the log item),
//! their bodies 13 KiB, 108 and 353 bytes compressed; now to 5.0, 3.7 and 4.8 MB, as SQLite
//! fills its pages (rows longer than a page's share spill into half-empty overflow pages).
//!
//! The total is counted the same way on both sides: in Rust from what is inserted, in SQL
//! (`octet_length`, bytes whatever the column's type) from what is evicted, so it cannot
//! drift. It is recounted in full only when the store opens, after a flush and after a failed
//! commit, never on the ingest path.

use rusqlite::Connection;

use super::PreparedEnvelope;

/// Bytes counted per stored row besides its contents (SQLite's record and index entries, and
/// the numbers of its columns).
const ROW_OVERHEAD: i64 = 512;

/// The bytes one envelope row of `id` holds, in SQL over `envelopes`: with the texts it takes
/// from the request's headers and query (key, client, user agent, content type, encoding).
pub(super) const ENVELOPE_BYTES: &str = "(512 + COALESCE(octet_length(raw), 0)
    + COALESCE(octet_length(http_headers), 0) + COALESCE(octet_length(header), 0)
    + COALESCE(octet_length(public_key), 0) + COALESCE(octet_length(client), 0)
    + COALESCE(octet_length(user_agent), 0) + COALESCE(octet_length(content_type), 0)
    + COALESCE(octet_length(content_encoding), 0))";

/// The bytes one item row holds, in SQL over `items`: its payload, header and audit as kept,
/// its listing columns' texts (its id, type and event id twice: an index holds them too), what
/// processing its minidump kept (see [`minidump_bytes`]), its log entries' rows (see
/// `logs::entries_bytes`) and its trace rows (see `traces::links_bytes`).
pub(super) const ITEM_BYTES: &str = "(512 + COALESCE(octet_length(payload), 0)
    + COALESCE(octet_length(header), 0) + COALESCE(octet_length(scrubbed), 0)
    + COALESCE(octet_length(findings), 0) + COALESCE(octet_length(scrub_report), 0)
    + 2 * (octet_length(id) + octet_length(item_type) + COALESCE(octet_length(event_id), 0))
    + octet_length(summary) + COALESCE(octet_length(level), 0)
    + COALESCE(octet_length(platform), 0) + COALESCE(octet_length(release), 0)
    + COALESCE(octet_length(environment), 0) + COALESCE(octet_length(sdk_name), 0)
    + COALESCE(octet_length(sdk_version), 0) + COALESCE(octet_length(filename), 0)
    + COALESCE(octet_length(content_type), 0) + COALESCE(octet_length(decode_error), 0)
    + COALESCE(octet_length(trace_id), 0)
    + COALESCE((SELECT octet_length(m.processed) + octet_length(m.native_event)
                + octet_length(m.search_text) FROM minidumps m WHERE m.seq = items.seq), 0)
    + COALESCE((SELECT SUM(256 + 2 * (octet_length(l.body) + octet_length(l.attributes)
                    + octet_length(l.level) + COALESCE(octet_length(l.trace_id), 0)
                    + COALESCE(octet_length(l.service), 0)
                    + COALESCE(octet_length(l.environment), 0))
                  + COALESCE(octet_length(l.span_id), 0)
                  + COALESCE(octet_length(l.service_name), 0)
                  + COALESCE(octet_length(l.sdk_name), 0)
                  + COALESCE(octet_length(l.sdk_version), 0)
                  + COALESCE(octet_length(l.release), 0))
                FROM logs l WHERE l.seq = items.seq), 0)
    + COALESCE((SELECT SUM(128 + 2 * octet_length(t.trace_id)
                  + COALESCE(octet_length(t.span_id), 0)
                  + COALESCE(octet_length(t.parent_span_id), 0)
                  + COALESCE(octet_length(t.name), 0) + COALESCE(octet_length(t.op), 0))
                FROM item_traces t WHERE t.seq = items.seq), 0))";

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
    let mut bytes = ROW_OVERHEAD as usize
        + prepared.raw.len()
        + prepared.http_headers.len()
        + text(&prepared.header_text)
        + text(&env.auth.public_key)
        + text(&env.auth.client)
        + text(&env.user_agent)
        + text(&env.content_type)
        + text(&env.content_encoding);
    // What the rows keep: a payload kept in the body counts nothing of its own, a compressed
    // one (and a scrubbed copy) its compressed size.
    for ((item, id), stored) in env
        .items
        .iter()
        .zip(&prepared.item_ids)
        .zip(&prepared.items)
    {
        let m = &item.meta;
        let header_field = |key| super::writer::header_field(item, key).map_or(0, str::len);
        bytes += ROW_OVERHEAD as usize
            + stored.payload.len()
            + text(&stored.header_text)
            + stored.scrubbed.as_ref().map_or(0, Vec::len)
            + 2 * (id.len() + item.item_type.len() + text(&m.event_id))
            + m.summary.len()
            + text(&m.level)
            + text(&m.platform)
            + text(&m.release)
            + text(&m.environment)
            + text(&m.sdk_name)
            + text(&m.sdk_version)
            + header_field("filename")
            + header_field("content_type")
            + text(&m.decode_error)
            + m.traces.first().map_or(0, |t| t.trace_id.len());
        bytes +=
            super::logs::entries_bytes(&m.logs, m.sdk_name.as_deref(), m.sdk_version.as_deref())
                as usize;
        bytes += super::traces::links_bytes(&m.traces) as usize;
        if let Some(audit) = &item.audit {
            bytes += audit.findings_json.len() + text(&audit.scrub_report_json);
        }
    }
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// The length of an optional text, 0 for none (SQL's NULL).
fn text(t: &Option<String>) -> usize {
    t.as_ref().map_or(0, String::len)
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

/// What an item keeps besides its payload (its trace rows, the texts of its listing columns,
/// the texts each log entry repeats) counts against the cap too, whatever little its body and
/// payload take once compressed.
#[cfg(test)]
mod held_beside_the_payload {
    use serde_json::json;

    use super::super::format_tests::request;
    use super::super::retention::database_bytes;
    use super::super::*;
    use super::{envelope_bytes, total};
    use crate::config::Limits;
    use crate::ingest::{self, Endpoint};

    /// What the store's pages hold (less the free ones), and its total as counted.
    fn held(store: &Store) -> (i64, i64) {
        store
            .read_blocking(|conn| Ok((database_bytes(conn)?, total(conn)?)))
            .expect("read")
    }

    /// An envelope of `items` (type, header, payload), through ingest as a request sends it.
    fn ingested(
        header: serde_json::Value,
        items: &[(serde_json::Value, serde_json::Value)],
    ) -> NewEnvelope {
        let mut body = format!("{header}\n");
        for (item_header, payload) in items {
            body.push_str(&format!("{item_header}\n{payload}\n"));
        }
        let req = request(Endpoint::Envelope, None, body.into_bytes());
        ingest::ingest_envelope(&req, &Limits::default(), &[])
            .expect("ingest")
            .envelope
    }

    /// Text of `len` bytes that compresses to almost nothing.
    fn filler(tag: usize, len: usize) -> String {
        format!("{tag:04}-").repeat(len / 5)
    }

    /// A transaction with a long name and operation and a thousand spans, and a span (v2)
    /// container of 64 spans, each of a trace of its own with a long name.
    fn span_heavy(n: usize) -> NewEnvelope {
        let spans: Vec<_> = (0..1000)
            .map(|i| json!({"span_id": format!("{i:016x}"), "start_timestamp": 1.0, "timestamp": 2.0}))
            .collect();
        let transaction = json!({
            "type": "transaction", "transaction": filler(n, 16 << 10),
            "start_timestamp": 1.0, "timestamp": 2.0, "spans": spans,
            "contexts": {"trace": {"trace_id": format!("{:032x}", n + 1),
                                    "span_id": "0123456789abcdef", "op": filler(n, 8 << 10)}},
        });
        let container: Vec<_> = (0..64)
            .map(|t| {
                json!({
                    "trace_id": format!("{:016x}{t:016x}", n + 1), "span_id": format!("{t:016x}"),
                    "name": filler(t, 12 << 10), "op": "db", "start_timestamp": 1.0,
                    "end_timestamp": 2.0,
                })
            })
            .collect();
        ingested(
            json!({}),
            &[
                (json!({"type": "transaction"}), transaction),
                (
                    json!({"type": "span", "item_count": 64,
                        "content_type": "application/vnd.sentry.items.span.v2+json"}),
                    json!({"items": container}),
                ),
            ],
        )
    }

    /// An event whose release and environment are long (its listing columns keep them).
    fn long_listing_fields(n: usize) -> NewEnvelope {
        let event = json!({
            "event_id": format!("{n:032x}"), "message": "m",
            "release": filler(n, 256 << 10), "environment": filler(n + 1, 256 << 10),
        });
        ingested(json!({}), &[(json!({"type": "event"}), event)])
    }

    /// A log item of 200 small entries that each take the release and environment its
    /// envelope's trace names.
    fn logs_that_repeat_a_release(n: usize) -> NewEnvelope {
        let entries: Vec<_> = (0..200).map(|i| json!({"body": format!("{i}")})).collect();
        ingested(
            json!({"trace": {"trace_id": format!("{:032x}", n + 1), "release": filler(n, 2 << 10),
                             "environment": filler(n + 1, 2 << 10)}}),
            &[(
                json!({"type": "log", "item_count": 200,
                      "content_type": "application/vnd.sentry.items.log+json"}),
                json!({"items": entries}),
            )],
        )
    }

    /// Makes the `n`th envelope of a kind.
    type Make = fn(usize) -> NewEnvelope;

    #[tokio::test]
    async fn what_items_keep_beside_their_payloads_counts_against_the_cap() {
        const CAP: i64 = 4 << 20;
        let kinds: [(&str, Make); 3] = [
            ("span-heavy transactions", span_heavy),
            ("long release and environment", long_listing_fields),
            (
                "log entries repeating a release",
                logs_that_repeat_a_release,
            ),
        ];
        let mut over = Vec::new();
        for (kind, make) in kinds {
            let store = Store::open_capped(
                &Storage::Memory,
                usize::MAX >> 2,
                10,
                1 << 20,
                1 << 20,
                SyncMode::Off,
                CAP as usize,
            )
            .expect("open");
            let (empty, _) = held(&store);
            // Rust and SQL count an envelope alike.
            let first = make(0);
            let prepared = PreparedEnvelope::new(first.clone(), BodyStorage::default()).unwrap();
            assert!(prepared.raw.len() < 64 << 10, "{kind}: the body compresses");
            store.insert(first).await.expect("insert");
            assert_eq!(envelope_bytes(&prepared), held(&store).1, "{kind}");
            let (mut largest, mut most_counted) = (0, 0);
            for n in 1..24 {
                store.insert(make(n)).await.expect("insert");
                let (pages, counted) = held(&store);
                largest = largest.max(pages - empty);
                most_counted = most_counted.max(counted);
            }
            // What SQLite holds is what was counted, give or take how full its pages are.
            if most_counted > CAP || largest > CAP * 3 / 2 {
                over.push(format!(
                    "{kind}: held {largest} bytes, counted {most_counted}"
                ));
            }
        }
        assert!(over.is_empty(), "past the cap of {CAP} bytes: {over:#?}");
    }
}
