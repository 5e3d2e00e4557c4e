//! The storage format: each payload kept once and read back byte for byte whatever its
//! layout, the byte cap counting what rows keep, and schema versions (migration in place,
//! refusal of a newer file). `tests/store_format.rs` does the same against a file an older
//! build wrote.

use std::collections::HashMap;
use std::io::Write;

use super::byte_cap;
use super::payload::{item_payload, item_payload_within};
use super::schema::{SCHEMA, SCHEMA_VERSION};
use super::tests::noise;
use super::writer::PreparedEnvelope;
use super::*;
use crate::config::Limits;
use crate::ingest::{self, Endpoint, IngestRequest};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(super) fn request(endpoint: Endpoint, encoding: Option<&str>, body: Vec<u8>) -> IngestRequest {
    let mut headers = http::HeaderMap::new();
    if let Some(encoding) = encoding {
        headers.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_str(encoding).unwrap(),
        );
    }
    IngestRequest {
        endpoint,
        project_id: 1,
        headers,
        query: HashMap::new(),
        body: body.into(),
        received_at_ms: 1,
        charge: crate::in_flight::RequestCharge::unlimited(),
    }
}

/// An envelope of every framing: an event with a length, an attachment of binary bytes and
/// newlines, a session without a length, and an item whose header is the body's last line.
fn framings() -> Vec<u8> {
    let event = br#"{"event_id":"0123456789abcdef0123456789abcdef","message":"needle in here"}"#;
    let binary: Vec<u8> = (0..=255u8).chain(*b"\n\r\n").collect();
    let mut body = b"{\"event_id\":\"0123456789abcdef0123456789abcdef\"}\n".to_vec();
    body.extend_from_slice(
        format!("{{\"type\":\"event\",\"length\":{}}}\n", event.len()).as_bytes(),
    );
    body.extend_from_slice(event);
    body.extend_from_slice(
        format!(
            "\n{{\"type\":\"attachment\",\"length\":{},\"filename\":\"a.bin\"}}\n",
            binary.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(&binary);
    body.extend_from_slice(b"\n\n{\"type\":\"session\"}\n{\"sid\":\"x\"}\n{\"type\":\"empty\"}");
    body
}

/// [`framings`] as ingest makes it into an envelope, sent plain.
fn ingested_framings() -> NewEnvelope {
    let req = request(Endpoint::Envelope, None, framings());
    ingest::ingest_envelope(&req, &Limits::default(), &[])
        .expect("ingest")
        .envelope
}

fn memory_store() -> Arc<Store> {
    Store::open(&Storage::Memory, 1000, 10, 1 << 20, SyncMode::Off).expect("open")
}

/// What an envelope's items read back as through every read: `get_item`, the text-search seam
/// and live streams, each as (header, payload).
fn read_back(store: &Store, stored: &Stored) -> Vec<Vec<(Option<Value>, Vec<u8>)>> {
    let ids = stored.item_ids.clone();
    let envelope_id = stored.envelope_id;
    store
        .read_blocking(move |conn| {
            let mut by_item = Vec::new();
            let mut by_seq = Vec::new();
            for id in &ids {
                let record = get_item(conn, id)?.expect("stored");
                let payload = item_payload(conn, record.summary.seq)?.expect("stored");
                by_seq.push((record.header.clone(), payload));
                by_item.push((record.header, record.payload));
            }
            let streamed = envelopes_after(conn, envelope_id - 1, 1)?;
            let streamed = streamed[0]
                .items
                .iter()
                .map(|(h, p, _)| (h.clone(), p.clone()))
                .collect();
            Ok(vec![by_item, by_seq, streamed])
        })
        .expect("read")
}

fn layouts(store: &Store, envelope_id: i64) -> Vec<Option<i64>> {
    store
        .read_blocking(move |conn| {
            let mut stmt =
                conn.prepare("SELECT layout FROM items WHERE envelope_id = ?1 ORDER BY idx")?;
            let rows = stmt.query_map([envelope_id], |r| r.get(0))?;
            rows.collect()
        })
        .expect("layouts")
}

/// Whatever the body's encoding, every item reads back through every read exactly as ingest
/// saw it, header included, while the rows keep no payload bytes of their own.
#[tokio::test]
async fn envelope_items_are_read_back_from_the_body_in_every_encoding() {
    let store = memory_store();
    let plain = framings();
    let zstd = zstd::bulk::compress(&plain, 3).unwrap();
    let mut brotli = Vec::new();
    brotli::BrotliCompress(&mut &plain[..], &mut brotli, &Default::default()).unwrap();
    for (encoding, body) in [
        (None, plain.clone()),
        (Some("gzip"), gzip(&plain)),
        (Some("zstd"), zstd),
        (Some("br"), brotli),
        (Some("gzip, identity"), gzip(&plain)),
    ] {
        let req = request(Endpoint::Envelope, encoding, body);
        let envelope = ingest::ingest_envelope(&req, &Limits::default(), &[])
            .expect("ingest")
            .envelope;
        let want: Vec<(Option<Value>, Vec<u8>)> = envelope
            .items
            .iter()
            .map(|i| (i.header.clone().map(Value::Object), i.payload.clone()))
            .collect();
        let header = envelope.header.clone().map(Value::Object);
        let stored = store.insert(envelope).await.expect("insert");
        for read in read_back(&store, &stored) {
            assert_eq!(read, want, "{encoding:?}");
        }
        let id = stored.envelope_id;
        let (record, streamed) = store
            .read_blocking(move |conn| {
                Ok((get_envelope(conn, id)?, envelopes_after(conn, id - 1, 1)?))
            })
            .expect("envelope");
        assert_eq!(record.expect("stored").header, header);
        assert_eq!(streamed[0].header, header);
        // Headers read from the body, but for the last item's, whose line ends the body.
        assert_eq!(layouts(&store, id), [3, 3, 3, 2].map(Some), "{encoding:?}");
        let kept: i64 = store
            .read_blocking(move |conn| {
                conn.query_row(
                    "SELECT SUM(LENGTH(payload)) + COUNT(header) FROM items WHERE envelope_id = ?1",
                    [id],
                    |r| r.get(0),
                )
            })
            .expect("sum");
        assert_eq!(kept, 1, "only the last item's header is kept as text");
    }
    // Text search reads payloads kept in the body.
    let found = store
        .read_blocking(|conn| {
            let filter = ItemFilter {
                q: Some("NEEDLE IN".into()),
                ..ItemFilter::default()
            };
            count_items(conn, &filter)
        })
        .expect("search");
    assert_eq!(found, 5);
}

/// A body too large to read whole is read from the database in pieces as decoding goes, and
/// reads back the same.
#[tokio::test]
async fn a_large_body_is_read_in_pieces() {
    let store = memory_store();
    let attachment = noise(300 * 1024);
    let mut body = b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n".to_vec();
    body.extend_from_slice(
        format!(
            "{{\"type\":\"attachment\",\"length\":{}}}\n",
            attachment.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(&attachment);
    body.extend_from_slice(b"\n{\"type\":\"event\",\"length\":2}\n{}\n");
    let wire = gzip(&body);
    assert!(wire.len() > 64 * 1024, "{} bytes", wire.len());
    let envelope = ingest::ingest_envelope(
        &request(Endpoint::Envelope, Some("gzip"), wire),
        &Limits::default(),
        &[],
    )
    .expect("ingest")
    .envelope;
    let want: Vec<(Option<Value>, Vec<u8>)> = envelope
        .items
        .iter()
        .map(|i| (i.header.clone().map(Value::Object), i.payload.clone()))
        .collect();
    assert_eq!(want.len(), 3);
    let stored = store.insert(envelope).await.expect("insert");
    for read in read_back(&store, &stored) {
        assert_eq!(read, want);
    }
}

/// Payloads ingest built (a store event rewritten, a minidump's event, a security report)
/// and scrubbed copies are kept compressed and read back as they were; the listed size stays
/// the payload's.
#[tokio::test]
async fn built_payloads_and_scrubbed_copies_are_compressed() {
    let store = memory_store();
    // Not in key order, so the event is written back changed.
    let event = br#"{"message":"alice@example.com paid","event_id":"00112233445566778899aabbccddeeff","level":"error"}"#;
    let req = request(Endpoint::Store, None, event.to_vec());
    let mut envelope = ingest::ingest_store(&req, &Limits::default(), &[])
        .expect("ingest")
        .envelope;
    let policy = crate::data_policy::DataPolicy::new(
        event_filter::Policy::preset("strict").unwrap(),
        "preset:strict",
        true,
    );
    ingest::audit_items(&policy, &mut envelope.items, &req.charge).expect("audit");
    let payload = envelope.items[0].payload.clone();
    assert_ne!(payload, event, "rewritten");
    let scrubbed = envelope.items[0]
        .audit
        .as_ref()
        .and_then(|a| a.scrubbed.clone());
    assert!(scrubbed.is_some(), "the policy scrubbed the e-mail address");
    let prepared =
        PreparedEnvelope::new(envelope.clone(), super::BodyStorage::default()).expect("prepare");
    let stored = store.insert(envelope).await.expect("insert");
    let id = stored.item_ids[0].clone();
    let (record, audit, total) = store
        .read_blocking(move |conn| {
            Ok((
                get_item(conn, &id)?.expect("stored"),
                get_item_audit(conn, &id)?,
                byte_cap::total(conn)?,
            ))
        })
        .expect("read");
    assert_eq!(record.payload, payload);
    assert_eq!(record.summary.size, payload.len() as i64);
    assert_eq!(audit.scrubbed, scrubbed);
    assert_eq!(layouts(&store, stored.envelope_id), [Some(1)]);
    // The byte cap counts what the rows keep, the same in Rust and in SQL.
    assert_eq!(byte_cap::envelope_bytes(&prepared), total);
}

/// Ingest's word on where a payload lies is checked as far as it can be without decoding:
/// one whose length is not the payload's, or that ends past the body, is compressed instead.
#[tokio::test]
async fn a_position_that_does_not_hold_is_not_trusted() {
    let store = memory_store();
    let mut envelope = ingested_framings();
    let size = envelope.decoded_size;
    let positions = [0..1, size - 2..size + 2];
    for (item, range) in envelope.items.iter_mut().zip(positions) {
        item.in_body = Some(BodyPosition {
            payload: range,
            header_line_before: true,
        });
    }
    let want: Vec<Vec<u8>> = envelope.items.iter().map(|i| i.payload.clone()).collect();
    let stored = store.insert(envelope).await.expect("insert");
    assert_eq!(layouts(&store, stored.envelope_id), [1, 1, 3, 2].map(Some));
    let read = read_back(&store, &stored);
    let payloads: Vec<Vec<u8>> = read[0].iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(payloads, want);
}

/// A reader with a limit (the search indexer) learns that a payload is too long from its row:
/// in every layout the payload reads as usual up to the limit and not past it, and one past it
/// is not even decoded, which a corrupt compressed payload shows.
#[tokio::test]
async fn a_payload_past_a_readers_limit_is_not_read() {
    let store = memory_store();
    let mut envelope = ingested_framings();
    // The first item compressed, as a position that does not hold makes it; the others in
    // the body, after their header line or not.
    envelope.items[0].in_body = Some(BodyPosition {
        payload: 0..1,
        header_line_before: true,
    });
    let stored = store.insert(envelope).await.expect("insert");
    let envelope_id = stored.envelope_id;
    assert_eq!(layouts(&store, envelope_id), [1, 3, 3, 2].map(Some));
    store
        .read_blocking(move |conn| {
            let seqs: Vec<i64> = conn
                .prepare("SELECT seq FROM items WHERE envelope_id = ?1 ORDER BY seq")?
                .query_map([envelope_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for &seq in &seqs {
                let payload = item_payload(conn, seq)?.expect("stored");
                let len = payload.len();
                assert_eq!(item_payload_within(conn, seq, len)?, Some(payload), "{seq}");
                if len > 0 {
                    assert_eq!(item_payload_within(conn, seq, len - 1)?, None, "{seq}");
                }
            }
            let compressed = seqs[0];
            conn.execute(
                "UPDATE items SET payload = x'00', payload_size = 1000 WHERE seq = ?1",
                [compressed],
            )?;
            assert!(
                item_payload(conn, compressed).is_err(),
                "corrupt when decoded"
            );
            assert_eq!(item_payload_within(conn, compressed, 999)?, None);
            assert!(item_payload_within(conn, compressed, 1000).is_err());
            Ok(())
        })
        .expect("read");
}

/// A minidump upload keeps the dump and its other files as their places in the multipart
/// body, a raw dump body as the whole body, and a dump that came compressed in its part
/// compressed.
#[tokio::test]
async fn minidump_files_are_found_in_the_multipart_body() {
    let store = memory_store();
    // Compressible, so that a dump gzipped in its part is not in the body as it is.
    let dump: Vec<u8> = b"MDMP\x93\xa7\0\0"
        .iter()
        .copied()
        .chain((0..5000u32).map(|n| (n % 7) as u8))
        .collect();
    let multipart = |dump: &[u8]| {
        let mut body = Vec::new();
        for (name, file, data) in [
            ("sentry", None, &br#"{"release":"r"}"#[..]),
            ("upload_file_minidump", Some("c.dmp"), dump),
            ("log", Some("log.txt"), b"line\r\n--not the boundary\r\n"),
        ] {
            body.extend_from_slice(b"--BOUND\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            if let Some(file) = file {
                body.extend_from_slice(format!("\"; filename=\"{file}").as_bytes());
            }
            body.extend_from_slice(b"\"\r\n\r\n");
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--BOUND--\r\n");
        body
    };
    let cases = [
        (
            "multipart/form-data; boundary=BOUND",
            multipart(&dump),
            [1, 2, 2],
        ),
        (
            "multipart/form-data; boundary=BOUND",
            multipart(&gzip(&dump)),
            [1, 1, 2],
        ),
    ];
    for (content_type, body, want_layouts) in cases {
        let mut req = request(Endpoint::Minidump, Some("gzip"), gzip(&body));
        req.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_str(content_type).unwrap(),
        );
        let envelope = ingest::ingest_minidump(&req, &Limits::default(), &[])
            .await
            .expect("ingest")
            .envelope;
        let want: Vec<Vec<u8>> = envelope.items.iter().map(|i| i.payload.clone()).collect();
        assert_eq!(want[1], dump);
        let stored = store.insert(envelope).await.expect("insert");
        assert_eq!(layouts(&store, stored.envelope_id), want_layouts.map(Some));
        let read: Vec<Vec<u8>> = read_back(&store, &stored)[0]
            .iter()
            .map(|(_, p)| p.clone())
            .collect();
        assert_eq!(read, want);
    }
    let raw = ingest::ingest_minidump(
        &request(Endpoint::Minidump, None, dump.clone()),
        &Limits::default(),
        &[],
    )
    .await
    .expect("ingest")
    .envelope;
    let stored = store.insert(raw).await.expect("insert");
    assert_eq!(layouts(&store, stored.envelope_id), [1, 2].map(Some));
    assert_eq!(read_back(&store, &stored)[0][1].1, dump);
}

fn temp_file(name: &str) -> (PathBuf, impl Drop) {
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "fake-sentry-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    (dir.join("db.sqlite"), Remove(dir))
}

fn user_version(store: &Store) -> i64 {
    store
        .read_blocking(|conn| conn.query_row("PRAGMA user_version", [], |r| r.get(0)))
        .expect("user_version")
}

/// The tables as schema version 1 had them.
fn version_1_schema() -> String {
    let v1 = SCHEMA
        .replace(",\n    header_in_body INTEGER NOT NULL DEFAULT 0", "")
        .replace(
            ",\n    layout INTEGER,\n    payload_size INTEGER,\n    payload_at INTEGER,\n    trace_id TEXT",
            "",
        );
    assert_ne!(v1, SCHEMA);
    assert!(!v1.contains("layout"));
    v1
}

/// A new database, in memory or in a file, is created at the current version.
#[test]
fn a_new_database_is_created_at_the_current_version() {
    assert_eq!(user_version(&memory_store()), SCHEMA_VERSION);
    let (path, _dir) = temp_file("new-version");
    let store = Store::open(&Storage::File(path), 10, 10, 1 << 20, SyncMode::Off).expect("open");
    assert_eq!(user_version(&store), SCHEMA_VERSION);
}

/// A version 1 file is migrated in place at once: its rows are not rewritten (the WAL takes a
/// few pages, not the 8 MB of payloads), they read back as before, and new envelopes are
/// stored the new way beside them.
#[tokio::test]
async fn a_version_1_file_is_migrated_without_rewriting_its_rows() {
    let (path, _dir) = temp_file("v1-migration");
    let payload = |n: i64| format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(4000)).into_bytes();
    {
        let mut conn = Connection::open(&path).expect("open");
        let conn = conn.transaction().expect("one transaction, one sync");
        conn.execute_batch(&version_1_schema()).expect("v1 schema");
        conn.execute(
            "INSERT INTO envelopes (id, project_id, endpoint, received_at, auth_source, header, raw,
             wire_size) VALUES (1, 1, 'envelope', 1, 'none', '{\"old\":true}', x'', 0)",
            [],
        )
        .expect("envelope");
        let mut insert = conn
            .prepare(
                "INSERT INTO items (seq, id, envelope_id, idx, project_id, item_type, summary,
                 received_at, header, payload, is_json, scrubbed)
                 VALUES (?1, ?1, 1, ?1, 1, 'event', 's', 1, '{\"type\":\"event\"}', ?2, 1, ?2)",
            )
            .expect("prepare");
        for n in 1..=2000 {
            insert
                .execute(rusqlite::params![n, payload(n)])
                .expect("item");
        }
        drop(insert);
        conn.commit().expect("commit");
    }
    let wal = super::writer::wal_path(&path);
    let started = std::time::Instant::now();
    let store = Store::open(
        &Storage::File(path.clone()),
        10_000,
        10,
        1 << 30,
        SyncMode::Off,
    )
    .expect("open");
    let opened_in = started.elapsed();
    assert_eq!(user_version(&store), SCHEMA_VERSION);
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
    // A few pages per table and index the migrations add (version 5's trace table and its
    // index took it past 64 KiB, version 6's log tables, seven indexes and text index past
    // 128 KiB), against the 8 MB the rows hold.
    assert!(
        wal_bytes < 256 * 1024,
        "{wal_bytes} bytes of WAL: rows were rewritten"
    );
    assert!(opened_in.as_secs() < 5, "{opened_in:?}");

    let (record, audit, envelope) = store
        .read_blocking(|conn| {
            Ok((
                get_item(conn, "1234")?.expect("old item"),
                get_item_audit(conn, "1234")?,
                get_envelope(conn, 1)?.expect("old envelope"),
            ))
        })
        .expect("read");
    assert_eq!(record.payload, payload(1234));
    assert_eq!(record.summary.size, payload(1234).len() as i64);
    assert_eq!(record.header, Some(serde_json::json!({"type": "event"})));
    assert_eq!(audit.scrubbed, Some(payload(1234)));
    assert_eq!(envelope.header, Some(serde_json::json!({"old": true})));

    let req = request(Endpoint::Envelope, Some("gzip"), gzip(&framings()));
    let new = ingest::ingest_envelope(&req, &Limits::default(), &[])
        .expect("ingest")
        .envelope;
    let want: Vec<Vec<u8>> = new.items.iter().map(|i| i.payload.clone()).collect();
    let stored = store
        .insert(new)
        .await
        .expect("insert into the migrated file");
    let read: Vec<Vec<u8>> = read_back(&store, &stored)[0]
        .iter()
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(read, want);
    drop(store);

    // Opening it again changes nothing.
    let store =
        Store::open(&Storage::File(path), 10_000, 10, 1 << 30, SyncMode::Off).expect("reopen");
    assert_eq!(user_version(&store), SCHEMA_VERSION);
}

/// A file of a version this build does not know is refused before anything in it changes,
/// and the error names both versions.
#[test]
fn a_database_of_an_unknown_version_is_refused() {
    for (version, want) in [
        (
            8,
            "the database is schema version 8, written by a newer fake-sentry; this one reads \
             versions 1 to 7",
        ),
        (
            -1,
            "the database has schema version -1, which no fake-sentry writes; this one reads \
             versions 1 to 7",
        ),
    ] {
        let (path, _dir) = temp_file("unknown-version");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&version_1_schema()).expect("schema");
            conn.pragma_update(None, "user_version", version)
                .expect("version");
        }
        let before = std::fs::read(&path).expect("read");
        let Err(err) = Store::open(&Storage::File(path.clone()), 10, 10, 1 << 20, SyncMode::Off)
        else {
            panic!("version {version} opened");
        };
        assert_eq!(err.to_string(), want);
        assert_eq!(std::fs::read(&path).expect("read"), before, "untouched");
        assert!(!super::writer::wal_path(&path).exists());
    }
}

/// zstd's levels on the payloads ingest builds, for `ZSTD_LEVEL`: `cargo test -p fake-sentry
/// --release --lib payload_compression_levels -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn payload_compression_levels() {
    let mut python = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            &include_bytes!("../../testdata/captures/python-error-gzip.envelope.gz")[..],
        ),
        &mut python,
    )
    .unwrap();
    let event = ingest::ingest_envelope(
        &request(Endpoint::Envelope, None, python),
        &Limits::default(),
        &[],
    )
    .unwrap()
    .envelope
    .items[0]
        .payload
        .clone();
    {
        let data = &event;
        for level in [1, 3, 6, 9, 19] {
            let mut compressor = zstd::bulk::Compressor::new(level).unwrap();
            let rounds = 200;
            let started = std::time::Instant::now();
            let mut size = 0;
            for _ in 0..rounds {
                size = compressor.compress(data).unwrap().len();
            }
            let each = started.elapsed() / rounds;
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                zstd::bulk::compress(data, level).unwrap();
            }
            let fresh = started.elapsed() / rounds;
            println!(
                "{} bytes, level {level}: {size} bytes, {each:?} ({fresh:?} with a new context \
                 each time)",
                data.len()
            );
        }
    }
}

/// What reading one item of a large envelope costs: a small event before a 50 MB attachment
/// is read after decoding little, one after it after decoding it all. `cargo test -p
/// fake-sentry --release --lib reading_items_of_a_large_envelope -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement"]
async fn reading_items_of_a_large_envelope() {
    let store = memory_store();
    let event = br#"{"event_id":"0123456789abcdef0123456789abcdef","message":"m"}"#;
    let attachment = noise(50 << 20);
    let mut body = b"{}\n".to_vec();
    let item = |body: &mut Vec<u8>, header: String, payload: &[u8]| {
        body.extend_from_slice(header.as_bytes());
        body.push(b'\n');
        body.extend_from_slice(payload);
        body.push(b'\n');
    };
    item(
        &mut body,
        format!("{{\"type\":\"event\",\"length\":{}}}", event.len()),
        event,
    );
    item(
        &mut body,
        format!(
            "{{\"type\":\"attachment\",\"length\":{}}}",
            attachment.len()
        ),
        &attachment,
    );
    item(
        &mut body,
        format!("{{\"type\":\"event\",\"length\":{}}}", event.len()),
        event,
    );
    let limits = Limits {
        max_decompressed: 100 << 20,
        max_attachment: 100 << 20,
        ..Limits::default()
    };
    let envelope = ingest::ingest_envelope(
        &request(Endpoint::Envelope, Some("gzip"), gzip(&body)),
        &limits,
        &[],
    )
    .unwrap()
    .envelope;
    let stored = store.insert(envelope).await.unwrap();
    for (n, id) in stored.item_ids.iter().enumerate() {
        let id = id.clone();
        let started = std::time::Instant::now();
        let size = store
            .read_blocking(move |conn| Ok(get_item(conn, &id)?.unwrap().payload.len()))
            .unwrap();
        println!("item {n} ({size} bytes): {:?}", started.elapsed());
    }
}

/// Bytes on disk per stored envelope against bytes on the wire, for three shapes: the Python
/// SDK's error envelope (gzip), the same with a 16 KiB log attachment, and a plain `/store/`
/// event whose rewritten payload is kept compressed. `cargo test -p fake-sentry --lib
/// bytes_on_disk_per_envelope -- --ignored --nocapture`, with `PAGE_SIZE=16384` for a file of
/// other pages than SQLite's default 4 KiB, `BODIES=as-sent` for bodies kept as sent.
#[tokio::test]
#[ignore = "a measurement"]
async fn bytes_on_disk_per_envelope() {
    let mut python = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            &include_bytes!("../../testdata/captures/python-error-gzip.envelope.gz")[..],
        ),
        &mut python,
    )
    .unwrap();
    let python = String::from_utf8(python).unwrap();
    let log: String = (0..400)
        .map(|n| {
            format!(
                "2026-11-26T00:52:{:02}Z INFO worker {n}: job done\n",
                n % 60
            )
        })
        .collect();
    let count = 3000;
    for shape in ["python", "python + log", "store"] {
        let (path, _dir) = temp_file("bytes-per-envelope");
        if let Ok(page_size) = std::env::var("PAGE_SIZE") {
            // A file made with other pages than SQLite's default.
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "page_size", page_size.parse::<i64>().unwrap())
                .unwrap();
            conn.execute_batch("CREATE TABLE t (x); DROP TABLE t;")
                .unwrap();
        }
        let store = Store::open_with(
            &Storage::File(path.clone()),
            &StoreOptions {
                max_items: usize::MAX >> 2,
                max_refusals: 10,
                max_wal_bytes: 1 << 30,
                sync: SyncMode::Off,
                bodies: std::env::var("BODIES").map_or(BodyStorage::default(), |b| {
                    b.parse().expect("BODIES: compact or as-sent")
                }),
                ..StoreOptions::default()
            },
        )
        .unwrap();
        let mut wire = 0;
        for n in 0..count {
            // A new event id each time, as SDKs send.
            let id = format!("{:032x}", (n as u128 + 1) * 0x9e37_79b9_7f4a_7c15);
            let envelope = python.replace("dd52e5d2fcb7424ead216d7d659c8280", &id);
            let req = match shape {
                "python" => request(Endpoint::Envelope, Some("gzip"), gzip(envelope.as_bytes())),
                "python + log" => {
                    let mut body = envelope.into_bytes();
                    body.extend_from_slice(
                        format!(
                            "{{\"type\":\"attachment\",\"length\":{},\"filename\":\"log.txt\"}}\n",
                            log.len()
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(log.as_bytes());
                    body.push(b'\n');
                    request(Endpoint::Envelope, Some("gzip"), gzip(&body))
                }
                _ => {
                    let event = format!(
                        r#"{{"message":"job {n} failed","event_id":"{id}","level":"error","platform":"node","extra":{{"log":{log:?}}}}}"#
                    );
                    request(Endpoint::Store, None, event.into_bytes())
                }
            };
            // The headers the Python SDK sends, which the store keeps too.
            let mut req = req;
            for (name, value) in [
                ("host", "127.0.0.1:8000".to_string()),
                ("content-type", "application/x-sentry-envelope".into()),
                ("user-agent", "sentry.python/2.75.0".into()),
                (
                    "x-sentry-auth",
                    "Sentry sentry_key=public, sentry_version=7, sentry_client=sentry.python/2.75.0"
                        .into(),
                ),
                ("accept-encoding", "identity".into()),
                ("content-length", req.body.len().to_string()),
            ] {
                req.headers
                    .insert(name, http::HeaderValue::from_str(&value).unwrap());
            }
            wire += req.body.len();
            let envelope = match shape {
                "store" => ingest::ingest_store(&req, &Limits::default(), &[]),
                _ => ingest::ingest_envelope(&req, &Limits::default(), &[]),
            }
            .unwrap()
            .envelope;
            store.insert(envelope).await.unwrap();
        }
        drop(store);
        // Everything into the database file.
        Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let disk = std::fs::metadata(&path).unwrap().len() as usize;
        println!(
            "{shape}: {} bytes on the wire, {} on disk per envelope ({:.2}x)",
            wire / count,
            disk / count,
            disk as f64 / wire as f64
        );
    }
}
